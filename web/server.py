"""The web server: a FastAPI app with the JSON routes, the Gradio page mounted at /, served by uvicorn.

Routes of our own (everything else is Gradio's):
    GET  /healthz         {"status": "ok", "documents": n, "articles": n}
    POST /api/ask         {"question", "history"?, "doc_ids"?} -> the JSON of `app.py ask --json`;
                          400 {"error"} for a question that cannot be answered, 503 when overloaded
    POST /api/feedback    {"rating": "up"|"down", "question", "answer", "citation_ids"?, "comment"?}
                          (or "answer" as the whole answer object) -> {"stored": true, "id": n}

Configuration from the environment (besides POLICY_* of retrieval.config):
    POLICY_FEEDBACK_DB    SQLite file for 👍/👎 (default data/feedback.sqlite3, created on demand)
    POLICY_WEB_CONCURRENCY answers computed at the same time (default 4; the rest wait in line)
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from retrieval.config import ROOT, Settings
from retrieval.types import QuestionError

from .feedback import FeedbackError, FeedbackStore
from .render import UNAVAILABLE
from .service import PolicyService

log = logging.getLogger(__name__)

DEFAULT_FEEDBACK_DB = ROOT / "data" / "feedback.sqlite3"
MAX_BODY = 256 * 1024
MAX_WAITING = 200


def feedback_path(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    raw = env.get("POLICY_FEEDBACK_DB")
    return Path(raw).expanduser() if raw else DEFAULT_FEEDBACK_DB


def concurrency(env: dict[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    try:
        return max(1, int(env.get("POLICY_WEB_CONCURRENCY", "4")))
    except ValueError:
        return 4


class _Busy(Exception):
    pass


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_body(request: Request) -> dict | JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, "请求太大。")
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _error(400, "请求内容不是有效的 JSON。")
    if not isinstance(data, dict):
        return _error(400, "请求内容应为 JSON 对象，例如 {\"question\": \"创业担保贷款有什么规定？\"}。")
    return data


def create_app(service: PolicyService, workers: int | None = None, mount_ui: bool = True) -> FastAPI:
    """The whole web app. `workers`: answers computed at once (the JSON route; the page has its own queue)."""
    import gradio as gr

    from .ui import build_blocks, css, theme

    workers = workers or concurrency()
    app = FastAPI(title="就业创业政策问答", docs_url=None, redoc_url=None, openapi_url=None)
    limiter = anyio.CapacityLimiter(workers)
    waiting = {"n": 0}

    async def run_limited(fn: Callable[..., Any], *args: Any) -> Any:
        if waiting["n"] >= MAX_WAITING:
            raise _Busy()
        waiting["n"] += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)
        finally:
            waiting["n"] -= 1

    @app.get("/healthz")
    async def healthz() -> dict:
        return service.health()

    @app.post("/api/ask")
    async def api_ask(request: Request):
        data = await _json_body(request)
        if isinstance(data, JSONResponse):
            return data
        try:
            return await run_limited(service.ask, data.get("question"), data.get("history"), data.get("doc_ids"))
        except QuestionError as e:
            return _error(400, str(e))
        except _Busy:
            return JSONResponse({"error": "当前咨询人数较多，请稍后再试。"}, status_code=503, headers={"Retry-After": "5"})
        except Exception:  # noqa: BLE001 — the caller gets a message, the log the traceback
            log.exception("/api/ask failed")
            return _error(500, UNAVAILABLE)

    @app.post("/api/feedback")
    async def api_feedback(request: Request):
        data = await _json_body(request)
        if isinstance(data, JSONResponse):
            return data
        try:
            row = await run_limited(lambda: service.record_feedback(
                data.get("rating"), question=data.get("question", ""), answer=data.get("answer", ""),
                citation_ids=data.get("citation_ids"), comment=data.get("comment", ""),
                refused=data.get("refused"), source="api"))
        except FeedbackError as e:
            return _error(400, str(e))
        except _Busy:
            return _error(503, "当前咨询人数较多，请稍后再试。")
        except Exception:  # noqa: BLE001
            log.exception("/api/feedback failed")
            return _error(500, UNAVAILABLE)
        return {"stored": True, "id": row}

    @app.post("/gradio_api/upload")
    async def no_uploads():
        # nothing on the page takes files; without this Gradio would store any small upload in its cache
        return _error(403, "不支持上传文件。")

    if mount_ui:
        demo = build_blocks(service, concurrency=workers)
        # api_open=False: the REST route /gradio_api/run/<name> cannot skip the queue
        demo.queue(api_open=False, max_size=256, default_concurrency_limit=workers)
        app = gr.mount_gradio_app(
            app, demo, path="/", theme=theme(), css=css(), footer_links=["api"], ssr_mode=False,
            allowed_paths=[], show_error=False, mcp_server=False, pwa=False, enable_monitoring=False,
            run_history=False, max_file_size="100kb")  # the page uploads nothing; keep the upload route small
    return app


def _port_free(host: str, port: int) -> str | None:
    """None when the address can be bound, else why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        return f"cannot resolve host {host!r} ({e})"
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            return f"cannot listen on {host}:{port} ({e.strerror or e}); choose another with --port"
    return None


def _announce(server, host: str, port: int, share: bool) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.1)
    if not server.started:
        return
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"* 就业创业政策问答已启动: http://{shown}:{port}   (Ctrl+C 停止)", flush=True)
    if share:
        try:
            import secrets

            from gradio import networking
            url = networking.setup_tunnel(shown, port, secrets.token_urlsafe(32), None, None)
            print(f"* 公开链接 (public share link): {url}", flush=True)
        except Exception as e:  # noqa: BLE001 — the local server keeps running
            print(f"warning: could not create a share link ({e}); serving locally only", file=sys.stderr, flush=True)


def serve(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860, share: bool = False) -> int:
    """Load everything, then serve until interrupted. Returns the process exit code."""
    import uvicorn

    from retrieval.assistant import Assistant

    problem = _port_free(host, port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    settings = settings or Settings.from_env()
    started = time.perf_counter()
    # importing gradio takes seconds; do it on the other core while the corpus and index load
    preload = threading.Thread(target=__import__, args=("gradio",), daemon=True)
    preload.start()
    assistant = Assistant.load(settings, progress=sys.stderr.isatty())
    service = PolicyService(assistant, FeedbackStore(feedback_path()))
    service.warm_up()
    preload.join()
    app = create_app(service)
    log.info("loaded in %.1f s", time.perf_counter() - started)
    verbose = logging.getLogger().getEffectiveLevel() <= logging.INFO
    config = uvicorn.Config(app, host=host, port=port, log_level="info" if verbose else "warning",
                            access_log=verbose, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    threading.Thread(target=_announce, args=(server, host, port, share), daemon=True).start()
    try:
        server.run()
    except SystemExit as e:  # uvicorn exits when it cannot start
        return int(e.code or 1)
    return 0 if server.started else 1
