"""Hybrid retrieval over articles for a `Query`: the articles it names, else BM25 (jieba) and dense
(FAISS) scores fused, within the documents that apply."""
from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.documents.corpus import Corpus
from retrieval.search.embeddings import Embedder
from retrieval.search.fusion import standardized_fusion, top_indices
from retrieval.search.index import DenseIndex
from retrieval.search.lexical import BM25, PhraseIndex, Tokenizer, corpus_bm25, idf_coverage
from retrieval.types import Hit
from retrieval.understanding.lexicon import Synonym, expand
from retrieval.understanding.query import Query


@dataclass
class Retrieval:
    """The evidence for one Query; the answer stage reads it."""
    query: str                      # the question as searched (with documents' words added)
    tokens: list[str]
    hits: list[Hit]                 # articles, best first
    referenced: list[str]           # articles the question names explicitly (or its chapter's)
    query_vector: np.ndarray | None  # None for a lookup by number, which embeds nothing
    lexicon: BM25                   # the word statistics of the documents searched
    best_dense: float = 0.0         # best cosine of any unit in scope: is anything relevant at all?
    dense: dict[str, float] = field(default_factory=dict)     # hit -> best unit cosine
    lexical: dict[str, float] = field(default_factory=dict)   # hit -> BM25
    coverage: dict[str, float] = field(default_factory=dict)  # hit -> share of the query's idf it contains
    asked_tokens: list[str] = field(default_factory=list)     # the latest turn's own words, before synonyms


