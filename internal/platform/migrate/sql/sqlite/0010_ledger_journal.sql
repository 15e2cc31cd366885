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
    created_at  TIMESTAMP NOT NULL,
    posted_at   TIMESTAMP,
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
-- +goose StatementBegin
CREATE TRIGGER journal_entries_posted_update BEFORE UPDATE ON journal_entries
WHEN OLD.status = 'posted' AND NOT (
    OLD.reversed_by IS NULL AND NEW.reversed_by IS NOT NULL
    AND NEW.id IS OLD.id AND NEW.company_id IS OLD.company_id AND NEW.status IS OLD.status
    AND NEW.number IS OLD.number AND NEW.entry_date IS OLD.entry_date AND NEW.currency IS OLD.currency
    AND NEW.memo IS OLD.memo AND NEW.source_type IS OLD.source_type AND NEW.source_id IS OLD.source_id
    AND NEW.purpose IS OLD.purpose AND NEW.reversal_of IS OLD.reversal_of
    AND NEW.created_at IS OLD.created_at AND NEW.posted_at IS OLD.posted_at)
BEGIN
    SELECT RAISE(ABORT, 'posted journal entries are immutable');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER journal_entries_posted_delete BEFORE DELETE ON journal_entries
WHEN OLD.status = 'posted'
BEGIN
    SELECT RAISE(ABORT, 'posted journal entries are immutable');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER journal_lines_posted_insert BEFORE INSERT ON journal_lines
WHEN EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id AND status = 'posted')
BEGIN
    SELECT RAISE(ABORT, 'posted journal entries are immutable');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER journal_lines_posted_update BEFORE UPDATE ON journal_lines
WHEN EXISTS (SELECT 1 FROM journal_entries WHERE id IN (OLD.entry_id, NEW.entry_id) AND status = 'posted')
BEGIN
    SELECT RAISE(ABORT, 'posted journal entries are immutable');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER journal_lines_posted_delete BEFORE DELETE ON journal_lines
WHEN EXISTS (SELECT 1 FROM journal_entries WHERE id = OLD.entry_id AND status = 'posted')
BEGIN
    SELECT RAISE(ABORT, 'posted journal entries are immutable');
END;
-- +goose StatementEnd
