-- The watcher's tables: content-addressed blobs, snapshots, changes, fetch attempts, source health.
-- Times are UTC milliseconds since the Unix epoch.

-- Raw bodies and normalized texts, gzip-compressed, stored once per distinct content.
CREATE TABLE blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,   -- of the uncompressed bytes
    size INTEGER NOT NULL,              -- uncompressed length
    data BLOB NOT NULL                  -- gzip
);

-- One stored version of a source: what was fetched and what it normalized to under which rules.
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id TEXT NOT NULL,
    fetched_at INTEGER NOT NULL,
    url TEXT NOT NULL,
    http_status INTEGER,
    headers TEXT NOT NULL,              -- JSON array of [name, value] pairs, as received
    raw_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    text_sha256 TEXT NOT NULL REFERENCES blobs(sha256),
    rules_hash TEXT NOT NULL,
    origin TEXT NOT NULL CHECK (origin IN ('fetch', 'rules_upgrade'))
);
CREATE INDEX snapshots_by_source ON snapshots(source_id, id);
CREATE INDEX snapshots_by_time ON snapshots(source_id, fetched_at);

-- Two consecutive distinct versions and their diff. Written in the same transaction as `after`.
CREATE TABLE changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id TEXT NOT NULL,
    before_snapshot INTEGER NOT NULL REFERENCES snapshots(id),
    after_snapshot INTEGER NOT NULL REFERENCES snapshots(id),
    detected_at INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('change', 'rules_upgrade')),
    diff TEXT NOT NULL,                 -- JSON, see diff.rs
    triaged_at INTEGER                  -- NULL until the triage stage has read it: the triage outbox
);
CREATE INDEX changes_by_source ON changes(source_id, id);
CREATE INDEX changes_untriaged ON changes(id) WHERE triaged_at IS NULL;

-- Every HTTP attempt, successful or not.
CREATE TABLE fetch_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    url TEXT NOT NULL,
    http_status INTEGER,
    bytes INTEGER NOT NULL,
    error_class TEXT,
    error TEXT
);
CREATE INDEX fetch_attempts_by_source ON fetch_attempts(source_id, id);

-- Per-source health and conditional-GET validators.
CREATE TABLE source_state (
    source_id TEXT PRIMARY KEY NOT NULL,
    source_url TEXT,                    -- the declared URL the validators and the baseline belong to
    etag TEXT,
    last_modified TEXT,
    last_attempt INTEGER,
    last_success INTEGER,
    last_change INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    last_error_class TEXT,
    last_error TEXT,
    not_before INTEGER,                 -- a server's Retry-After: no poll before this
    next_run INTEGER
);
