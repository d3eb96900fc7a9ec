"""What stands between the internet and the app: request size and framing, read time-outs, the
shape of request bodies, closed Gradio routes, response headers, and a logging filter (plus a
standard-output filter) that redacts personal numbers from everything the server prints.

`Guard` is a plain ASGI middleware (no buffering of responses, so Gradio's server-sent events
stream through untouched). For every HTTP request, in this order:

- every response it or the app sends gets the security headers, a Content-Security-Policy
  included (404s, 413s and errors too);
- Gradio routes this app has no use for (some read files, fetch URLs, store uploads or print
  their path), and the OpenAPI/docs pages unless POLICY_OPENAPI=on, answer 404 (`CLOSED`, `DOCS`);
- a request carrying both Content-Length and Transfer-Encoding is refused (400): the two framings
  disagree, and the server would believe the chunked one (request smuggling, a body past the limit);
- a body over `max_body` bytes (POLICY_MAX_BODY_BYTES, default 64 KiB) is answered 413: at once
  from its Content-Length, or as soon as the bytes read pass the limit. Every body is read here,
  counted as it streams, within POLICY_BODY_TIMEOUT seconds (408 past that), and only then handed
  to the app, so nothing behind the Guard ever reads more than the limit;
- a POST (PUT, PATCH, DELETE) must be `application/json` (415): a cross-site form or `text/plain`
  post cannot reach a route, and the browser asks (CORS preflight) before sending JSON;
- a JSON body must be strict JSON (400): valid UTF-8, no NaN/Infinity, no number that overflows
  to infinity (1e999), no duplicate keys (a parser that keeps the first and one that keeps the last
  would read two different requests);
- no body may carry a file reference (`{"path": …, "meta": {"_type": "gradio.FileData"}}` and its
  kin, anywhere in the body): the app takes no files, and Gradio would read and copy any path or URL
  named there before any handler runs (400);
- a Gradio function named by `fn_index` or by API name must exist (404 JSON, instead of Gradio's
  traceback and plain-text 500); an exception escaping the app becomes a JSON 500 with one log
  line; Gradio's 422 replies (which echo the request) become a short JSON 400.

Header read time-outs (an idle or slow client cannot hold a socket) live in the uvicorn protocol,
`TimedH11Protocol`, below.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import anyio

from retrieval.config import WebSettings
from retrieval.privacy import redact

log = logging.getLogger(__name__)

# the limits are settings (retrieval.config.WebSettings: POLICY_MAX_BODY_BYTES, POLICY_BODY_TIMEOUT)
DEFAULT_MAX_BODY = WebSettings().max_body_bytes
DEFAULT_BODY_TIMEOUT = WebSettings().body_timeout

# Gradio routes (with or without the /gradio_api prefix) closed to everyone. The page only needs
# the config, its assets, the queue (join, data, cancel, heartbeat), /info for the API page and
# /gradio_api/run/<name> for its few unqueued events (clear, open an article); queue(api_open=False)
# makes that route refuse every queued function (404). /gradio_api/call/<name> answers 404 for every
# name: the pages' events are private (GradioSurface), the public API is /api/…. Closed: upload and
# process_recording (store files), file= and proxy=
# (read files, fetch URLs), deep_link (writes a session's component values to disk), mcp,
# component_server, custom_component (the app has none; Gradio prints its path to stdout),
# monitoring, the run history, the vibe editor, login/logout (no accounts here).
CLOSED = re.compile(
    r"^/(?:gradio_api/)?(?:"
    r"(?:upload|upload_progress|process_recording|component_server|custom_component|deep_link|mcp|monitoring|"
    r"vibe-edit|undo-vibe-edit|vibe-code|runs|login|logout)(?:/.*)?$"
    r"|(?:stream|run-history|dev|file|mcp|monitoring)/"
    r"|(?:file|proxy)="
    r")")
# The machine-readable API descriptions: published only with POLICY_OPENAPI=on (development); the
# human API page (footer link, /gradio_api/info) stays.
DOCS = re.compile(r"^/(?:gradio_api/)?(?:openapi\.json|docs|redoc)(?:/.*)?$")
# the JSON API (/api/…) and /healthz are ours and are matched before the mounted Gradio app
OURS = ("/healthz",)


def _ours(path: str) -> bool:
    return path in OURS or path.startswith("/api/")


WITH_BODY = ("POST", "PUT", "PATCH", "DELETE")

# Gradio's page runs inline scripts and styles (its config is inlined), so those need
# 'unsafe-inline', and its HTML component renders every gr.HTML through a template compiled with
# Function(), which needs 'unsafe-eval' (without it the page's HTML blocks come out empty). What
# the policy still holds: scripts, fonts, frames and connections from this origin only (an injected
# script cannot load more code or send what it reads elsewhere), no plugins, no <base> or form
# posting elsewhere, no framing by other sites.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; media-src 'self' data: blob:; "
       "connect-src 'self'; worker-src 'self' blob:; manifest-src 'self'; frame-src 'none'; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'")
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"content-security-policy", CSP.encode()),
]

TOO_LARGE = "请求太大（超过{kb} KB）。问题最多1000字；对话历史只需最近几轮（接口只用最近12条）。"
SMUGGLING = "请求同时带有 Content-Length 和 Transfer-Encoding，无法确定请求内容的长度，已拒绝。"
TOO_SLOW = "请求内容在{s}秒内没有传完，连接已关闭。"
NOT_JSON_TYPE = "请求内容类型必须是 application/json（Content-Type: application/json）。"
BAD_JSON = "请求内容不是有效的 JSON（UTF-8 编码）。"
NO_FILES = "本服务不接收文件：请求中不能包含文件（gradio.FileData、path、url）。"
NO_SUCH_FUNCTION = "没有这个接口。可用的接口见页面底部的“通过 API 使用”。"
FAILED = "服务暂时不可用，请稍后再试。"


Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class GradioSurface:
    """The Gradio functions that exist: their fn_index numbers and API names (from the Blocks)."""

    def __init__(self, fn_indices: Iterable[int], api_names: Iterable[str]):
        self.fn_indices = frozenset(int(i) for i in fn_indices)
        self.api_names = frozenset(str(n).strip("/") for n in api_names if n)

    @classmethod
    def of(cls, blocks) -> GradioSurface:
        fns = dict(blocks.fns) if isinstance(blocks.fns, dict) else dict(enumerate(blocks.fns))
        # only public functions may be called by name: the pages' events are private (they are not an API)
        names = [f.api_name for f in fns.values() if isinstance(getattr(f, "api_name", None), str)
                 and getattr(f, "api_visibility", "public") == "public"]
        # "predict": the route the page posts unnamed events to, with their fn_index (checked below)
        return cls(fns, [*names, "predict"])

    _NAMED = re.compile(r"^/gradio_api/(?:run|api|call(?:/v2)?)/([^/]+)/?$")

    def problem(self, method: str, path: str, body: Any) -> str | None:
        """Why the request names no existing function, or None."""
        m = self._NAMED.match(path)
        if m and method == "POST" and m.group(1) not in self.api_names:
            return NO_SUCH_FUNCTION
        if isinstance(body, dict) and path.startswith("/gradio_api/"):
            fn = body.get("fn_index")
            if fn is None and path.rstrip("/") in self._NEEDS_INDEX:
                return NO_SUCH_FUNCTION  # Gradio would look for a function named None: a 500
            if fn is not None and (type(fn) is not int or fn not in self.fn_indices):
                return NO_SUCH_FUNCTION
        return None

    _NEEDS_INDEX = ("/gradio_api/queue/join", "/gradio_api/run/predict", "/gradio_api/api/predict")


class Guard:
    def __init__(self, app: Callable, max_body: int = DEFAULT_MAX_BODY, closed: re.Pattern = CLOSED,
                 body_timeout: float = DEFAULT_BODY_TIMEOUT, openapi: bool = False,
                 gradio: GradioSurface | None = None):
        self.app = app
        self.max_body = max_body
        self.closed = closed
        self.body_timeout = body_timeout
        self.openapi = openapi
        self.gradio = gradio

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # nothing here speaks websocket
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        path = re.sub(r"/{2,}", "/", scope.get("path", ""))
        state = {"started": False}
        send = _with_headers(send, state, rewrite_422=not _ours(path))
        if not _ours(path) and (self.closed.match(path) or (not self.openapi and DOCS.match(path))):
            await _json(send, 404, {"error": "Not Found"})
            return
        length = _content_length(scope)
        chunked = bool(_header(scope, b"transfer-encoding"))
        if length is not None and chunked:
            await _json(send, 400, {"error": SMUGGLING}, close=True)
            return
        if length is False:
            await _json(send, 400, {"error": "Content-Length 无效。"}, close=True)
            return
        if length is not None and length > self.max_body:
            await _json(send, 413, {"error": TOO_LARGE.format(kb=self.max_body // 1024)}, close=True)
            return
        method = scope.get("method", "GET")
        body = b""
        if chunked or length:
            try:
                with anyio.fail_after(self.body_timeout):
                    body, too_large = await _read_up_to(receive, self.max_body)
            except TimeoutError:
                await _json(send, 408, {"error": TOO_SLOW.format(s=int(self.body_timeout))}, close=True)
                return
            if too_large:
                await _json(send, 413, {"error": TOO_LARGE.format(kb=self.max_body // 1024)}, close=True)
                return
            receive = _replay(body, receive)
        if method in WITH_BODY:
            if (body or _ours(path)) and not _is_json(scope):
                await _json(send, 415, {"error": NOT_JSON_TYPE})
                return
            if body:
                try:
                    data = strict_json(body)
                except ValueError as e:
                    await _json(send, 400, {"error": str(e)})
                    return
                if carries_file(data):
                    await _json(send, 400, {"error": NO_FILES})
                    return
                problem = self.gradio.problem(method, path, data) if self.gradio else None
                if problem:
                    await _json(send, 404, {"error": problem})
                    return
        elif self.gradio and path.startswith("/gradio_api/"):
            problem = self.gradio.problem(method, path, None)
            if problem:
                await _json(send, 404, {"error": problem})
                return
        try:
            await self.app(scope, receive, send)
        except Exception as e:  # one line in the log, a JSON answer to the caller
            log.warning("%s %s failed: %s: %s", method, path[:200], type(e).__name__, str(e)[:200])
            if not state["started"]:
                await _json(send, 500, {"error": FAILED})


def _header(scope: Scope, name: bytes) -> list[bytes]:
    return [v for k, v in scope.get("headers", []) if k.lower() == name]


def _content_length(scope: Scope) -> int | None | bool:
    values = _header(scope, b"content-length")
    if not values:
        return None
    try:
        lengths = {int(v) for v in values}
    except ValueError:
        return False
    if len(lengths) != 1 or min(lengths) < 0:
        return False
    return lengths.pop()


def _is_json(scope: Scope) -> bool:
    values = _header(scope, b"content-type")
    if len(values) != 1:
        return False
    kind = values[0].split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (kind.startswith(b"application/") and kind.endswith(b"+json"))


async def _read_up_to(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            return b"", True
        chunks.append(part)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # later calls see the disconnect, as streaming responses expect

    return replay


def _with_headers(send: Send, state: dict, rewrite_422: bool = False) -> Send:
    """Add the security headers to the response; replace a 422 (FastAPI's validation reply, which
    echoes the request body back) by a short JSON 400."""
    replacing = {"on": False}

    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            state["started"] = True
            if rewrite_422 and message.get("status") == 422:
                replacing["on"] = True
                data = json.dumps({"error": "请求格式不对：缺少字段或字段类型不符，请对照接口说明。"},
                                  ensure_ascii=False).encode("utf-8")
                await send({"type": "http.response.start", "status": 400, "headers": [
                    (b"content-type", b"application/json; charset=utf-8"),
                    (b"content-length", str(len(data)).encode()), *SECURITY_HEADERS]})
                await send({"type": "http.response.body", "body": data})
                return
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message = {**message, "headers": list(message.get("headers", [])) + extra}
        elif replacing["on"]:
            return  # the echoed body is dropped
        await send(message)
    return wrapped


async def _json(send: Send, status: int, body: dict, close: bool = False) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(data)).encode())]
    if close:  # the body that was not read must not be taken for the next request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


# ---------------------------------------------------------------------- request bodies

def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"请求内容不是有效的 JSON：键 {json.dumps(key, ensure_ascii=False)[:60]} 出现了不止一次。")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"请求内容不是有效的 JSON：{name} 不是 JSON 数值。")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"请求内容不是有效的 JSON：数字 {text[:30]} 超出范围。")
    return value


def strict_json(raw: bytes) -> Any:
    """The JSON value of a request body, or ValueError with a message for the caller: strict UTF-8,
    no NaN/Infinity, no number that becomes infinite, no duplicate keys, no 5,000-deep nesting."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(BAD_JSON) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError("请求内容的层次太深。") from None
    except ValueError as e:
        if str(e).startswith("请求内容"):
            raise
        raise ValueError(BAD_JSON) from None  # bad syntax, or an int of 5,000 digits


