"""The web app's state: the query log and 👍/👎 feedback, written by one thread per process.

    POLICY_DB              where: a SQLite file (default data/policy.sqlite3; the older name
                           POLICY_FEEDBACK_DB is still read when POLICY_DB is unset), or a
                           postgresql://user:password@host:port/database URL shared by several
                           app processes (web.database)
    POLICY_QUERY_LOG       on | off (default on): one row per answered question
    POLICY_FEEDBACK        on | off (default on): 👍/👎 from the page and the API
    POLICY_RETENTION_DAYS  rows older than this are deleted on start and once a day (default 180)

What is stored is redacted: the question as the core gives it back (ID-card, phone and bank-card
numbers already replaced by [身份证号] …), redacted once more here, and the same for every text of
a feedback entry. Raw text typed by a person is never written. Each row names the process that
wrote it (`instance`, host:pid).

One writer thread owns the process's only writing connection: requests hand it rows through a
queue, so concurrent requests never contend for a lock and no row is lost. Query-log rows are
fire-and-forget (the answer never waits for the disk); a feedback row waits until its transaction
is committed and answers with its id, so an acknowledged row survives the process being killed. A
database that is locked, read-only, damaged, unreachable or in a folder that cannot be created
costs a warning in the log (at most one a minute) and the row: never an answer. Reading (`gaps`,
`rows`, `count`) is web.reports, on connections of its own.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from retrieval.config import ROOT
from retrieval.privacy import redact

from . import reports
from .database import MIGRATIONS, TABLES, PostgreSQL, SQLite, backend, is_url, postgres_display, stamp
from .reports import question_key  # part of this module's interface

log = logging.getLogger(__name__)

DEFAULT_DB = ROOT / "data" / "policy.sqlite3"
DEFAULT_RETENTION_DAYS = 180
PURGE_EVERY = 24 * 3600.0        # seconds between retention purges while running
BUSY_TIMEOUT = 5.0               # seconds SQLite waits for another process's lock (PostgreSQL: to connect)
FEEDBACK_WAIT = 15.0             # seconds a feedback request waits for its row id
MAX_PENDING = 10_000             # query-log rows waiting for the writer; past this they are dropped
MAX_BATCH = 200                  # rows written in one transaction
RETRY_OPEN_AFTER = 5.0           # seconds before a database that failed is tried again
WARN_EVERY = 60.0                # seconds between two warnings of the same kind

MAX_TEXT = 4000                  # characters kept of a feedback question, answer or comment
MAX_QUESTION = 1000              # characters kept of a logged question (the core's own limit)
MAX_CITATIONS = 20

# The version-1 SQLite schema as one script (tests build older databases with it); the schema and
# its later versions are web.database.MIGRATIONS.
SCHEMA = ";\n".join(MIGRATIONS[0].sqlite) + ";\n"

_ON = {"on", "1", "true", "yes"}
_OFF = {"off", "0", "false", "no"}


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in _ON:
        return True
    if raw in _OFF:
        return False
    raise ValueError(f"{name} must be on or off, got {env.get(name)!r}")


@dataclass(frozen=True)
class StorageSettings:
    path: Path | None = DEFAULT_DB   # the SQLite file; None with a PostgreSQL url
    query_log: bool = True
    feedback: bool = True
    retention_days: int = DEFAULT_RETENTION_DAYS
    url: str | None = None           # postgresql://…: the shared database (path is then None)

    def __post_init__(self) -> None:
        if self.retention_days < 1:
            raise ValueError(f"POLICY_RETENTION_DAYS must be at least 1, got {self.retention_days}")
        if self.url is not None:
            postgres_display(self.url)   # a malformed URL stops here with a message

    @property
    def enabled(self) -> bool:
        return self.query_log or self.feedback

    @property
    def target(self) -> Path | str:
        return self.url if self.url is not None else (self.path or DEFAULT_DB)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StorageSettings:
        env = os.environ if env is None else env
        raw = (env.get("POLICY_DB") or env.get("POLICY_FEEDBACK_DB") or "").strip()
        raw_days = (env.get("POLICY_RETENTION_DAYS") or "").strip()
        try:
            days = int(raw_days) if raw_days else DEFAULT_RETENTION_DAYS
        except ValueError:
            raise ValueError(f"POLICY_RETENTION_DAYS must be a whole number of days, got {raw_days!r}") from None
        where = {"url": raw, "path": None} if is_url(raw) else \
            {"path": Path(raw).expanduser() if raw else DEFAULT_DB}
        return cls(query_log=_switch(env, "POLICY_QUERY_LOG", True), feedback=_switch(env, "POLICY_FEEDBACK", True),
                   retention_days=days, **where)

    @classmethod
    def at(cls, target: Path | str, **fields: Any) -> StorageSettings:
        """Settings for a database given as a path or a postgresql:// URL."""
        if isinstance(target, str) and is_url(target):
            return cls(path=None, url=target, **fields)
        return cls(path=Path(target), **fields)


