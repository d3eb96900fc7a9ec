"""👍/👎 on answers, kept in a small SQLite file; personal numbers are redacted before anything is written."""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from retrieval.privacy import redact

RATINGS = ("up", "down")
MAX_TEXT = 4000          # characters kept of a question, an answer or a comment
MAX_CITATIONS = 20

_SCHEMA = """
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
)
"""


class FeedbackError(ValueError):
    """Feedback that cannot be stored as sent (the message says why, in Chinese)."""


@dataclass(frozen=True)
class Feedback:
    rating: str
    question: str
    answer: str
    citation_ids: tuple[str, ...] = ()
    refused: bool | None = None
    comment: str = ""
    source: str = ""


def normalize_rating(value: object) -> str:
    """'up'/'down', also from True/False, 1/-1, 👍/👎, like/dislike."""
    table = {"up": "up", "down": "down", "like": "up", "dislike": "down", "👍": "up", "👎": "down",
             "1": "up", "+1": "up", "-1": "down", "true": "up", "false": "down"}
    if isinstance(value, bool):
        return "up" if value else "down"
    if isinstance(value, int):
        if value in (1, -1):
            return "up" if value == 1 else "down"
    elif isinstance(value, str) and value.strip().lower() in table:
        return table[value.strip().lower()]
    raise FeedbackError("评价只能是 up（👍）或 down（👎）。")


def _clip(text: object) -> str:
    return redact(str(text or "")[:MAX_TEXT])


class FeedbackStore:
    """Append-only store; the file and its folder are created on the first write."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False

    def _connect(self) -> sqlite3.Connection:
        if not self._ready:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10)
        if not self._ready:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)
            conn.commit()
            self._ready = True
        return conn

    def add(self, fb: Feedback) -> int:
        rating = normalize_rating(fb.rating)
        ids = [str(c)[:100] for c in list(fb.citation_ids)[:MAX_CITATIONS]]
        row = (datetime.now(timezone.utc).isoformat(timespec="seconds"), rating, _clip(fb.question),
               _clip(fb.answer), json.dumps(ids, ensure_ascii=False),
               None if fb.refused is None else int(bool(fb.refused)), _clip(fb.comment), fb.source[:20])
        with self._lock:
            conn = self._connect()
            try:
                cur = conn.execute(
                    "INSERT INTO feedback (created_at, rating, question, answer, citation_ids, refused, comment, source)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)
                conn.commit()
                return int(cur.lastrowid)
            finally:
                conn.close()

    def rows(self, limit: int = 100) -> list[dict]:
        """The latest entries, newest first (for review and tests)."""
        if not self.path.is_file():
            return []
        with self._lock:
            conn = self._connect()
            try:
                conn.row_factory = sqlite3.Row
                cur = conn.execute("SELECT * FROM feedback ORDER BY id DESC LIMIT ?", (limit,))
                out = []
                for r in cur.fetchall():
                    d = dict(r)
                    d["citation_ids"] = json.loads(d["citation_ids"])
                    out.append(d)
                return out
            finally:
                conn.close()


def citation_ids_of(answer: dict) -> list[str]:
    return [c.get("id", "") for c in (answer.get("citations") or []) if isinstance(c, dict)]


def from_answer(answer: dict, rating: object, comment: str = "", source: str = "") -> Feedback:
    return Feedback(rating=normalize_rating(rating), question=str(answer.get("question", "")),
                    answer=str(answer.get("answer", "")), citation_ids=tuple(citation_ids_of(answer)),
                    refused=answer.get("refused"), comment=comment, source=source)


def as_ids(values: Sequence[object] | None) -> tuple[str, ...]:
    if not values:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(str(v) for v in values)
