"""Deterministic evaluation metrics: pure functions over plain data (defined in eval/README.md).

Nothing here loads a model, reads a file or looks at the clock; `Outcome` is what one system did on
one question, and `summarize` turns a list of them into the numbers of the report.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HOTLINE = "12333"
RANK_DEPTH = 10  # MRR@10

_CITATION_MARK = re.compile(r"\[\d+\]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SPACE = re.compile(r"\s+")


@dataclass
class Outcome:
    """What one system did with one question."""
    id: str
    category: str
    answerable: bool
    gold: list[str]
    ranked: list[str]                  # article ids, best first (the assistant: its citations in order)
    cited: list[str]                   # the ids that count as its citations (baselines: their top 3)
    refused: bool | None = None        # None: the system cannot decline (the baselines)
    text: str | None = None            # the answer's text; None: the system gives no text (the baselines)
    quotes: list[str] = field(default_factory=list)   # the cited quotes, in citation order
    must_include: list[str] = field(default_factory=list)
    summary: str | None = None         # the direct answer the text starts with; None: the system writes none
    latency: float = 0.0               # seconds, wall clock
    error: str | None = None           # the question was rejected (QuestionError); counts as declined


# ---------------------------------------------------------------- per question

def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def hit_at_k(ranked: Sequence[str], gold: Iterable[str], k: int) -> float:
    """1.0 if any of the first k ranked ids is a gold id, else 0.0."""
    gold = set(gold)
    return 1.0 if any(i in gold for i in list(ranked)[:k]) else 0.0


def reciprocal_rank(ranked: Sequence[str], gold: Iterable[str], k: int = RANK_DEPTH) -> float:
    """1 / rank of the first gold id among the first k (ranks from 1, duplicates skipped); 0.0 if none."""
    gold = set(gold)
    for rank, i in enumerate(_unique(ranked)[:k], start=1):
        if i in gold:
            return 1.0 / rank
    return 0.0


def citation_precision(cited: Sequence[str], gold: Iterable[str]) -> float:
    """Share of the distinct cited ids that are gold ids; 0.0 when nothing is cited."""
    cited = _unique(cited)
    if not cited:
        return 0.0
    gold = set(gold)
    return sum(1 for i in cited if i in gold) / len(cited)


def citation_recall(cited: Sequence[str], gold: Sequence[str]) -> float | None:
    """Share of the distinct gold ids that are cited; None when there is no gold id."""
    gold = _unique(gold)
    if not gold:
        return None
    cited_ids = set(cited)
    return sum(1 for i in gold if i in cited_ids) / len(gold)


def squeeze(text: str) -> str:
    """The text without any whitespace (for whitespace-insensitive matching)."""
    return _SPACE.sub("", text)


def key_fact_coverage(must_include: Sequence[str], texts: Iterable[str]) -> float | None:
    """Share of the key facts found verbatim (whitespace ignored) in the texts; None with no facts."""
    facts = [squeeze(f) for f in must_include if squeeze(f)]
    if not facts:
        return None
    haystack = "\n".join(squeeze(t) for t in texts if t)
    return sum(1 for f in facts if f in haystack) / len(facts)


def numbers_in(text: str, ignore: Iterable[str] = (HOTLINE,)) -> list[str]:
    """Numbers written with arabic digits, in order: '3', '2017', '3.5', '1000' (from '1,000').

    Full-width digits count (NFKC); citation markers like [1] and the numbers in `ignore` do not.
    """
    text = unicodedata.normalize("NFKC", text or "")
    text = _CITATION_MARK.sub(" ", text)
    text = _THOUSANDS.sub("", text)
    skip = set(ignore)
    return [n for n in _NUMBER.findall(text) if n not in skip]


def unsupported_numbers(text: str, quotes: Iterable[str], ignore: Iterable[str] = (HOTLINE,)) -> list[str]:
    """Numbers in an answer's text that appear as a number in none of its cited quotes."""
    supported = {n for q in quotes for n in numbers_in(q, ignore=())}
    return [n for n in numbers_in(text, ignore) if n not in supported]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile, linear between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


# ---------------------------------------------------------------- per question, all at once

