"""The two databases the query log and feedback can live in, and the schema's migrations.

    POLICY_DB=data/policy.sqlite3                 SQLite (the default): one file, for one host
    POLICY_DB=postgresql://user:pw@host/db        PostgreSQL: one database shared by every app process

Both backends answer the same calls (connect, migrate, insert, purge, read) so `web.storage` (the
writer) and `web.reports` (counts, rows, knowledge gaps) never branch on the database. PostgreSQL is
reached through psycopg 3, the maintained PostgreSQL driver for Python (imported only when a
`postgresql://` URL is configured, so the SQLite default needs nothing more).

The schema has a version. MIGRATIONS is an ordered list; at start each backend applies, in one
transaction, those newer than what `schema_version` records, and records them. A database written
by a newer app (a version this code does not know) is not written to: the writer logs why and keeps
answering. PostgreSQL serialises concurrent starts with an advisory lock, SQLite with BEGIN IMMEDIATE.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from retrieval.extras import require

TABLES = ("feedback", "queries")
SCHEMES = ("postgresql://", "postgres://")
PG_LOCK = 7_860_013          # advisory-lock key: "policy assistant migrations"


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]


# Version 1 is the schema as it was before versions were recorded: `IF NOT EXISTS`, so a database
# made then is adopted as it is. Later versions run exactly once.
MIGRATIONS = (
    Migration(1, "queries and feedback tables", sqlite=(
        """CREATE TABLE IF NOT EXISTS feedback (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at   TEXT    NOT NULL,          -- UTC, ISO 8601
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
        )""",
        "CREATE INDEX IF NOT EXISTS queries_created ON queries (created_at)",
    ), postgresql=(
        """CREATE TABLE IF NOT EXISTS feedback (
            id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            created_at   TIMESTAMPTZ NOT NULL,
            rating       TEXT    NOT NULL CHECK (rating IN ('up', 'down')),
            question     TEXT    NOT NULL,
            answer       TEXT    NOT NULL,
            citation_ids TEXT    NOT NULL,
            refused      INTEGER,
            comment      TEXT    NOT NULL DEFAULT '',
            source       TEXT    NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at)",
        """CREATE TABLE IF NOT EXISTS queries (
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
        )""",
        "CREATE INDEX IF NOT EXISTS queries_created ON queries (created_at)",
    )),
    Migration(2, "instance: the app process (host:pid) that wrote the row", sqlite=(
        "ALTER TABLE feedback ADD COLUMN instance TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE queries ADD COLUMN instance TEXT NOT NULL DEFAULT ''",
    ), postgresql=(
        "ALTER TABLE feedback ADD COLUMN instance TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE queries ADD COLUMN instance TEXT NOT NULL DEFAULT ''",
    )),
)
LATEST = MIGRATIONS[-1].version

_VERSION_TABLE_SQLITE = ("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
                         " description TEXT NOT NULL, applied_at TEXT NOT NULL)")
_VERSION_TABLE_PG = ("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,"
                     " description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
_VERSION_NOW = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
_VERSION_ADD_SQLITE = "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)"
_VERSION_ADD_PG = "INSERT INTO schema_version (version, description) VALUES (%s, %s)"
_PG_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s)"

_COLUMNS = {
    "feedback": "created_at, rating, question, answer, citation_ids, refused, comment, source, instance",
    "queries": ("created_at, question, refused, refusal_reason, citation_ids, generator, llm_error, latency_ms,"
                " source, instance"),
}
_INSERT_SQLITE = {t: f"INSERT INTO {t} ({c}) VALUES ({', '.join('?' * len(c.split(',')))})"
                  for t, c in _COLUMNS.items()}
_INSERT_PG = {t: f"INSERT INTO {t} ({c}) VALUES ({', '.join(['%s'] * len(c.split(',')))}) RETURNING id"
              for t, c in _COLUMNS.items()}


class SchemaTooNew(Exception):
    """The database was migrated by a newer version of the app."""


def is_url(text: str) -> bool:
    return text.strip().lower().startswith(SCHEMES)


