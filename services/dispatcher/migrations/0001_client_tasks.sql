-- Every client task id a platform has used, with its content's fingerprint (SHA-256), keyed by
-- the task id derived from the two (platform, client task id: dispatcher.domain.model
-- task_id_for). Payroll and scoring keep their records by task id for ever, so an id whose
-- task may have been published names that task for ever: a resubmission is the same task,
-- different content under it is refused. Kept here, on disk, rather than in Redis, which keeps
-- only what is in play.
--
-- A row is written just before a call publishes the task (bound from then on: the task may be
-- out, and a call with this content publishes it again), and marked published once one has.
-- One column of key: every lookup is by it, whatever the statistics say of the platforms.
CREATE TABLE client_tasks (
    task_id     uuid        PRIMARY KEY,
    fingerprint bytea       NOT NULL CHECK (octet_length(fingerprint) = 32),
    published   boolean     NOT NULL DEFAULT false,
    bound_at    timestamptz NOT NULL DEFAULT now()
-- Each row is updated once (to published), leaving a dead version: vacuumed every 100,000 of
-- them, not at 20% of a table that only grows, so the next rows reuse the space.
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 100000);
