-- See SQLite's 0012: at most one live playbook decision per origin, flag and environment.
CREATE UNIQUE INDEX decisions_one_live_playbook ON decisions(origin, flag, env)
    WHERE status IN ('approved', 'active') AND origin LIKE 'playbook:%';
