"""The web server: a FastAPI app with the JSON routes, the residents' Gradio page mounted at / and the
hotline console at /console, served by uvicorn.

Routes of our own (everything else is Gradio's; see SECURITY.md for which of Gradio's are closed):
    GET  /console         redirects to /console/, the hotline console (the residents' page is /)
    GET  /healthz         {"status": "ok", "documents": n, "articles": n}; "degraded" (+ "storage", "dropped")
                          while the database drops rows
    POST /api/ask         {"question", "history"?, "doc_ids"?} -> the JSON of `app.py ask --json`;
                          400 {"error"} for a question that cannot be answered, 413 for a body over
                          POLICY_MAX_BODY_BYTES, 503 {"error"} (Retry-After) when too many are waiting
    POST /api/feedback    {"rating": "up"|"down", "question", "answer", "citation_ids"?, "comment"?}
                          (or "answer" as the whole answer object) -> {"stored": true, "id": n};
                          {"stored": false, "id": null} when feedback is off or cannot be written

Configuration from the environment (besides POLICY_* of retrieval.config and web.storage):
    POLICY_WEB_CONCURRENCY  grounded answers computed at once, all routes together (default 4)
    POLICY_LLM_CONCURRENCY  LLM calls at once (default 8), see web.service
    POLICY_LLM_WAIT         seconds to wait for a free LLM slot before answering without it (default 0.5)
    POLICY_MAX_BODY_BYTES   largest request body (default 65536); larger gets 413 before it is read
    POLICY_HEADER_TIMEOUT   seconds for a request's headers to arrive before the socket is closed (default 10)
    POLICY_BODY_TIMEOUT     seconds for a request's body to arrive once its headers have (default 10; 408)
    POLICY_OPENAPI          on: publish /openapi.json and /gradio_api/openapi.json (default off)
    POLICY_MAX_WAITING      JSON requests waiting for a slot before 503 (default 200)
    POLICY_MAX_CONNECTIONS  open connections (each open page holds one) before uvicorn answers 503 (default 2000)
    POLICY_FORWARDED_ALLOW_IPS  proxies whose X-Forwarded-* headers are believed (default 127.0.0.1)
"""
from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from retrieval.config import ROOT, Settings
from retrieval.types import QuestionError

from .feedback import FeedbackError
from .guard import (
    CLOSED,
    GradioSurface,
    Guard,
    body_timeout_from_env,
    env_int,
    header_timeout_from_env,
    json_depth,
    max_body_from_env,
    openapi_from_env,
    redact_logs,
    redact_standard_streams,
    scrub,
    strict_json,
    timed_protocol,
)
from .render import UNAVAILABLE
from .service import PolicyService, llm_slots_from_env, llm_wait_from_env, workers_from_env
from .storage import StorageSettings, Store

log = logging.getLogger(__name__)

MAX_DEPTH = 16        # nesting of a JSON body (history is depth 3)
BUSY = "当前咨询人数较多，请稍后再试。"
CONSOLE_PATH = "/console"  # the hotline console; residents get /


def max_waiting(env: dict[str, str] | None = None) -> int:
    return env_int("POLICY_MAX_WAITING", 200, env)


def max_connections(env: dict[str, str] | None = None) -> int:
    return env_int("POLICY_MAX_CONNECTIONS", 2000, env)


class _Busy(Exception):
    pass


