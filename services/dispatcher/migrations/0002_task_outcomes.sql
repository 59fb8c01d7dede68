-- What became of each task, for GetTask once Redis no longer keeps it (an hour after it was
-- done): the platform's id and the task type, written with the row when it is bound, and the
-- outcome (submitted, cancelled, expired) with the worker who answered, written when the task
-- is done (the dispatcher's own consumer of `submissions` and of cancellations on
-- `tasks.assigned`). Rows bound before this migration have none of them.
ALTER TABLE client_tasks
    ADD COLUMN client_task_id text,
    ADD COLUMN task_type      text,
    ADD COLUMN outcome        text CHECK (outcome IN ('submitted', 'cancelled', 'expired')),
    ADD COLUMN worker_id      text,
    ADD COLUMN done_at        timestamptz;
