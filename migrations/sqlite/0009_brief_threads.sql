-- Status incidents are threads (issue 12): a brief of a status source names the incidents and
-- maintenances it is about; later updates that change no state go on the newest such brief's
-- timeline (brief_events, action 'update') instead of becoming briefs of their own.
CREATE TABLE brief_threads (
    source_id TEXT NOT NULL,
    thread TEXT NOT NULL,               -- incident:<id>, maintenance:<id>
    brief_id INTEGER NOT NULL REFERENCES briefs(id),
    PRIMARY KEY (source_id, thread, brief_id)
);
