-- The double-entry ledger. Amounts are integer micro-dollars; a line's amount is signed:
-- debit positive, credit negative.

CREATE TABLE accounts (
    id         text PRIMARY KEY,          -- e.g. worker:<id>:payable, platform:<id>:escrow
    kind       text NOT NULL CHECK (kind IN ('worker_payable', 'platform_escrow')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE postings (
    id              uuid PRIMARY KEY,
    -- The business fact that caused the posting (task_pay:<submission_id>, ...). Unique, so a
    -- replayed or re-sent event can never pay twice.
    source_key      text NOT NULL UNIQUE,
    kind            text NOT NULL CHECK (kind IN ('task_pay', 'time_worked')),
    worker_id       text NOT NULL CHECK (worker_id <> ''),
    region          text NOT NULL,
    task_id         text NOT NULL,
    platform_id     text NOT NULL,
    task_type       text NOT NULL,
    amount_micros   bigint NOT NULL CHECK (amount_micros > 0),
    paid_seconds    bigint NOT NULL CHECK (paid_seconds >= 0),
    source_event_id text NOT NULL,
    posted_at       timestamptz NOT NULL
);

-- Statements read one worker's postings, newest first.
CREATE INDEX postings_worker_posted_at ON postings (worker_id, posted_at, id);

CREATE TABLE ledger_lines (
    posting_id    uuid NOT NULL REFERENCES postings (id),
    account_id    text NOT NULL REFERENCES accounts (id),
    amount_micros bigint NOT NULL CHECK (amount_micros <> 0),
    PRIMARY KEY (posting_id, account_id)
);

-- Balances read one account's lines.
CREATE INDEX ledger_lines_account ON ledger_lines (account_id);
