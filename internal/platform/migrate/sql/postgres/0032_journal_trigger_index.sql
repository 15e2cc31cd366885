-- +goose Up
-- The trigger that keeps posted entries immutable looked up the line's
-- entry with "id IN (CASE … END, CASE … END)", which PL/pgSQL's cached
-- plan ran as a sequential scan of journal_entries: every line written
-- read the whole journal, so posting slowed as the books grew. One
-- branch per operation, each an equality on the primary key.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION journal_refuse_posted_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ELSIF TG_OP = 'INSERT' THEN
        IF NOT EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id AND status = 'posted') THEN
            RETURN NEW;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        IF NOT EXISTS (SELECT 1 FROM journal_entries WHERE id = OLD.entry_id AND status = 'posted') THEN
            RETURN OLD;
        END IF;
    ELSE
        IF NOT EXISTS (SELECT 1 FROM journal_entries WHERE id = OLD.entry_id AND status = 'posted')
           AND NOT EXISTS (SELECT 1 FROM journal_entries WHERE id = NEW.entry_id AND status = 'posted') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'posted journal entries are immutable' USING ERRCODE = 'MSL01';
END;
$$;
-- +goose StatementEnd
