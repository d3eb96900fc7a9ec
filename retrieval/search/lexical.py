"""Lexical retrieval: jieba tokenisation with a domain dictionary, and BM25."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from retrieval.documents.corpus import Corpus

import numpy as np

from retrieval.search.index import _sha256  # one file hash for both indexes

log = logging.getLogger(__name__)

# Function words and question words that carry no topic.
STOPWORDS = frozenset("""
的 了 是 我 你 他 她 我们 你们 他们 咱 俺 有 有没有 没有 什么 啥 怎么 怎么办 怎样 如何 吗 呢 啊 吧 呀 嘛 哦 和 与 及 或 等
要 会 可 对 在 为 把 将 想 能 能不能 可以 可不可以 哪些 哪个 哪 这 那 这个 那个 这些 那些 就 都 也 还 又 再 很 太 一下
给 让 被 从 到 去 来 上 下 中 里 之 其 以 于 按 按照 如果 因为 所以 但是 而 并 该 各 个 家 人 请问 请 一个 一些 现在 今年
具体 相关 规定 政策 问 说 讲 是否 多少 几 谁 时候 时 后 前 个人 能够 需要 一般 可能 已经 自己 想要 打算 准备
""".split())
_TOKEN_OK = re.compile(r"[\w\u3400-\u9fff]")
LEXICAL_FORMAT = 2  # bump when the cached matrix changes meaning (counts, title weight, tokens)
# everyday words below this idf (jieba's table: 部门 5.2, 办理 6.6) name no topic; 补贴 (7.1), 公积金 do
COMMON_IDF = 7.0


@functools.cache
def _idf() -> tuple[dict[str, float], float]:
    import jieba.analyse
    return jieba.analyse.default_tfidf.idf_freq, jieba.analyse.default_tfidf.median_idf


class Tokenizer:
    """jieba in search mode (fine and coarse words both), with a domain dictionary; thread-safe, lazy."""

    def __init__(self, user_dict: Path | None = None, stopwords: frozenset[str] = STOPWORDS):
        self.user_dict = user_dict
        self.stopwords = stopwords
        self._jieba = None
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """What shapes the tokens: jieba's version, the dictionary, the stop words."""
        import jieba
        h = hashlib.sha256(f"{jieba.__version__}\n{' '.join(sorted(self.stopwords))}\n".encode())
        if self.user_dict and self.user_dict.is_file():
            h.update(self.user_dict.read_bytes())
        return h.hexdigest()[:16]

    def _load(self):
        with self._lock:
            if self._jieba is None:
                import jieba
                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                if self.user_dict and self.user_dict.is_file():
                    tok.load_userdict(str(self.user_dict))
                tok.initialize()
                self._jieba = tok
        return self._jieba

    def is_word(self, token: str, min_count: int = 10) -> bool:
        """A word of everyday Chinese (in jieba's dictionary, not a repeated sound like 啊啊啊)."""
        tok = self._jieba or self._load()
        return len(set(token)) > 1 and tok.FREQ.get(token, 0) >= min_count

    def topic_words(self, text: str) -> list[str]:
        """The text's words that may name a topic: not those too common in everyday Chinese (办理, 部门),
        by jieba's idf table."""
        idf, median = _idf()
        return [w for w in self(text) if idf.get(w, median) >= COMMON_IDF]

    def __call__(self, text: str) -> list[str]:
        return list(self._cut(text))

    # the answer stage cuts the same clauses again and again; a process keeps one or two tokenizers
    @functools.lru_cache(maxsize=8192)  # noqa: B019
    def _cut(self, text: str) -> tuple[str, ...]:
        tok = self._jieba or self._load()
        out = []
        for word in tok.cut_for_search(text.lower()):
            word = word.strip()
            if word and word not in self.stopwords and _TOKEN_OK.search(word):
                out.append(word)
        return tuple(out)


