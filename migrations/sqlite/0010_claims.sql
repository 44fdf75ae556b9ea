-- Replicas (issue 13): a change is claimed by the brief writer that triages it, until this time;
-- a writer that dies holding a claim leaves it to be claimed again when the time passes.
ALTER TABLE changes ADD COLUMN claimed_until INTEGER;