class _JSON(JSONResponse):
    """JSON as UTF-8 whatever a string holds (a lone surrogate becomes U+FFFD instead of a 500)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8", "replace")


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return _JSON({"error": message}, status_code=status, headers=headers)


async def _json_body(request: Request) -> dict | JSONResponse:
    body = await request.body()  # the Guard has already refused anything over the size limit
    try:
        data = strict_json(body) if body else None  # the Guard checked it too; this route does not rely on that
    except ValueError as e:
        return _error(400, str(e))
    if not isinstance(data, dict):
        return _error(400, "请求内容应为 JSON 对象，例如 {\"question\": \"创业担保贷款有什么规定？\"}。")
    if not json_depth(data, MAX_DEPTH):
        return _error(400, "请求内容的层次太深。")
    return scrub(data)


def create_app(service: PolicyService, mount_ui: bool = True, max_body: int | None = None,
               body_timeout: float | None = None, openapi: bool | None = None) -> FastAPI:
    """The whole web app, limits included (`service` holds the answer and LLM slots)."""
    import gradio as gr

    from .ui import build_console, build_resident, css, head, theme

    workers, llm_slots = service.workers, service.llm_slots
    app = FastAPI(title="就业创业政策问答", docs_url=None, redoc_url=None, openapi_url=None)
    # threads for the JSON routes: the grounded step takes at most `workers` of them (the service's
    # CPU slots), the LLM step at most `llm_slots`, and the rest wait at most POLICY_LLM_WAIT for an LLM slot
    threads = anyio.CapacityLimiter(2 * workers + llm_slots)
    waiting_limit = max_waiting()
    waiting = {"n": 0}

    async def run_limited(fn: Callable[..., Any], *args: Any) -> Any:
        if waiting["n"] >= waiting_limit:
            raise _Busy()
        waiting["n"] += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=threads)
        finally:
            waiting["n"] -= 1

    @app.get("/healthz")
    async def healthz() -> dict:
        return service.health()

    surface = None

    @app.post("/api/ask")
    async def api_ask(request: Request):
        data = await _json_body(request)
        if isinstance(data, JSONResponse):
            return data
        try:
            answer = await run_limited(service.ask, data.get("question"), data.get("history"),
                                       data.get("doc_ids"), "api")
            return _JSON(answer)
        except QuestionError as e:
            return _error(400, str(e))
        except _Busy:
            return _error(503, BUSY, {"Retry-After": "5"})
        except Exception:  # the caller gets a message, the log the traceback (redacted)
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
            return _error(503, BUSY, {"Retry-After": "5"})
        except Exception:
            log.exception("/api/feedback failed")
            return _error(500, UNAVAILABLE)
        return _JSON({"stored": row is not None, "id": row})

    if mount_ui:
        # Two pages, each its own Blocks: the console's mount goes first, since the one at / matches every path.
        store_path = service.store.path       # None when the database is PostgreSQL
        blocked = sorted({str(ROOT)} | ({str(store_path.resolve().parent)} if store_path else set()))
        common = dict(theme=theme(), css=css(), head=head(), footer_links=[], ssr_mode=False,
                      allowed_paths=[], blocked_paths=blocked, show_error=False, mcp_server=False, pwa=False,
                      enable_monitoring=False, run_history=False, max_file_size="1kb")  # the pages upload nothing

        @app.get(CONSOLE_PATH, include_in_schema=False)
        async def console_slash():  # the mounted app answers only under /console/
            return RedirectResponse(CONSOLE_PATH + "/", status_code=307)

        for path, build in ((CONSOLE_PATH, build_console), ("/", build_resident)):
            demo = build(service)
            # api_open=False: the REST routes /gradio_api/run/<name> and /gradio_api/api/<name> would
            # run a function directly, skipping the queue and its concurrency limits (the Guard closes them too)
            demo.queue(api_open=False, max_size=256, default_concurrency_limit=workers)
            app = gr.mount_gradio_app(app, demo, path=path, **common)
        surface = GradioSurface.of(demo)   # the residents' page, mounted at / (the console's routes are prefixed)
    app.add_middleware(Guard, max_body=max_body or max_body_from_env(),
                       body_timeout=body_timeout or body_timeout_from_env(),
                       openapi=openapi_from_env() if openapi is None else openapi, gradio=surface,
                       closed=_under_mounts(CLOSED, [CONSOLE_PATH]))  # type: ignore[arg-type]  # has Pattern's match
    return app


class _under_mounts:
    """The Guard's closed-route pattern, applied under each mounted page's prefix too
    (/console/gradio_api/upload is the same route as /gradio_api/upload)."""

    def __init__(self, pattern, prefixes: list[str]):
        self.pattern, self.prefixes = pattern, prefixes

    def match(self, path: str):
        for prefix in self.prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                path = path[len(prefix):] or "/"
                break
        return self.pattern.match(path)


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


def _announce(server, host: str, port: int) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.1)
    if not server.started:
        return
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    print(f"* 就业创业政策问答已启动: http://{shown}:{port}   (Ctrl+C 停止)", flush=True)


def serve(settings: Settings | None = None, host: str = "127.0.0.1", port: int = 7860, share: bool = False) -> int:
    """Load everything, then serve until interrupted. Returns the process exit code."""
    import uvicorn

    from retrieval.answering.assistant import Assistant

    if share:
        print("error: share links are disabled: they would send residents' questions through a third-party "
              "tunnel. Serve it behind your own reverse proxy with TLS instead (SECURITY.md).", file=sys.stderr)
        return 2
    problem = _port_free(host, port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    settings = settings or Settings.from_env()
    storage = StorageSettings.from_env()     # configuration errors stop here, before anything loads
    max_body = max_body_from_env()
    header_timeout, body_timeout, openapi = header_timeout_from_env(), body_timeout_from_env(), openapi_from_env()
    max_waiting()
    connections = max_connections()
    workers, llm_slots, llm_wait = workers_from_env(), llm_slots_from_env(), llm_wait_from_env()
    started = time.perf_counter()
    redact_logs()
    redact_standard_streams()                # Gradio prints outside logging
    # importing gradio takes seconds; do it on the other core while the corpus and index load
    preload = threading.Thread(target=__import__, args=("gradio",), daemon=True)
    preload.start()
    assistant = Assistant.load(settings, progress=sys.stderr.isatty())
    store = Store(storage)
    store.start()                            # creates the file and purges rows past the retention period
    service = PolicyService(assistant, store, workers=workers, llm_slots=llm_slots, llm_wait=llm_wait)
    service.warm_up()
    preload.join()
    app = create_app(service, max_body=max_body, body_timeout=body_timeout, openapi=openapi)
    log.info("loaded in %.1f s", time.perf_counter() - started)
    if host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("listening on %s: put a reverse proxy with TLS and rate limits in front (SECURITY.md)", host)
    verbose = logging.getLogger().getEffectiveLevel() <= logging.INFO
    config = uvicorn.Config(app, host=host, port=port, log_level="info" if verbose else "warning",
                            access_log=verbose, timeout_graceful_shutdown=2, server_header=False,
                            proxy_headers=True,
                            forwarded_allow_ips=os.environ.get("POLICY_FORWARDED_ALLOW_IPS", "127.0.0.1"),
                            limit_concurrency=connections,
                            http=timed_protocol(header_timeout))  # header time-out, idle connections reused
    redact_logs("uvicorn", "uvicorn.error", "uvicorn.access")  # uvicorn.Config has set up its handlers now
    server = uvicorn.Server(config)
    threading.Thread(target=_announce, args=(server, host, port), daemon=True).start()
    try:
        server.run()
    except SystemExit as e:  # uvicorn exits when it cannot start
        return int(e.code or 1)
    finally:
        store.close()                        # write what is queued
    return 0 if server.started else 1
