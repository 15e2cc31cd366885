-- +goose Up
-- PostgreSQL's immutability trigger on journal lines is rewritten to look
-- its entry up by primary key; SQLite's triggers already do (WHEN
-- clauses on NEW.entry_id and OLD.entry_id). Kept for the engines'
-- migrations to carry the same versions.
SELECT 1;
