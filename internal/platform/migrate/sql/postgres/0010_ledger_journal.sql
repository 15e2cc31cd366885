-- +goose Up
-- The double-entry journal. Amounts are scaled integers (scale 4) in the
-- company currency, so SUM and comparisons are exact. Posted entries and
-- their lines are immutable, enforced here by triggers and not only in Go:
-- corrections are reversals. Account IDs are opaque to this table (the
-- chart of accounts checks them), and dates are 'YYYY-MM-DD' text on both
-- engines so that they compare the same way everywhere.
CREATE TABLE journal_entries (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('draft', 'posted')),
    number      BIGINT,
    entry_date  TEXT NOT NULL CHECK (length(entry_date) = 10),
    currency    TEXT NOT NULL,
    memo        TEXT NOT NULL DEFAULT '',
    source_type TEXT NOT NULL DEFAULT '',
    source_id   TEXT NOT NULL DEFAULT '',
    purpose     TEXT NOT NULL DEFAULT '',
    reversal_of TEXT REFERENCES journal_entries (id),
    reversed_by TEXT REFERENCES journal_entries (id),
    created_at  TIMESTAMPTZ NOT NULL,
    posted_at   TIMESTAMPTZ,
    -- A number is taken when an entry is posted, never for a draft.
    CHECK ((status = 'draft' AND number IS NULL AND posted_at IS NULL)
        OR (status = 'posted' AND number IS NOT NULL AND posted_at IS NOT NULL))
);
CREATE UNIQUE INDEX journal_entries_number ON journal_entries (company_id, number) WHERE number IS NOT NULL;
-- Posting from a source is idempotent per (source type, source id, purpose).
CREATE UNIQUE INDEX journal_entries_source ON journal_entries (company_id, source_type, source_id, purpose)
    WHERE status = 'posted' AND source_type <> '';
-- An entry is reversed at most once, even by concurrent reversals.
CREATE UNIQUE INDEX journal_entries_reversal_of ON journal_entries (reversal_of) WHERE reversal_of IS NOT NULL;
CREATE INDEX journal_entries_date ON journal_entries (company_id, status, entry_date, id);

CREATE TABLE journal_lines (
    entry_id     TEXT NOT NULL REFERENCES journal_entries (id),
    line_no      INTEGER NOT NULL,
    account_id   TEXT NOT NULL,
    debit        BIGINT NOT NULL CHECK (debit >= 0),
    credit       BIGINT NOT NULL CHECK (credit >= 0),
    txn_currency TEXT NOT NULL,
    txn_amount   BIGINT NOT NULL,
    memo         TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (entry_id, line_no),
    -- Exactly one side of a line carries the amount.
    CHECK ((debit = 0) <> (credit = 0))
);
CREATE INDEX journal_lines_account ON journal_lines (account_id);

-- The gapless number of each company's next posted entry. The row is
-- locked only while an entry is being posted (never for drafts), and the
-- increment rolls back with a failed posting, so numbers have no gaps.
CREATE TABLE journal_sequences (
    company_id  TEXT PRIMARY KEY,
    last_number BIGINT NOT NULL
);

-- Immutability. The only change allowed to a posted entry is recording its
-- reversal once: reversed_by from NULL to a value, nothing else changing.
-- The dedicated SQLSTATE MSL01 lets Go map the refusal to 409.
-- +goose StatementBegin
CREATE FUNCTION journal_refuse_posted_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'journal_entries' THEN
        IF OLD.status <> 'posted' THEN
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' AND OLD.reversed_by IS NULL AND NEW.reversed_by IS NOT NULL
           AND (to_jsonb(NEW) - 'reversed_by') = (to_jsonb(OLD) - 'reversed_by') THEN
            RETURN NEW;
        END IF;
    ELSE
        IF NOT EXISTS (SELECT 1 FROM journal_entries WHERE status = 'posted' AND id IN (
            CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.entry_id END,
            CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.entry_id END)) THEN
            IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'posted journal entries are immutable' USING ERRCODE = 'MSL01';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER journal_entries_posted BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION journal_refuse_posted_change();
CREATE TRIGGER journal_lines_posted BEFORE INSERT OR UPDATE OR DELETE ON journal_lines
    FOR EACH ROW EXECUTE FUNCTION journal_refuse_posted_change();
-- TRUNCATE bypasses row triggers; refuse it while anything is posted.
-- +goose StatementBegin
CREATE FUNCTION journal_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM journal_entries WHERE status = 'posted') THEN
        RAISE EXCEPTION 'posted journal entries are immutable' USING ERRCODE = 'MSL01';
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER journal_entries_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_truncate();
CREATE TRIGGER journal_lines_truncate BEFORE TRUNCATE ON journal_lines
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_truncate();
