"""What stands between the internet and the app: request size, closed Gradio routes, response headers,
and a logging filter that redacts personal numbers from every log line.

`Guard` is a plain ASGI middleware (no buffering of responses, so Gradio's server-sent events
stream through untouched):

- a request body over `max_body` bytes (POLICY_MAX_BODY_BYTES, default 64 KiB) is answered 413
  before the app sees it: at once from its Content-Length, or, for a chunked body, as soon as the
  bytes read pass the limit;
- Gradio routes this app has no use for, and some of which read files, fetch URLs or store uploads,
  answer 404 (`CLOSED`);
- websocket connections are refused (nothing here speaks websocket);
- every response gets X-Content-Type-Options, Referrer-Policy, X-Frame-Options and
  Cross-Origin-Opener-Policy headers.
"""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Any, Awaitable, Callable, Mapping

from retrieval.privacy import redact

DEFAULT_MAX_BODY = 64 * 1024

# Gradio routes (with or without the /gradio_api prefix) closed to everyone. The page only needs
# the config, its assets, the queue (join, data, cancel, heartbeat), /info for the API page and
# /gradio_api/run/<name> for its few unqueued events (clear, open an article); queue(api_open=False)
# makes that route refuse every queued function (404). /gradio_api/call/<name> stays open (it joins
# the queue, like the page). Closed: upload and process_recording (store files), file= and proxy=
# (read files, fetch URLs), deep_link (writes a session's component values to disk), mcp,
# component_server, monitoring, the run history, the vibe editor, login/logout (no accounts here).
CLOSED = re.compile(
    r"^/(?:gradio_api/)?(?:"
    r"(?:upload|upload_progress|process_recording|component_server|deep_link|mcp|monitoring|"
    r"vibe-edit|undo-vibe-edit|vibe-code|runs|login|logout)(?:/.*)?$"
    r"|(?:stream|run-history|dev|file|mcp|monitoring)/"
    r"|(?:file|proxy)="
    r")")
# /api/ask and /api/feedback are ours and are matched before the mounted Gradio app
OURS = ("/api/ask", "/api/feedback", "/healthz")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"cross-origin-opener-policy", b"same-origin"),
]

TOO_LARGE = "请求太大（超过{kb} KB）。问题最多1000字；对话历史只需最近几轮（接口只用最近12条）。"


def env_int(name: str, default: int, env: Mapping[str, str] | None = None, minimum: int = 1) -> int:
    """A whole-number setting from the environment, with a message that says what is wrong."""
    env = os.environ if env is None else env
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def max_body_from_env(env: Mapping[str, str] | None = None) -> int:
    return env_int("POLICY_MAX_BODY_BYTES", DEFAULT_MAX_BODY, env, minimum=4096)


Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class Guard:
    def __init__(self, app: Callable, max_body: int = DEFAULT_MAX_BODY, closed: re.Pattern = CLOSED):
        self.app = app
        self.max_body = max_body
        self.closed = closed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # nothing here speaks websocket
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        path = re.sub(r"/{2,}", "/", scope.get("path", ""))
        if path not in OURS and self.closed.match(path):
            await _json(send, 404, {"error": "Not Found"})
            return
        send = _with_headers(send)
        length = _content_length(scope)
        if length is False:
            await _json(send, 400, {"error": "Content-Length 无效。"})
            return
        if length is not None and length > self.max_body:
            await _json(send, 413, {"error": TOO_LARGE.format(kb=self.max_body // 1024)}, close=True)
            return
        if length is None and _chunked(scope):
            body, too_large = await _read_up_to(receive, self.max_body)
            if too_large:
                await _json(send, 413, {"error": TOO_LARGE.format(kb=self.max_body // 1024)}, close=True)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)


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


def _chunked(scope: Scope) -> bool:
    return any(b"chunked" in v.lower() for v in _header(scope, b"transfer-encoding"))


async def _read_up_to(receive: Receive, limit: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
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


def _with_headers(send: Send) -> Send:
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            present = {k.lower() for k, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message = {**message, "headers": list(message.get("headers", [])) + extra}
        await send(message)
    return wrapped


async def _json(send: Send, status: int, body: dict, close: bool = False) -> None:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(data)).encode())]
    if close:  # the body that was not read must not be taken for the next request
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


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
