-- A SQLite database at schema version 2, as written by the app at commit 35a0426 (before migration 3); frozen for the migration tests.
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
        , instance TEXT NOT NULL DEFAULT '');
INSERT INTO "feedback" VALUES(1,'2026-11-01T08:01:00+00:00','down','怎么申请公租房？','…','[]',1,'没有答案','chat','host-a:101');
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
        , instance TEXT NOT NULL DEFAULT '');
INSERT INTO "queries" VALUES(1,'2026-11-01T08:00:00+00:00','怎么申请公租房？',1,'out_of_scope','[]','extractive',NULL,12,'api','host-a:101');
INSERT INTO "queries" VALUES(2,'2026-11-01T08:00:00+00:00','创业担保贷款有什么规定？',0,NULL,'["nmg-2017-132:3.4"]','extractive',NULL,20,'chat','host-a:101');
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL);
INSERT INTO "schema_version" VALUES(1,'queries and feedback tables','2026-11-01T07:00:00+00:00');
INSERT INTO "schema_version" VALUES(2,'instance: the app process (host:pid) that wrote the row','2026-11-01T07:00:00+00:00');
CREATE INDEX feedback_created ON feedback (created_at);
CREATE INDEX queries_created ON queries (created_at);
DELETE FROM "sqlite_sequence";
INSERT INTO "sqlite_sequence" VALUES('queries',2);
INSERT INTO "sqlite_sequence" VALUES('feedback',1);
COMMIT;