def score(o: Outcome) -> dict:
    """Every per-question number for one outcome (None where the metric does not apply)."""
    declined = o.refused if o.refused is not None else None
    if o.error is not None:
        declined = True
    row = {"id": o.id, "category": o.category, "answerable": o.answerable,
           "cited": _unique(o.cited), "refused": declined, "latency_ms": o.latency * 1000.0}
    if o.answerable:
        row.update({"hit@1": hit_at_k(o.ranked, o.gold, 1), "hit@3": hit_at_k(o.ranked, o.gold, 3),
                    "rr@10": reciprocal_rank(o.ranked, o.gold, RANK_DEPTH),
                    "precision": citation_precision(o.cited, o.gold),
                    "recall": citation_recall(o.cited, o.gold)})
    if o.text is not None:
        if o.answerable:
            row["coverage"] = key_fact_coverage(o.must_include, [o.text, *o.quotes])
        # a decline quotes nothing; the dates it gives are the documents' own (metadata), not figures
        row["unsupported_numbers"] = [] if declined else unsupported_numbers(o.text, o.quotes)
    if o.summary is not None and not declined:
        if o.answerable:
            row["summary_coverage"] = key_fact_coverage(o.must_include, [o.summary])
        row["summary_chars"] = len(_CITATION_MARK.sub("", o.summary))
        row["summary_unsupported_numbers"] = unsupported_numbers(o.summary, o.quotes)
    return row


# ---------------------------------------------------------------- over a set of questions

METRICS = ("hit@1", "hit@3", "mrr@10", "citation_precision", "citation_recall", "key_fact_coverage",
           "refusal_accuracy", "false_refusal_rate", "unsupported_number_answers", "unsupported_numbers",
           "summary_key_fact_coverage", "summary_median_chars", "summary_unsupported_numbers",
           "latency_p50_ms", "latency_p95_ms")


def summarize(outcomes: Sequence[Outcome]) -> dict:
    """The report's numbers for a set of outcomes; None where a metric does not apply to it."""
    rows = [score(o) for o in outcomes]
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    can_decline = all(r["refused"] is not None for r in rows) and bool(rows)
    has_text = [r for r in rows if "unsupported_numbers" in r]
    latencies = [r["latency_ms"] for r in rows]
    out = {
        "n": len(rows), "n_answerable": len(answerable), "n_unanswerable": len(unanswerable),
        "hit@1": mean(r["hit@1"] for r in answerable),
        "hit@3": mean(r["hit@3"] for r in answerable),
        "mrr@10": mean(r["rr@10"] for r in answerable),
        "citation_precision": mean(r["precision"] for r in answerable),
        "citation_recall": mean(r["recall"] for r in answerable),
        "key_fact_coverage": mean(r.get("coverage") for r in answerable),
        "refusal_accuracy": (mean(1.0 if r["refused"] else 0.0 for r in unanswerable)
                             if can_decline else None),
        "false_refusal_rate": (mean(1.0 if r["refused"] else 0.0 for r in answerable)
                               if can_decline else None),
        "unsupported_number_answers": (mean(1.0 if r["unsupported_numbers"] else 0.0 for r in has_text)
                                       if has_text else None),
        "unsupported_numbers": sum(len(r["unsupported_numbers"]) for r in has_text) if has_text else None,
        "summary_key_fact_coverage": mean(r.get("summary_coverage") for r in answerable),
        "summary_median_chars": percentile([r["summary_chars"] for r in rows if "summary_chars" in r], 50),
        "summary_unsupported_numbers": (sum(len(r["summary_unsupported_numbers"]) for r in rows
                                            if "summary_unsupported_numbers" in r)
                                        if any("summary_unsupported_numbers" in r for r in rows) else None),
        "latency_p50_ms": percentile(latencies, 50),
        "latency_p95_ms": percentile(latencies, 95),
        "errors": sum(1 for o in outcomes if o.error is not None),
    }
    return out


def summarize_by_category(outcomes: Sequence[Outcome]) -> dict[str, dict]:
    """summarize() for each category, in order of first appearance."""
    cats: dict[str, list[Outcome]] = {}
    for o in outcomes:
        cats.setdefault(o.category, []).append(o)
    return {c: summarize(os_) for c, os_ in cats.items()}


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is 0."""
    if a is None or b is None or b == 0:
        return None
    return a / b
