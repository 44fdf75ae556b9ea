-- Change briefs: the triaged reading of each change (issue 4). One per change.
CREATE TABLE briefs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    change_id INTEGER NOT NULL UNIQUE REFERENCES changes(id),
    source_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    owner TEXT,
    material INTEGER NOT NULL,
    category TEXT,
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,                 -- the whole brief as JSON (triage contract)
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'acknowledged', 'decided', 'dismissed', 'closed')),
    created_at INTEGER NOT NULL
);
CREATE INDEX briefs_by_status ON briefs(status, id);
CREATE INDEX briefs_by_source ON briefs(source_id, id);
