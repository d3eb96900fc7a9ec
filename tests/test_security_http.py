"""The public surface of the real server (`python app.py -v`, one subprocess for the module): input
limits with clear messages, control characters and invalid Unicode, request size (413 before the
body is read), Gradio routes that must stay closed, personal numbers never echoed, logged or
stored, and a fuzzer (hypothesis) on the JSON API: any body gets 200/400/413/422/503, never 500."""
import json
import re
import socket
import sqlite3
import subprocess
import sys
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from web_helpers import ROOT, free_port, http_json, page_answer, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ID_CARD = "11010519491231002X"            # valid GB 11643 check character
ID_CARD_SPACED = "110105 19491231 002X"
PHONE, PHONE_INTL = "13812345678", "+86 139-1234-5678"
CARD = "6222021234567894"                 # Luhn-valid
NOT_AN_ID = "370102198507203311"          # 18 digits, wrong check character: a number, not an ID card
SECRETS = [ID_CARD, "110105", "19491231", PHONE, "1391234", "1234-5678", CARD, "13812345678"]
ALLOWED = {200, 400, 413, 422, 503}
MAX_BODY = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # -v: INFO logging and uvicorn's access log, so that the log can be checked for personal numbers
    with running_server(tmp_path_factory.mktemp("security-http"), args=["-v"]) as srv:
        yield srv


