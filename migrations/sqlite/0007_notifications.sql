-- Notifications (issue 5). The audit log is the outbox: every state change worth telling people
-- about is already an audit event, committed with the change. Each sink keeps a cursor into the
-- log; events past the cursor become deliveries here, in the same transaction that moves the
-- cursor, so a restart neither loses nor repeats a notification.
CREATE TABLE notify_cursors (
    sink TEXT PRIMARY KEY,
    audit_id INTEGER NOT NULL
);

CREATE TABLE notify_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    audit_id INTEGER NOT NULL,
    event TEXT NOT NULL,
    msg_id TEXT NOT NULL,               -- webhook-id: the same across retries
    payload TEXT NOT NULL,              -- the notification as JSON
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    UNIQUE (sink, audit_id)
);
CREATE INDEX notify_due ON notify_deliveries(status, next_attempt_at);
