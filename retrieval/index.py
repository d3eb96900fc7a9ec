"""The dense index: a folder of plain files (FAISS index, units, manifest), built atomically.

Layout of `index_dir`:
    current -> builds/<stamp>      symlink, swapped atomically when a build completes
    builds/<stamp>/vectors.faiss   FAISS IndexFlatIP over L2-normalised vectors (cosine)
    builds/<stamp>/units.jsonl     one embedded unit a line, in vector order
    builds/<stamp>/manifest.json   embedder, dimension, corpus fingerprint, build time, file hashes
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from .corpus import Corpus
from .embeddings import Embedder
from .types import Article, IndexStateError

log = logging.getLogger(__name__)

FORMAT = 1
_FILES = ("vectors.faiss", "units.jsonl")


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
    faiss_index: object
    manifest: dict

    def search(self, query_vec: np.ndarray, k: int) -> list[tuple[int, float]]:
        k = max(1, min(k, len(self.units)))
        scores, ids = self.faiss_index.search(np.asarray(query_vec, dtype=np.float32).reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def build_index(corpus: Corpus, embedder: Embedder, index_dir: Path | str, batch_size: int = 32,
                progress: bool = False) -> Path:
    """Embed every unit and write a new build; the `current` link moves only once it is complete."""
    import faiss

    index_dir = Path(index_dir)
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + f"-{uuid.uuid4().hex[:8]}"
    tmp = builds / f".tmp-{stamp}"
    tmp.mkdir()
    try:
        units = units_of(corpus.articles)
        texts = [embed_text(u, corpus.article(u.article_id)) for u in units]
        started = time.perf_counter()
        chunks = []
        batches = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm
            batches = tqdm(batches, desc="embedding", unit="batch")
        for start in batches:
            chunks.append(embedder.embed_passages(texts[start:start + batch_size]))
        vectors = np.vstack(chunks).astype(np.float32)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        faiss.write_index(index, str(tmp / "vectors.faiss"))
        with (tmp / "units.jsonl").open("w", encoding="utf-8") as f:
            for u in units:
                f.write(json.dumps(asdict(u), ensure_ascii=False) + "\n")
        manifest = {
            "format": FORMAT,
            "embedder": embedder.name,
            "dim": int(vectors.shape[1]),
            "corpus_fingerprint": corpus.fingerprint,
            "documents": [d.doc_id for d in corpus.documents],
            "articles": len(corpus.articles),
            "units": len(units),
            "faiss_index": "IndexFlatIP",
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "embed_seconds": round(time.perf_counter() - started, 2),
            "files": {name: _sha256(tmp / name) for name in _FILES},
        }
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


def _prune(builds: Path, keep: Path) -> None:
    """Remove older builds and leftovers of interrupted ones."""
    for child in builds.iterdir():
        if child != keep:
            shutil.rmtree(child, ignore_errors=True)


def load_index(index_dir: Path | str, corpus: Corpus, embedder_name: str) -> DenseIndex:
    """Load and check the current build; IndexStateError says why it cannot be used."""
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
    if manifest.get("corpus_fingerprint") != corpus.fingerprint:
        raise IndexStateError(f"the corpus changed since the index was built; {fix}")
    for name, digest in (manifest.get("files") or {}).items():
        path = current / name
        if not path.is_file() or _sha256(path) != digest:
            raise IndexStateError(f"{path} is missing or damaged; {fix}")
    try:
        index = faiss.read_index(str(current / "vectors.faiss"))
        with (current / "units.jsonl").open(encoding="utf-8") as f:
            units = [Unit(**json.loads(line)) for line in f]
    except (RuntimeError, OSError, ValueError, TypeError) as e:
        raise IndexStateError(f"cannot read the index in {current} ({e}); {fix}") from e
    if index.ntotal != len(units) or index.d != manifest.get("dim"):
        raise IndexStateError(f"index in {current} is inconsistent with its manifest; {fix}")
    vectors = index.reconstruct_n(0, index.ntotal)
    return DenseIndex(units, vectors, index, manifest)


def ensure_index(index_dir: Path | str, corpus: Corpus, embedder: Embedder, progress: bool = False) -> DenseIndex:
    """Load the index, rebuilding it first when it is missing, stale or damaged."""
    try:
        return load_index(index_dir, corpus, embedder.name)
    except IndexStateError as e:
        log.warning("%s — rebuilding", e)
    build_index(corpus, embedder, index_dir, progress=progress)
    return load_index(index_dir, corpus, embedder.name)