_FILE_KEYS = frozenset({"meta", "url", "orig_name", "mime_type", "is_stream", "size"})


def carries_file(value: Any) -> bool:
    """True when a JSON value holds anything Gradio would treat as a file: an object whose `meta`
    names a FileData type, or one with a string `path`/`url` beside file fields. Checked without
    recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meta = item.get("meta")
            if isinstance(meta, dict) and "filedata" in str(meta.get("_type", "")).lower():
                return True
            if (isinstance(item.get("path"), str) or isinstance(item.get("url"), str)) and _FILE_KEYS & (set(item) - {"url"}):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


# ---------------------------------------------------------------------- connections

def timed_protocol(header_timeout: float):
    """uvicorn's h11 protocol with a header read time-out and reuse of idle connections.

    uvicorn (0.54) times out a connection only between requests, and any byte from the client
    stops that timer: a client that connects and sends nothing, or one header byte now and then,
    holds its socket for ever, and POLICY_MAX_CONNECTIONS of them lock everyone out (503). Here:

    - a connection whose request headers are not complete `header_timeout` seconds after it opened
      (or after its previous response) is closed, however many bytes trickle in;
    - when the connection limit is reached and a new request arrives, connections that are idle
      (no request in progress) are closed, longest idle first, to make room — as nginx does with its
      keep-alive connections. Connections with a request in progress (an open page's event stream)
      are never closed for this."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11Protocol(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            self._idle_since = time.monotonic()
            old = getattr(self, "_header_timer", None)
            if old is not None:
                old.cancel()
            self._header_timer: asyncio.TimerHandle | None = self.loop.call_later(header_timeout, self._header_timer_fired)

        def _waiting_for_headers(self) -> bool:
            busy = self.cycle is not None and not self.cycle.response_complete
            return not busy and self.conn.their_state in (h11.IDLE, h11.DONE, h11.MUST_CLOSE)

        def _header_timer_fired(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing() and self._waiting_for_headers():
                self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()

        def data_received(self, data: bytes) -> None:
            limit = self.limit_concurrency
            if limit is not None and len(self.connections) >= limit:
                idle = sorted((c for c in self.connections if c is not self and isinstance(c, TimedH11Protocol)
                               and c._waiting_for_headers() and not c.transport.is_closing()),
                              key=lambda c: c._idle_since)
                for other in idle[:len(self.connections) - limit + 1]:
                    other.transport.close()
                    self.connections.discard(other)  # connection_lost follows; make room now
            super().data_received(data)

        def connection_lost(self, exc) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
            super().connection_lost(exc)

    return TimedH11Protocol


# ---------------------------------------------------------------------- logging

class RedactingFilter(logging.Filter):
    """Personal numbers out of every record a handler writes: message, arguments and traceback."""

    @staticmethod
    def _arg(value: Any) -> Any:
        if isinstance(value, (int, float)) or value is None:
            return value
        return redact(value if isinstance(value, str) else str(value))

    def filter(self, record: logging.LogRecord) -> bool:
        # the arguments stay arguments (formatters such as uvicorn's access log unpack them)
        record.msg = redact(record.msg if isinstance(record.msg, str) else str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(self._arg(a) for a in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {k: self._arg(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def redact_logs(*logger_names: str) -> None:
    """Attach the redacting filter to every handler of the root logger and of the named loggers."""
    flt = RedactingFilter()
    for name in ("", *logger_names):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(flt)


class RedactingStream:
    """A text stream that redacts personal numbers line by line before writing to the real one.

    Gradio prints to standard output and standard error outside logging (request paths, tracebacks
    of its handlers); `serve()` puts this in front of both so that nothing it prints holds raw
    numbers. Whole lines are redacted (a number split across two writes is still found)."""

    def __init__(self, stream):
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        text = str(text)
        self._pending += text
        if "\n" in self._pending:
            done, self._pending = self._pending.rsplit("\n", 1)
            self._stream.write(redact(done) + "\n")
        if len(self._pending) > 8192:  # no newline coming: do not hold it for ever
            self._stream.write(redact(self._pending))
            self._pending = ""
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._stream.write(redact(self._pending))
            self._pending = ""
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno … of the real stream
        return getattr(self._stream, name)


def redact_standard_streams() -> None:
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)


def json_depth(value: Any, limit: int) -> bool:
    """True when the JSON value nests no deeper than `limit` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def scrub(value: Any) -> Any:
    """The JSON value with lone surrogates (from \\ud800-style escapes) replaced by U+FFFD, without recursion
    limits being an issue (depth is checked first)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    return value
