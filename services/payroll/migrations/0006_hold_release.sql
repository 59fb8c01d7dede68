-- A rejected task's hold stays until its appeal window has closed (a granted appeal must still
-- be funded); payroll's sweep releases it then, unless the worker appealed.
ALTER TABLE escrow_holds ADD COLUMN release_after timestamptz;

CREATE INDEX escrow_holds_release_after ON escrow_holds (release_after)
    WHERE state = 'held' AND release_after IS NOT NULL;
