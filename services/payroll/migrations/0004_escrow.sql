-- Escrow: a platform deposits funds before its tasks can be dispatched, and each accepted task
-- holds its price until it is paid (the hold is spent) or will not be (released). Deposits and
-- withdrawals are postings between the platform's funding account (money outside fairtask)
-- and its escrow account, so the ledger still balances to zero.
ALTER TABLE accounts
    DROP CONSTRAINT accounts_kind_check,
    ADD CONSTRAINT accounts_kind_check
        CHECK (kind IN ('worker_payable', 'platform_escrow', 'platform_funding'));

ALTER TABLE postings
    DROP CONSTRAINT postings_kind_check,
    ADD CONSTRAINT postings_kind_check
        CHECK (kind IN ('task_pay', 'time_worked', 'top_up', 'onboarding', 'deposit',
                        'withdrawal')),
    DROP CONSTRAINT postings_worker_id_check,
    ADD CONSTRAINT postings_worker_id_check
        CHECK (worker_id <> '' OR kind IN ('deposit', 'withdrawal'));

-- A platform's escrow balance sums its postings by kind.
CREATE INDEX postings_platform_kind ON postings (platform_id, kind);

CREATE TABLE escrow_holds (
    task_id       text PRIMARY KEY,
    platform_id   text NOT NULL CHECK (platform_id <> ''),
    amount_micros bigint NOT NULL CHECK (amount_micros > 0),
    state         text NOT NULL CHECK (state IN ('held', 'spent', 'released')),
    held_at       timestamptz NOT NULL,
    settled_at    timestamptz
);

CREATE INDEX escrow_holds_held ON escrow_holds (platform_id) WHERE state = 'held';