def post_raw(server, path: str, body: bytes, headers: dict | None = None, timeout: float = 30.0):
    req = urllib.request.Request(server.url + path, data=body, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def post_json(server, path: str, value, timeout: float = 30.0):
    """Any JSON value, ASCII-escaped (so lone surrogates travel as \\ud800 escapes, as a browser could send)."""
    status, raw, _ = post_raw(server, path, json.dumps(value, ensure_ascii=True).encode("ascii"), timeout=timeout)
    return status, raw


def ask(server, body, timeout=60):
    return http_json("POST", server.url + "/api/ask", body, timeout=timeout)


def no_control(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") for ch in text)


# ---------------------------------------------------------------- limits, with a message

def test_question_length_limit(server):
    status, body = ask(server, {"question": "创业担保贷款" + "问" * 994})       # 1000 characters
    assert status == 200 and len(body["question"]) == 1000
    status, body = ask(server, {"question": "创业担保贷款" + "问" * 995})       # 1001
    assert status == 400 and "太长" in body["error"] and "1000" in body["error"]


def test_history_limits(server):
    turn = [{"role": "user", "content": "创业担保贷款有什么规定？"}, {"role": "assistant", "content": "见条款[1]。"}]
    status, body = ask(server, {"question": "巴彦淖尔市呢？", "history": turn * 25})   # 50 messages
    assert status == 200
    status, body = ask(server, {"question": "巴彦淖尔市呢？", "history": turn * 25 + turn[:1]})
    assert status == 400 and "对话历史太长" in body["error"] and "50" in body["error"]
    long_turn = [{"role": "user", "content": "创业担保贷款" * 800}]                     # 4800 characters: cut, used
    status, body = ask(server, {"question": "巴彦淖尔市呢？", "history": long_turn})
    assert status == 200


def test_other_fields_are_checked(server):
    status, body = ask(server, {"question": "创业补贴", "doc_ids": ["x"] * 21})
    assert status == 400 and "doc_ids" in body["error"]
    status, body = ask(server, {"question": "创业补贴", "doc_ids": {"a": 1}})
    assert status == 400 and "doc_ids" in body["error"]
    status, body = http_json("POST", server.url + "/api/feedback", {"rating": ["up"], "question": "q"})
    assert status == 400 and "评价" in body["error"]


# ---------------------------------------------------------------- what a person may type

def test_control_and_format_characters_are_removed(server):
    question = "创业\x00担保\x07贷款\u202e有什么\u200b规定\ufeff？\x1b[31m"
    status, body = ask(server, {"question": question})
    assert status == 200 and body["citations"]
    assert no_control(body["question"]) and no_control(body["query"])
    assert body["question"].startswith("创业担保贷款有什么规定？")


def test_invalid_utf8_and_lone_surrogates(server):
    status, raw, _ = post_raw(server, "/api/ask", b'{"question": "\xff\xfe\xe5\x88"}')
    assert status == 400 and "UTF-8" in json.loads(raw)["error"]
    for value in ({"question": "创业\ud800补贴"}, {"question": "创业补贴", "doc_ids": ["\udfff"]},
                  {"question": "创业补贴", "history": [{"role": "user", "content": "\ud83d"}]},
                  {"rating": "down", "question": "\udc80", "comment": "\ud800"}):
        for path in ("/api/ask", "/api/feedback"):
            status, raw = post_json(server, path, value)
            assert status in (200, 400), (path, value, status, raw[:300])
            json.loads(raw.decode("utf-8"))  # strict UTF-8, valid JSON


def test_hostile_json(server):
    cases = [b"[" * 5000 + b"]" * 5000, b'{"question": ' + b"9" * 6000 + b"}", b'{"question": NaN}',
             b'{"question": "a", "question": "b"}', b'{"question": 1e999}', b"null", b'"just a string"', b"", b"{",
             b"\x00\x01"]
    for body in cases:
        status, raw, _ = post_raw(server, "/api/ask", body)
        assert status == 400, (body[:40], status, raw[:200])
        assert "error" in json.loads(raw)


def test_injection_text_is_only_text(server):
    for question in ["'); DROP TABLE queries; -- 创业补贴", "$(rm -rf /) `id` 创业补贴", "../../../../etc/passwd 创业补贴",
                     "{{7*7}} ${7*7} %s%n 创业补贴", "<script>alert(1)</script>创业补贴"]:
        status, body = ask(server, {"question": question})
        assert status == 200, question
        assert body["question"] == question
    status, body = ask(server, {"question": "创业补贴", "doc_ids": ["../../etc/passwd"]})
    assert status == 400 and "没有这份文件" in body["error"]
    assert http_json("GET", server.url + "/healthz")[0] == 200


# ---------------------------------------------------------------- request size: 413 before parsing

def raw_request(server, head: str, body: bytes = b"", read_timeout: float = 5.0) -> tuple[int, float]:
    """Send the head (and whatever body is given) and return (status, seconds until the status line)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=read_timeout) as s:
        started = time.monotonic()
        s.sendall(head.encode("latin-1") + body)
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ", 2)[1]), time.monotonic() - started


@pytest.mark.parametrize("path", ["/api/ask", "/api/feedback", "/gradio_api/queue/join", "/gradio_api/call/ask",
                                  "/gradio_api/run/predict", "/"])
def test_413_from_content_length_without_reading_the_body(server, path):
    # the server answers at once: it does not wait for the 10 MB it was promised
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10 * 1024 * 1024}\r\n\r\n")
    status, seconds = raw_request(server, head, b'{"question": "')
    assert status == 413 and seconds < 2


def test_413_for_a_chunked_body_past_the_limit(server):
    chunk = b"a" * 8192
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(9)) + b"0\r\n\r\n"
    for path in ("/api/ask", "/gradio_api/queue/join"):
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        status, _ = raw_request(server, head, body)
        assert status == 413


def test_a_chunked_body_within_the_limit_is_read(server):
    payload = json.dumps({"question": "创业担保贷款有什么规定？"}).encode()
    body = b"%x\r\n" % len(payload) + payload + b"\r\n0\r\n\r\n"
    head = "POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, _ = raw_request(server, head, body, read_timeout=30)
    assert status == 200


def test_limit_is_exact_and_the_message_says_what_to_do(server):
    def body_of(size: int) -> bytes:
        base = json.dumps({"question": "创业担保贷款有什么规定？", "comment": ""}).encode()
        return base[:-2] + b"x" * (size - len(base)) + base[-2:]
    status, raw, _ = post_raw(server, "/api/ask", body_of(MAX_BODY))
    assert status == 200
    status, raw, headers = post_raw(server, "/api/ask", body_of(MAX_BODY + 1))
    assert status == 413
    message = json.loads(raw)["error"]
    assert "请求太大" in message and "64 KB" in message and "1000字" in message


# ---------------------------------------------------------------- Gradio routes

def test_queued_functions_cannot_be_called_directly(server):
    """queue(api_open=False): /gradio_api/run/<name> and /gradio_api/api/<name> would skip the queue
    and its concurrency limit; they refuse every queued function. And no page event can be called
    by name (/gradio_api/call/<name>): the pages are not an API."""
    for name in ("respond", "submit", "pick_example", "on_like", "ask", "search", "feedback"):
        for route in ("run", "api", "call"):
            status, body = http_json("POST", f"{server.url}/gradio_api/{route}/{name}", {"data": ["创业", None, None]})
            assert status == 404, (route, name, status, body)


def test_the_queue_still_answers(server):
    assert "pa-cite" in page_answer(server, "创业担保贷款有什么规定？")


@pytest.mark.parametrize("method, path", [
    ("POST", "/gradio_api/upload"), ("POST", "/gradio_api/process_recording"), ("GET", "/gradio_api/upload_progress"),
    ("GET", "/gradio_api/file=/etc/passwd"), ("GET", "/gradio_api/file=app.py"), ("GET", "/file=app.py"),
    ("GET", "/gradio_api/file/app.py"), ("GET", "/gradio_api/proxy=http://127.0.0.1:1/"),
    ("GET", "/gradio_api/deep_link?session_hash=x"), ("POST", "/gradio_api/component_server"),
    ("GET", "/gradio_api/mcp/sse"), ("GET", "/monitoring"), ("POST", "/gradio_api/stream/x"),
    ("GET", "/gradio_api/runs"), ("POST", "/gradio_api/vibe-edit"), ("POST", "/login"),
    ("POST", "//gradio_api//upload"), ("GET", "/gradio_api/file=%2Fetc%2Fpasswd"),
])
def test_closed_gradio_routes(server, method, path):
    status, _ = http_json(method, server.url + path, {} if method == "POST" else None)
    assert status == 404


def test_websockets_are_refused(server):
    head = ("GET /gradio_api/queue/data HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    status, _ = raw_request(server, head)
    assert status in (403, 404, 400)


def test_security_headers(server):
    for path in ("/", "/healthz"):
        with urllib.request.urlopen(server.url + path, timeout=10) as resp:
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
            assert resp.headers["Referrer-Policy"] == "same-origin"
            assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
            assert "uvicorn" not in (resp.headers.get("Server") or "")
    _, _, headers = post_raw(server, "/api/ask", '{"question": "创业"}'.encode())
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_textbox_max_length_is_enforced_on_the_server(server):
    """A Textbox's max_length is only checked in the browser: the handlers check every limit."""
    bubble = page_answer(server, "创业" * 2000)
    assert "pa-error" in bubble and "太长" in bubble
    query = urllib.parse.quote("创业担保贷款" * 100)
    status, found = http_json("GET", f"{server.url}/api/search?q={query}&limit=30")
    assert status == 200 and len(found["query"]) == 100 and len(found["results"]) <= 30
    status, body = http_json("GET", f"{server.url}/api/search?q={query}&limit=10000")
    assert status == 400 and "limit" in body["error"]


@pytest.mark.parametrize("name, value", [("POLICY_QUERY_LOG", "maybe"), ("POLICY_RETENTION_DAYS", "0"),
                                         ("POLICY_MAX_BODY_BYTES", "10"), ("POLICY_WEB_CONCURRENCY", "four"),
                                         ("POLICY_LLM_WAIT", "-1"), ("POLICY_OPENAPI", "maybe"),
                                         ("POLICY_HEADER_TIMEOUT", "0"), ("POLICY_BODY_TIMEOUT", "soon")])
def test_bad_configuration_stops_before_loading(tmp_path, name, value):
    import os
    run = subprocess.run([sys.executable, "app.py", "--port", str(free_port())], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, name: value, "POLICY_DB": str(tmp_path / "db.sqlite3")})
    assert run.returncode == 3 and name in run.stderr, run.stderr[-2000:]
    assert not (tmp_path / "db.sqlite3").exists()


def test_share_links_are_refused():
    run = subprocess.run([sys.executable, "app.py", "--share", "--port", str(free_port())], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 2 and "share links are disabled" in run.stderr


# ---------------------------------------------------------------- personal numbers

def test_personal_numbers_are_never_echoed_stored_or_logged(server):
    question = (f"我叫张三，身份证{ID_CARD}，另一个写法{ID_CARD_SPACED}，手机{PHONE}，"
                f"电话{PHONE_INTL}，银行卡{CARD}，编号{NOT_AN_ID}，创业担保贷款怎么申请？")
    history = [{"role": "user", "content": f"我的手机是{PHONE}，身份证{ID_CARD}"},
               {"role": "assistant", "content": "请问您想咨询什么？"}]
    status, body = ask(server, {"question": question, "history": history})
    assert status == 200 and body["citations"]
    text = json.dumps(body, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text, secret
    assert {"[身份证号]", "[手机号]", "[银行卡号]"} <= set(re.findall(r"\[[^\]]+号\]", body["question"]))
    assert NOT_AN_ID in body["question"]        # a digit run is redacted only when it passes the checks

    # the same on the page, and as feedback with numbers in every field
    bubble = page_answer(server, question)
    assert "pa-cite" in bubble and not any(s in bubble for s in SECRETS)
    status, stored = http_json("POST", server.url + "/api/feedback", {
        "rating": "down", "question": question, "answer": f"回答{PHONE}", "citation_ids": [ID_CARD],
        "comment": f"请回电{PHONE_INTL}，卡{CARD}"})
    assert status == 200 and stored["stored"] is True
    status, stored = http_json("POST", server.url + "/api/feedback", {"rating": "up", "answer": {**body, "question": question}})
    assert status == 200 and stored["stored"] is True
    # a query string is logged by the access log: redacted there too
    urllib.request.urlopen(f"{server.url}/healthz?phone={PHONE}&id={ID_CARD}", timeout=10).read()

    rows = wait_for_rows(server, "queries", 2)
    conn = sqlite3.connect(server.feedback_db)
    dump = repr(conn.execute("SELECT * FROM queries").fetchall()) + repr(conn.execute("SELECT * FROM feedback").fetchall())
    for secret in SECRETS:
        assert secret not in dump, secret
    assert any("[身份证号]" in r[0] and "[银行卡号]" in r[0] for r in rows)
    time.sleep(0.5)
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "/healthz?phone=" in log, "the access log is on (-v)"
    for secret in SECRETS:
        assert secret not in log, secret


def test_personal_data_in_other_forms_is_never_echoed_stored_or_logged(server):
    """The forms of issue 13's probe that escaped redaction: split, dotted, Chinese digits, wrong check
    digit after a cue, grouped cards, names without punctuation, addresses after 我住."""
    forms = {"110105.19491231.002X": "19491231", "110105194912310021": "110105194912310021",
             "138.1234.5678": "1234.5678", "一三八一二三四五六七八": "一二三四五六七八",
             "139\u200b1234\u200b5678": "1234\u200b5678", "6217 0000 1234 5678 901": "1234 5678", "张伟": "张伟",
             "幸福小区12栋2单元301": "幸福小区"}
    question = ("我叫张伟要申请创业担保贷款，身份证110105.19491231.002X，身份证号110105194912310021，"
                "手机138.1234.5678，电话一三八一二三四五六七八，微信139\u200b1234\u200b5678，"
                "银行卡6217 0000 1234 5678 901，我住幸福小区12栋2单元301")
    status, body = ask(server, {"question": question})
    assert status == 200
    status, stored = http_json("POST", server.url + "/api/feedback", {"rating": "down", "question": question,
                                                                       "comment": question, "answer": "a"})
    assert status == 200 and stored["stored"] is True
    wait_for_rows(server, "feedback", 1)
    time.sleep(0.5)
    conn = sqlite3.connect(server.feedback_db)
    stored_text = repr(conn.execute("SELECT * FROM queries").fetchall()) + repr(conn.execute("SELECT * FROM feedback").fetchall())
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    for where, text in (("answer", json.dumps(body, ensure_ascii=False)), ("database", stored_text), ("log", log)):
        for form, secret in forms.items():
            assert secret not in text.replace("\\u200b", "\u200b"), (where, form)


def wait_for_rows(server, table: str, n: int, timeout: float = 10.0) -> list:
    """The query log is written behind the answer: wait for it."""
    deadline = time.monotonic() + timeout
    rows: list = []
    while True:
        try:
            rows = sqlite3.connect(server.feedback_db).execute(f"SELECT question FROM {table}").fetchall()
        except sqlite3.OperationalError:
            rows = []
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_query_log_rows(server):
    before = len(wait_for_rows(server, "queries", 0, timeout=0))
    ask(server, {"question": "怎么申请公租房？"})
    ask(server, {"question": "创业担保贷款有什么规定？", "doc_ids": ["byn-2018-49"]})
    ask(server, {"question": ""})                                   # 400: not an answer, not logged
    wait_for_rows(server, "queries", before + 2)
    conn = sqlite3.connect(server.feedback_db)
    conn.row_factory = sqlite3.Row
    last = [dict(r) for r in conn.execute("SELECT * FROM queries ORDER BY id DESC LIMIT 2")]
    assert last[1]["question"] == "怎么申请公租房？" and last[1]["refused"] == 1
    assert last[1]["refusal_reason"] == "out_of_scope" and json.loads(last[1]["citation_ids"]) == []
    assert last[0]["refused"] == 0 and all(c.startswith("byn-2018-49:") for c in json.loads(last[0]["citation_ids"]))
    assert last[0]["generator"] == "extractive" and last[0]["source"] == "api" and last[0]["latency_ms"] >= 0
    assert conn.execute("SELECT COUNT(*) FROM queries").fetchone()[0] == before + 2


# ---------------------------------------------------------------- fuzzing the JSON API

text = st.text(alphabet=st.characters(codec=None, categories=None), max_size=60)  # surrogates and controls too
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True), text)
values: st.SearchStrategy = st.deferred(lambda: st.one_of(scalars, st.lists(values, max_size=4), st.dictionaries(text, values, max_size=4)))
turns = st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", ""]),
                                        "content": st.one_of(text, st.integers(), st.none())}), max_size=55)
