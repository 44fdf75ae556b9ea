-- A playbook has at most one live (approved or active) decision per flag and environment, whatever
-- process fires it (issue 13: two replicas triaging two sources of one provider's outage at once
-- must not both fire). Enforced by the database, so the check and the insert cannot be split.
CREATE UNIQUE INDEX decisions_one_live_playbook ON decisions(origin, flag, env)
    WHERE status IN ('approved', 'active') AND origin LIKE 'playbook:%';
