-- A PostgreSQL database at schema version 2, as written by the app at commit 35a0426 (before migration 3); frozen for the migration tests.
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS feedback (
            id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created_at   TIMESTAMPTZ NOT NULL,
            rating       TEXT    NOT NULL CHECK (rating IN ('up', 'down')),
            question     TEXT    NOT NULL,
            answer       TEXT    NOT NULL,
            citation_ids TEXT    NOT NULL,
            refused      INTEGER,
            comment      TEXT    NOT NULL DEFAULT '',
            source       TEXT    NOT NULL DEFAULT ''
        );
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at);
CREATE TABLE IF NOT EXISTS queries (
            id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created_at     TIMESTAMPTZ NOT NULL,
            question       TEXT    NOT NULL,
            refused        INTEGER NOT NULL,
            refusal_reason TEXT,
            citation_ids   TEXT    NOT NULL,
            generator      TEXT    NOT NULL,
            llm_error      TEXT,
            latency_ms     INTEGER NOT NULL,
            source         TEXT    NOT NULL
        );
CREATE INDEX IF NOT EXISTS queries_created ON queries (created_at);
INSERT INTO schema_version (version, description, applied_at) VALUES (1, 'queries and feedback tables', '2026-11-01T07:00:00+00:00');
ALTER TABLE feedback ADD COLUMN instance TEXT NOT NULL DEFAULT '';
ALTER TABLE queries ADD COLUMN instance TEXT NOT NULL DEFAULT '';
INSERT INTO schema_version (version, description, applied_at) VALUES (2, 'instance: the app process (host:pid) that wrote the row', '2026-11-01T07:00:00+00:00');
INSERT INTO queries (created_at, question, refused, refusal_reason, citation_ids, generator, llm_error, latency_ms, source, instance) VALUES ('2026-11-01T08:00:00+00:00', '怎么申请公租房？', 1, 'out_of_scope', '[]', 'extractive', NULL, 12, 'api', 'host-a:101');
INSERT INTO queries (created_at, question, refused, refusal_reason, citation_ids, generator, llm_error, latency_ms, source, instance) VALUES ('2026-11-01T08:00:00+00:00', '创业担保贷款有什么规定？', 0, NULL, '["nmg-2017-132:3.4"]', 'extractive', NULL, 20, 'chat', 'host-a:101');
INSERT INTO feedback (created_at, rating, question, answer, citation_ids, refused, comment, source, instance) VALUES ('2026-11-01T08:01:00+00:00', 'down', '怎么申请公租房？', '…', '[]', 1, '没有答案', 'chat', 'host-a:101');
