"""Regression tests for the outside probe of issue 13, each against the real server over HTTP
(`python app.py`, one subprocess for the module, with a small connection limit and short read
time-outs so that the time-out probes finish quickly). Every probe must be refused or handled,
and /healthz must keep answering within a second throughout."""
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest

from web_helpers import ROOT, http_json, page_answer, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_BODY = 64 * 1024
HEADER_TIMEOUT, BODY_TIMEOUT, MAX_CONNECTIONS = 3, 3, 20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("security-probes")
    (tmp / "gradio-tmp").mkdir()
    env = {"POLICY_MAX_CONNECTIONS": str(MAX_CONNECTIONS), "POLICY_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
           "POLICY_BODY_TIMEOUT": str(BODY_TIMEOUT), "GRADIO_TEMP_DIR": str(tmp / "gradio-tmp")}
    with running_server(tmp, extra_env=env, args=["-v"]) as srv:
        srv.gradio_tmp = tmp / "gradio-tmp"
        yield srv


def raw(server, data: bytes, timeout: float = 10.0) -> tuple[int, bytes, float]:
    """Send raw bytes on a new connection: (status, whole reply, seconds until the status line)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        started = time.monotonic()
        s.sendall(data)
        reply, first = b"", None
        while True:
            try:
                chunk = s.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            reply += chunk
            if first is None and b"\r\n" in reply:
                first = time.monotonic() - started
            if b"\r\n\r\n" in reply and len(reply) > 200_000:
                break
    return int(reply.split(b" ", 2)[1]) if reply else 0, reply, first or 0.0


def post(server, path: str, body: bytes, content_type: str | None = "application/json", timeout: float = 30.0):
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(server.url + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


class HealthWatch:
    """Polls /healthz from another thread while hostile requests run; records the slowest answer."""

    def __init__(self, server):
        self.server, self.worst, self.failures = server, 0.0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                status, _ = http_json("GET", self.server.url + "/healthz", timeout=5)
                if status != 200:
                    self.failures.append(status)
            except OSError as e:
                self.failures.append(repr(e))
            self.worst = max(self.worst, time.monotonic() - started)
            time.sleep(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
        assert not self.failures and self.worst < 1.0, (self.worst, self.failures[:5])


# ---------------------------------------------------------------- 1. file references

def file_ref(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


@pytest.mark.parametrize("target", ["/dev/zero", "/proc/self/environ", str(ROOT / "app.py"), "/etc/passwd"])
def test_file_references_are_refused_before_gradio_reads_them(server, target):
    bodies = {
        "/gradio_api/call/article": {"data": [file_ref(target)]},
        "/gradio_api/call/ask": {"data": ["创业补贴", [{"role": "user", "content": file_ref(target)}], None]},
        "/gradio_api/call/v2/ask": {"data": ["创业补贴", None, [file_ref(target)]]},
        "/gradio_api/run/article": {"data": [file_ref(target)], "fn_index": 0},
        "/gradio_api/run/predict": {"data": [{"deep": [file_ref(target)]}], "fn_index": 0, "session_hash": "x"},
        "/gradio_api/queue/join": {"data": [file_ref(target)], "fn_index": 0, "session_hash": "probe"},
        "/api/ask": {"question": file_ref(target)},
    }
    with HealthWatch(server):
        for path, body in bodies.items():
            started = time.monotonic()
            status, reply, headers = post(server, path, json.dumps(body).encode(), timeout=10)
            assert status == 400 and "不接收文件" in json.loads(reply)["error"], (path, status, reply[:200])
            assert time.monotonic() - started < 1.0
    # other shapes Gradio treats as files: a URL to fetch, the old {"path"} form with file fields
    for ref in ({"url": "http://127.0.0.1:1/x", "meta": {"_type": "gradio.FileData"}},
                {"path": "/etc/passwd", "orig_name": "a.txt"}, {"path": "/etc/passwd", "meta": {"_type": "gradio.filedata"}}):
        status, reply, _ = post(server, "/gradio_api/call/article", json.dumps({"data": [ref]}).encode())
        assert status == 400, ref
    copied = [p for p in server.gradio_tmp.rglob("*") if p.is_file()]
    assert copied == [], copied


# ---------------------------------------------------------------- 2. framing and size

def test_content_length_with_transfer_encoding_is_refused(server):
    """The probe: Content-Length: 10 with a chunked 50 MB body reached /api/ask and was echoed back."""
    chunk = b"a" * 65536
    head = (b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    with HealthWatch(server):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            s.sendall(head)
            try:
                for _ in range(800):                         # up to 50 MB, if the server keeps reading
                    s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass                                         # refused without reading: what we want
            reply = s.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400") and b"Transfer-Encoding" in reply and len(reply) < 4096, reply[:300]


def test_chunked_bodies_are_counted_as_they_arrive(server):
    chunk = b"x" * 8192
    body = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(9)) + b"0\r\n\r\n"  # 72 KiB
    for path in ("/api/ask", "/gradio_api/call/ask", "/gradio_api/queue/join", "/gradio_api/run/predict"):
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        status, reply, _ = raw(server, head.encode() + body)
        assert status == 413 and len(reply) < 4096, (path, status, len(reply))


def test_replies_never_echo_the_body(server):
    """Gradio's 422 used to echo the whole request back."""
    filler = "x" * (MAX_BODY - 200)
    for path in ("/gradio_api/call/ask", "/gradio_api/queue/join", "/gradio_api/run/predict"):
        status, reply, _ = post(server, path, json.dumps({"wrong": filler}).encode())
        assert status in (400, 404) and len(reply) < 1024 and b"xxxxxxxx" not in reply, (path, status, reply[:200])
        assert "error" in json.loads(reply)


