-- Every client task id a platform has used, with its content's fingerprint (SHA-256). Task ids
-- are derived from (platform, client task id) and payroll and scoring keep their records by
-- them for ever, so an id once accepted names that task for ever: a resubmission is the same
-- task, different content under it is refused. Kept here, on disk, rather than in Redis, which
-- keeps only what is in play.
CREATE TABLE client_tasks (
    platform_id    text        NOT NULL,
    client_task_id text        NOT NULL,
    fingerprint    bytea       NOT NULL CHECK (octet_length(fingerprint) = 32),
    accepted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform_id, client_task_id)
);
