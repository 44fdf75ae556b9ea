-- Decisions (issue 5): a proposal to change one flag in one environment, its approvals, and its
-- life as an override of the flag file.
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    flag TEXT NOT NULL,
    env TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('serve', 'kill', 'restore')),
    variant TEXT,                       -- the variant served (serve, kill); NULL for restore
    reason TEXT NOT NULL,
    brief_id INTEGER REFERENCES briefs(id),
    origin TEXT NOT NULL,               -- `manual` or `playbook:<name>`
    proposed_by TEXT NOT NULL,
    proposed_at INTEGER NOT NULL,
    starts_at INTEGER,                  -- scheduled start (NULL: as soon as approved)
    expires_at INTEGER,                 -- automatic revert (NULL: until reverted)
    approvals_required INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'active', 'expired', 'reverted',
                                           'superseded', 'rejected', 'withdrawn')),
    applied_at INTEGER,
    ended_at INTEGER,
    ended_by TEXT,
    end_reason TEXT,
    revert_at INTEGER                   -- a playbook's quiet period: revert at this time unless re-armed
);
CREATE INDEX decisions_by_status ON decisions(status, id);
CREATE INDEX decisions_by_flag ON decisions(flag, env, id);
CREATE INDEX decisions_by_brief ON decisions(brief_id);

CREATE TABLE decision_votes (
    decision_id INTEGER NOT NULL REFERENCES decisions(id),
    voter TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('approve', 'reject')),
    reason TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (decision_id, voter)
);
