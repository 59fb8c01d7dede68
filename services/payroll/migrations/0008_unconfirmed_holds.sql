-- A task's price is held before the dispatcher publishes the task. Should that publish fail
-- and the platform never retry, no task would ever spend or release the hold. So a hold starts
-- unconfirmed, with a deadline: the task's TaskSubmitted event confirms it (clears the
-- deadline); payroll's sweep lets a hold still unconfirmed at its deadline lapse (its price is
-- available again); a retried submission holds a lapsed task again, and a confirmation that
-- arrives after the lapse (payroll was far behind) restores the hold.
ALTER TABLE escrow_holds ADD COLUMN unconfirmed_until timestamptz;

ALTER TABLE escrow_holds
    DROP CONSTRAINT escrow_holds_state_check,
    ADD CONSTRAINT escrow_holds_state_check
        CHECK (state IN ('held', 'spent', 'released', 'lapsed'));

CREATE INDEX escrow_holds_unconfirmed ON escrow_holds (unconfirmed_until)
    WHERE state = 'held' AND unconfirmed_until IS NOT NULL;