class BM25:
    """Okapi BM25 over a sparse document-term matrix of raw term counts (documents x terms, CSC).

    The statistics — how rare a term is (idf) and the average document length — are those of the
    collection searched: `within(mask)` gives the same index with them taken over the masked documents
    only, so documents outside it (another city's rules) change no score inside it."""

    def __init__(self, tf, vocab: dict[str, int], k1: float = 1.2, b: float = 0.75,
                 mask: np.ndarray | None = None, doc_len: np.ndarray | None = None):
        self.tf = tf
        self.vocab = vocab
        self.k1, self.b = k1, b
        self.n_docs = tf.shape[0]
        self.doc_len = np.asarray(tf.sum(axis=1), dtype=np.float64).ravel() if doc_len is None else doc_len
        self.mask = mask
        inside = self.doc_len if mask is None else self.doc_len[mask]
        self.n = int(inside.size)
        self.avg_len = float(inside.mean()) if inside.size and inside.mean() > 0 else 1.0
        self._norm = k1 * (1 - b + b * self.doc_len / self.avg_len)  # each document's length term
        self._shared: dict[str, Any] = {}  # with every view: the CSR matrix, made on first use
        self._idf: dict[str, float] = {}
        self._idf_maps: dict[frozenset, dict[str, float]] = {}

    @classmethod
    def from_documents(cls, docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> BM25:
        from scipy import sparse

        if not docs:
            raise ValueError("BM25 needs at least one document")
        vocab: dict[str, int] = {}
        rows, cols, tfs = [], [], []
        for i, doc in enumerate(docs):
            for term, c in Counter(doc).items():
                rows.append(i)
                cols.append(vocab.setdefault(term, len(vocab)))
                tfs.append(c)
        tf = sparse.csc_matrix((np.asarray(tfs, dtype=np.float32), (rows, cols)), shape=(len(docs), max(1, len(vocab))))
        tf.sort_indices()
        return cls(tf, vocab, k1, b)

    def within(self, mask: np.ndarray | None) -> BM25:
        """This index with its statistics taken over the masked documents (all of them when None)."""
        if mask is None or mask.all():
            return self
        view = BM25(self.tf, self.vocab, self.k1, self.b, np.asarray(mask, dtype=bool), self.doc_len)
        view._shared = self._shared
        return view

    def save(self, path: Path) -> None:
        """Write to `path` (.npz) atomically: a reader sees the old file or the complete new one."""
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp.npz")
        terms = np.array(sorted(self.vocab, key=self.vocab.__getitem__), dtype=str)
        try:
            np.savez(tmp, data=self.tf.data, indices=self.tf.indices, indptr=self.tf.indptr,
                     shape=np.array(self.tf.shape), k1b=np.array([self.k1, self.b]), terms=terms)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> BM25:
        from scipy import sparse

        with np.load(path, allow_pickle=False) as z:
            tf = sparse.csc_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            terms = z["terms"].tolist()
            k1, b = (float(v) for v in z["k1b"])
            return cls(tf, {t: i for i, t in enumerate(terms)}, k1, b)

    def _df(self, col: int) -> int:
        start, stop = self.tf.indptr[col], self.tf.indptr[col + 1]
        if self.mask is None:
            return int(stop - start)
        return int(self.mask[self.tf.indices[start:stop]].sum())

    def idf_of(self, term: str) -> float:
        """How rare the term is in the collection searched; 0 for a term it does not hold."""
        cached = self._idf.get(term)
        if cached is None:
            i = self.vocab.get(term)
            df = self._df(i) if i is not None else 0
            cached = self._idf[term] = float(np.log(1.0 + (self.n - df + 0.5) / (df + 0.5))) if df else 0.0
        return cached

    def max_idf(self) -> float:
        """The idf of a term in one document: what a term the collection does not hold counts as."""
        return float(np.log(1.0 + (self.n - 0.5) / 1.5))

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 of every document (each query token counts as often as it is given)."""
        known = [t for t in query_tokens if t in self.vocab and self.idf_of(t)]
        if not known:
            return np.zeros(self.n_docs, dtype=np.float32)
        part = self.tf[:, [self.vocab[t] for t in known]]  # the query's columns, repeats kept
        idf = np.repeat([self.idf_of(t) for t in known], np.diff(part.indptr))
        rows, tf = part.indices, part.data
        weights = tf * (self.k1 + 1) / (tf + self._norm[rows]) * idf
        return np.bincount(rows, weights=weights, minlength=self.n_docs).astype(np.float32)

    def terms_in(self, doc: int, terms: Sequence[str]) -> set[str]:
        """Which of `terms` document number `doc` contains."""
        csr = self._shared.get("rows")
        if csr is None:
            csr = self.tf.tocsr()  # row slices: the terms of one document, sorted
            csr.sort_indices()
            self._shared["rows"] = csr
        known = [t for t in set(terms) if t in self.vocab]
        row = csr.indices[csr.indptr[doc]:csr.indptr[doc + 1]]
        if not known or not len(row):
            return set()
        ids = np.array([self.vocab[t] for t in known], dtype=row.dtype)
        at = np.minimum(np.searchsorted(row, ids), len(row) - 1)
        return {t for t, yes in zip(known, row[at] == ids, strict=True) if yes}

    def idf_map(self, terms: Sequence[str]) -> dict[str, float]:
        """idf of each distinct term (0 for unknown terms); the answer stage asks for the same
        question's terms many times, so recent maps are kept."""
        key = frozenset(terms)
        cached = self._idf_maps.get(key)
        if cached is None:
            if len(self._idf_maps) > 1024:
                self._idf_maps.clear()
            cached = self._idf_maps[key] = {t: self.idf_of(t) for t in key}
        return cached


_RUN = re.compile(r"[0-9a-z\u3400-\u9fff]+")  # letters and digits between punctuation


class PhraseIndex:
    """Which texts hold each run of `n` characters, to tell how much of a question a text says word for
    word. Word statistics miss word order; a question quoting a document's phrase should find it."""

    def __init__(self, texts: Sequence[str], n: int = 4):
        self.n = n
        self.size = len(texts)
        postings: dict[str, set[int]] = {}
        for i, text in enumerate(texts):
            for run in _RUN.findall(text.lower()):
                for j in range(len(run) - n + 1):
                    postings.setdefault(run[j:j + n], set()).add(i)
        self.postings = {gram: tuple(sorted(ids)) for gram, ids in postings.items()}

    def shares(self, question: str) -> np.ndarray:
        """Per text, the share of the question's characters that lie in a run of `n` or more it holds."""
        out = np.zeros(self.size)
        covered: dict[int, set[int]] = {}
        start = 0  # where the run begins among the question's characters
        for run in _RUN.findall(question.lower()):
            for j in range(len(run) - self.n + 1):
                for i in self.postings.get(run[j:j + self.n], ()):
                    covered.setdefault(i, set()).update(range(start + j, start + j + self.n))
            start += len(run)
        for i, chars in covered.items():
            out[i] = len(chars) / start
        return out


LEXICAL_MANIFEST = "manifest.json"


def _checked_load(path: Path, manifest: Path, n_docs: int) -> BM25:
    """The cached matrix, only if the manifest names it with the file's SHA-256 (so a flipped byte, a
    cut file or a replaced one is never read); ValueError says why not."""
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ValueError(f"{manifest} is missing or unreadable ({e.__class__.__name__})") from None
    files = recorded.get("files") if isinstance(recorded, dict) else None
    if not isinstance(files, dict) or files.get(path.name) != _sha256(path):
        raise ValueError(f"{path.name} does not match the SHA-256 in {manifest.name} (damaged or replaced)")
    try:
        bm25 = BM25.load(path)
    except Exception as e:  # numpy raises zipfile, OSError, ValueError, KeyError …
        raise ValueError(f"{path.name} cannot be read ({e.__class__.__name__}: {e})") from None
    if bm25.n_docs != n_docs:
        raise ValueError(f"{path.name} holds {bm25.n_docs} articles, the corpus {n_docs}")
    return bm25


def _write_manifest(manifest: Path, path: Path) -> None:
    tmp = manifest.with_name(f".{manifest.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(json.dumps({"format": LEXICAL_FORMAT, "files": {path.name: _sha256(path)}}, indent=1),
                       encoding="utf-8")
        os.replace(tmp, manifest)
    finally:
        tmp.unlink(missing_ok=True)


def corpus_bm25(corpus: Corpus, tokenize: Tokenizer, cache_dir: Path | None = None,
                rebuild: bool = False) -> BM25:
    """BM25 over the corpus's articles. Tokenising a large corpus takes minutes, so the matrix is kept
    in `cache_dir` under a key of the corpus and the tokenizer, with its SHA-256 in `manifest.json`
    beside it (as the dense index keeps its files' hashes): a damaged, truncated or replaced file is
    not read but recomputed, with a warning. `rebuild` (`python app.py index`) recomputes without
    reading the old one. A cache that cannot be written (a read-only index shared by several app
    processes) is only a warning."""
    def compute() -> BM25:
        return BM25.from_documents([article_terms(a.title, a.body, tokenize) for a in corpus.articles])

    if cache_dir is None:
        return compute()
    key = hashlib.sha256(f"{LEXICAL_FORMAT} {corpus.fingerprint} {tokenize.fingerprint}".encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"bm25-{key}.npz"
    manifest = Path(cache_dir) / LEXICAL_MANIFEST
    if path.is_file() and not rebuild:
        try:
            return _checked_load(path, manifest, len(corpus.articles))
        except ValueError as e:
            log.warning("unreadable lexical cache %s (%s); recomputing it", path, e)
    bm25 = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        bm25.save(path)
        _write_manifest(manifest, path)
        for old in path.parent.glob("bm25-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as e:
        log.warning("cannot keep the lexical cache in %s (%s); it is recomputed at each start", cache_dir, e)
    return bm25


def article_terms(title: str, body: str, tokenize: Callable[[str], list[str]], title_weight: int = 2) -> list[str]:
    """The bag of words for an article: the title counts more, it names the topic."""
    return tokenize(title) * title_weight + tokenize(body)


def idf_coverage(query_tokens: Sequence[str], doc_tokens: set[str], bm25: BM25) -> float:
    """Share of the query's information (idf mass) that a document contains; 0..1."""
    idf = bm25.idf_map(query_tokens)
    total = sum(v or bm25.max_idf() for v in idf.values())
    if total <= 0:
        return 0.0
    return sum(v for t, v in idf.items() if t in doc_tokens) / total
