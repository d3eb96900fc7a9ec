"""👍/👎 on answers: what a rating is and how an entry is read from a request or an answer object.

Storing is `web.storage.Store.add_feedback` (personal numbers are redacted there, before anything
is written)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RATINGS = ("up", "down")


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


def _text(value: object) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def citation_ids_of(answer: Mapping[str, Any]) -> list[str]:
    cites = answer.get("citations")
    if not isinstance(cites, (list, tuple)):
        return []
    return [_text(c.get("id", "")) for c in cites if isinstance(c, Mapping)]


def _refused(value: object) -> bool | None:
    return None if value is None else bool(value)


def from_answer(answer: Mapping[str, Any], rating: object, comment: object = "", source: str = "") -> Feedback:
    """An entry from an answer object as the API returns it (any malformed field is read as empty)."""
    return Feedback(rating=normalize_rating(rating), question=_text(answer.get("question", "")),
                    answer=_text(answer.get("answer", "")), citation_ids=tuple(citation_ids_of(answer)),
                    refused=_refused(answer.get("refused")), comment=_text(comment), source=source)


def from_fields(rating: object, question: object = "", answer: object = "", citation_ids: object = None,
                refused: object = None, comment: object = "", source: str = "") -> Feedback:
    """An entry from separate fields; `answer` may also be the whole answer object."""
    if isinstance(answer, Mapping):
        fb = from_answer(answer, rating, comment=comment, source=source)
        if question and not fb.question:
            fb = Feedback(fb.rating, _text(question), fb.answer, fb.citation_ids, fb.refused, fb.comment, source)
        return fb
    return Feedback(rating=normalize_rating(rating), question=_text(question), answer=_text(answer),
                    citation_ids=as_ids(citation_ids), refused=_refused(refused), comment=_text(comment),
                    source=source)


def as_ids(values: object) -> tuple[str, ...]:
    if not values:
        return ()
    if isinstance(values, (str, bytes, int, float)) or not isinstance(values, (Sequence, set, frozenset)):
        values = [values]
    return tuple(_text(v) for v in values)
