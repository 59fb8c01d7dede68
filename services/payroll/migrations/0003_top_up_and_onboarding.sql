-- Two more things a posting can pay for: the top-up a platform owes when a task took longer
-- than its price covers at the floor, and onboarding time (qualification, training,
-- instructions) paid at the floor.
ALTER TABLE postings
    DROP CONSTRAINT postings_kind_check,
    ADD CONSTRAINT postings_kind_check
        CHECK (kind IN ('task_pay', 'time_worked', 'top_up', 'onboarding'));
