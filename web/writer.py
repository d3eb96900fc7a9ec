"""The writer: one thread per process that appends query-log and feedback rows and purges old ones.

Requests hand it typed records (`QueryRecord`, `FeedbackRecord`: redacted and clipped when they are
made) through a queue, so concurrent requests never contend for a lock and no row is lost. It owns
the process's only writing connection (migrated to the latest schema when opened, web.schema).
Query-log rows are fire-and-forget (the answer never waits for the disk); a feedback row waits
until its transaction is committed and answers with its id, so an acknowledged row survives the
process being killed.

Failures, by the driver's error types (web.database.Database.transient), never by message text:
  - another writer holds the lock, or a serialisation failure: the same batch again on the same
    connection, at most WRITE_ATTEMPTS times, after a short growing pause;
  - anything else on a connection that had been idle (the server may have closed it): once more at
    once on a new connection;
  - otherwise (read-only, damaged, disk full, server down, schema newer than the app): the batch is
    dropped with a warning (at most one a minute per kind) and the database is tried again after
    RETRY_OPEN_AFTER seconds. Never an error for the caller.
A loop of a few lines rather than a retry library (tenacity): the two policies above need the
connection's state between attempts, and the default install stays free of another dependency.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

from retrieval.privacy import redact

from .database import Database
from .feedback import Feedback
from .schema import TABLES

log = logging.getLogger(__name__)

PURGE_EVERY = 24 * 3600.0        # seconds between retention purges while running
FEEDBACK_WAIT = 15.0             # seconds a feedback request waits for its row id
MAX_PENDING = 10_000             # query-log rows waiting for the writer; past this they are dropped
MAX_BATCH = 200                  # rows written in one transaction
WRITE_ATTEMPTS = 3               # tries of one batch while another writer holds the lock
RETRY_PAUSE = 0.2                # seconds before the 2nd try, twice that before the 3rd
RETRY_OPEN_AFTER = 5.0           # seconds before a database that failed is tried again
WARN_EVERY = 60.0                # seconds between two warnings of the same kind

MAX_TEXT = 4000                  # characters kept of a feedback question, answer or comment
MAX_QUESTION = 1000              # characters kept of a logged question (the core's own limit)
MAX_CITATIONS = 20

T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


def clip(text: object, limit: int = MAX_TEXT) -> str:
    """Text as stored: at most `limit` characters, personal numbers redacted, no lone surrogates."""
    value = redact(str(text if text is not None else "")[:limit])
    return value.encode("utf-8", "replace").decode("utf-8")


def clean_ids(values: object) -> tuple[str, ...]:
    if not values:
        return ()
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        values = [values]
    return tuple(clip(v, 100) for v in list(values)[:MAX_CITATIONS])


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _set(record: Any, **values: Any) -> None:
    for name, value in values.items():
        object.__setattr__(record, name, value)


@dataclass(frozen=True)
class QueryRecord:
    """One answered question as stored. Every text is clipped and redacted when the record is made."""
    question: str
    refused: bool
    refusal_reason: str | None
    citation_ids: tuple[str, ...]
    generator: str
    llm_error: str | None
    latency_ms: int
    source: str
    created_at: datetime = field(default_factory=utc_now)
    table: ClassVar[str] = "queries"

    def __post_init__(self) -> None:
        _set(self, question=clip(self.question, MAX_QUESTION), refused=bool(self.refused),
             refusal_reason=clip(self.refusal_reason, 40) or None, citation_ids=clean_ids(self.citation_ids),
             generator=clip(self.generator or "extractive", 20), llm_error=clip(self.llm_error, 40) or None,
             latency_ms=max(0, int(self.latency_ms)), source=clip(self.source, 20))

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any], latency: float, source: str) -> QueryRecord:
        """The record of an answer (Answer.to_dict()); a malformed field is stored as far as it goes."""
        return cls(question=answer.get("question", ""), refused=bool(answer.get("refused")),
                   refusal_reason=answer.get("refusal_reason"),
                   citation_ids=tuple(c.get("id", "") for c in answer.get("citations") or []
                                      if isinstance(c, Mapping)),
                   generator=answer.get("generator") or "extractive", llm_error=answer.get("llm_error"),
                   latency_ms=round(latency * 1000), source=source)

    def values(self, instance: str) -> tuple:
        """In web.schema.COLUMNS order."""
        return (self.created_at, self.question, int(self.refused), self.refusal_reason,
                json.dumps(list(self.citation_ids), ensure_ascii=False), self.generator, self.llm_error,
                self.latency_ms, self.source, instance)


@dataclass(frozen=True)
class FeedbackRecord(Feedback):
    """One 👍/👎 (web.feedback.Feedback) as stored. Every text is clipped and redacted when the record is made."""
    created_at: datetime = field(default_factory=utc_now)
    table: ClassVar[str] = "feedback"

    def __post_init__(self) -> None:
        if self.rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', got {self.rating!r}")
        _set(self, question=clip(self.question), answer=clip(self.answer), citation_ids=clean_ids(self.citation_ids),
             refused=None if self.refused is None else bool(self.refused), comment=clip(self.comment),
             source=clip(self.source, 20))

    @classmethod
    def from_fields(cls, rating: str, question: object, answer: object, citation_ids: object = None,
                    refused: object = None, comment: object = "", source: str = "") -> FeedbackRecord:
        """The record of an entry whose fields may be of any type (as a request sends them)."""
        return cls(rating, _text(question), _text(answer), clean_ids(citation_ids),
                   None if refused is None else bool(refused), _text(comment), source)

    def values(self, instance: str) -> tuple:
        """In web.schema.COLUMNS order."""
        return (self.created_at, self.rating, self.question, self.answer,
                json.dumps(list(self.citation_ids), ensure_ascii=False),
                None if self.refused is None else int(self.refused), self.comment, self.source, instance)


class Writer:
    """Appends records and purges old rows on one thread; thread-safe; the thread starts on first use."""

    def __init__(self, db: Database, retention_days: int, instance: str):
        self.db = db
        self.retention_days = retention_days
        self.instance = instance
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

    # ------------------------------------------------------------ what requests call
    def start(self) -> None:
        """Start the thread: it opens (creates, migrates) the database and purges old rows first."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="policy-db-writer", daemon=True)
                self._thread.start()

    def append(self, record: QueryRecord) -> bool:
        """Queue a row without waiting; False when the backlog is full (the row is dropped)."""
        with self._lock:
            if self._pending >= MAX_PENDING:
                self.dropped += 1
                self._warn("backlog", "query log: %d rows waiting for the database; new rows are dropped",
                           self._pending)
                return False
            self._pending += 1
        self.start()
        self._queue.put((record, None))
        return True

    def append_and_wait(self, record: FeedbackRecord, timeout: float | None = None) -> int | None:
        """The row's id once its transaction is committed; None when it could not be stored."""
        done: Future = Future()
        self.start()
        self._queue.put((record, done))
        try:
            return done.result(timeout=FEEDBACK_WAIT if timeout is None else timeout)
        except Exception:  # noqa: BLE001 — includes the time-out; the writer logged why
            return None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (or given up); False on time-out."""
        if self._thread is None:
            return True
        done: Future = Future()
        self._queue.put(("flush", done))
        try:
            done.result(timeout=timeout)
            return True
        except Exception:  # noqa: BLE001
            return False

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the thread."""
        thread = self._thread
        if thread is None:
            return
        self._queue.put(("stop", None))
        thread.join(timeout)
        with self._lock:
            self._thread = None

    # ------------------------------------------------------------ the thread
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
            self._warn("open", "database %s cannot be used (%s); answers go on, rows are not stored", self.db.name,
                       str(e).strip())
            return None
        self._failed_at = 0.0
        self._conn = conn
        return conn

    def _drop_connection(self, failed: bool = True) -> None:
        """Close the connection; after a failure, wait RETRY_OPEN_AFTER before opening another."""
        if self._conn is not None:
            try:
                self._conn.close()
            except self.db.errors:
                pass
        self._conn = None
        self._failed_at = time.monotonic() if failed else 0.0

    def _attempt(self, work: Callable[[Any], T]) -> tuple[T | None, BaseException | None]:
        """work(connection) under the retry policy of the module docstring: (result, None) or (None, last error)."""
        error: BaseException | None = None
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            fresh = self._conn is None
            conn = self._open()
            if conn is None:
                break
            try:
                return work(conn), None
            except self.db.errors as e:
                error = e
                if self.db.transient(e):
                    time.sleep(RETRY_PAUSE * attempt)
                    continue
                self._drop_connection()
                if not fresh and attempt == 1:
                    self._failed_at = 0.0
                    continue
                break
        return None, error

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
            rows = [item for item in batch if isinstance(item[0], (QueryRecord, FeedbackRecord))]
            if rows:
                self._write(rows)
            for what, done in batch:
                if what == "flush":
                    done.set_result(True)
                elif what == "stop":
                    stop = True
            self._maybe_purge()
        self._drop_connection(failed=False)     # closed, not broken: a store used again reopens at once

    def _write(self, items: list[tuple[Any, Future | None]]) -> None:
        rows = [(record.table, record.values(self.instance)) for record, _ in items]
        ids, error = self._attempt(lambda conn: self.db.insert(conn, rows))
        queries = sum(1 for record, _ in items if isinstance(record, QueryRecord))
        with self._lock:
            self._pending -= queries
        if ids is None:
            self.dropped += len(items)
            why = str(error).strip() if error else f"cannot open {self.db.name}"
            self._warn("write", "database %s: %d rows not stored (%s); answers go on", self.db.name, len(items), why)
        else:
            self.written += len(items)
        for i, (_, done) in enumerate(items):
            if done is not None:
                done.set_result(None if ids is None else ids[i])

    def _maybe_purge(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = time.monotonic()
        self.purge()

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Delete rows older than the retention period; how many went from each table. On the writer
        thread this uses its connection; elsewhere (tests, an admin) a connection of its own."""
        cutoff = (now or utc_now()) - timedelta(days=self.retention_days)
        nothing = {t: 0 for t in TABLES}
        if threading.current_thread() is self._thread:
            deleted, error = self._attempt(lambda conn: self.db.purge(conn, cutoff))
        elif not self.db.exists():
            return nothing
        else:
            deleted, error = None, None
            try:
                conn = self.db.connect()
                try:
                    deleted = self.db.purge(conn, cutoff)
                finally:
                    conn.close()
            except self.db.errors as e:
                error = e
        if deleted is None:
            if error is not None:
                self._warn("purge", "database %s: old rows not purged (%s)", self.db.name, str(error).strip())
            return nothing
        if any(deleted.values()):
            log.info("retention %d days: deleted %s", self.retention_days, deleted)
        return deleted
