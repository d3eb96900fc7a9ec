"""The real server (`python app.py --port N`) over HTTP: the JSON API, and the page's events through Gradio's queue."""
import json
import re
import sqlite3
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from web_helpers import http_json, page_answer, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CITATION_ID = re.compile(r"^(nmg-2017-132|byn-2018-49):\d+(\.\d+)+$")
ID_CARD, PHONE = "11010519491231002X", "13812345678"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("web-server")) as srv:
        yield srv


def ask(server, body, timeout=60):
    return http_json("POST", server.url + "/api/ask", body, timeout=timeout)


def test_healthz(server):
    status, body = http_json("GET", server.url + "/healthz")
    assert status == 200
    assert body == {"status": "ok", "documents": 2, "articles": 53}


def test_ask_returns_cited_answer(server):
    status, body = ask(server, {"question": "创业担保贷款有什么规定？"})
    assert status == 200
    assert set(body) >= {"question", "answer", "refused", "citations", "related", "refusal_reason",
                         "generator", "query"}
    assert body["refused"] is False and body["citations"]
    assert all(CITATION_ID.match(c["id"]) for c in body["citations"])
    assert "nmg-2017-132:3.4" in [c["id"] for c in body["citations"]]
    for n in range(1, len(body["citations"]) + 1):
        assert f"[{n}]" in body["answer"]
    c = body["citations"][0]
    assert set(c) == {"id", "document", "article", "title", "quote", "lead_department", "departments"}


def test_same_json_as_the_cli(server):
    import subprocess
    import sys

    from web_helpers import ROOT
    question = "退役军人就业创业有什么政策？"
    cli = subprocess.run([sys.executable, "app.py", "ask", "--json", question], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    status, body = ask(server, {"question": question})
    assert status == 200 and body == json.loads(cli.stdout)


@pytest.mark.parametrize("body, fragment", [
    ({"question": ""}, "空"),
    ({"question": "   "}, "空"),
    ({}, "文字"),
    ({"question": 42}, "文字"),
    ({"question": "问" * 1001}, "太长"),
    ({"question": "创业补贴", "doc_ids": ["no-such-doc"]}, "没有这份文件"),
    ({"question": "创业补贴", "history": "not a list"}, "对话历史"),
    ({"question": "创业补贴", "history": [{"role": "robot", "content": "x"}]}, "对话历史"),
])
def test_unusable_questions_are_400_with_a_message(server, body, fragment):
    status, data = ask(server, body)
    assert status == 400
    assert set(data) == {"error"} and fragment in data["error"]


def test_malformed_requests(server):
    req = urllib.request.Request(server.url + "/api/ask", data=b"{not json", method="POST",
                                 headers={"Content-Type": "application/json"})  # other types: 415
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("expected 400")
    except urllib.error.HTTPError as e:
        assert e.code == 400 and "JSON" in e.read().decode("utf-8")
    status, data = http_json("POST", server.url + "/api/ask", ["a list"])
    assert status == 400 and "error" in data


def test_follow_up_uses_history(server):
    first = "创业担保贷款有什么规定？"
    _, a1 = ask(server, {"question": first})
    status, a2 = ask(server, {"question": "巴彦淖尔市呢？", "history": [
        {"role": "user", "content": first}, {"role": "assistant", "content": a1["answer"]}]})
    assert status == 200 and not a2["refused"]
    assert first in a2["query"]  # the elliptical follow-up was read with the previous question
    assert "byn-2018-49:3.10" in [c["id"] for c in a2["citations"]]
    _, alone = ask(server, {"question": "巴彦淖尔市呢？"})
    assert first not in alone["query"]


def test_doc_filter(server):
    status, body = ask(server, {"question": "创业担保贷款有什么规定？", "doc_ids": ["byn-2018-49"]})
    assert status == 200
    assert body["citations"] and all(c["id"].startswith("byn-2018-49:") for c in body["citations"])


def test_declines_with_hotline(server):
    status, body = ask(server, {"question": "怎么申请公租房？"})
    assert status == 200 and body["refused"] is True and "12333" in body["answer"]


def test_twenty_simultaneous_users(server):
    questions = ["创业担保贷款有什么规定？", "退役军人就业创业有什么政策？", "高校毕业生创业有哪些扶持政策？",
                 "农牧民外出打工有什么支持？", "灵活就业人员的社保怎么办？"] * 4
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda q: ask(server, {"question": q}, timeout=120), questions))
    assert [s for s, _ in results] == [200] * 20
    assert all(b["answer"] and (b["citations"] or b["refused"]) for _, b in results)


def test_twenty_simultaneous_visitors_of_the_page(server):
    with ThreadPoolExecutor(max_workers=20) as pool:
        bubbles = list(pool.map(lambda i: page_answer(server, f"创业补贴有哪些？{i}", timeout=120), range(20)))
    assert len(bubbles) == 20 and all("pa-cite" in b or "pa-refused" in b for b in bubbles)


def get(server, path):
    return http_json("GET", server.url + path)


