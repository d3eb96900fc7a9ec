"""A real OpenAI-compatible chat-completions server on 127.0.0.1, scripted by the test that starts it.

    with FakeOpenAI(lambda request: Reply("……[1]")) as server:
        ChatOpenAI(base_url=server.base_url, ...)
        server.requests[-1]      # the JSON bodies received, in order
        server.streams[-1]       # for each streamed reply: chunks sent, of how many, and whether the
                                 # client closed the connection before the end ("aborted")

POST /v1/chat/completions answers with one JSON body, or with server-sent events
(`data: {...}` … `data: [DONE]`) when the request says `"stream": true`. The script is a function of
the request body returning a Reply: the text to answer, or an HTTP status, a raw (malformed) body,
a delay before answering or between streamed chunks.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    raw_body: bytes | None = None        # sent as is instead of a well-formed completion
    delay: float = 0.0                   # seconds before the response starts
    chunk_delay: float = 0.0             # seconds between streamed chunks
    chunk_chars: int = 8                 # characters per streamed chunk
    stall_after: int | None = None       # streamed chunks sent before the server stops sending
    finish_reason: str = "stop"          # of the last chunk ("length": the server's limit was reached)
    headers: dict[str, str] = field(default_factory=dict)


def by_keyword(replies: dict[str, Reply], default: Reply) -> Callable[[dict], Reply]:
    """A script choosing the reply by the first keyword found in the last user message."""
    def script(request: dict) -> Reply:
        text = last_user_message(request)
        return next((r for k, r in replies.items() if k in text), default)
    return script


def last_user_message(request: dict) -> str:
    for m in reversed(request.get("messages") or []):
        if m.get("role") == "user":
            return m.get("content") or ""
    return ""


class FakeOpenAI:
    def __init__(self, script: Callable[[dict], Reply]):
        self.script = script
        self.requests: list[dict] = []
        self.streams: list[dict] = []
        self.stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                request = json.loads(body)
                request["_headers"] = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append(request)
                reply = fake.script(request)
                if reply.delay and fake.stopping.wait(reply.delay):
                    return
                if reply.raw_body is not None or reply.status != 200:
                    body = reply.raw_body if reply.raw_body is not None else json.dumps(
                        {"error": {"message": f"scripted {reply.status}", "type": "server_error"}}).encode()
                    self._send(reply.status, body, reply.headers)
                elif request.get("stream"):
                    self._stream(request, reply)
                else:
                    self._send(200, json.dumps(_completion(request, reply.content)).encode(), reply.headers)

            def _send(self, status: int, body: bytes, headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _stream(self, request: dict, reply: Reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                text = reply.content
                pieces = [text[i:i + reply.chunk_chars] for i in range(0, len(text), reply.chunk_chars)]
                events = [_chunk(request, {"role": "assistant", "content": ""}, None)]
                events += [_chunk(request, {"content": p}, None) for p in pieces]
                events.append(_chunk(request, {}, reply.finish_reason))
                record = {"sent": 0, "total": len(events), "aborted": False}
                fake.streams.append(record)
                try:
                    for i, event in enumerate(events):
                        if i and reply.chunk_delay and fake.stopping.wait(reply.chunk_delay):
                            return
                        if reply.stall_after is not None and i >= reply.stall_after:
                            fake.stopping.wait(60)
                            return
                        self.wfile.write(b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n")
                        self.wfile.flush()
                        record["sent"] += 1
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    record["aborted"] = True  # the client gave up: a real server stops generating here
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def _completion(request: dict, content: str) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": request.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


def _chunk(request: dict, delta: dict, finish: str | None) -> dict:
    return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": request.get("model", "fake"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
