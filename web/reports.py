"""Reading the query log and feedback: counts, the latest rows, and the knowledge-gaps report.

Each call opens its own read-only connection (SQLite `mode=ro`, a PostgreSQL read-only session), so
reports run while app processes write. A database or table that does not exist yet reads as empty.
Used by `web.storage.Store` (count, rows, gaps), `python app.py gaps` (web.admin) and bench/load.py.
"""
from __future__ import annotations

import json
import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta

from .database import TABLES, PostgreSQL, SQLite, stamp

_GAP_QUERIES = (
    ("SELECT question, created_at, refusal_reason FROM queries WHERE refused = 1 AND created_at >= ?", "declined"),
    ("SELECT question, created_at, NULL FROM feedback WHERE rating = 'down' AND created_at >= ?", "thumbs_down"),
)


def _check(table: str) -> None:
    if table not in TABLES:
        raise ValueError(f"no table {table!r}")


def _sql(db: SQLite | PostgreSQL, sql: str) -> str:
    """The statement in the backend's parameter style (the statements here use `?`)."""
    return sql.replace("?", "%s") if isinstance(db, PostgreSQL) else sql


def _when(value: object) -> str:
    return stamp(value) if isinstance(value, datetime) else str(value or "")


def _select(db: SQLite | PostgreSQL, sql: str, params: tuple = ()) -> list | None:
    """All rows of one statement; None when the database or the table does not exist yet."""
    conn = db.read()
    if conn is None:
        return None
    sql = _sql(db, sql)   # one of the constant statements of this module
    try:
        return list(conn.execute(sql, params).fetchall())
    except db.errors as e:
        if db.missing_table(e):
            return None
        raise
    finally:
        conn.close()


def count(db: SQLite | PostgreSQL, table: str) -> int:
    _check(table)
    rows = _select(db, f"SELECT COUNT(*) FROM {table}")  # table: checked against TABLES
    return int(rows[0][0] if isinstance(db, SQLite) else next(iter(rows[0].values()))) if rows else 0


def ids(db: SQLite | PostgreSQL, table: str) -> set[int]:
    """Every row id of a table (to check that acknowledged rows are there)."""
    _check(table)
    rows = _select(db, f"SELECT id FROM {table}")  # table: checked against TABLES
    return {int(r["id"]) for r in rows or []}


def rows(db: SQLite | PostgreSQL, table: str = "feedback", limit: int = 100) -> list[dict]:
    """The latest rows of a table, newest first (for review and tests)."""
    _check(table)
    out = []
    for r in _select(db, f"SELECT * FROM {table} ORDER BY id DESC LIMIT ?", (int(limit),)) or []:  # table: checked
        d = dict(r)
        d["citation_ids"] = json.loads(d["citation_ids"])
        d["created_at"] = _when(d["created_at"])
        out.append(d)
    return out


def gaps(db: SQLite | PostgreSQL, days: int = 30, limit: int = 20, now: datetime | None = None) -> list[dict]:
    """Questions the assistant declined or that got 👎 in the last `days` days, most frequent first:
    what the policy office should answer next. Questions are grouped ignoring case, width, spaces
    and punctuation."""
    cutoff = db.param((now or datetime.now(UTC)) - timedelta(days=days))
    groups: dict[str, dict] = {}
    for sql, kind in _GAP_QUERIES:
        for row in _select(db, sql, (cutoff,)) or []:
            question, when, reason = tuple(row.values()) if isinstance(row, dict) else tuple(row)
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
    out = []
    for g in groups.values():
        out.append({"question": g["forms"].most_common(1)[0][0], "count": g["declined"] + g["thumbs_down"],
                    "declined": g["declined"], "thumbs_down": g["thumbs_down"],
                    "reasons": dict(g["reasons"].most_common()), "variants": len(g["forms"]),
                    "last_seen": g["last_seen"]})
    out.sort(key=lambda d: (d["count"], d["last_seen"], d["question"]), reverse=True)
    return out[:max(0, limit)]


def question_key(question: str) -> str:
    """What two askings of the same question share: NFKC, lower case, no spaces, punctuation or symbols."""
    text = unicodedata.normalize("NFKC", question or "").lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PZSC")