class HybridRetriever:
    """Scores every article by dense similarity (its best unit) and BM25, fused as z-scores."""

    def __init__(self, corpus: Corpus, index: DenseIndex, embedder: Embedder, tokenizer: Tokenizer,
                 synonyms: Sequence[Synonym] = (), weights: tuple[float, float] = (1.0, 0.5),
                 dense_depth: int = 1000, bm25: BM25 | None = None):
        self.corpus = corpus
        self.index = index
        self.embedder = embedder
        self.tokenize = tokenizer
        self.synonyms = list(synonyms)
        self.weights = weights  # dense, lexical
        self.focus_weight = 0.5  # the latest turn of a follow-up, next to the whole exchange
        self.phrase_weight = 0.2  # the question's own phrases found verbatim: a tie-breaker, not a ranker
        self._phrases: PhraseIndex | None = None
        self.dense_depth = dense_depth  # units searched; all of them in a small index
        self.ids = [a.id for a in corpus.articles]
        self.position = {a_id: i for i, a_id in enumerate(self.ids)}
        self.doc_number = {d.doc_id: i for i, d in enumerate(corpus.documents)}
        self.doc_of = np.array([self.doc_number[a.doc_id] for a in corpus.articles])
        self.unit_article = np.array([self.position[u.article_id] for u in index.units], dtype=np.int64)
        self.bm25 = bm25 or corpus_bm25(corpus, tokenizer)
        self._sentence_tokens: dict[str, list[set[str]]] = {}
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # recent query vectors
        self._cache_size = 1024
        self._cache_lock = threading.Lock()
        self.unit_rows: dict[str, list[int]] = {}
        for row, unit in enumerate(index.units):
            self.unit_rows.setdefault(unit.article_id, []).append(row)

    @property
    def phrases(self) -> PhraseIndex:
        if self._phrases is None:
            self._phrases = PhraseIndex([f"{a.title}\n{a.text}" for a in self.corpus.articles])
        return self._phrases

    def sentence_tokens(self, article_id: str) -> list[set[str]]:
        cached = self._sentence_tokens.get(article_id)
        if cached is None:
            cached = [set(self.tokenize(s)) for s in self.corpus.article(article_id).sentences]
            self._sentence_tokens[article_id] = cached
        return cached

    def prepare(self, topics: Sequence[str], batch_size: int = 32) -> None:
        """Embed many topics at once (faster per question); retrieve() then finds them ready."""
        todo = list(dict.fromkeys(t for t in topics if t not in self._vectors))
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            for text, vec in zip(chunk, self.embedder.embed_queries(chunk), strict=True):
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

    def _mask(self, doc_ids: Sequence[str] | None) -> np.ndarray | None:
        if not doc_ids:
            return None
        wanted = [self.doc_number[d] for d in doc_ids if d in self.doc_number]
        return np.isin(self.doc_of, wanted)

    def _dense(self, qvec: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Per article, the cosine of its best unit among the `dense_depth` nearest; the floor elsewhere."""
        rows, sims = self.index.search(qvec, min(self.dense_depth, len(self.index.units)))
        scores = np.full(len(self.ids), sims.min() if len(sims) else 0.0)
        # nearest first: the first unit seen for an article is its best
        arts, first = np.unique(self.unit_article[rows], return_index=True)
        scores[arts] = sims[first]
        if mask is not None:
            scores[~mask] = -np.inf
        return scores

    def _signals(self, topic: str, mask: np.ndarray | None, lexicon: BM25):
        """(expanded query, its tokens, query vector, dense and BM25 scores per article) for one topic."""
        query = expand(topic, self.synonyms)
        tokens = self.tokenize(query)
        # the embedder reads the question as asked: it knows everyday words, and shorter is faster
        qvec = self.query_vector(topic)
        return query, tokens, qvec, self._dense(qvec, mask), lexicon.scores(tokens)

    def retrieve(self, q: Query, top_k: int = 10) -> Retrieval:
        """Articles for a Query, within its scope. A follow-up's whole exchange and its latest turn
        are both searched and weigh equally; a lookup by number embeds nothing."""
        referenced = list(q.articles or q.chapter)
        if referenced:
            hits = [Hit(a, 1.0, "reference") for a in referenced]
            return Retrieval(q.topic, self.tokenize(expand(q.topic, self.synonyms)), hits, referenced, None, self.bm25)
        if not q.scope:
            return Retrieval(q.topic, [], [], [], None, self.bm25)
        mask = self._mask(q.scope) if len(q.scope) < len(self.doc_number) else None
        if q.within:  # a chapter named beside what is asked of it
            mask = np.zeros(len(self.ids), dtype=bool)
            mask[[self.position[a] for a in q.within]] = True
        lexicon = self.bm25.within(mask)  # how rare a word is, among the documents that apply here
        focus = q.topic if q.context_topic != q.topic else None
        if focus:
            self.prepare([q.context_topic, focus])  # one batch call embeds the two side by side, a core each
        query, tokens, qvec, dense, lexical = self._signals(q.context_topic, mask, lexicon)
        coverage_tokens = tokens  # how much of the question, with its context, an article holds
        runs, weights = [dense, lexical], list(self.weights)
        if focus:
            _, f_tokens, qvec, f_dense, f_lexical = self._signals(focus, mask, lexicon)
            tokens = tokens + f_tokens
            runs += [f_dense, f_lexical]
            weights += [w * self.focus_weight for w in self.weights]
            dense = np.maximum(dense, f_dense)
        runs.append(self.phrases.shares(q.topic))
        weights.append(self.phrase_weight)
        fused = standardized_fusion(runs, weights, mask)
        best = top_indices(fused, top_k)
        hits = [Hit(self.ids[i], float(fused[i]), "hybrid") for i in best if np.isfinite(fused[i])]
        finite = dense[np.isfinite(dense)]
        return Retrieval(
            query, tokens, hits, [], qvec, lexicon,
            best_dense=float(finite.max()) if finite.size else 0.0,
            dense={h.article_id: float(dense[self.position[h.article_id]]) for h in hits},
            lexical={h.article_id: float(lexical[self.position[h.article_id]]) for h in hits},
            coverage={h.article_id: self.holds(coverage_tokens, h.article_id, lexicon) for h in hits},
            asked_tokens=self.tokenize(q.topic))

    def holds(self, tokens: Sequence[str], article_id: str, lexicon: BM25) -> float:
        """Share of the tokens' information (idf mass, by `lexicon`'s statistics) that an article contains; 0..1."""
        return idf_coverage(tokens, lexicon.terms_in(self.position[article_id], tokens), lexicon)

    def sentence_scores(self, retrieval: Retrieval, article_id: str) -> dict[int, float]:
        """Cosine of the question with each sentence of an article, by sentence position."""
        rows = [r for r in self.unit_rows.get(article_id, []) if self.index.units[r].kind == "sentence"]
        if not rows or retrieval.query_vector is None:
            return {}
        sims = self.index.vectors[rows] @ retrieval.query_vector
        return {self.index.units[r].position: float(s) for r, s in zip(rows, sims, strict=True)}
