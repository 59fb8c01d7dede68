-- Every client task id a platform has used, with its content's fingerprint (SHA-256). Task ids
-- are derived from (platform, client task id) and payroll and scoring keep their records by
-- them for ever, so an id once claimed names that task for ever: a resubmission is the same
-- task, different content under it is refused. Kept here, on disk, rather than in Redis, which
-- keeps only what is in play. A call claims its new ids before it holds escrow and publishes,
-- and marks them published after: of two calls racing with other content under one id, the
-- second to claim is refused.
CREATE TABLE client_tasks (
    platform_id    text        NOT NULL,
    client_task_id text        NOT NULL,
    fingerprint    bytea       NOT NULL CHECK (octet_length(fingerprint) = 32),
    published      boolean     NOT NULL DEFAULT false,
    claimed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform_id, client_task_id)
-- Every row is updated once (to published), leaving a dead version: vacuumed every 100,000 of
-- them, not at 20% of a table that only grows, so the space is reused by the next claims.
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 100000);