def utc_now() -> datetime:
    return datetime.now(UTC)


def clip(text: object, limit: int = MAX_TEXT) -> str:
    """Text as stored: at most `limit` characters, personal numbers redacted, no lone surrogates."""
    value = redact(str(text if text is not None else "")[:limit])
    return value.encode("utf-8", "replace").decode("utf-8")


def clean_ids(values: object) -> list[str]:
    if not values:
        return []
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    return [clip(v, 100) for v in list(values)[:MAX_CITATIONS]]


class Store:
    """The query log and the feedback table. Thread-safe; the writer thread starts on first use."""

    def __init__(self, settings: StorageSettings | Path | str | None = None, **overrides: Any):
        if settings is None:
            settings = StorageSettings.from_env()
        elif not isinstance(settings, StorageSettings):
            settings = StorageSettings.at(settings)
        if overrides:
            settings = replace(settings, **overrides)
        self.settings = settings
        self.path = settings.path if settings.url is None else None   # the SQLite file, if that is the database
        self.db: SQLite | PostgreSQL = backend(settings.target, BUSY_TIMEOUT)
        self.instance = f"{socket.gethostname()}:{os.getpid()}"[:100]
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0                      # query-log rows queued and not yet written
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._conn: Any = None
        self._failed_at = 0.0
        self._warned: dict[str, float] = {}
        self._last_purge = 0.0
        self.dropped = 0                       # rows that could not be written (see the log)
        self.written = 0

    @property
    def name(self) -> str:
        """The database as it may be shown (a URL without its password)."""
        return self.db.name

    # ------------------------------------------------------------ writing
    @property
    def query_log(self) -> bool:
        return self.settings.query_log

    @property
    def feedback(self) -> bool:
        return self.settings.feedback

    def start(self) -> None:
        """Create the database (when anything is on), purge rows past the retention period, start the writer."""
        if not self.settings.enabled:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="policy-db-writer", daemon=True)
                self._thread.start()

    def log_query(self, answer: Mapping[str, Any], latency: float, source: str) -> bool:
        """Queue one query-log row for an answer (Answer.to_dict()); False when off or dropped."""
        if not self.settings.query_log:
            return False
        try:
            row = (utc_now(), clip(answer.get("question", ""), MAX_QUESTION), int(bool(answer.get("refused"))),
                   clip(answer.get("refusal_reason"), 40) or None,
                   json.dumps(clean_ids([c.get("id", "") for c in answer.get("citations") or []
                                         if isinstance(c, Mapping)]), ensure_ascii=False),
                   clip(answer.get("generator") or "extractive", 20), clip(answer.get("llm_error"), 40) or None,
                   max(0, int(round(latency * 1000))), clip(source, 20), self.instance)
        except Exception:  # logging must never fail an answer
            log.exception("query-log row could not be prepared")
            return False
        with self._lock:
            if self._pending >= MAX_PENDING:
                self.dropped += 1
                self._warn("backlog", "query log: %d rows waiting for the database; new rows are dropped",
                           self._pending)
                return False
            self._pending += 1
        self.start()
        self._queue.put(("queries", row, None))
        return True

    def add_feedback(self, rating: str, question: object, answer: object, citation_ids: object = None,
                     refused: object = None, comment: object = "", source: str = "") -> int | None:
        """Store one feedback row (rating already normalised); its id once committed, or None when
        off or not stored."""
        if not self.settings.feedback:
            return None
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', got {rating!r}")
        row = (utc_now(), rating, clip(question), clip(answer), json.dumps(clean_ids(citation_ids), ensure_ascii=False),
               None if refused is None else int(bool(refused)), clip(comment), clip(source, 20), self.instance)
        done: Future = Future()
        self.start()
        self._queue.put(("feedback", row, done))
        try:
            return done.result(timeout=FEEDBACK_WAIT)
        except Exception:  # includes the time-out; the writer logged why
            return None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (or given up); False on time-out."""
        if self._thread is None:
            return True
        done: Future = Future()
        self._queue.put(("flush", None, done))
        try:
            done.result(timeout=timeout)
            return True
        except Exception:
            return False

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(("stop", None, None))
        thread.join(timeout)
        with self._lock:
            self._thread = None

    # ------------------------------------------------------------ the writer thread
    def _warn(self, kind: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._warned.get(kind, -WARN_EVERY) >= WARN_EVERY:
            self._warned[kind] = now
            log.warning(message, *args)

    def _open(self) -> Any:
        """The writing connection (migrated to the latest schema), or None while the database cannot be used."""
        if self._conn is not None:
            return self._conn
        if self._failed_at and time.monotonic() - self._failed_at < RETRY_OPEN_AFTER:
            return None
        try:
            conn = self.db.connect()
        except self.db.errors as e:
            self._failed_at = time.monotonic()
            self._warn("open", "database %s cannot be used (%s); answers go on, rows are not stored", self.name,
                       str(e).strip())
            return None
        self._failed_at = 0.0
        self._conn = conn
        return conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except self.db.errors:
                pass
        self._conn = None
        self._failed_at = time.monotonic()

    def _run(self) -> None:
        self._maybe_purge(force=True)
        stop = False
        while not stop:
            wait = max(1.0, PURGE_EVERY - (time.monotonic() - self._last_purge))
            try:
                first = self._queue.get(timeout=min(wait, 3600.0))
            except queue.Empty:
                self._maybe_purge()
                continue
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            rows = [item for item in batch if item[0] in TABLES]
            if rows:
                self._write(rows)
            for kind, _, done in batch:
                if kind == "flush":
                    done.set_result(True)
                elif kind == "stop":
                    stop = True
            self._maybe_purge()
        self._drop_connection()

    def _write(self, items: list) -> None:
        queries = sum(1 for kind, _, _ in items if kind == "queries")
        ids: list[int | None] = [None] * len(items)
        error: BaseException | None = None
        for attempt in range(3):
            fresh = self._conn is None
            conn = self._open()
            if conn is None:
                break
            try:
                ids = list(self.db.insert(conn, [(kind, row) for kind, row, _ in items]))
                error = None
                break
            except self.db.errors as e:
                error = e
                if self.db.transient(e):
                    time.sleep(0.2 * (attempt + 1))
                    continue
                # read-only, damaged, disk full, server gone …: reopen later. A connection that had been
                # idle may have been closed by the server: one more try at once on a new one.
                self._drop_connection()
                if not fresh and attempt == 0:
                    self._failed_at = 0.0
                    continue
                break
        with self._lock:
            self._pending -= queries
        if ids[0] is None:
            self.dropped += len(items)
            why = str(error).strip() if error else f"cannot open {self.name}"
            self._warn("write", "database %s: %d rows not stored (%s); answers go on", self.name, len(items), why)
        else:
            self.written += len(items)
        for (_, _, done), row_id in zip(items, ids, strict=False):  # one id per row (db.insert)
            if done is not None:
                done.set_result(row_id)

    def _maybe_purge(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = time.monotonic()
        self.purge()

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Delete rows older than the retention period; how many went from each table."""
        cutoff = (now or utc_now()) - timedelta(days=self.settings.retention_days)
        nothing = {t: 0 for t in TABLES}
        writer = threading.current_thread() is self._thread
        if not writer and not self.db.exists():
            return nothing
        try:
            conn = self._open() if writer else self.db.connect()
        except self.db.errors as e:
            self._warn("purge", "database %s: old rows not purged (%s)", self.name, e)
            return nothing
        if conn is None:
            return nothing
        try:
            deleted = self.db.purge(conn, cutoff)
        except self.db.errors as e:
            self._warn("purge", "database %s: old rows not purged (%s)", self.name, e)
            if writer:
                self._drop_connection()
            return nothing
        finally:
            if not writer:
                conn.close()
        if any(deleted.values()):
            log.info("retention %d days: deleted %s", self.settings.retention_days, deleted)
        return deleted

    # ------------------------------------------------------------ reading (web.reports)
    def count(self, table: str) -> int:
        return reports.count(self.db, table)

    def ids(self, table: str = "feedback") -> set[int]:
        return reports.ids(self.db, table)

    def rows(self, table: str = "feedback", limit: int = 100) -> list[dict]:
        """The latest rows of a table, newest first (for review and tests)."""
        return reports.rows(self.db, table, limit)

    def gaps(self, days: int = 30, limit: int = 20, now: datetime | None = None) -> list[dict]:
        """Questions declined or rated 👎, most frequent first (web.reports.gaps)."""
        return reports.gaps(self.db, days, limit, now)

    def status(self) -> dict:
        return {"database": self.db.kind, "query_log": self.settings.query_log, "feedback": self.settings.feedback,
                "retention_days": self.settings.retention_days, "written": self.written, "dropped": self.dropped}


__all__ = ["Store", "StorageSettings", "question_key", "stamp", "clip", "clean_ids", "DEFAULT_DB", "SCHEMA"]
