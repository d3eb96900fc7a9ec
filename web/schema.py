"""The schema of the query log and feedback: one ordered list of migrations for SQLite and PostgreSQL.

A migration is written once. What the two databases spell differently (the id column, the time
type, the parameter mark, how a migration waits for another process) is a `Dialect`, here and
nowhere else. `migrate` is the one way a database reaches the latest version:

    in one transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: BEGIN plus an advisory lock, so that
    processes starting together migrate one after the other):
      create `schema_version` if missing; read its highest version V;
      V > LATEST: SchemaTooNew (the app is older than the database: upgrade it);
      apply every migration newer than V, in order, and record each in `schema_version`.

Version 1 is the schema as it was before versions were recorded (`IF NOT EXISTS`), so a database
made then is adopted with its rows. To change the schema, append a migration (never edit one that
has shipped) and freeze a database written by the previous version under tests/data/storage/ for
tests/test_storage_*.py.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

TABLES = ("feedback", "queries")
# the columns the writer fills, in the order of web.writer's records
COLUMNS = {
    "feedback": ("created_at", "rating", "question", "answer", "citation_ids", "refused", "comment", "source",
                 "instance"),
    "queries": ("created_at", "question", "refused", "refusal_reason", "citation_ids", "generator", "llm_error",
                "latency_ms", "source", "instance"),
}


@dataclass(frozen=True)
class Dialect:
    """What SQLite and PostgreSQL spell differently. Every field is a constant (tests/test_security_static.py)."""
    name: str
    words: Mapping[str, str] = field(repr=False)   # filled into migrations: {id}, {time}
    mark: str                                      # the parameter mark: ? or %s
    begin: str                                     # a writing transaction
    lock: str | None                               # run first in a migration (None: `begin` already excludes others)
    has_table: str                                 # one row when table ? exists

    def sql(self, statement: str) -> str:
        """A statement written with `?` marks, in this database's parameter style."""
        return statement if self.mark == "?" else statement.replace("?", self.mark)

    def ddl(self, template: str) -> str:
        return template.format(**self.words)


SQLITE = Dialect(
    name="sqlite",
    words={"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "time": "TEXT"},   # time: UTC ISO 8601 text
    mark="?",
    begin="BEGIN IMMEDIATE",            # takes the write lock at once: two starting processes queue here
    lock=None,
    has_table="SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
)
POSTGRESQL = Dialect(
    name="postgresql",
    words={"id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "time": "TIMESTAMPTZ"},
    mark="%s",
    begin="BEGIN",
    lock="SELECT pg_advisory_xact_lock(7860013)",   # key: "policy assistant migrations"; freed at commit
    has_table="SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = %s",
)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]       # templates: {id} and {time} are the dialect's words

    def sql(self, dialect: Dialect) -> tuple[str, ...]:
        return tuple(dialect.ddl(s) for s in self.statements)


MIGRATIONS = (
    Migration(1, "queries and feedback tables", (
        """CREATE TABLE IF NOT EXISTS feedback (
            id           {id},
            created_at   {time} NOT NULL,           -- UTC
            rating       TEXT    NOT NULL CHECK (rating IN ('up', 'down')),
            question     TEXT    NOT NULL,          -- redacted
            answer       TEXT    NOT NULL,          -- redacted
            citation_ids TEXT    NOT NULL,          -- JSON list, e.g. ["nmg-2017-132:4.3"]
            refused      INTEGER,                   -- 1 when the answer declined, NULL when unknown
            comment      TEXT    NOT NULL DEFAULT '',
            source       TEXT    NOT NULL DEFAULT ''  -- 'chat' | 'api'
        )""",
        "CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at)",
        """CREATE TABLE IF NOT EXISTS queries (
            id             {id},
            created_at     {time} NOT NULL,         -- UTC
            question       TEXT    NOT NULL,        -- redacted
            refused        INTEGER NOT NULL,        -- 1 when the assistant declined
            refusal_reason TEXT,                    -- no_match | out_of_scope | figure_missing
            citation_ids   TEXT    NOT NULL,        -- JSON list
            generator      TEXT    NOT NULL,        -- extractive | llm
            llm_error      TEXT,                    -- why an LLM answer was not used, when one was asked
            latency_ms     INTEGER NOT NULL,        -- computing the answer, queueing excluded
            source         TEXT    NOT NULL         -- api | chat | gradio_api | console
        )""",
        "CREATE INDEX IF NOT EXISTS queries_created ON queries (created_at)",
    )),
    Migration(2, "instance: the app process (host:pid) that wrote the row", (
        "ALTER TABLE feedback ADD COLUMN instance TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE queries ADD COLUMN instance TEXT NOT NULL DEFAULT ''",
    )),
    # the gaps report reads only declined questions and 👎: small partial indexes instead of
    # every logged question of the period (measured in docs/storage.md)
    Migration(3, "indexes for the knowledge-gaps report", (
        "CREATE INDEX IF NOT EXISTS queries_declined ON queries (created_at) WHERE refused = 1",
        "CREATE INDEX IF NOT EXISTS feedback_down ON feedback (created_at) WHERE rating = 'down'",
    )),
)
LATEST = MIGRATIONS[-1].version

_VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
                  " description TEXT NOT NULL, applied_at {time} NOT NULL)")
_VERSION_NOW = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
_VERSION_ADD = "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)"
_COMMIT = "COMMIT"
_ROLLBACK = "ROLLBACK"


class SchemaTooNew(Exception):
    """The database was migrated by a newer version of the app."""


def too_new(version: int, where: str) -> SchemaTooNew:
    return SchemaTooNew(f"{where} has schema version {version}, newer than this app's {LATEST}: "
                        "upgrade the app (or point POLICY_DB at another database)")


def stamp(moment: datetime) -> str:
    """The one timestamp format of rows as read (so that text order is time order)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def param(dialect: Dialect, moment: datetime) -> Any:
    """A moment as a statement parameter: ISO text in SQLite, a timestamptz in PostgreSQL."""
    return stamp(moment) if dialect.words["time"] == "TEXT" else moment


@contextmanager
def transaction(conn: Any, dialect: Dialect, errors: tuple[type[BaseException], ...]) -> Iterator[Any]:
    """One writing transaction on an autocommit connection, rolled back on any error."""
    conn.execute(dialect.begin)
    try:
        yield conn
        conn.execute(_COMMIT)
    except BaseException:
        try:
            conn.execute(_ROLLBACK)
        except errors:              # already rolled back (disk full, connection lost …): the first error counts
            pass
        raise


def migrate(conn: Any, dialect: Dialect, where: str, errors: tuple[type[BaseException], ...]) -> int:
    """Bring the database to LATEST (see the module docstring); the version it had before."""
    with transaction(conn, dialect, errors):
        if dialect.lock:
            conn.execute(dialect.lock)
        sql = dialect.ddl(_VERSION_TABLE)
        conn.execute(sql)
        current = int(conn.execute(_VERSION_NOW).fetchone()[0])
        if current > LATEST:
            raise too_new(current, where)
        for m in MIGRATIONS:
            if m.version > current:
                for sql in m.sql(dialect):
                    conn.execute(sql)
                conn.execute(dialect.sql(_VERSION_ADD), (m.version, m.description, param(dialect, datetime.now(UTC))))
    return current