def test_the_json_api(server):
    status, answer = ask(server, {"question": "退役军人就业创业有什么政策？"})
    assert status == 200 and answer["citations"] and all(CITATION_ID.match(c["id"]) for c in answer["citations"])
    status, text = http_json("POST", server.url + "/api/ask/text", {"question": "退役军人就业创业有什么政策？"})
    assert status == 200 and set(text) == {"text"}
    assert text["text"].startswith("问：退役军人") and "依据：" in text["text"] and "nmg-2017-132:4.6" in text["text"]
    status, found = get(server, "/api/search?q=%E5%88%9B%E4%B8%9A%E6%8B%85%E4%BF%9D%E8%B4%B7%E6%AC%BE&limit=5")
    assert status == 200
    assert {"nmg-2017-132:3.4", "byn-2018-49:3.10"} <= {r["id"] for r in found["results"][:found["exact_count"]]}
    assert "创业担保贷款" in found["terms"] and found["phrases"] == ["创业担保贷款"]
    flags = [r["matched"] for r in found["results"]]
    assert flags == sorted(flags, reverse=True) and sum(flags) == found["exact_count"]  # exact matches first
    _, only_city = get(server, "/api/search?q=%E5%88%9B%E4%B8%9A%E6%8B%85%E4%BF%9D%E8%B4%B7%E6%AC%BE"
                               "&doc_id=byn-2018-49&limit=5")
    assert only_city["results"] and all(r["doc_id"] == "byn-2018-49" for r in only_city["results"])
    status, art = get(server, "/api/articles/nmg-2017-132:4.3")
    assert status == 200 and art["title"] == "推动农牧民转移就业" and art["lead_department"] == "自治区人力资源社会保障厅"
    assert [c["id"] for c in art["counterparts"]] == ["byn-2018-49:4.13"]
    status, missing = get(server, "/api/articles/no-such-article")
    assert status == 404 and "没有这一条" in missing["error"]
    status, docs = get(server, "/api/documents")
    assert [d["doc_id"] for d in docs] == ["nmg-2017-132", "byn-2018-49"]
    assert len(docs[1]["articles"]) == 27 and docs[1]["implements"] == "nmg-2017-132"
    status, bad = get(server, "/api/search?q=x&limit=1000")
    assert status == 400 and "limit" in bad["error"]


def test_the_pages_are_not_an_api(server):
    """Gradio serves the pages only: no named endpoint is published or callable by name."""
    status, info = get(server, "/gradio_api/info")
    assert status != 200 or not info.get("named_endpoints"), info
    for name in ("ask", "copy_answer", "search", "article", "documents", "feedback", "respond"):
        status, _ = http_json("POST", server.url + f"/gradio_api/call/{name}", {"data": ["创业", None, None]})
        assert status == 404, name


def test_page_errors_carry_the_message(server):
    bubble = page_answer(server, "？？？ !!!")
    assert "pa-error" in bubble and "没有识别出问题" in bubble


def test_rest_route_cannot_skip_the_queue(server):
    status, _ = http_json("POST", server.url + "/gradio_api/run/ask", {"data": ["创业", None, None]})
    assert status == 404
    status, _ = http_json("POST", server.url + "/gradio_api/api/ask/", {"data": ["创业", None, None]})
    assert status == 404


def test_no_files_served_from_disk(server):
    for path in ["/gradio_api/file=/etc/passwd", "/gradio_api/file=app.py", "/file=corpus/documents.json",
                 "/gradio_api/file=" + str(server.feedback_db)]:
        try:
            with urllib.request.urlopen(server.url + path, timeout=10) as resp:
                body = resp.read()
                assert resp.status != 200 or (b"root:" not in body and b"doc_id" not in body), path
        except urllib.error.HTTPError as e:
            assert e.code in (403, 404), path


def test_console_has_its_own_address(server):
    with urllib.request.urlopen(server.url + "/console", timeout=10) as resp:  # redirected to /console/
        assert resp.status == 200 and resp.url.endswith("/console/")
    # the closed Gradio routes are closed under the console's prefix too
    for method, path in [("POST", "/console/gradio_api/upload"), ("GET", "/console/gradio_api/file=app.py"),
                         ("GET", "/console/gradio_api/mcp/sse"), ("POST", "/console//gradio_api//upload")]:
        status, _ = http_json(method, server.url + path, {} if method == "POST" else None)
        assert status == 404, path



def test_uploads_are_refused(server):
    boundary = "pa-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"x.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n").encode()
    req = urllib.request.Request(server.url + "/gradio_api/upload", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code in (403, 404)


def test_feedback_is_stored_redacted(server):
    question = f"我的身份证号{ID_CARD}，手机{PHONE}，创业担保贷款怎么申请？"
    _, answer = ask(server, {"question": question})
    status, body = http_json("POST", server.url + "/api/feedback", {
        "rating": "down", "question": answer["question"], "answer": answer["answer"],
        "citation_ids": [c["id"] for c in answer["citations"]]})
    assert status == 200 and body["stored"] is True
    # the whole answer object works too, and a comment
    status, _ = http_json("POST", server.url + "/api/feedback", {"rating": "up", "answer": answer})
    assert status == 200
    status, _ = http_json("POST", server.url + "/api/feedback", {
        "rating": "down", "question": question, "answer": answer["answer"], "citation_ids": ["nmg-2017-132:3.4"],
        "comment": f"回电{PHONE}"})
    assert status == 200
    status, bad = http_json("POST", server.url + "/api/feedback", {"rating": "meh", "question": "q"})
    assert status == 400 and "error" in bad

    rows = sqlite3.connect(server.feedback_db).execute(
        "SELECT rating, question, answer, citation_ids, comment, created_at FROM feedback ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["down", "up", "down"]
    dump = repr(rows)
    assert ID_CARD not in dump and PHONE not in dump
    assert all("[身份证号]" in r[1] and "[手机号]" in r[1] for r in rows)
    assert json.loads(rows[0][3]) == [c["id"] for c in answer["citations"]]
    assert json.loads(rows[2][3]) == ["nmg-2017-132:3.4"]
    assert rows[2][4] == "回电[手机号]"