def stamp(moment: datetime) -> str:
    """The one timestamp format of rows as read (so that text order is time order)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _too_new(version: int, where: str) -> SchemaTooNew:
    return SchemaTooNew(f"{where} has schema version {version}, newer than this app's {LATEST}: "
                        "upgrade the app (or point POLICY_DB at another database)")


class SQLite:
    kind = "sqlite"
    errors: tuple[type[BaseException], ...] = (sqlite3.Error, OSError, SchemaTooNew)

    def __init__(self, path: Path, busy_timeout: float = 5.0):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.name = str(self.path)

    def exists(self) -> bool:
        return self.path.is_file()

    def connect(self) -> sqlite3.Connection:
        """The writing connection, the folder created, WAL on, migrated."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self.migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def migrate(self, conn: sqlite3.Connection) -> int:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_VERSION_TABLE_SQLITE)
            current = int(conn.execute(_VERSION_NOW).fetchone()[0])
            if current > LATEST:
                raise _too_new(current, self.name)
            for m in MIGRATIONS:
                if m.version > current:
                    for sql in m.sqlite:
                        conn.execute(sql)
                    conn.execute(_VERSION_ADD_SQLITE, (m.version, m.description, stamp(datetime.now(UTC))))
            conn.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:       # SQLite already rolled back (disk full, I/O error …)
                pass
            raise
        return LATEST

    def insert(self, conn: sqlite3.Connection, items: list[tuple[str, tuple]]) -> list[int]:
        """Rows written in one transaction; their ids."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = []
            for table, row in items:
                sql = _INSERT_SQLITE[table]            # a constant per table
                ids.append(int(conn.execute(sql, self.adapt(row)).lastrowid))  # type: ignore[arg-type]  # set by an INSERT
            conn.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        return ids

    def adapt(self, row: tuple) -> tuple:
        return (stamp(row[0]),) + tuple(row[1:])

    def param(self, moment: datetime) -> str:
        return stamp(moment)

    def purge(self, conn: sqlite3.Connection, cutoff: datetime) -> dict[str, int]:
        deleted = {}
        for table in TABLES:
            deleted[table] = conn.execute(f"DELETE FROM {table} WHERE created_at < ?", (stamp(cutoff),)).rowcount
        return deleted

    def transient(self, error: BaseException) -> bool:
        """Worth retrying at once on the same connection (another process holds the lock)."""
        code = getattr(error, "sqlite_errorcode", None)           # Python ≥ 3.11: the SQLite result code
        return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

    def read(self) -> sqlite3.Connection | None:
        """A read-only connection, or None when there is no file yet."""
        if not self.path.is_file():
            return None
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.busy_timeout)
        conn.row_factory = sqlite3.Row
        return conn

    @staticmethod
    def missing_table(error: BaseException) -> bool:
        return isinstance(error, sqlite3.OperationalError) and "no such table" in str(error)


def _psycopg():
    return require("psycopg", "postgres", "POLICY_DB=postgresql://…")


def postgres_display(url: str) -> str:
    """The URL without its password (for logs and reports); ValueError when it is not a usable URL."""
    psycopg = _psycopg()
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error as e:
        raise ValueError(f"POLICY_DB is not a usable PostgreSQL URL ({e}); "
                         "expected postgresql://user:password@host:port/database") from None
    host = info.get("host") or "localhost"
    port = f":{info['port']}" if info.get("port") else ""
    user = f"{info['user']}@" if info.get("user") else ""
    return f"postgresql://{user}{host}{port}/{info.get('dbname') or ''}"


class PostgreSQL:
    kind = "postgresql"

    def __init__(self, url: str, busy_timeout: float = 5.0):
        self.psycopg = _psycopg()
        self.url = url
        self.name = postgres_display(url)
        self.connect_timeout = max(2, int(round(busy_timeout)))
        self.errors = (self.psycopg.Error, OSError, SchemaTooNew)

    def exists(self) -> bool:
        return True

    def _connect(self, **kwargs: Any):
        return self.psycopg.connect(self.url, connect_timeout=self.connect_timeout,
                                    application_name="policy-assistant", **kwargs)

    def connect(self):
        conn = self._connect(autocommit=True)
        try:
            self.migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def migrate(self, conn) -> int:
        with conn.transaction():
            conn.execute(_PG_LOCK_SQL, (PG_LOCK,))   # two processes starting at once migrate one after the other
            conn.execute(_VERSION_TABLE_PG)
            current = int(conn.execute(_VERSION_NOW).fetchone()[0])
            if current > LATEST:
                raise _too_new(current, self.name)
            for m in MIGRATIONS:
                if m.version > current:
                    for sql in m.postgresql:
                        conn.execute(sql)
                    conn.execute(_VERSION_ADD_PG, (m.version, m.description))
        return LATEST

    def insert(self, conn, items: list[tuple[str, tuple]]) -> list[int]:
        ids = []
        with conn.transaction():
            for table, row in items:
                sql = _INSERT_PG[table]                # a constant per table
                ids.append(int(conn.execute(sql, row).fetchone()[0]))
        return ids

    def adapt(self, row: tuple) -> tuple:
        return row

    def param(self, moment: datetime) -> datetime:
        return moment

    def purge(self, conn, cutoff: datetime) -> dict[str, int]:
        deleted = {}
        with conn.transaction():
            for table in TABLES:
                deleted[table] = conn.execute(f"DELETE FROM {table} WHERE created_at < %s", (cutoff,)).rowcount
        return deleted

    def transient(self, error: BaseException) -> bool:
        return isinstance(error, self.psycopg.errors.SerializationFailure)

    def read(self):
        from psycopg.rows import dict_row
        conn = self._connect(autocommit=True, row_factory=dict_row)
        conn.read_only = True
        return conn

    def missing_table(self, error: BaseException) -> bool:
        return isinstance(error, self.psycopg.errors.UndefinedTable)


def backend(target: Path | str, busy_timeout: float = 5.0) -> SQLite | PostgreSQL:
    """The backend for POLICY_DB: a postgresql:// URL, else a SQLite file path."""
    if isinstance(target, str) and is_url(target):
        return PostgreSQL(target, busy_timeout)
    return SQLite(Path(target), busy_timeout)
