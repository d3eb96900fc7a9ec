"""The web app's state: the query log and 👍/👎 feedback. `Store` is what the web talks to.

Settings (the storage section of retrieval.config.Settings, StorageSettings):

    POLICY_DB              where: a SQLite file (default data/policy.sqlite3; the older name
                           POLICY_FEEDBACK_DB is still read when POLICY_DB is unset), or a
                           postgresql://user:password@host:port/database URL shared by several
                           app processes (web.database)
    POLICY_QUERY_LOG       on | off (default on): one row per answered question
    POLICY_FEEDBACK        on | off (default on): 👍/👎 from the page and the API
    POLICY_RETENTION_DAYS  rows older than this are deleted on start and once a day (default 180)

What is stored is redacted: the question as the core gives it back (ID-card, phone and bank-card
numbers already replaced by [身份证号] …), redacted once more when a record is made (web.writer),
and the same for every text of a feedback entry. Raw text typed by a person is never written. Each
row names the process that wrote it (`instance`, host:pid).

The parts, each small:
    web.schema     the tables, one ordered list of migrations for both databases, schema_version
    web.database   SQLite and PostgreSQL behind one interface (connect, insert, purge, read)
    web.writer     one thread per process: appends typed records, purges old rows, retries
    web.reports    read-only: counts, rows, the knowledge-gaps report
`Store` ties them to the settings: `log_query` and `add_feedback` go to the writer (a database
that cannot be written costs a warning and the row, never an answer); `count`, `rows` and `gaps`
are `Store.reports`.
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from retrieval.config import DEFAULT_DB, StorageSettings

from .database import PostgreSQL, SQLite, backend
from .reports import Gap, Reports, question_key
from .schema import stamp
from .writer import FeedbackRecord, QueryRecord, Writer, clean_ids, clip

log = logging.getLogger(__name__)

BUSY_TIMEOUT = 5.0               # seconds SQLite waits for another process's lock (PostgreSQL: to connect)


class Store:
    """The query log and the feedback table, as the web uses them. Thread-safe."""

    def __init__(self, settings: StorageSettings | Path | str | None = None, **overrides: Any):
        if settings is None:
            settings = StorageSettings()
        elif not isinstance(settings, StorageSettings):
            settings = StorageSettings.at(settings)
        if overrides:
            settings = StorageSettings(**{**dict(settings), **overrides})
        self.settings = settings
        self.path = settings.path if settings.url is None else None   # the SQLite file, if that is the database
        self.db: SQLite | PostgreSQL = backend(settings.target, BUSY_TIMEOUT)
        self.writer = Writer(self.db, settings.retention_days, f"{socket.gethostname()}:{os.getpid()}"[:100])
        self.reports = Reports(self.db)

    @property
    def name(self) -> str:
        """The database as it may be shown (a URL without its password)."""
        return self.db.name

    @property
    def instance(self) -> str:
        """host:pid, written into every row."""
        return self.writer.instance

    @instance.setter
    def instance(self, value: str) -> None:
        self.writer.instance = value

    @property
    def query_log(self) -> bool:
        return self.settings.query_log

    @property
    def feedback(self) -> bool:
        return self.settings.feedback

    @property
    def written(self) -> int:
        return self.writer.written

    @property
    def dropped(self) -> int:
        return self.writer.dropped

    # ------------------------------------------------------------ writing (web.writer)
    def start(self) -> None:
        """Create and migrate the database, purge rows past the retention period (when anything is on)."""
        if self.settings.enabled:
            self.writer.start()

    def log_query(self, answer: Mapping[str, Any], latency: float, source: str) -> bool:
        """Queue one query-log row for an answer (Answer.to_dict()); False when off or dropped."""
        if not self.settings.query_log:
            return False
        try:
            record = QueryRecord.from_answer(answer, latency, source)
        except Exception:  # noqa: BLE001 — logging must never fail an answer
            log.exception("query-log row could not be prepared")
            return False
        return self.writer.append(record)

    def add_feedback(self, rating: str, question: object, answer: object, citation_ids: object = None,
                     refused: object = None, comment: object = "", source: str = "") -> int | None:
        """Store one feedback row (rating already normalised); its id once committed, or None when
        off or not stored."""
        if not self.settings.feedback:
            return None
        return self.writer.append_and_wait(
            FeedbackRecord.from_fields(rating, question, answer, citation_ids, refused, comment, source))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (or given up); False on time-out."""
        return self.writer.flush(timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        self.writer.close(timeout)

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Delete rows older than the retention period; how many went from each table."""
        return self.writer.purge(now)

    # ------------------------------------------------------------ reading (web.reports)
    def count(self, table: str) -> int:
        return self.reports.count(table)

    def ids(self, table: str = "feedback") -> set[int]:
        return self.reports.ids(table)

    def rows(self, table: str = "feedback", limit: int = 100) -> list[dict]:
        """The latest rows of a table, newest first (for review and tests)."""
        return self.reports.rows(table, limit)

    def gaps(self, days: int = 30, limit: int = 20, now: datetime | None = None) -> list[Gap]:
        """Questions declined or rated 👎, most frequent first (web.reports)."""
        return self.reports.gaps(days, limit, now)

    def status(self) -> dict:
        return {"database": self.db.kind, "query_log": self.settings.query_log, "feedback": self.settings.feedback,
                "retention_days": self.settings.retention_days, "written": self.written, "dropped": self.dropped}


__all__ = ["Store", "StorageSettings", "question_key", "stamp", "clip", "clean_ids", "DEFAULT_DB"]
