-- Double entry enforced by the database itself, whatever client writes to it.

-- Checked at COMMIT (deferred), when all of a posting's lines are in: a posting whose lines
-- do not sum to zero, or that has fewer than two lines, aborts the whole transaction.
CREATE FUNCTION ledger_assert_balanced(checked_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    line_count bigint;
    line_sum numeric;
BEGIN
    SELECT count(*), coalesce(sum(amount_micros), 0)
      INTO line_count, line_sum
      FROM ledger_lines WHERE posting_id = checked_id;
    IF line_count < 2 OR line_sum <> 0 THEN
        RAISE EXCEPTION 'posting % is unbalanced: % lines summing to %',
            checked_id, line_count, line_sum
            USING ERRCODE = 'check_violation';
    END IF;
END;
$$;

CREATE FUNCTION postings_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_assert_balanced(NEW.id);
    RETURN NULL;
END;
$$;

CREATE FUNCTION ledger_lines_check_balanced() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_assert_balanced(NEW.posting_id);
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER postings_balanced
    AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION postings_check_balanced();

CREATE CONSTRAINT TRIGGER ledger_lines_balanced
    AFTER INSERT ON ledger_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_lines_check_balanced();

-- The ledger is append-only: a mistake is corrected by a reversing posting, never by editing
-- history, so a statement once issued stays reproducible.
CREATE FUNCTION ledger_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only; post a reversing entry instead', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER postings_append_only
    BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();

CREATE TRIGGER ledger_lines_append_only
    BEFORE UPDATE OR DELETE ON ledger_lines
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
