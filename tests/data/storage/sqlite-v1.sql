-- A SQLite database from before schema versions (no schema_version table, no instance column): the schema of commit 40dcffa (the same DDL as migration 1 at 35a0426); frozen for the migration tests.
BEGIN TRANSACTION;
CREATE TABLE feedback (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at   TEXT    NOT NULL,          -- UTC, ISO 8601
            rating       TEXT    NOT NULL CHECK (rating IN ('up', 'down')),
            question     TEXT    NOT NULL,          -- redacted
            answer       TEXT    NOT NULL,          -- redacted
            citation_ids TEXT    NOT NULL,          -- JSON list, e.g. ["nmg-2017-132:4.3"]
            refused      INTEGER,                   -- 1 when the answer declined, NULL when unknown
            comment      TEXT    NOT NULL DEFAULT '',
            source       TEXT    NOT NULL DEFAULT ''  -- 'chat' | 'api'
        );
INSERT INTO "feedback" VALUES(1,'2026-11-01T08:01:00+00:00','down','怎么申请公租房？','…','[]',1,'','chat');
CREATE TABLE queries (
            id             INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at     TEXT    NOT NULL,        -- UTC, ISO 8601
            question       TEXT    NOT NULL,        -- redacted
            refused        INTEGER NOT NULL,        -- 1 when the assistant declined
            refusal_reason TEXT,                    -- no_match | out_of_scope | figure_missing
            citation_ids   TEXT    NOT NULL,        -- JSON list
            generator      TEXT    NOT NULL,        -- extractive | llm
            llm_error      TEXT,                    -- why an LLM answer was not used, when one was asked
            latency_ms     INTEGER NOT NULL,        -- computing the answer, queueing excluded
            source         TEXT    NOT NULL         -- api | chat | gradio_api | console
        );
INSERT INTO "queries" VALUES(1,'2026-11-01T08:00:00+00:00','怎么申请公租房？',1,'out_of_scope','[]','extractive',NULL,12,'api');
CREATE INDEX feedback_created ON feedback (created_at);
CREATE INDEX queries_created ON queries (created_at);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('queries',1);
INSERT INTO "sqlite_sequence" VALUES('feedback',1);
COMMIT;
