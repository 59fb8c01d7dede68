-- Payouts: what a worker is owed is sent to them in batches; each payout is a posting from the
-- worker's payable account to the payouts clearing account (money on its way out).
ALTER TABLE accounts
    DROP CONSTRAINT accounts_kind_check,
    ADD CONSTRAINT accounts_kind_check
        CHECK (kind IN ('worker_payable', 'platform_escrow', 'platform_funding',
                        'payout_clearing'));

ALTER TABLE postings
    DROP CONSTRAINT postings_kind_check,
    ADD CONSTRAINT postings_kind_check
        CHECK (kind IN ('task_pay', 'time_worked', 'top_up', 'onboarding', 'deposit',
                        'withdrawal', 'payout'));

-- A batch's payouts are found again (to announce them) by the batch id they carry.
CREATE INDEX postings_payout_batch ON postings (source_event_id) WHERE kind = 'payout';
