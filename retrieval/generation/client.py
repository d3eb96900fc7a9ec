"""One chat-completions request, streamed, bounded and cancellable.

Every request streams (also for a whole answer), so that the app can stop reading at any moment:
a reply past the time budget, past the client-side character cap, or repeating itself is abandoned
by closing the HTTP response, and a server that notices a closed connection stops generating
(llama-cpp-python's server does; see the README for what was measured).

The deadline is the client library's own: the official `openai` client's async streaming under
asyncio's `wait_for`, stepped from a private event loop so that sync callers (the web worker
threads, the CLI) get a plain iterator. Cancelling the pending read closes the connection; no
thread is left behind to finish a request nobody reads.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import Any

from retrieval.config import LLMSettings


class LLMFailure(Exception):
    def __init__(self, code: str, message: str = ""):
        super().__init__(message or code)
        self.code = code


@dataclass
class Piece:
    text: str                      # the next part of the reply ("" for a chunk carrying only a finish reason)
    finish_reason: str | None      # "stop", "length" … on the last chunk, else None


def classify(error: BaseException) -> str:
    """A short code for why an LLM call failed: timeout, connection, rate_limited, server_error,
    auth, not_found, bad_request, malformed, empty_response, repetition or unexpected."""
    import openai
    if isinstance(error, LLMFailure):
        return error.code
    if isinstance(error, (openai.APITimeoutError, TimeoutError, asyncio.TimeoutError)):
        return "timeout"
    if isinstance(error, openai.APIConnectionError):
        return "connection"
    if isinstance(error, openai.RateLimitError):
        return "rate_limited"
    if isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return "auth"
    if isinstance(error, openai.NotFoundError):
        return "not_found"
    if isinstance(error, openai.APIStatusError):
        return "server_error" if error.status_code >= 500 else "bad_request"
    if isinstance(error, (openai.APIResponseValidationError, ValueError, KeyError, TypeError, AttributeError,
                          IndexError)):
        return "malformed"  # json.JSONDecodeError and pydantic's ValidationError are ValueErrors
    return "unexpected"


def request_body(settings: LLMSettings, stop: list[str]) -> dict[str, Any]:
    """The generation options, each limit under every name the configured servers read."""
    body: dict[str, Any] = {"temperature": settings.temperature, "stop": stop}
    for name in settings.limit_names:
        body[name] = settings.max_tokens
    return body


def _client(settings: LLMSettings) -> Any:
    import openai

    # the library's own time-outs: connecting, and each read (a server that stalls mid-reply); openai.Timeout
    # is the class of the HTTP library the client itself uses
    timeout = openai.Timeout(settings.timeout, connect=min(settings.timeout, 5.0))
    return openai.AsyncOpenAI(base_url=settings.base_url, api_key=settings.api_key or "EMPTY",
                              timeout=timeout, max_retries=settings.max_retries)


async def _astream(client: Any, settings: LLMSettings, messages: list[dict], stop: list[str]) -> AsyncGenerator[Piece, None]:
    try:
        body = request_body(settings, stop)
        known = {k: body.pop(k) for k in ("temperature", "stop", "max_tokens", "max_completion_tokens") if k in body}
        stream = await client.chat.completions.create(model=settings.model, messages=messages,
                                                      stream=True, extra_body=body or None, **known)
        try:
            async for chunk in stream:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                text = (choice.delta.content if choice.delta is not None else None) or ""
                if text or choice.finish_reason:
                    yield Piece(text, choice.finish_reason)
        finally:
            await stream.close()   # closes the HTTP response: the server sees the client leave
    finally:
        await client.close()


def stream_reply(settings: LLMSettings, messages: list[dict], stop: list[str]) -> Generator[Piece, None, None]:
    """The reply's pieces as they arrive. Raises LLMFailure("timeout") when the first piece or any
    pause takes longer than settings.timeout or the whole reply longer than settings.stream_timeout.
    Closing the iterator (or an exception) closes the connection at once."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("stream_reply blocks: call it from a worker thread (anyio.to_thread.run_sync), "
                           "not from inside a running event loop")
    loop = asyncio.new_event_loop()
    agen = _astream(_client(settings), settings, messages, stop)  # imports done before the clock starts
    deadline = time.monotonic() + settings.stream_timeout
    try:
        while True:
            wait = min(settings.timeout, deadline - time.monotonic())
            if wait <= 0:
                raise LLMFailure("timeout", f"the reply took longer than {settings.stream_timeout:g} s")
            try:
                piece = loop.run_until_complete(asyncio.wait_for(agen.__anext__(), wait))
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise LLMFailure("timeout", f"no reply within {wait:.3g} s") from None
            yield piece
    finally:
        try:
            loop.run_until_complete(agen.aclose())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
