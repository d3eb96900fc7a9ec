"""The real server started on a damaged index and with a database it cannot use: it rebuilds the
index, starts, answers; the database costs warnings in the log, never an answer. (One start, which
includes a full index build: about a minute on 2 cores.)"""
import shutil
import time

import pytest

from web_helpers import http_json, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory, built_index):
    tmp = tmp_path_factory.mktemp("web-faults")
    index = tmp / "index"
    shutil.copytree(built_index, index, symlinks=True)
    vectors = (index / "current").resolve() / "vectors.faiss"
    data = vectors.read_bytes()
    vectors.write_bytes(data[: len(data) // 2])          # truncated, as by a full disk or a killed copy
    lexical = sorted((index / "lexical").glob("bm25-*.npz"))
    for cache in lexical:                                # one flipped byte: used to stop the start (BadZipFile)
        raw = bytearray(cache.read_bytes())
        raw[len(raw) // 2] ^= 0x01
        cache.write_bytes(bytes(raw))
    blocker = tmp / "not-a-folder"
    blocker.write_text("a file where the database folder should be")
    env = {"POLICY_INDEX_DIR": str(index), "POLICY_DB": str(blocker / "db" / "policy.sqlite3"),
           "POLICY_FEEDBACK_DB": str(blocker / "db" / "policy.sqlite3")}
    with running_server(tmp, extra_env=env, start_timeout=300) as srv:
        srv.index_dir = index
        srv.lexical_damaged = bool(lexical)
        yield srv


def test_damaged_index_is_rebuilt_and_the_server_answers(server):
    status, body = http_json("POST", server.url + "/api/ask", {"question": "创业担保贷款有什么规定？"})
    assert status == 200 and "nmg-2017-132:3.4" in [c["id"] for c in body["citations"]]
    assert "rebuilding" in server.log()
    if server.lexical_damaged:
        assert "unreadable lexical cache" in server.log()
    rebuilt = (server.index_dir / "current").resolve() / "vectors.faiss"
    assert rebuilt.stat().st_size > 0 and rebuilt.read_bytes() != b""


def test_unusable_database_costs_a_warning_not_an_answer(server):
    for _ in range(3):
        status, body = http_json("POST", server.url + "/api/ask", {"question": "怎么申请公租房？"})
        assert status == 200 and body["refused"]
    status, body = http_json("POST", server.url + "/api/feedback", {"rating": "down", "question": "q", "answer": "a"})
    assert status == 200 and body == {"stored": False, "id": None}
    status, health = http_json("GET", server.url + "/healthz")         # says so, instead of "ok"
    assert status == 200 and health["status"] == "degraded" and "数据库" in health["storage"]
    time.sleep(0.5)
    log = server.log()
    assert "cannot be used" in log and "answers go on" in log
    assert "Traceback" not in log
