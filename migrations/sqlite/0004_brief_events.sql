-- The lifecycle of a brief: every transition (and severity change) with who and when.
CREATE TABLE brief_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    brief_id INTEGER NOT NULL REFERENCES briefs(id),
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,               -- created, acknowledged, decided, dismissed, closed, severity
    from_status TEXT,
    to_status TEXT,
    detail TEXT                         -- a dismissal reason, a severity change ...
);
CREATE INDEX brief_events_by_brief ON brief_events(brief_id, id);
