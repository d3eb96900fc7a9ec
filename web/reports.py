"""Reading the query log and feedback: counts, the latest rows, and the knowledge-gaps report.

`Reports(db)` is what the web and the admin command read through. Each call opens its own
read-only connection (SQLite `mode=ro`, a PostgreSQL read-only session), so reports run while app
processes write. A database or table that does not exist yet reads as empty (asked of the
database's catalog, not guessed from an error message). Used by `web.storage.Store`,
`python app.py gaps` (web.admin) and bench/load.py.
"""
from __future__ import annotations

import json
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from .database import Database
from .schema import TABLES, stamp


class Gap(TypedDict):
    """One question of the gaps report (printed by `app.py gaps`, also as JSON)."""
    question: str            # its most frequent wording
    count: int               # declined + thumbs_down
    declined: int
    thumbs_down: int
    reasons: dict[str, int]  # refusal reason → times, most frequent first
    variants: int            # different wordings grouped here
    last_seen: str           # UTC, ISO 8601


# `refused = 1` and `rating = 'down'` as written: the partial indexes of migration 3 match these terms
_GAP_QUERIES = (
    ("queries", "SELECT question, created_at, refusal_reason FROM queries WHERE refused = 1 AND created_at >= ?",
     "declined"),
    ("feedback", "SELECT question, created_at, NULL FROM feedback WHERE rating = 'down' AND created_at >= ?",
     "thumbs_down"),
)


def _check(table: str) -> None:
    if table not in TABLES:
        raise ValueError(f"no table {table!r}")


def _when(value: object) -> str:
    return stamp(value) if isinstance(value, datetime) else str(value or "")


def _values(row: Any) -> tuple:
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


class Reports:
    """Read-only questions to the database of the query log and feedback."""

    def __init__(self, db: Database):
        self.db = db

    def _select(self, table: str, statement: str, params: tuple = ()) -> list:
        """All rows of one statement over `table`; [] when the database or the table does not exist yet."""
        conn = self.db.read()
        if conn is None:
            return []
        try:
            if not self.db.has_table(conn, table):
                return []
            sql = self.db.dialect.sql(statement)   # one of the constant statements of this module
            return list(conn.execute(sql, params).fetchall())
        finally:
            conn.close()

    def count(self, table: str) -> int:
        _check(table)
        rows = self._select(table, f"SELECT COUNT(*) FROM {table}")  # table: checked against TABLES
        return int(_values(rows[0])[0]) if rows else 0

    def ids(self, table: str = "feedback") -> set[int]:
        """Every row id of a table (to check that acknowledged rows are there)."""
        _check(table)
        return {int(r["id"]) for r in self._select(table, f"SELECT id FROM {table}")}  # table: checked

    def rows(self, table: str = "feedback", limit: int = 100) -> list[dict]:
        """The latest rows of a table, newest first (for review and tests)."""
        _check(table)
        out = []
        for r in self._select(table, f"SELECT * FROM {table} ORDER BY id DESC LIMIT ?", (int(limit),)):  # checked
            d = dict(r)
            d["citation_ids"] = json.loads(d["citation_ids"])
            d["created_at"] = _when(d["created_at"])
            out.append(d)
        return out

    def gaps(self, days: int = 30, limit: int = 20, now: datetime | None = None) -> list[Gap]:
        """Questions the assistant declined or that got 👎 in the last `days` days, most frequent first:
        what the policy office should answer next. Questions are grouped ignoring case, width, spaces
        and punctuation."""
        cutoff = self.db.param((now or datetime.now(UTC)) - timedelta(days=days))
        groups: dict[str, dict] = {}
        for table, sql, kind in _GAP_QUERIES:
            for row in self._select(table, sql, (cutoff,)):
                question, when, reason = _values(row)
                key = question_key(question or "")
                if not key:
                    continue
                g = groups.setdefault(key, {"forms": Counter(), "declined": 0, "thumbs_down": 0,
                                            "reasons": Counter(), "last_seen": ""})
                g["forms"][(question or "").strip()] += 1
                g[kind] += 1
                if reason:
                    g["reasons"][reason] += 1
                g["last_seen"] = max(g["last_seen"], _when(when))
        out: list[Gap] = []
        for g in groups.values():
            out.append(Gap(question=g["forms"].most_common(1)[0][0], count=g["declined"] + g["thumbs_down"],
                           declined=g["declined"], thumbs_down=g["thumbs_down"],
                           reasons=dict(g["reasons"].most_common()), variants=len(g["forms"]),
                           last_seen=g["last_seen"]))
        out.sort(key=lambda d: (d["count"], d["last_seen"], d["question"]), reverse=True)
        return out[:max(0, limit)]


def question_key(question: str) -> str:
    """What two askings of the same question share: NFKC, lower case, no spaces, punctuation or symbols."""
    text = unicodedata.normalize("NFKC", question or "").lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PZSC")
