"""Synthetic corpora for the scale benchmark, and an embedder that reuses the real index's vectors.

Generator: every synthetic provision is a real article — its real title, a random subset (in order)
of its real sentences, its real department list — placed, with others drawn at random from the whole
corpus, into a new document with its own doc_id, metadata, sections (real section titles) and
numbering. The documents are written as text files in the layout of the real ones (一、 / （一）), so
`load_corpus` parses them with the real parser, and BM25 sees realistic text.

Every unit text of a synthetic provision (a title, or "title：sentence") is therefore a unit text of
the real corpus, whose vector is in the real index: `CachingEmbedder` returns that vector (plus a
little noise, see below) and embeds for real only texts it does not know. Embedding a 100k-provision
corpus on 2 cores would take hours; the rest of a build (parsing, FAISS, writing) is measured for real.

Spread: a synthetic corpus repeats each real text hundreds of times (100k provisions hold only the
277 distinct unit texts of the real corpus, each about 1,800 times), so stored vectors returned as
they are would be exact duplicates, and "recall against exact search" meaningless (ties). Each
returned vector is derived like `derived_vectors` below: the stored vector mixed with another real
unit's (weight t ~ U(0, mix), default 0.5) plus Gaussian noise (`noise` per dimension, default 0.005:
a norm of about 0.1, the typical distance between a real unit and its nearest real neighbour),
renormalised — repeated texts behave like paraphrases spread over the region real texts occupy.
With mix=0 (copies plus noise only) every real text becomes a tight cluster of ~1,800 near-copies,
a pathological case for any approximate index (measured too: bench.scale --mix 0).

    python -m bench.synth 10000 bench/out/scale/corpus-10000      # write a corpus (also done by bench.scale)
"""
from __future__ import annotations

import json
import random
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.common import ROOT
from retrieval.documents.corpus import Corpus, load_corpus
from retrieval.documents.text import int_to_cn, split_sentences
from retrieval.search.index import embed_text, load_index, units_of

PLACES = ("呼和浩特市", "包头市", "乌海市", "赤峰市", "通辽市", "鄂尔多斯市", "呼伦贝尔市", "巴彦淖尔市",
          "乌兰察布市", "兴安盟", "锡林郭勒盟", "阿拉善盟", "满洲里市", "二连浩特市", "土默特左旗", "托克托县",
          "和林格尔县", "武川县", "达拉特旗", "准格尔旗", "杭锦旗", "乌审旗", "伊金霍洛旗", "临河区",
          "五原县", "磴口县", "乌拉特前旗", "乌拉特中旗", "乌拉特后旗", "杭锦后旗")
KINDS = ("实施细则", "实施意见", "实施办法", "工作方案")
DEFAULT_NOISE = 0.005
DEFAULT_MIX = 0.5


def _subset(rng: random.Random, sentences: Sequence[str], keep: float) -> list[str]:
    """A random non-empty subset of the sentences, in order, that the parser splits back the same way."""
    chosen = [s for s in sentences if rng.random() < keep] or [rng.choice(list(sentences))]
    if split_sentences("".join(chosen)) != chosen:
        chosen = list(sentences)
    return chosen


def _article_line(number: int, article, sentences: Sequence[str]) -> str:
    depts = f"（{'、'.join(article.departments)}等负责）" if article.departments else ""
    head = f"{article.title}。" if article.title else ""
    return f"（{int_to_cn(number)}）{head}{''.join(sentences)}{depts}"


def generate_corpus(n_provisions: int, dest: Path | str, source: Corpus | None = None, seed: int = 0,
                    per_doc: tuple[int, int] = (20, 30), keep: float = 0.8, first_doc: int = 1) -> Path:
    """Write a corpus folder of about `n_provisions` provisions (exactly, counting parsed articles)."""
    source = source or load_corpus(ROOT / "corpus")
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copytree(ROOT / "corpus" / "lexicon", dest / "lexicon")
    rng = random.Random(seed)
    articles = [a for a in source.articles if a.sentences]
    sections = sorted({t for a in source.articles for t in a.section_titles
                       if t and len(t) <= 40 and not any(p in t for p in "。；;")})
    entries, made, i = [], 0, first_doc - 1
    while made < n_provisions:
        i += 1
        size = min(rng.randint(*per_doc), n_provisions - made)
        doc_id = f"syn-{i:06d}"
        place, kind, year = rng.choice(PLACES), rng.choice(KINDS), 2015 + i % 10
        lines = [f"合政发〔{year}〕{i}号", f"{place}人民政府关于做好就业创业工作的{kind}（第{i}号）"]
        n_sections = max(1, min(size, rng.randint(3, 6)))
        cuts = sorted(rng.sample(range(1, size), n_sections - 1)) if size > 1 and n_sections > 1 else []
        running = rng.random() < 0.5  # numbering runs on through the document, or restarts per section
        number, bounds = 0, [0, *cuts, size]
        for s in range(len(bounds) - 1):
            lines.append(f"{int_to_cn(s + 1)}、{rng.choice(sections)}")
            if not running:
                number = 0
            for _ in range(bounds[s], bounds[s + 1]):
                number += 1
                a = rng.choice(articles)
                lines.append(_article_line(number, a, _subset(rng, a.sentences, keep)))
        (dest / f"{doc_id}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        entries.append({"doc_id": doc_id, "file": f"{doc_id}.txt",
                        "title": f"{place}人民政府关于做好就业创业工作的{kind}（第{i}号）",
                        "short_name": f"{place}{kind}（第{i}号）", "issuer": f"{place}人民政府",
                        "number": f"合政发〔{year}〕{i}号", "date": f"{year}-06-01",
                        "level": "县级" if place.endswith(("旗", "县", "区")) else "地市级", "region": place})
        made += size
    (dest / "documents.json").write_text(json.dumps({"documents": entries}, ensure_ascii=False, indent=1),
                                         encoding="utf-8")
    return dest


