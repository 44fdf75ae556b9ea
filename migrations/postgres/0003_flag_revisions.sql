-- The flag revision is global (issue 13): see SQLite's 0011_flag_revisions.sql.
CREATE TABLE flag_revisions (
    revision BIGINT PRIMARY KEY,
    content TEXT NOT NULL,
    at BIGINT NOT NULL
);
