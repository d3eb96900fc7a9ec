"""Baselines a team would otherwise ship, run on the same questions as the assistant.

Each baseline gives, for a query, a ranked list of article ids (at most 10, best first). None of
them declines to answer and none writes an answer text: the runner scores their ranking (hit@k,
MRR@10), their top 3 as citations, and their latency.

    bm25       jieba BM25 (the assistant's Tokenizer and BM25 class) over whole articles
    dense      the assistant's embedder over whole articles (as passages), FAISS IndexFlatIP
    langchain  RecursiveCharacterTextSplitter(500, 50) over the raw corpus files + LangChain FAISS,
               10 chunks, each mapped to the article it overlaps most, de-duplicated in rank order

Follow-up questions: every baseline searches the previous user turn and the question together
(`baseline_query`), the usual way to give a stateless retriever the conversation.

Heavy libraries (jieba, faiss, langchain) are imported only when a baseline is built.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.extras import require

DEPTH = 10             # ids returned per query
CHUNK_SIZE = 500
CHUNK_OVERLAP = 50
SHINGLE = 6            # characters: the shortest run two texts must share to count as overlap
MIN_OVERLAP = 30       # characters a chunk must share with an article to be mapped to it (about a clause)

NAMES = ("bm25", "dense", "langchain")
LABELS = {"assistant": "assistant", "bm25": "BM25 (jieba)", "dense": "dense (FAISS)",
          "langchain": "LangChain recipe"}


@dataclass(frozen=True)
class Passage:
    """An article as the baselines see it: its id and its text (title。body)."""
    id: str
    text: str


def baseline_query(question: str, history: Sequence[dict] | None) -> str:
    """What a baseline searches: the previous user turn, if any, then the question."""
    previous = [h.get("content") for h in (history or [])
                if isinstance(h, dict) and h.get("role") == "user" and isinstance(h.get("content"), str)]
    return f"{previous[-1]} {question}" if previous else question


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="text", disable=not enabled, leave=False)


def embed_in_batches(embed: Callable[[list[str]], np.ndarray], texts: Sequence[str], batch_size: int = 16,
                     desc: str = "embedding", progress: bool = False) -> np.ndarray:
    """embed(texts) a batch at a time, with a progress bar on stderr."""
    chunks = []
    with _progress(len(texts), desc, progress) as bar:
        for start in range(0, len(texts), batch_size):
            batch = list(texts[start:start + batch_size])
            chunks.append(np.asarray(embed(batch), dtype=np.float32))
            bar.update(len(batch))
    return np.vstack(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


class Baseline:
    name = "baseline"
    build_seconds = 0.0

    def search(self, query: str, k: int = DEPTH) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


# ---------------------------------------------------------------- BM25

class BM25Baseline(Baseline):
    """Okapi BM25 (k1 1.2, b 0.75) over each article's whole text, jieba with the domain dictionary.

    No title weighting, no synonym expansion, no document scoping: those are the assistant's own.
    """
    name = "bm25"

    def __init__(self, passages: Sequence[Passage], tokenize: Callable[[str], list[str]]):
        from retrieval.search.lexical import BM25

        started = time.perf_counter()
        self.ids = [p.id for p in passages]
        self.tokenize = tokenize
        self.bm25 = BM25.from_documents([tokenize(p.text) for p in passages])
        self.build_seconds = time.perf_counter() - started

    def search(self, query: str, k: int = DEPTH) -> list[str]:
        scores = self.bm25.scores(self.tokenize(query))
        order = np.argsort(-scores, kind="stable")  # ties: corpus order
        return [self.ids[i] for i in order[:k]]

    def describe(self) -> str:
        return f"BM25 over {len(self.ids)} whole articles (jieba, corpus/lexicon/terms.txt)"


# ---------------------------------------------------------------- dense

class DenseBaseline(Baseline):
    """Whole articles embedded as passages, FAISS IndexFlatIP (cosine), the query embedded as a query."""
    name = "dense"

    def __init__(self, passages: Sequence[Passage], embedder, batch_size: int = 16, progress: bool = False):
        import faiss

        started = time.perf_counter()
        self.ids = [p.id for p in passages]
        self.embedder = embedder
        vectors = embed_in_batches(embedder.embed_passages, [p.text for p in passages], batch_size,
                                   desc="dense baseline: articles", progress=progress)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        self.build_seconds = time.perf_counter() - started

    def search(self, query: str, k: int = DEPTH) -> list[str]:
        vec = np.asarray(self.embedder.embed_queries([query]), dtype=np.float32).reshape(1, -1)
        _, rows = self.index.search(vec, min(k, len(self.ids)))
        return [self.ids[i] for i in rows[0] if i >= 0]

    def describe(self) -> str:
        return f"{len(self.ids)} whole articles, {getattr(self.embedder, 'name', 'embedder')}, FAISS IndexFlatIP"


# ---------------------------------------------------------------- LangChain

def shingles(text: str, n: int = SHINGLE) -> set[str]:
    text = "".join(text.split())
    return {text[i:i + n] for i in range(len(text) - n + 1)}


def overlap_chars(chunk: str, article_shingles: set[str], n: int = SHINGLE) -> int:
    """Characters of the chunk (whitespace removed) inside runs of >= n characters the article also has."""
    text = "".join(chunk.split())
    covered = [False] * len(text)
    for i in range(len(text) - n + 1):
        if text[i:i + n] in article_shingles:
            for j in range(i, i + n):
                covered[j] = True
    return sum(covered)


class ChunkMapper:
    """Maps a chunk of raw text to the article whose text it overlaps most (see overlap_chars)."""

    def __init__(self, passages: Sequence[Passage], n: int = SHINGLE, min_overlap: int = MIN_OVERLAP):
        self.ids = [p.id for p in passages]
        self.n = n
        self.min_overlap = min_overlap
        self._shingles = [shingles(p.text, n) for p in passages]

    def __call__(self, chunk: str) -> str | None:
        """The article id, or None when no article shares at least min_overlap characters (ties: corpus order)."""
        best, best_id = 0, None
        for a_id, sh in zip(self.ids, self._shingles, strict=True):
            ov = overlap_chars(chunk, sh, self.n)
            if ov > best:
                best, best_id = ov, a_id
        return best_id if best >= self.min_overlap else None


def articles_of_chunks(chunk_articles: Sequence[str | None], k: int = DEPTH) -> list[str]:
    """Article ids of ranked chunks: unmapped chunks dropped, repeats dropped, rank order kept."""
    return list(dict.fromkeys(a for a in chunk_articles if a is not None))[:k]


def with_progress(inner, batch_size: int = 16, progress: bool = False, desc: str = "embedding"):
    """A LangChain Embeddings that embeds documents through `inner` in batches, with a progress bar."""
    Embeddings = require("langchain_core.embeddings", "eval", "The LangChain baseline").Embeddings

    class BatchedEmbeddings(Embeddings):  # type: ignore[valid-type,misc]
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            vecs = embed_in_batches(lambda b: np.asarray(inner.embed_documents(b), dtype=np.float32),
                                    texts, batch_size, desc=desc, progress=progress)
            return vecs.tolist()

        def embed_query(self, text: str) -> list[float]:
            return inner.embed_query(text)

    return BatchedEmbeddings()


class LangChainBaseline(Baseline):
    """The common LangChain recipe: split the raw files, embed the chunks, FAISS, top-10 chunks."""
    name = "langchain"

    def __init__(self, files: Sequence[tuple[str, str]], passages: Sequence[Passage], embeddings,
                 chunk_size: int = CHUNK_SIZE, chunk_overlap: int = CHUNK_OVERLAP, chunks_k: int = DEPTH,
                 progress: bool = False, batch_size: int = 16):
        """files: (source name, raw text) of each corpus file; embeddings: a LangChain Embeddings."""
        for module in ("langchain_core", "langchain_text_splitters"):
            require(module, "eval", "The LangChain baseline")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # langchain_community announces its own sunset on import
            FAISS = require("langchain_community.vectorstores", "eval", "The LangChain baseline").FAISS
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        started = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        docs = splitter.split_documents([Document(page_content=text, metadata={"source": source})
                                         for source, text in files])
        mapper = ChunkMapper(passages)
        for d in docs:
            d.metadata["article_id"] = mapper(d.page_content)
        self.chunks = len(docs)
        self.unmapped = sum(1 for d in docs if d.metadata["article_id"] is None)
        self.chunks_k = chunks_k
        self.store = FAISS.from_documents(docs, with_progress(embeddings, batch_size, progress,
                                                               desc="LangChain baseline: chunks"))
        self.build_seconds = time.perf_counter() - started

    def search(self, query: str, k: int = DEPTH) -> list[str]:
        docs = self.store.similarity_search(query, k=self.chunks_k)
        return articles_of_chunks([d.metadata.get("article_id") for d in docs], k)

    def describe(self) -> str:
        return (f"{self.chunks} chunks of the raw files ({self.unmapped} match no article), "
                f"LangChain FAISS, {self.chunks_k} chunks per query")


# ---------------------------------------------------------------- from the assistant

def passages_of(corpus) -> list[Passage]:
    return [Passage(a.id, a.text) for a in corpus.articles]


def raw_files(corpus_dir: Path, corpus) -> list[tuple[str, str]]:
    """The corpus files as listed in documents.json, as they are on disk (no corrections, no parsing)."""
    return [(m.file, (Path(corpus_dir) / m.file).read_text(encoding="utf-8-sig")) for m in corpus.documents]


def make_baselines(assistant, names: Sequence[str] = NAMES, progress: bool = False) -> list[Baseline]:
    """Build the named baselines on the assistant's corpus, tokenizer dictionary and embedder."""
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(f"unknown baseline(s) {unknown}; known: {', '.join(NAMES)}")
    corpus_dir = Path(assistant.settings.corpus.dir)
    passages = passages_of(assistant.corpus)
    out: list[Baseline] = []
    for name in names:
        if name == "bm25":
            from retrieval.search.lexical import Tokenizer
            out.append(BM25Baseline(passages, Tokenizer(corpus_dir / "lexicon" / "terms.txt")))
        elif name == "dense":
            out.append(DenseBaseline(passages, assistant.embedder, progress=progress))
        elif name == "langchain":
            from retrieval.search.embeddings import as_langchain
            out.append(LangChainBaseline(raw_files(corpus_dir, assistant.corpus), passages,
                                         as_langchain(assistant.embedder), progress=progress))
    return out
