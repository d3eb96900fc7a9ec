"""The web app's state in one SQLite file: the query log and 👍/👎 feedback.

    POLICY_DB              the SQLite file (default data/policy.sqlite3; the older name
                           POLICY_FEEDBACK_DB is still read when POLICY_DB is unset)
    POLICY_QUERY_LOG       on | off (default on): one row per answered question
    POLICY_FEEDBACK        on | off (default on): 👍/👎 from the page and the API
    POLICY_RETENTION_DAYS  rows older than this are deleted on start and once a day (default 180)

What is stored is redacted: the question as the core gives it back (ID-card, phone and bank-card
numbers already replaced by [身份证号] …), redacted once more here, and the same for every text of
a feedback entry. Raw text typed by a person is never written.

One writer thread owns the only writing connection (WAL mode): requests hand it rows through a
queue, so concurrent requests never contend for the write lock and no row is lost. Query-log rows
are fire-and-forget (the answer never waits for the disk); a feedback row waits for its id. A
database that is locked, read-only, damaged or in a folder that cannot be created costs a warning
in the log (at most one a minute) and the row: never an answer. Reads (`gaps`, `rows`, `count`)
open their own read-only connection.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import sqlite3
import threading
import time
import unicodedata
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

from retrieval.config import ROOT
from retrieval.privacy import redact

log = logging.getLogger(__name__)

DEFAULT_DB = ROOT / "data" / "policy.sqlite3"
DEFAULT_RETENTION_DAYS = 180
PURGE_EVERY = 24 * 3600.0        # seconds between retention purges while running
BUSY_TIMEOUT = 5.0               # seconds SQLite waits for a lock held by another process
FEEDBACK_WAIT = 15.0             # seconds a feedback request waits for its row id
MAX_PENDING = 10_000             # query-log rows waiting for the writer; past this they are dropped
MAX_BATCH = 200                  # rows written in one transaction
RETRY_OPEN_AFTER = 5.0           # seconds before a database that failed is tried again
WARN_EVERY = 60.0                # seconds between two warnings of the same kind

MAX_TEXT = 4000                  # characters kept of a feedback question, answer or comment
MAX_QUESTION = 1000              # characters kept of a logged question (the core's own limit)
MAX_CITATIONS = 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
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
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at);
CREATE TABLE IF NOT EXISTS queries (
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
CREATE INDEX IF NOT EXISTS queries_created ON queries (created_at);
"""

