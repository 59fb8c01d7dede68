-- Every client task id a platform has used, with its content's fingerprint (SHA-256). Task ids
-- are derived from (platform, client task id) and payroll and scoring keep their records by
-- them for ever, so an id whose task may have been published names that task for ever: a
-- resubmission is the same task, different content under it is refused. Kept here, on disk,
-- rather than in Redis, which keeps only what is in play.
--
-- A row is written just before a call publishes the task (bound from then on: the task may
-- be out, and a call with this content publishes it again), and marked published once one
-- has.
CREATE TABLE client_tasks (
    platform_id    text        NOT NULL,
    client_task_id text        NOT NULL,
    fingerprint    bytea       NOT NULL CHECK (octet_length(fingerprint) = 32),
    published      boolean     NOT NULL DEFAULT false,
    bound_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform_id, client_task_id)
-- Each row is updated once (to published), leaving a dead version: vacuumed every 100,000 of
-- them, not at 20% of a table that only grows, so the next rows reuse the space.
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 100000);
