"""Admission control: every limit on answering, in one place, for the JSON API and the pages alike.

One `Admission` per process holds:

- `admit()`: requests inside the app (waiting or working) — past `max_waiting` a request is
  turned away at once with `Busy` (503 + Retry-After on the API; the BUSY message on the page);
- `grounded()`: `workers` slots for the grounded answer and the console search (CPU work);
- `generation()`: `llm_slots` slots for LLM calls (network wait); a request that finds none free
  within `llm_wait` seconds gets the grounded answer at once (llm_error "busy"), so slow LLM calls
  can never hold up anyone else, and refusals never wait for one;
- `threads`: the worker threads the JSON routes run in, enough for every slot and the requests
  waiting `llm_wait` for an LLM slot;
- `queue_options()` / `answering_limit`: the Gradio queue's limits for the pages, derived from the
  same numbers (Gradio needs its own queue to run page events; it never admits more than the slots
  above can serve).

`grounded()` and `generation()` are the `Limits` that `Assistant.answer_events` takes.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import anyio

BUSY_MESSAGE = "当前咨询人数较多，请稍后再试。"


class Busy(Exception):
    """Too many requests are waiting: try again shortly."""

    def __init__(self) -> None:
        super().__init__(BUSY_MESSAGE)


class Admission:
    def __init__(self, workers: int = 4, llm_slots: int = 8, llm_wait: float = 0.5, max_waiting: int = 200):
        if min(workers, llm_slots, max_waiting) < 1 or not 0 <= llm_wait <= 60:
            raise ValueError("workers, llm_slots and max_waiting must be at least 1, llm_wait 0–60 seconds")
        self.workers, self.llm_slots, self.llm_wait, self.max_waiting = workers, llm_slots, llm_wait, max_waiting
        self._cpu = threading.BoundedSemaphore(workers)
        self._llm = threading.BoundedSemaphore(llm_slots)
        self._lock = threading.Lock()
        self.inside = 0
        # grounded answers at most `workers`, LLM calls at most `llm_slots`, and up to `workers` more
        # waiting at most `llm_wait` for an LLM slot
        self.threads = anyio.CapacityLimiter(2 * workers + llm_slots)

    # 👍/👎 writes at once on a page: each waits for its row (a short database write), never for a model
    feedback_limit = 2

    @property
    def answering_limit(self) -> int:
        """Answers in progress at once on a page (each is computing or waiting on an LLM)."""
        return self.workers + self.llm_slots

    def queue_options(self) -> dict[str, Any]:
        """The Gradio queue of a page: as long as our own waiting limit; events run `workers` at once
        unless they say otherwise."""
        return {"max_size": self.max_waiting, "default_concurrency_limit": self.workers}

    @contextmanager
    def admit(self) -> Iterator[None]:
        """A place inside the app, or Busy at once when `max_waiting` are already inside."""
        with self._lock:
            if self.inside >= self.max_waiting:
                raise Busy()
            self.inside += 1
        try:
            yield
        finally:
            with self._lock:
                self.inside -= 1

    @contextmanager
    def grounded(self) -> Iterator[None]:
        with self._cpu:
            yield

    @contextmanager
    def generation(self) -> Iterator[bool]:
        admitted = self._llm.acquire(timeout=self.llm_wait)
        try:
            yield admitted
        finally:
            if admitted:
                self._llm.release()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args) in a worker thread, once admitted; Busy when too many are waiting."""
        with self.admit():
            return await anyio.to_thread.run_sync(fn, *args, limiter=self.threads)
