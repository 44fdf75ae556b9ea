-- Web sessions (issue 7). The cookie holds a random id; only its SHA-256 is stored. A session made
-- from an API token keeps the token's id and is checked against the live token on every request
-- (revoking the token ends the session); a session made from a trusted SSO header keeps the
-- person's name and the scopes the settings grant.
CREATE TABLE web_sessions (
    id_sha256 TEXT PRIMARY KEY,
    token_id INTEGER,                   -- NULL for SSO sessions
    name TEXT NOT NULL,                 -- the token's name or the person's e-mail
    scopes TEXT NOT NULL,               -- for SSO sessions; token sessions use the token's
    env TEXT NOT NULL,
    csrf TEXT NOT NULL,                 -- the form token of this session
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_by_expiry ON web_sessions(expires_at);
