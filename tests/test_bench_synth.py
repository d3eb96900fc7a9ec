"""The scale benchmark's synthetic corpus generator and caching embedder (fast; no model, no timing)."""
import numpy as np
import pytest

from bench.scale import recall_at
from bench.synth import CachingEmbedder, add_document, derived_vectors, generate_corpus
from retrieval.documents.corpus import load_corpus
from retrieval.search.index import embed_text, units_of

from conftest import ROOT

pytestmark = pytest.mark.unit


class FakeEmbedder:
    name = "fake"
    dim = 4

    def __init__(self):
        self.seen = []

    def embed_queries(self, texts):
        return np.ones((len(texts), 4), np.float32) / 2

    def embed_passages(self, texts):
        self.seen += list(texts)
        return np.tile(np.array([1, 0, 0, 0], np.float32), (len(texts), 1))


def _texts(corpus):
    return [embed_text(u, corpus.article(u.article_id)) for u in units_of(corpus.articles)]


def test_generated_corpus_parses_to_the_asked_size_with_only_real_unit_texts(tmp_path):
    real = load_corpus(ROOT / "corpus")
    corpus = load_corpus(generate_corpus(75, tmp_path / "syn", source=real, seed=3))
    assert len(corpus.articles) == 75
    assert len({d.doc_id for d in corpus.documents}) == len(corpus.documents) >= 3
    assert all(d.doc_id.startswith("syn-") for d in corpus.documents)
    known = set(_texts(real))
    assert set(_texts(corpus)) <= known  # every vector can come from the real index
    def from_real(a):  # a real article's title, a subset (in order) of its sentences, its departments
        for source in real.articles:
            if source.title == a.title and source.departments == a.departments \
                    and set(a.sentences) <= set(source.sentences):
                positions = [source.sentences.index(s) for s in a.sentences]
                if positions == sorted(positions):
                    return True
        return False
    assert all(from_real(a) for a in corpus.articles)


def test_generation_is_deterministic(tmp_path):
    one = load_corpus(generate_corpus(40, tmp_path / "a", seed=7))
    two = load_corpus(generate_corpus(40, tmp_path / "b", seed=7))
    assert one.fingerprint == two.fingerprint


def test_add_document_keeps_the_others_unchanged(tmp_path):
    path = generate_corpus(50, tmp_path / "syn", seed=1)
    before = load_corpus(path)
    doc_id = add_document(path, n_provisions=12)
    after = load_corpus(path)
    assert doc_id not in before.doc_fingerprints and len(after.documents) == len(before.documents) + 1
    assert {d: after.doc_fingerprints[d] for d in before.doc_fingerprints} == before.doc_fingerprints
    assert sum(1 for a in after.articles if a.doc_id == doc_id) == 12


def test_caching_embedder_returns_stored_vectors_with_noise_and_embeds_only_unknown_texts():
    stored = np.array([0, 1, 0, 0], np.float32)
    fake = FakeEmbedder()
    emb = CachingEmbedder(fake, {"已知": stored}, noise=0.01, seed=0, mix=0.0)
    out = emb.embed_passages(["已知", "未知", "已知"])
    assert fake.seen == ["未知"] and (emb.hits, emb.misses) == (2, 1)
    assert np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    assert out[0] @ stored > 0.99 and out[2] @ stored > 0.99 and not np.array_equal(out[0], out[2])
    assert np.array_equal(out[1], [1, 0, 0, 0])
    assert emb.name == "bench-cache:fake" and emb.dim == 4
    assert np.array_equal(emb.embed_queries(["问"]), fake.embed_queries(["问"]))


def test_caching_embedder_spreads_repeated_texts_between_real_vectors():
    a, b = np.array([1, 0, 0, 0], np.float32), np.array([0, 1, 0, 0], np.float32)
    emb = CachingEmbedder(FakeEmbedder(), {"甲": a, "乙": b}, noise=0.0, seed=1, mix=0.5)
    out = emb.embed_passages(["甲"] * 200)
    assert np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    assert (out @ a).min() >= np.cos(np.arctan(1.0)) - 1e-5  # at most halfway to the other text
    assert len({round(float(x), 6) for x in out @ a}) > 50  # spread, not copies


def test_derived_vectors_are_unit_length_near_the_real_ones_and_reproducible():
    rng = np.random.default_rng(0)
    base = (1.0 + 0.3 * rng.normal(size=(20, 16))).astype(np.float32)  # correlated, as e5's vectors are
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    v = derived_vectors(base, 1000, noise=0.005, seed=4, chunk=300)
    assert v.shape == (1000, 16) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert (v @ base.T).max(axis=1).min() > 0.95  # each lies near a real vector
    assert np.array_equal(v, derived_vectors(base, 1000, noise=0.005, seed=4, chunk=300))


def test_recall_counts_shared_ids_in_the_top_k():
    truth = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[2, 1, 9, 4], [5, 6, 7, 8]])
    assert recall_at(found, truth, 2) == 1.0
    assert recall_at(found, truth, 4) == (3 / 4 + 1) / 2
