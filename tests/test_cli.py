"""`python app.py ask` and `index` as a script would use them: real process, real index."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, write_corpus

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run(*args, stdin: bytes | None = None, env: dict | None = None, timeout: int = 300):
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], input=stdin, capture_output=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


def test_ask_json_single(assistant):  # the fixture makes sure the index exists
    out = run("ask", "--json", "退伍兵找工作有啥政策")
    assert out.returncode == 0, out.stderr.decode()
    obj = json.loads(out.stdout)
    assert set(obj) >= {"question", "answer", "refused", "citations"}
    assert obj["citations"][0]["id"] in ("nmg-2017-132:4.6", "byn-2018-49:4.17")
    assert set(obj["citations"][0]) >= {"id", "document", "article", "title", "quote", "lead_department"}


def test_ask_text_shows_article_quote_and_lead_department(assistant):
    out = run("ask", "细则第九条讲什么")
    text = out.stdout.decode()
    assert out.returncode == 0
    assert "“继续实施“创业内蒙古”行动计划" in text  # the article, quoted
    assert "（《巴彦淖尔市实施细则》第（九）条）" in text and "牵头部门：市财政局" in text


def test_batch_answers_every_line_and_keeps_going(assistant):
    lines = ["退伍兵找工作有啥政策", "", "问" * 100_000, "\udcff".encode("utf-8", "surrogatepass").decode("utf-8", "ignore"),
             "创业担保贷款最多能贷多少钱？"]
    payload = "\n".join(lines).encode("utf-8") + b"\n\xff\xfe\xfd\xfc\x00\x01\n" + "护照怎么办\n".encode()
    out = run("ask", "--json", stdin=payload)
    assert out.returncode == 0, out.stderr.decode()
    rows = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert len(rows) == 7
    assert rows[0]["citations"] and "error" not in rows[0]
    assert "error" in rows[1] and "error" in rows[2] and "error" in rows[3] and "error" in rows[5]
    assert rows[4]["refused"] is True
    assert rows[6]["refused"] is True
    assert "Traceback" not in out.stderr.decode()


def test_empty_question_exits_2_with_message():
    out = run("ask", "--json", "   ")
    assert out.returncode == 2
    assert "error" in json.loads(out.stdout)


def test_broken_corpus_exits_3_with_message(tmp_path):
    root = write_corpus(tmp_path / "corpus", {"doc-a": "一、总则"})
    (root / "documents.json").write_text('{"documents": [{"doc_id": "doc-a"}]}', encoding="utf-8")
    out = run("ask", "问题", env={"POLICY_CORPUS_DIR": str(root), "POLICY_INDEX_DIR": str(tmp_path / "index")})
    assert out.returncode == 3
    err = out.stderr.decode()
    assert "documents.json" in err and "'file'" in err and "Traceback" not in err


def test_index_command_builds_a_fresh_index(tmp_path):
    root = write_corpus(tmp_path / "corpus", {"doc-a": "一、创业\n（一）贷款。发放创业担保贷款。（市财政局负责）"})
    env = {"POLICY_CORPUS_DIR": str(root), "POLICY_INDEX_DIR": str(tmp_path / "index")}
    out = run("index", env=env)
    assert out.returncode == 0, out.stderr.decode()
    assert "1 articles" in out.stdout.decode()
    answer = json.loads(run("ask", "--json", "创业担保贷款", env=env).stdout)
    assert answer["citations"][0]["id"] == "doc-a:1.1"


def test_a_damaged_lexical_index_neither_stops_ask_nor_index(tmp_path):
    """A flipped byte in index/lexical/bm25-*.npz used to stop both commands with zipfile.BadZipFile."""
    root = write_corpus(tmp_path / "corpus", {"doc-a": "一、创业\n（一）贷款。发放创业担保贷款。（市财政局负责）"})
    env = {"POLICY_CORPUS_DIR": str(root), "POLICY_INDEX_DIR": str(tmp_path / "index")}
    assert run("index", env=env).returncode == 0
    (cache,) = (tmp_path / "index" / "lexical").glob("bm25-*.npz")
    data = bytearray(cache.read_bytes())
    data[len(data) // 2] ^= 0x01
    cache.write_bytes(bytes(data))
    out = run("ask", "--json", "创业担保贷款", env=env)
    assert out.returncode == 0 and json.loads(out.stdout)["citations"], out.stderr.decode()
    assert "unreadable lexical cache" in out.stderr.decode() and "Traceback" not in out.stderr.decode()
    cache.write_bytes(cache.read_bytes()[:100])           # cut short: `index` rebuilds without reading it
    out = run("index", env=env)
    assert out.returncode == 0 and "Traceback" not in out.stderr.decode(), out.stderr.decode()
    assert "unreadable" not in out.stderr.decode()
    assert "unreadable" not in run("ask", "--json", "创业担保贷款", env=env).stderr.decode()