# ---------------------------------------------------------------- 6. time-outs

def test_idle_sockets_cannot_lock_everyone_out(server):
    """The probe: 25 idle sockets with POLICY_MAX_CONNECTIONS=20 gave every request 503 for over 40 s."""
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=30) for _ in range(MAX_CONNECTIONS + 5)]
    try:
        with HealthWatch(server):
            time.sleep(HEADER_TIMEOUT + 1.5)
            status, body = http_json("POST", server.url + "/api/ask", {"question": "创业担保贷款有什么规定？"})
            assert status == 200 and body["citations"]
        # every idle socket was closed: reused for newcomers or timed out
        for s in idle:
            s.settimeout(2)
            assert s.recv(10) == b""
    finally:
        for s in idle:
            s.close()


def test_headers_sent_slowly_are_cut_at_the_header_timeout(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        started = time.monotonic()
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed = None
        for _ in range(int(HEADER_TIMEOUT * 4) + 8):        # a header byte every 0.5 s: never completes
            try:
                s.sendall(b"X")
                s.settimeout(0.5)
                if s.recv(10) == b"":
                    closed = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - started
                break
        assert closed is not None and closed < HEADER_TIMEOUT + 2, closed


def test_a_body_sent_slowly_gets_408(server):
    head = b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        started = time.monotonic()
        s.sendall(head + b'{"question": "')
        reply = s.recv(4096)
        assert reply.startswith(b"HTTP/1.1 408") and b"connection: close" in reply.lower()
        assert BODY_TIMEOUT - 0.5 < time.monotonic() - started < BODY_TIMEOUT + 2


# ---------------------------------------------------------------- 8. smaller gaps

@pytest.mark.parametrize("method, path, body", [
    ("GET", "/gradio_api/no-such-route", None),
    ("POST", "/gradio_api/call/no_such_function", {"data": []}),
    ("POST", "/gradio_api/run/no_such_function", {"data": []}),
    ("POST", "/gradio_api/queue/join", {"data": [], "fn_index": 9999, "session_hash": "x"}),
    ("POST", "/gradio_api/queue/join", {"data": [], "fn_index": -1, "session_hash": "x"}),
    ("POST", "/gradio_api/queue/join", {"data": [], "fn_index": "0", "session_hash": "x"}),
    ("POST", "/gradio_api/run/predict", {"data": [], "fn_index": 10**6}),
    ("POST", "/gradio_api/run/predict", {"data": []}),
    ("POST", "/gradio_api/queue/join", {"data": [], "session_hash": "x"}),
    ("GET", "/gradio_api/custom_component/13812345678/client/x/y", None),
    ("GET", "/openapi.json", None), ("GET", "/gradio_api/openapi.json", None), ("GET", "/docs", None),
])
def test_unknown_routes_and_functions_get_a_clean_json_4xx(server, method, path, body):
    status, reply = http_json(method, server.url + path, body)
    assert status in (400, 404), (status, reply)
    assert "error" in reply or "detail" in reply, reply


def test_no_traceback_and_no_raw_numbers_in_the_log(server):
    time.sleep(0.5)
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log and "13812345678" not in log, log[-3000:]


def test_security_headers_and_csp_on_every_response(server):
    checks = [("GET", "/", None), ("GET", "/healthz", None), ("GET", "/gradio_api/upload_progress", None),
              ("GET", "/no/such/page", None), ("POST", "/api/ask", b'{"question": NaN}')]
    for method, path, body in checks:
        req = urllib.request.Request(server.url + path, data=body, method=method,
                                     headers={"Content-Type": "application/json"} if body else {})
        try:
            resp = urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as e:
            resp = e
        csp = resp.headers.get("Content-Security-Policy") or ""
        assert "default-src 'self'" in csp and "frame-ancestors 'self'" in csp and "object-src 'none'" in csp, path
        assert resp.headers["X-Content-Type-Options"] == "nosniff" and resp.headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize("path", ["/api/feedback", "/api/ask", "/gradio_api/queue/join", "/gradio_api/call/feedback"])
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None])
def test_posts_must_be_json(server, path, content_type):
    """A page on another site can post text/plain or a form without asking; it cannot post JSON."""
    before = feedback_count(server)
    status, reply, _ = post(server, path, b'{"rating": "down", "question": "x", "answer": "y"}', content_type)
    assert status == 415 and "application/json" in json.loads(reply)["error"]
    assert feedback_count(server) == before


def feedback_count(server) -> int:
    import sqlite3
    try:
        return sqlite3.connect(server.feedback_db).execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.parametrize("body", [b'{"question": NaN}', b'{"question": "a", "x": Infinity}', b'{"question": -Infinity}',
                                  b'{"question": "a", "n": 1e999}', b'{"question": "a", "question": "b"}',
                                  b'{"rating": "up", "rating": "down", "question": "q", "answer": "a"}'])
@pytest.mark.parametrize("path", ["/api/ask", "/api/feedback", "/gradio_api/call/ask", "/gradio_api/queue/join"])
def test_non_json_numbers_and_duplicate_keys_are_400(server, path, body):
    status, reply, _ = post(server, path, body)
    assert status == 400 and "JSON" in json.loads(reply)["error"], (status, reply[:200])


def test_the_page_and_the_queue_still_work(server):
    with urllib.request.urlopen(server.url + "/", timeout=10) as resp:
        assert resp.status == 200 and b"<script" in resp.read()
    assert "pa-cite" in page_answer(server, "创业担保贷款有什么规定？")
