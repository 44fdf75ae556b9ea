-- API tokens: only the SHA-256 of a token is stored; the token itself is shown once at creation.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,               -- the first characters, to recognise a token in a list
    scopes TEXT NOT NULL,               -- comma-separated
    env TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE UNIQUE INDEX tokens_active_name ON tokens(name) WHERE revoked_at IS NULL;

-- Flag evaluation telemetry, flushed periodically from memory: which apps use which flags.
CREATE TABLE flag_usage (
    flag TEXT NOT NULL,
    variant TEXT NOT NULL,              -- '' when no variant was served
    env TEXT NOT NULL,
    token_name TEXT NOT NULL,           -- 'anonymous' for unauthenticated development use
    count INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (flag, variant, env, token_name)
);