def add_document(corpus_dir: Path | str, n_provisions: int = 25, seed: int = 12345) -> str:
    """Append one new synthetic document to an existing synthetic corpus folder; returns its doc_id."""
    corpus_dir = Path(corpus_dir)
    meta_path = corpus_dir / "documents.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    last = max(int(e["doc_id"].split("-")[1]) for e in meta["documents"])
    tmp = corpus_dir.parent / f".{corpus_dir.name}-new"
    generate_corpus(n_provisions, tmp, seed=seed, per_doc=(n_provisions, n_provisions), first_doc=last + 1)
    new = json.loads((tmp / "documents.json").read_text(encoding="utf-8"))["documents"]
    for e in new:
        shutil.copy(tmp / e["file"], corpus_dir / e["file"])
    meta["documents"].extend(new)
    meta_path.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    shutil.rmtree(tmp)
    return new[0]["doc_id"]


# ---------------------------------------------------------------- vectors

def known_vectors(index_dir: Path | str, corpus: Corpus, embedder_name: str) -> dict[str, np.ndarray]:
    """Embedded text -> vector, for every unit of a real index."""
    index = load_index(index_dir, corpus, embedder_name)
    return {embed_text(u, corpus.article(u.article_id)): index.vectors[row] for row, u in enumerate(index.units)}


class CachingEmbedder:
    """Passages: the stored vector of a known text, spread (mixed with another stored vector, plus
    noise, renormalised); unknown texts are embedded for real by `inner`. Queries: always embedded for
    real. Counts hits and misses."""

    def __init__(self, inner, known: dict[str, np.ndarray], noise: float = DEFAULT_NOISE, seed: int = 0,
                 mix: float = DEFAULT_MIX):
        self.inner = inner
        self.known = known
        self.noise = noise
        self.mix = mix
        self.rng = np.random.default_rng(seed)
        self._base = np.vstack(list(known.values())).astype(np.float32) if known else None
        self.name = f"bench-cache:{inner.name}"
        self.hits = self.misses = 0

    @property
    def dim(self) -> int:
        return len(next(iter(self.known.values()))) if self.known else self.inner.dim

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        unknown = [i for i, t in enumerate(texts) if t not in self.known]
        for i, t in enumerate(texts):
            if t in self.known:
                out[i] = self.known[t]
        hit = np.array([t in self.known for t in texts], dtype=bool)
        m = int(hit.sum())
        if m and (self.noise or self.mix):
            v = out[hit]
            if self.mix:
                t = self.rng.uniform(0.0, self.mix, (m, 1)).astype(np.float32)
                v = (1 - t) * v + t * self._base[self.rng.integers(0, len(self._base), m)]
            v = v + self.rng.normal(0.0, self.noise, size=v.shape).astype(np.float32)
            out[hit] = v / np.linalg.norm(v, axis=1, keepdims=True)
        if unknown:
            out[unknown] = self.inner.embed_passages([texts[i] for i in unknown])
        self.hits += int(hit.sum())
        self.misses += len(unknown)
        return out


def derived_vectors(base: np.ndarray, n: int, noise: float = DEFAULT_NOISE, mix: float = DEFAULT_MIX, seed: int = 0,
                    chunk: int = 100_000) -> np.ndarray:
    """n vectors derived from real ones: (1-t)·u_i + t·u_j + noise, t ~ U(0, mix), renormalised.

    Mixing two real vectors spreads the points over the region real texts occupy (rather than piling
    copies on 310 points); the noise keeps every vector distinct."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        i, j = rng.integers(0, len(base), m), rng.integers(0, len(base), m)
        t = rng.uniform(0.0, mix, (m, 1)).astype(np.float32)
        v = (1 - t) * base[i] + t * base[j] + rng.normal(0.0, noise, (m, base.shape[1])).astype(np.float32)
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def unit_count(corpus: Corpus) -> int:
    return len(units_of(corpus.articles))


if __name__ == "__main__":
    n, where = int(sys.argv[1]), Path(sys.argv[2])
    path = generate_corpus(n, where)
    c = load_corpus(path)
    print(f"{path}: {len(c.documents)} documents, {len(c.articles)} provisions, {unit_count(c)} units")
