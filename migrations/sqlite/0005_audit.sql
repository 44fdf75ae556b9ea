-- The audit log (issue 5): every state change as an append-only event, each carrying the SHA-256
-- of the previous one, so that an edit, an insertion or a deletion in the middle breaks the chain
-- (`signalbox audit verify`). The triggers make the database itself refuse updates and deletes.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,                -- unix milliseconds
    actor TEXT NOT NULL,                -- a token name, `system`, `playbook:<name>` or `cli:<user>`
    action TEXT NOT NULL,               -- e.g. brief.acknowledged, decision.approved
    object_type TEXT NOT NULL,          -- brief, decision, token, flags, sources, playbook
    object_id TEXT NOT NULL,
    payload TEXT NOT NULL,              -- JSON, exactly the bytes that were hashed
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_by_object ON audit_events(object_type, object_id, id);
CREATE INDEX audit_by_at ON audit_events(at);
CREATE INDEX audit_by_actor ON audit_events(actor, id);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

-- Briefs gain an assignee; comments and assignments are brief_events.
ALTER TABLE briefs ADD COLUMN assignee TEXT;
