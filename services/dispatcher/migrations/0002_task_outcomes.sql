-- What became of each task, for GetTask once Redis no longer keeps it (an hour after it was
-- done): the platform's id and the task type, written with the row when it is bound, and the
-- outcome (submitted, cancelled, expired) with the worker who answered, written by the
-- dispatcher's own consumer of `submissions` and of cancellations on `tasks.assigned` (done_at:
-- when it recorded it). Rows bound before this migration get their names from a submission.
ALTER TABLE client_tasks
    ADD COLUMN client_task_id text,
    ADD COLUMN task_type      text,
    ADD COLUMN outcome        text CHECK (outcome IN ('submitted', 'cancelled', 'expired')),
    ADD COLUMN worker_id      text,
    ADD COLUMN done_at        timestamptz;
