"""The web server: a FastAPI app with the JSON API (web.api), the residents' Gradio page mounted at /
and the hotline console at /console, served by uvicorn.

Routes of our own (everything else is Gradio's page machinery; see SECURITY.md for which of Gradio's are closed):
    GET  /console            redirects to /console/, the hotline console (the residents' page is /)
    GET  /healthz            {"status": "ok", "documents": n, "articles": n}; "degraded" (+ "storage", "dropped")
                             while the database drops rows
    POST /api/ask            {"question", "history"?, "doc_ids"?} -> the JSON of `app.py ask --json`
    POST /api/ask/text       the same -> {"text": the answer as plain text with full citations}
    POST /api/feedback       {"rating": "up"|"down", "question", "answer", "citation_ids"?, "comment"?}
                             (or "answer" as the whole answer object) -> {"stored": bool, "id": n|null}
    GET  /api/search         ?q=…&doc_id=…&limit=… -> articles, exact matches first
    GET  /api/articles/{id}  one article in full
    GET  /api/documents      the documents and their tables of contents
The request and response models are in web.api (OpenAPI at /openapi.json and /docs with POLICY_OPENAPI=on).
400 {"error"} for input that cannot be used, 413 for a body over POLICY_MAX_BODY_BYTES, 503 {"error"}
(Retry-After) when too many are waiting.

Configuration: the web section of retrieval.config.Settings (WebSettings), from the environment:
    POLICY_WEB_CONCURRENCY  grounded answers computed at once, all routes and pages together (default 4)
    POLICY_LLM_CONCURRENCY  LLM calls at once (default 8), see web.admission
    POLICY_LLM_WAIT         seconds to wait for a free LLM slot before answering without it (default 0.5)
    POLICY_MAX_WAITING      requests inside the app (waiting or working) before 503 / the busy message (default 200)
    POLICY_MAX_BODY_BYTES   largest request body (default 65536); larger gets 413 before it is read
    POLICY_HEADER_TIMEOUT   seconds for a request's headers to arrive before the socket is closed (default 10)
    POLICY_BODY_TIMEOUT     seconds for a request's body to arrive once its headers have (default 10; 408)
    POLICY_OPENAPI          on: publish /openapi.json, /docs and /gradio_api/openapi.json (default off)
    POLICY_MAX_CONNECTIONS  open connections (each open page holds one) before uvicorn answers 503 (default 2000)
    POLICY_FORWARDED_ALLOW_IPS  proxies whose X-Forwarded-* headers are believed (default 127.0.0.1)
    POLICY_WEB_HOST, POLICY_WEB_PORT  where to listen (default 127.0.0.1:7860; app.py's --host/--port win)
"""
from __future__ import annotations

import logging
import socket
import sys
import threading
import time

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import RedirectResponse

from retrieval.config import ROOT, Settings, WebSettings

from .api import JSON, add_api
from .guard import CLOSED, CSP, GradioSurface, Guard, redact_logs, redact_standard_streams, timed_protocol
from .service import PolicyService
from .storage import Store

log = logging.getLogger(__name__)

CONSOLE_PATH = "/console"  # the hotline console; residents get /
SWAGGER_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = (CSP.replace("script-src 'self'", f"script-src 'self' {SWAGGER_CDN}")
            .replace("style-src 'self'", f"style-src 'self' {SWAGGER_CDN}")
            .replace("img-src 'self'", "img-src 'self' https:"))


def create_app(service: PolicyService, mount_ui: bool = True, web: WebSettings | None = None) -> FastAPI:
    """The whole web app, limits included (`service` holds the admission control; `web`, the web
    settings, the rest: defaults when None)."""
    import gradio as gr

    from .ui import build_console, build_resident, css, head, theme

    web = web or WebSettings()
    openapi = web.openapi
    # the OpenAPI description documents the JSON API only (the pages are not an API); the Guard
    # also closes these paths unless POLICY_OPENAPI=on
    app = FastAPI(title="就业创业政策问答", version="1", default_response_class=JSON, docs_url=None,
                  redoc_url=None, openapi_url="/openapi.json" if openapi else None)
    add_api(app, service)
    if openapi:
        @app.get("/docs", include_in_schema=False)
        async def docs():
            # FastAPI's Swagger UI page loads its script and style from a CDN: allowed on this
            # development-only page, nowhere else (the Guard keeps a page's own CSP header)
            page = get_swagger_ui_html(openapi_url="/openapi.json", title=app.title + " · API")
            page.headers["Content-Security-Policy"] = DOCS_CSP
            return page
    surface = None

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
            # run a function directly, skipping the queue and its concurrency limits (the Guard closes them too).
            # The queue's limits come from the one admission control.
            demo.queue(api_open=False, **service.admission.queue_options())
            app = gr.mount_gradio_app(app, demo, path=path, **common)
        surface = GradioSurface.of(demo)   # the residents' page, mounted at / (the console's routes are prefixed)
    app.add_middleware(Guard, max_body=web.max_body_bytes, body_timeout=web.body_timeout, openapi=web.openapi,
                       gradio=surface,
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


def serve(settings: Settings, share: bool = False) -> int:
    """Load everything, then serve on settings.web.host:port until interrupted (the settings were
    checked when loaded, before this). Returns the process exit code."""
    import uvicorn

    from retrieval.answering.assistant import Assistant

    if share:
        print("error: share links are disabled: they would send residents' questions through a third-party "
              "tunnel. Serve it behind your own reverse proxy with TLS instead (SECURITY.md).", file=sys.stderr)
        return 2
    web = settings.web
    host, port = web.host, web.port
    problem = _port_free(host, port)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    redact_logs()
    redact_standard_streams()                # Gradio prints outside logging
    # importing gradio takes seconds; do it on the other core while the corpus and index load
    preload = threading.Thread(target=__import__, args=("gradio",), daemon=True)
    preload.start()
    assistant = Assistant.load(settings, progress=sys.stderr.isatty())
    store = Store(settings.storage)
    store.start()                            # creates the file and purges rows past the retention period
    service = PolicyService(assistant, store, web=web)
    service.warm_up()
    preload.join()
    app = create_app(service, web=web)
    log.info("loaded in %.1f s", time.perf_counter() - started)
    if host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("listening on %s: put a reverse proxy with TLS and rate limits in front (SECURITY.md)", host)
    verbose = logging.getLogger().getEffectiveLevel() <= logging.INFO
    config = uvicorn.Config(app, host=host, port=port, log_level="info" if verbose else "warning",
                            access_log=verbose, timeout_graceful_shutdown=2, server_header=False,
                            proxy_headers=True,
                            forwarded_allow_ips=web.forwarded_allow_ips,
                            limit_concurrency=web.max_connections,
                            http=timed_protocol(web.header_timeout))  # header time-out, idle connections reused
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