_FEEDBACK_INSERT = ("INSERT INTO feedback (created_at, rating, question, answer, citation_ids, refused, comment, source)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
_QUERY_INSERT = ("INSERT INTO queries (created_at, question, refused, refusal_reason, citation_ids, generator,"
                 " llm_error, latency_ms, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
TABLES = ("feedback", "queries")

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
    path: Path = DEFAULT_DB
    query_log: bool = True
    feedback: bool = True
    retention_days: int = DEFAULT_RETENTION_DAYS

    def __post_init__(self) -> None:
        if self.retention_days < 1:
            raise ValueError(f"POLICY_RETENTION_DAYS must be at least 1, got {self.retention_days}")

    @property
    def enabled(self) -> bool:
        return self.query_log or self.feedback

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "StorageSettings":
        env = os.environ if env is None else env
        raw_path = env.get("POLICY_DB") or env.get("POLICY_FEEDBACK_DB")
        raw_days = (env.get("POLICY_RETENTION_DAYS") or "").strip()
        try:
            days = int(raw_days) if raw_days else DEFAULT_RETENTION_DAYS
        except ValueError:
            raise ValueError(f"POLICY_RETENTION_DAYS must be a whole number of days, got {raw_days!r}") from None
        return cls(path=Path(raw_path).expanduser() if raw_path else DEFAULT_DB,
                   query_log=_switch(env, "POLICY_QUERY_LOG", True),
                   feedback=_switch(env, "POLICY_FEEDBACK", True),
                   retention_days=days)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def stamp(moment: datetime) -> str:
    """The one timestamp format of both tables (so that text order is time order)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


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


class _Stop:
    pass


class Store:
    """The query log and the feedback table. Thread-safe; the writer thread starts on first use."""

    def __init__(self, settings: StorageSettings | Path | str | None = None, **overrides: Any):
        if settings is None:
            settings = StorageSettings.from_env()
        elif not isinstance(settings, StorageSettings):
            settings = StorageSettings(path=Path(settings))
        if overrides:
            from dataclasses import replace
            settings = replace(settings, **overrides)
        self.settings = settings
        self.path = settings.path
        self._queue: queue.Queue = queue.Queue()
        self._pending = 0                      # query-log rows queued and not yet written
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._failed_at = 0.0
        self._warned: dict[str, float] = {}
        self._last_purge = 0.0
        self.dropped = 0                       # rows that could not be written (see the log)
        self.written = 0

    # ------------------------------------------------------------ writing
    @property
    def query_log(self) -> bool:
        return self.settings.query_log

    @property
    def feedback(self) -> bool:
        return self.settings.feedback

    def start(self) -> None:
        """Create the file (when anything is on), purge rows past the retention period, start the writer."""
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
            row = (stamp(utc_now()), clip(answer.get("question", ""), MAX_QUESTION), int(bool(answer.get("refused"))),
                   clip(answer.get("refusal_reason"), 40) or None,
                   json.dumps(clean_ids([c.get("id", "") for c in answer.get("citations") or []
                                         if isinstance(c, Mapping)]), ensure_ascii=False),
                   clip(answer.get("generator") or "extractive", 20), clip(answer.get("llm_error"), 40) or None,
                   max(0, int(round(latency * 1000))), clip(source, 20))
        except Exception:  # noqa: BLE001 — logging must never fail an answer
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
        self._queue.put(("query", row, None))
        return True

    def add_feedback(self, rating: str, question: object, answer: object, citation_ids: object = None,
                     refused: object = None, comment: object = "", source: str = "") -> int | None:
        """Store one feedback row (rating already normalised); its id, or None when off or not stored."""
        if not self.settings.feedback:
            return None
        if rating not in ("up", "down"):
            raise ValueError(f"rating must be 'up' or 'down', got {rating!r}")
        row = (stamp(utc_now()), rating, clip(question), clip(answer),
               json.dumps(clean_ids(citation_ids), ensure_ascii=False),
               None if refused is None else int(bool(refused)), clip(comment), clip(source, 20))
        done: Future = Future()
        self.start()
        self._queue.put(("feedback", row, done))
        try:
            return done.result(timeout=FEEDBACK_WAIT)
        except Exception:  # noqa: BLE001 — includes the time-out; the writer logged why
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
        except Exception:  # noqa: BLE001
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

    def _open(self) -> sqlite3.Connection | None:
        if self._conn is not None:
            return self._conn
        if self._failed_at and time.monotonic() - self._failed_at < RETRY_OPEN_AFTER:
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.executescript(SCHEMA)
            except BaseException:
                conn.close()
                raise
        except (sqlite3.Error, OSError) as e:
            self._failed_at = time.monotonic()
            self._warn("open", "database %s cannot be used (%s); answers go on, rows are not stored", self.path, e)
            return None
        self._failed_at = 0.0
        self._conn = conn
        return conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except sqlite3.Error:
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
            rows = [item for item in batch if item[0] in ("query", "feedback")]
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
        queries = sum(1 for kind, _, _ in items if kind == "query")
        ids: list[int | None] = [None] * len(items)
        error: Exception | None = None
        for attempt in range(3):
            conn = self._open()
            if conn is None:
                break
            try:
                conn.execute("BEGIN IMMEDIATE")
                for i, (kind, row, _) in enumerate(items):
                    cur = conn.execute(_QUERY_INSERT if kind == "query" else _FEEDBACK_INSERT, row)
                    ids[i] = int(cur.lastrowid)
                conn.execute("COMMIT")
                error = None
                break
            except sqlite3.Error as e:
                error = e
                ids = [None] * len(items)
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                if "locked" in str(e) or "busy" in str(e):
                    time.sleep(0.2 * (attempt + 1))
                    continue
                self._drop_connection()  # read-only, damaged, disk full …: reopen later
                break
        with self._lock:
            self._pending -= queries
        if ids[0] is None:
            self.dropped += len(items)
            why = error or f"cannot open {self.path}"
            self._warn("write", "database %s: %d rows not stored (%s); answers go on", self.path, len(items), why)
        else:
            self.written += len(items)
        for (kind, _, done), row_id in zip(items, ids):
            if done is not None:
                done.set_result(row_id)

    def _maybe_purge(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = time.monotonic()
        self.purge()

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Delete rows older than the retention period; how many went from each table."""
        cutoff = stamp((now or utc_now()) - timedelta(days=self.settings.retention_days))
        deleted = {}
        conn = self._open() if threading.current_thread() is self._thread else None
        own = conn is None
        if own:
            if not self.path.exists():
                return {t: 0 for t in TABLES}
            try:
                conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None)
                conn.executescript(SCHEMA)
            except sqlite3.Error as e:
                self._warn("purge", "database %s: old rows not purged (%s)", self.path, e)
                return {t: 0 for t in TABLES}
        try:
            for table in TABLES:
                cur = conn.execute(f"DELETE FROM {table} WHERE created_at < ?", (cutoff,))  # table: a constant
                deleted[table] = cur.rowcount
        except sqlite3.Error as e:
            self._warn("purge", "database %s: old rows not purged (%s)", self.path, e)
            return {t: 0 for t in TABLES}
        finally:
            if own:
                conn.close()
        if any(deleted.values()):
            log.info("retention %d days: deleted %s", self.settings.retention_days, deleted)
        return deleted

    # ------------------------------------------------------------ reading
    def _read(self) -> sqlite3.Connection | None:
        if not self.path.is_file():
            return None
        conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
        conn.row_factory = sqlite3.Row
        return conn

    def count(self, table: str) -> int:
        if table not in TABLES:
            raise ValueError(f"no table {table!r}")
        conn = self._read()
        if conn is None:
            return 0
        try:
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # table: checked above
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return 0
            raise
        finally:
            conn.close()

    def rows(self, table: str = "feedback", limit: int = 100) -> list[dict]:
        """The latest rows of a table, newest first (for review and tests)."""
        if table not in TABLES:
            raise ValueError(f"no table {table!r}")
        conn = self._read()
        if conn is None:
            return []
        try:
            cur = conn.execute(f"SELECT * FROM {table} ORDER BY id DESC LIMIT ?", (int(limit),))  # table: checked
            out = []
            for r in cur.fetchall():
                d = dict(r)
                d["citation_ids"] = json.loads(d["citation_ids"])
                out.append(d)
            return out
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            conn.close()

    def gaps(self, days: int = 30, limit: int = 20, now: datetime | None = None) -> list[dict]:
        """Questions the assistant declined or that got 👎 in the last `days` days, most frequent first:
        what the policy office should answer next. Questions are grouped ignoring case, width,
        spaces and punctuation."""
        cutoff = stamp((now or utc_now()) - timedelta(days=days))
        conn = self._read()
        if conn is None:
            return []
        groups: dict[str, dict] = {}

        def add(question: str, when: str, kind: str, reason: str | None) -> None:
            key = question_key(question)
            if not key:
                return
            g = groups.setdefault(key, {"forms": Counter(), "declined": 0, "thumbs_down": 0,
                                        "reasons": Counter(), "last_seen": ""})
            g["forms"][question.strip()] += 1
            g[kind] += 1
            if reason:
                g["reasons"][reason] += 1
            g["last_seen"] = max(g["last_seen"], when)

        try:
            for table, sql, kind in (
                ("queries", "SELECT question, created_at, refusal_reason FROM queries"
                            " WHERE refused = 1 AND created_at >= ?", "declined"),
                ("feedback", "SELECT question, created_at, NULL FROM feedback"
                             " WHERE rating = 'down' AND created_at >= ?", "thumbs_down")):
                try:
                    for question, when, reason in conn.execute(sql, (cutoff,)):
                        add(question or "", when, kind, reason)
                except sqlite3.OperationalError as e:
                    if "no such table" not in str(e):
                        raise
        finally:
            conn.close()
        out = []
        for g in groups.values():
            out.append({"question": g["forms"].most_common(1)[0][0], "count": g["declined"] + g["thumbs_down"],
                        "declined": g["declined"], "thumbs_down": g["thumbs_down"],
                        "reasons": dict(g["reasons"].most_common()), "variants": len(g["forms"]),
                        "last_seen": g["last_seen"]})
        out.sort(key=lambda d: (d["count"], d["last_seen"], d["question"]), reverse=True)
        return out[:max(0, limit)]

    def status(self) -> dict:
        return {"query_log": self.settings.query_log, "feedback": self.settings.feedback,
                "retention_days": self.settings.retention_days, "written": self.written, "dropped": self.dropped}


def question_key(question: str) -> str:
    """What two askings of the same question share: NFKC, lower case, no spaces, punctuation or symbols."""
    text = unicodedata.normalize("NFKC", question or "").lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PZSC")
