"""Which article of an implementing document carries out which article of the document it implements.

A city's implementing rules (metadata `implements: <doc_id>`) follow the regional opinion article by
article, usually re-using its wording. Each article of the implementing document is paired with its
most similar article of the implemented document; the pair is kept only when the two really share
text, so an article with no regional counterpart (e.g. a city-only provision) gets no partner.

Similarity has two parts:
  overlap  Jaccard similarity of the sets of Chinese character bigrams of the two articles' texts —
           the decisive signal: implementing rules copy phrases, unrelated articles share only the
           common vocabulary of employment policy (measured on the shipped corpus: real pairs 0.23–0.97,
           the best unrelated candidate of an article at most 0.13).
  cosine   cosine of the articles' mean unit vectors from the dense index (title and sentences,
           each normalised) — a sanity gate and a tie-breaker; on its own it separates poorly, every
           pair of articles of this corpus scores above 0.93.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from retrieval.documents.corpus import Corpus
from retrieval.types import Article

MIN_OVERLAP = 0.18
MIN_COSINE = 0.90

_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")


@dataclass(frozen=True)
class Candidate:
    """The best article of the implemented document for one article of the implementing one."""
    article_id: str          # article of the implementing document (e.g. the city's)
    implements_id: str       # its most similar article in the implemented document (e.g. the region's)
    overlap: float
    cosine: float | None     # None without an index
    accepted: bool

    @property
    def score(self) -> float:
        return self.overlap + (self.cosine or 0.0)


def bigrams(text: str) -> frozenset[str]:
    """Character bigrams inside runs of Chinese characters (punctuation and digits break runs)."""
    out: set[str] = set()
    for run in _HAN_RUN.findall(text):
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return frozenset(out)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def article_vectors(index: Any) -> dict[str, np.ndarray]:
    """Per article: the normalised mean of its units' (already normalised) vectors."""
    rows: dict[str, list[int]] = {}
    for row, unit in enumerate(index.units):
        rows.setdefault(unit.article_id, []).append(row)
    vectors = np.asarray(index.vectors, dtype=np.float32)
    out = {}
    for article_id, ids in rows.items():
        mean = vectors[ids].mean(axis=0)
        norm = float(np.linalg.norm(mean))
        if norm > 0:
            out[article_id] = mean / norm
    return out


def candidates(corpus: Corpus, index: Any = None, min_overlap: float = MIN_OVERLAP,
               min_cosine: float = MIN_COSINE) -> list[Candidate]:
    """For every article of every implementing document, its best partner and whether it is kept."""
    vectors = article_vectors(index) if index is not None else {}
    grams = {a.id: bigrams(a.text) for a in corpus.articles}
    out: list[Candidate] = []
    for meta in corpus.documents:
        if not meta.implements:
            continue
        local = [a for a in corpus.articles if a.doc_id == meta.doc_id]
        target: list[Article] = [a for a in corpus.articles if a.doc_id == meta.implements]
        if not target:
            continue
        for article in local:
            best: Candidate | None = None
            for other in target:
                overlap = jaccard(grams[article.id], grams[other.id])
                cosine = None
                if article.id in vectors and other.id in vectors:
                    cosine = float(vectors[article.id] @ vectors[other.id])
                accepted = overlap >= min_overlap and (cosine is None or cosine >= min_cosine)
                cand = Candidate(article.id, other.id, round(overlap, 4),
                                 None if cosine is None else round(cosine, 4), accepted)
                if best is None or cand.score > best.score:
                    best = cand
            if best is not None:
                out.append(best)
    return out


def counterparts(corpus: Corpus, index: Any = None, min_overlap: float = MIN_OVERLAP,
                 min_cosine: float = MIN_COSINE) -> dict[str, list[str]]:
    """Article id -> ids of its counterparts, both ways, best first.

    An implementing article maps to the one article it implements; an implemented article maps to
    every implementing article paired with it (usually one; sometimes a city splits a provision).
    Articles without a counterpart are absent: use `.get(article_id, [])`.
    """
    kept = [c for c in candidates(corpus, index, min_overlap, min_cosine) if c.accepted]
    out: dict[str, list[str]] = {}
    for c in kept:
        out.setdefault(c.article_id, []).append(c.implements_id)
    for c in sorted(kept, key=lambda c: -c.score):
        out.setdefault(c.implements_id, []).append(c.article_id)
    return out


def counterpart_lookup(corpus: Corpus, index: Any = None) -> Callable[[str], list[str]]:
    """`counterparts` as a function of one article id, computed on first use."""
    found = functools.cache(lambda: counterparts(corpus, index))
    return lambda article_id: found().get(article_id, [])