fields = {"question": st.one_of(text, st.text(min_size=990, max_size=1010), values),
          "history": st.one_of(turns, values), "doc_ids": st.one_of(st.lists(text, max_size=3), values,
                                                                     st.just(["nmg-2017-132"])),
          "rating": st.one_of(st.sampled_from(["up", "down", "👎", 1, -1, True]), values),
          "answer": st.one_of(text, values, st.fixed_dictionaries({"question": text, "citations": values})),
          "citation_ids": values, "comment": values, "refused": values}
bodies = st.one_of(values, st.fixed_dictionaries({}, optional=fields),
                   st.dictionaries(st.sampled_from(sorted(fields)), values, max_size=6))


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies, path=st.sampled_from(["/api/ask", "/api/feedback"]))
def test_any_json_body_gets_an_answer_or_a_reason(server, body, path):
    status, raw = post_json(server, path, body)
    assert status in ALLOWED, (status, raw[:500])
    data = json.loads(raw.decode("utf-8"))
    assert isinstance(data, dict) and ("error" in data or "answer" in data or "stored" in data)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.binary(max_size=300))
def test_any_bytes_get_an_answer_or_a_reason(server, body):
    status, raw, _ = post_raw(server, "/api/ask", body)
    assert status in ALLOWED, (status, raw[:300])


def test_server_log_has_no_tracebacks(server):
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log and " 500" not in log, log[-3000:]
