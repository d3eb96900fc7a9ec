"""The two databases the query log and feedback can live in.

    POLICY_DB=data/policy.sqlite3                 SQLite (the default): one file, for one host
    POLICY_DB=postgresql://user:pw@host/db        PostgreSQL: one database shared by every app process

Both backends answer the same calls (connect, insert, purge, read, transient), written once in
`Database` over the dialect of web.schema, so `web.writer` and `web.reports` never branch on the
database. What differs is how a connection is opened and which driver errors mean "another writer
holds the lock, try again" (`transient`, by error type or result code, never by message text).
PostgreSQL is reached through psycopg 3, the maintained PostgreSQL driver for Python (imported only
when a `postgresql://` URL is configured, so the SQLite default needs nothing more).
"""
from __future__ import annotations

import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from retrieval.extras import require

from .schema import COLUMNS, POSTGRESQL, SQLITE, TABLES, Dialect, SchemaTooNew, migrate, param, stamp, transaction

SCHEMES = ("postgresql://", "postgres://")

# INSERT … RETURNING id: SQLite ≥ 3.35 and PostgreSQL alike
_INSERT = {t: f"INSERT INTO {t} ({', '.join(c)}) VALUES ({', '.join('?' * len(c))}) RETURNING id"
           for t, c in COLUMNS.items()}


def is_url(text: str) -> bool:
    return text.strip().lower().startswith(SCHEMES)


class Database:
    """A database of the query log and feedback; subclasses open connections and classify errors."""
    kind: str
    dialect: Dialect
    name: str                                        # as it may be shown (a URL without its password)
    errors: tuple[type[BaseException], ...]          # what the driver raises (plus SchemaTooNew)

    def exists(self) -> bool:
        return True

    def open(self) -> Any:
        """A new autocommit connection for writing."""
        raise NotImplementedError

    def read(self) -> Any:
        """A new read-only connection whose rows are mappings, or None when there is no database yet."""
        raise NotImplementedError

    def transient(self, error: BaseException) -> bool:
        """Worth retrying on the same connection: another writer holds a lock, or a serialisation failure."""
        raise NotImplementedError

    def connect(self) -> Any:
        """The writing connection, migrated to the latest schema (web.schema.migrate)."""
        conn = self.open()
        try:
            self.migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def migrate(self, conn: Any) -> int:
        return migrate(conn, self.dialect, self.name, self.errors)

    def param(self, moment: datetime) -> Any:
        return param(self.dialect, moment)

    def insert(self, conn: Any, items: list[tuple[str, tuple]]) -> list[int]:
        """Rows (table, values in COLUMNS order, created_at first) written in one transaction; their ids."""
        ids = []
        with transaction(conn, self.dialect, self.errors):
            for table, row in items:
                sql = self.dialect.sql(_INSERT[table])       # a constant per table
                ids.append(int(conn.execute(sql, (self.param(row[0]),) + tuple(row[1:])).fetchall()[0][0]))
        return ids

    def purge(self, conn: Any, cutoff: datetime) -> dict[str, int]:
        """Delete the rows written before `cutoff`, in one transaction; how many from each table."""
        deleted = {}
        with transaction(conn, self.dialect, self.errors):
            for table in TABLES:
                sql = self.dialect.sql(f"DELETE FROM {table} WHERE created_at < ?")
                deleted[table] = conn.execute(sql, (self.param(cutoff),)).rowcount
        return deleted

    def has_table(self, conn: Any, table: str) -> bool:
        return bool(conn.execute(self.dialect.has_table, (table,)).fetchall())


class SQLite(Database):
    kind = "sqlite"
    dialect = SQLITE
    errors = (sqlite3.Error, OSError, SchemaTooNew)

    def __init__(self, path: Path, busy_timeout: float = 5.0):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.name = str(self.path)

    def exists(self) -> bool:
        return self.path.is_file()

    def open(self) -> sqlite3.Connection:
        """The folder created, WAL on (readers never wait for the writer)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            self._wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _wal(self, conn: sqlite3.Connection) -> None:
        """Switch to WAL, waiting up to the busy timeout: SQLite answers the switch at once with "database is
        locked" while another connection opens or migrates the same new file, without its busy handler."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if not self.transient(e) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)

    def transient(self, error: BaseException) -> bool:
        # Python ≥ 3.11 gives the SQLite result code; its low byte is the primary code
        code = getattr(error, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

    def read(self) -> sqlite3.Connection | None:
        if not self.path.is_file():
            return None
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=self.busy_timeout)
        conn.row_factory = sqlite3.Row
        return conn


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


class PostgreSQL(Database):
    kind = "postgresql"
    dialect = POSTGRESQL

    def __init__(self, url: str, busy_timeout: float = 5.0):
        self.psycopg = _psycopg()
        self.url = url
        self.name = postgres_display(url)
        self.connect_timeout = max(2, int(round(busy_timeout)))
        self.errors = (self.psycopg.Error, OSError, SchemaTooNew)
        e = self.psycopg.errors
        # SQLSTATE 40001, 40P01, 55P03: the transaction lost a race with another one and may simply run again
        self._transient = (e.SerializationFailure, e.DeadlockDetected, e.LockNotAvailable)

    def _connect(self, **kwargs: Any):
        return self.psycopg.connect(self.url, connect_timeout=self.connect_timeout,
                                    application_name="policy-assistant", **kwargs)

    def open(self):
        return self._connect(autocommit=True)

    def transient(self, error: BaseException) -> bool:
        return isinstance(error, self._transient)

    def read(self):
        from psycopg.rows import dict_row
        conn = self._connect(autocommit=True, row_factory=dict_row)
        conn.read_only = True
        return conn


def backend(target: Path | str, busy_timeout: float = 5.0) -> SQLite | PostgreSQL:
    """The backend for POLICY_DB: a postgresql:// URL, else a SQLite file path."""
    if isinstance(target, str) and is_url(target):
        return PostgreSQL(target, busy_timeout)
    return SQLite(Path(target), busy_timeout)


__all__ = ["Database", "SQLite", "PostgreSQL", "backend", "is_url", "postgres_display", "stamp", "TABLES",
           "SchemaTooNew"]
