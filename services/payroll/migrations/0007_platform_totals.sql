-- Running totals per platform and posting kind, kept by the database on every posting: a
-- platform's escrow balance is read from a few rows instead of summing all its postings,
-- which holding does on every SubmitTasks batch.
CREATE TABLE platform_totals (
    platform_id   text NOT NULL,
    kind          text NOT NULL,
    amount_micros numeric NOT NULL,
    PRIMARY KEY (platform_id, kind)
);

INSERT INTO platform_totals (platform_id, kind, amount_micros)
SELECT platform_id, kind, sum(amount_micros) FROM postings
WHERE platform_id <> '' GROUP BY platform_id, kind;

CREATE FUNCTION postings_add_to_platform_totals() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.platform_id <> '' THEN
        INSERT INTO platform_totals (platform_id, kind, amount_micros)
        VALUES (NEW.platform_id, NEW.kind, NEW.amount_micros)
        ON CONFLICT (platform_id, kind)
        DO UPDATE SET amount_micros = platform_totals.amount_micros + EXCLUDED.amount_micros;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER postings_platform_totals
    AFTER INSERT ON postings
    FOR EACH ROW EXECUTE FUNCTION postings_add_to_platform_totals();

-- The balance no longer sums postings by platform and kind.
DROP INDEX postings_platform_kind;
