-- The flag revision is global (issue 13): every published flag configuration (the flag files and
-- the active decisions, all environments) gets the next revision here, and a replica publishing a
-- configuration that is already the newest takes its revision instead of making one. So replicas
-- agree on revisions, ETags and SSE event ids, and revisions survive restarts.
CREATE TABLE flag_revisions (
    revision INTEGER PRIMARY KEY,
    content TEXT NOT NULL,              -- a hash of the published configuration
    at INTEGER NOT NULL
);
