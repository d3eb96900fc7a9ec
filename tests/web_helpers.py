"""Helpers for the web tests: start the real server (`python app.py --port N`) in a subprocess.

Kept out of conftest.py on purpose; test modules import from here and define their own fixtures.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180.0  # the first start builds the index (~40 s); a built index loads in a few seconds

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    port: int
    process: subprocess.Popen
    feedback_db: Path
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""


def http_json(method: str, url: str, body: object = None, timeout: float = 30.0) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data is not None else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        raw = e.read().decode("utf-8", errors="replace")
        try:
            return e.code, json.loads(raw)
        except json.JSONDecodeError:
            return e.code, {"raw": raw}


def wait_healthy(server: Server, timeout: float = START_TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited with {server.process.returncode}:\n{server.log()}")
        try:
            status, body = http_json("GET", server.url + "/healthz", timeout=5)
            if status == 200:
                return body
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            last = e
        time.sleep(0.5)
    raise RuntimeError(f"server not healthy after {timeout} s ({last}):\n{server.log()}")


@contextmanager
def running_server(tmp_dir: Path, extra_env: dict[str, str] | None = None, args: list[str] | None = None,
                   start_timeout: float = START_TIMEOUT):
    """The real app (`python app.py [args] --port N`) with its database (query log and feedback) in tmp_dir."""
    port = free_port()
    feedback_db = tmp_dir / "feedback.sqlite3"
    log_path = tmp_dir / "server.log"
    env = {**os.environ, "POLICY_DB": str(feedback_db), "POLICY_FEEDBACK_DB": str(feedback_db), "PYTHONUNBUFFERED": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", **(extra_env or {})}
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "app.py", *(args or []), "--port", str(port)], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", port, proc, feedback_db, log_path)
    try:
        wait_healthy(server, start_timeout)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def concurrent_writes(one, two, answer) -> list:
    """16 threads over two stores (as two app processes): 20 feedback rows and 40 logged queries
    each; the feedback ids the stores acknowledged."""
    import threading

    ids, lock = [], threading.Lock()

    def work(n, store):
        for i in range(60):
            if i % 3 == 0:
                row = store.add_feedback("up" if i % 2 else "down", f"问题{n}-{i}", "答")
                with lock:
                    ids.append(row)
            else:
                assert store.log_query(answer(f"问题{n}-{i}"), 0.01, "api")

    threads = [threading.Thread(target=work, args=(n, one if n % 2 else two)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ids


def connect_at_once(target, n: int) -> list[BaseException]:
    """`n` threads opening (and migrating) the same database at once, as starting processes do; the errors."""
    import threading

    from web import database

    errors: list[BaseException] = []

    def start():
        try:
            database.backend(target).connect().close()
        except Exception as e:  # noqa: BLE001 - any failure is the finding
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _queue_call(server: Server, session: str, fn_index: int, data: list, timeout: float) -> dict:
    """One event through Gradio's queue, as the page's script sends it; its completion message."""
    status, joined = http_json("POST", server.url + "/gradio_api/queue/join",
                               {"data": data, "event_data": None, "fn_index": fn_index, "trigger_id": None,
                                "session_hash": session}, timeout=timeout)
    assert status == 200, (status, joined)
    with urllib.request.urlopen(f"{server.url}/gradio_api/queue/data?session_hash={session}",
                                timeout=timeout) as stream:
        for raw in stream:
            line = raw.decode("utf-8").strip()
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    assert message.get("success"), message
                    return message
    raise AssertionError("the event stream ended without completing")


def page_answer(server: Server, question: str, timeout: float = 60.0) -> str:
    """Ask as the residents' page does — its private events (the pages have no API) through Gradio's
    queue: `submit` (the question into the session), then `respond` — and return the answer bubble's HTML."""
    import uuid
    _, config = http_json("GET", server.url + "/config", timeout=timeout)
    index = {d.get("api_name"): d["id"] for d in config["dependencies"]}
    session = uuid.uuid4().hex
    _queue_call(server, session, index["submit"], [question, None], timeout)
    done = _queue_call(server, session, index["respond"], [None, None], timeout)
    text = json.dumps(done["output"]["data"][0], ensure_ascii=False)
    bubbles = re.findall(r'<div class=\\"pa-answer.*?(?=\\"}|$)', text)
    assert bubbles, done
    return bubbles[-1].replace('\\"', '"')
