"""Hybrid retrieval over articles: direct article references, BM25 (jieba) and dense (FAISS), fused."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .corpus import Corpus
from .embeddings import Embedder
from .fusion import ranked, standardized_fusion
from .index import DenseIndex
from .lexical import BM25, Tokenizer, article_terms, idf_coverage
from .query import Synonym, article_references, documents_named, expand, strip_document_names
from .types import Hit


@dataclass
class Retrieval:
    """Everything retrieval learnt about one question; the answer stage reads it."""
    query: str                      # the question as searched (with documents' words added)
    tokens: list[str]
    hits: list[Hit]                 # articles, best first
    referenced: list[str]           # articles the question names explicitly
    named_documents: list[str]      # documents the question names
    query_vector: np.ndarray
    dense: dict[str, float] = field(default_factory=dict)     # article -> best unit cosine
    lexical: dict[str, float] = field(default_factory=dict)   # article -> BM25
    coverage: dict[str, float] = field(default_factory=dict)  # article -> share of query idf it contains


class HybridRetriever:
    def __init__(self, corpus: Corpus, index: DenseIndex, embedder: Embedder, tokenizer: Tokenizer,
                 synonyms: Sequence[Synonym] = (), weights: tuple[float, float] = (1.0, 0.5)):
        self.corpus = corpus
        self.index = index
        self.embedder = embedder
        self.tokenize = tokenizer
        self.synonyms = list(synonyms)
        self.weights = weights  # dense, lexical
        self.focus_weight = 0.5  # the latest turn of a follow-up, next to the whole exchange
        self.ids = [a.id for a in corpus.articles]
        bags = [article_terms(a.title, a.body, tokenizer) for a in corpus.articles]
        self.bm25 = BM25(bags)
        self.token_sets = {a_id: set(bag) for a_id, bag in zip(self.ids, bags)}
        self.sentence_tokens = {a.id: [set(tokenizer(s)) for s in a.sentences] for a in corpus.articles}
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # recent query vectors
        self._cache_size = 1024
        self._cache_lock = threading.Lock()
        self.unit_rows: dict[str, list[int]] = {}
        for row, unit in enumerate(index.units):
            self.unit_rows.setdefault(unit.article_id, []).append(row)

    def topic(self, question: str) -> str:
        """What the embedder reads: the question without document names."""
        return strip_document_names(question, self.corpus.documents) or question

    def prepare(self, questions: Sequence[str], batch_size: int = 32) -> None:
        """Embed many questions at once (faster per question); retrieve() then finds them ready."""
        todo = list(dict.fromkeys(t for t in map(self.topic, questions) if t not in self._vectors))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            for text, vec in zip(chunk, self.embedder.embed_queries(chunk)):
                self._remember(text, vec)

    def _remember(self, text: str, vec: np.ndarray) -> None:
        with self._cache_lock:
            self._vectors[text] = vec
            self._vectors.move_to_end(text)
            while len(self._vectors) > self._cache_size:
                self._vectors.popitem(last=False)

    def query_vector(self, topic: str) -> np.ndarray:
        with self._cache_lock:
            vec = self._vectors.get(topic)
        if vec is None:
            vec = self.embedder.embed_queries([topic])[0]
            self._remember(topic, vec)
        return vec

    def _signals(self, text: str, allowed: set[str]) -> tuple[str, list[str], np.ndarray, dict, dict]:
        """(expanded query, its tokens, query vector, dense and BM25 scores by article) for one text."""
        topic = self.topic(text)
        query = expand(topic, self.synonyms)
        tokens = self.tokenize(query)
        # the embedder reads the question as asked: it knows everyday words, and shorter is faster
        qvec = self.query_vector(topic)
        bm = self.bm25.scores(tokens)
        lexical = {a_id: float(s) for a_id, s in zip(self.ids, bm) if a_id in allowed}
        dense: dict[str, float] = {}
        for row, score in self.index.search(qvec, len(self.index.units)):
            a_id = self.index.units[row].article_id
            if a_id in allowed and score > dense.get(a_id, -1.0):
                dense[a_id] = score
        return query, tokens, qvec, dense, lexical

    def retrieve(self, question: str, top_k: int = 10, doc_ids: Sequence[str] | None = None,
                 focus: str | None = None) -> Retrieval:
        """Articles for a question; `focus` is the latest turn of a follow-up whose `question`
        carries the earlier turn too — both are searched and weigh equally."""
        named = documents_named(question, self.corpus.documents)
        scope = list(doc_ids) if doc_ids else None
        referenced = article_references(focus or question, self.corpus.articles, scope)
        allowed = {a_id for a_id in self.ids if not scope or self.corpus.article(a_id).doc_id in scope}
        query, tokens, qvec, dense, lexical = self._signals(question, allowed)
        # how much of the question (with its context) an article contains: the confidence signal
        coverage = {a_id: idf_coverage(tokens, self.token_sets[a_id], self.bm25) for a_id in allowed}
        runs, weights = [dense, lexical], list(self.weights)
        if focus and focus != question:
            _, f_tokens, qvec, f_dense, f_lexical = self._signals(focus, allowed)
            tokens = tokens + f_tokens
            runs += [f_dense, f_lexical]
            weights += [w * self.focus_weight for w in self.weights]
            dense = {a: max(dense[a], f_dense[a]) for a in dense}
        fused = standardized_fusion(runs, weights)
        order = [a for a in referenced if a in allowed] + [a for a in ranked(fused) if a not in referenced]
        top = 1.0 + max(fused.values(), default=0.0)
        hits = [Hit(a_id, top if a_id in referenced else fused[a_id],
                    "reference" if a_id in referenced else "hybrid") for a_id in order[:top_k]]
        return Retrieval(query, tokens, hits, referenced, named, qvec, dense, lexical, coverage)

    def sentence_scores(self, retrieval: Retrieval, article_id: str) -> dict[int, float]:
        """Cosine of the question with each sentence of an article, by sentence position."""
        rows = [r for r in self.unit_rows.get(article_id, []) if self.index.units[r].kind == "sentence"]
        if not rows:
            return {}
        sims = self.index.vectors[rows] @ retrieval.query_vector
        return {self.index.units[r].position: float(s) for r, s in zip(rows, sims)}
