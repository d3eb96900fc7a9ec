"""What the web front end can do, as plain functions over the Assistant: shared by the pages and
the JSON API (web.api). Answers stay `Answer` objects here; they become JSON only where they leave
(the API's response model, the query log).

Answering is `Assistant.answer_events`, two steps under the limits of one admission control
(web.admission), so that a slow LLM never holds up anyone else:

1. the grounded answer (retrieval and the extractive answer: CPU work) runs under `workers`
   slots shared by every route (POLICY_WEB_CONCURRENCY, default 4);
2. the LLM rewrite (waiting on the network), only when an LLM is configured and the grounded
   answer did not decline, runs under `llm_slots` slots of its own (POLICY_LLM_CONCURRENCY,
   default 8). Each call is bounded by LLM_TIMEOUT (streaming: LLM_TIMEOUT for each pause and
   LLM_STREAM_TIMEOUT in all). When every LLM slot is taken for more than `llm_wait` seconds
   (POLICY_LLM_WAIT, default 0.5) the grounded answer is given at once with llm_error "busy".

Refusals never wait for an LLM slot. Every answer is written to the query log (web.storage),
redacted, after it is computed; the log never delays or fails an answer.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from retrieval.answering.composer import Answer, article_label
from retrieval.config import StorageSettings, WebSettings
from retrieval.documents.links import counterparts
from retrieval.types import QuestionError

from . import render
from .admission import Admission
from .feedback import from_fields
from .storage import Store

log = logging.getLogger(__name__)

MAX_SEARCH_CHARS = 100


MAX_DOC_IDS = 20


def clean_doc_ids(doc_ids: object) -> list[str] | None:
    """The documents to search as sent (the core checks they exist), or None for all of them."""
    if doc_ids is None or doc_ids == "" or doc_ids == []:
        return None
    if isinstance(doc_ids, str):
        doc_ids = [doc_ids]
    if isinstance(doc_ids, (list, tuple)):
        if len(doc_ids) > MAX_DOC_IDS:
            raise QuestionError(f"doc_ids 最多{MAX_DOC_IDS}个。")
        ids = [str(d)[:100].encode("utf-8", "replace").decode("utf-8") for d in doc_ids if d is not None]
        return [d for d in ids if d] or None
    raise QuestionError("doc_ids 应为文件编号的列表，例如 [\"nmg-2017-132\"]。")




class PolicyService:
    def __init__(self, assistant, store: Store | None = None, workers: int | None = None,
                 llm_slots: int | None = None, llm_wait: float | None = None, web: WebSettings | None = None,
                 admission: Admission | None = None):
        """The limits come from `admission`, else from `web` (the web settings; defaults when None) and the arguments."""
        self.assistant = assistant
        self.corpus = assistant.corpus
        self.store = store if store is not None else Store(StorageSettings(query_log=False, feedback=False))
        web = web or WebSettings()
        self.links = counterparts(self.corpus, assistant.index)
        self.doc_ids = [m.doc_id for m in self.corpus.documents]
        self.admission = admission or Admission(
            workers=workers or web.concurrency, llm_slots=llm_slots or web.llm_concurrency,
            llm_wait=web.llm_wait if llm_wait is None else llm_wait, max_waiting=web.max_waiting)
        # storage health, for /healthz: the last feedback write's outcome, and the store's counters
        # as last seen (rows dropped and none written since then: the database is failing)
        self._health_lock = threading.Lock()
        self._storage_failing = False
        self._seen = (0, 0)

    # ------------------------------------------------------------ answers
    def ask(self, question: object, history: object = None, doc_ids: object = None, source: str = "api") -> Answer:
        """The answer; QuestionError (Chinese message) for a question, history or doc_ids that cannot be used.
        The history is passed on as sent: the core checks and bounds it."""
        final = None
        for kind, value in self.ask_events(question, history, doc_ids, source, heartbeat=None):
            if kind == "final":
                final = value
        assert isinstance(final, Answer)
        return final

    def ask_events(self, question: object, history: object = None, doc_ids: object = None,
                   source: str = "chat", heartbeat: float | None = 1.0) -> Iterator[tuple[str, Any]]:
        """("draft", text)… then ("final", Answer). When an LLM writes, the grounded answer's text is
        the draft, as soon as the LLM has its slot, and again every `heartbeat` seconds while it writes
        (so a client that left is noticed and the LLM request closed); the final answer is the
        verified rewrite or the grounded answer. The LLM's unverified text is never sent.
        QuestionError is raised on the first next()."""
        started = time.monotonic()
        scope = clean_doc_ids(doc_ids)
        grounded, shown = None, 0.0
        for kind, value in self.assistant.answer_events(question, history, scope, limits=self.admission):
            if kind == "grounded":
                grounded = value
            elif kind in ("writing", "delta") and heartbeat is not None and grounded is not None:
                if kind == "writing" or time.monotonic() - shown >= heartbeat:
                    shown = time.monotonic()
                    yield "draft", grounded.answer
            elif kind == "final":
                self.store.log_query(value.to_dict(), time.monotonic() - started, source)
                yield "final", value
                return

    def warm_up(self) -> None:
        """Load the embedding model now, not on the first visitor's question (grounded path only: no LLM call)."""
        try:
            next(self.assistant.answer_events("创业担保贷款"))   # the grounded answer only: the LLM is never called
        except Exception:  # noqa: BLE001 — only a warm-up
            log.exception("warm-up question failed")

    # ------------------------------------------------------------ console
    def search(self, query: object, doc_id: object = None, limit: int = 8) -> dict:
        """Articles for the console's search, honest about what matched.

        `phrases` are the query's space-separated parts, each taken whole ("护照办理" is one phrase,
        never 护照 or 办理 alone). Articles containing every phrase come first (`matched`: true): a
        phrase in the title first, then more occurrences, then the retriever's order. After them, up
        to `limit` in all, the retriever's other results (`matched`: false): related in meaning or
        sharing some words, and reported as such (`exact_count`, `related_count`)."""
        text = str(query or "").strip()[:MAX_SEARCH_CHARS]
        scope = [str(doc_id)] if doc_id and str(doc_id) in self.doc_ids else None
        if not text:
            return {"query": "", "tokens": [], "terms": [], "phrases": [], "results": [],
                    "exact_count": 0, "related_count": 0}
        try:
            limit = max(1, min(int(limit), 30))
        except (TypeError, ValueError, OverflowError):
            limit = 8
        phrases = list(dict.fromkeys(p for p in text.split() if p))
        with self.admission.grounded():
            # the console searches every document unless one is chosen, wherever it applies
            query = self.assistant.reader.read(text, None, scope or self.doc_ids)
            r = self.assistant.retriever.retrieve(replace(query, articles=(), chapter=()),  # type: ignore[type-var]
                                                  top_k=30)
        rank = {hit.article_id: i for i, hit in enumerate(r.hits)}
        score = {hit.article_id: float(hit.score) for hit in r.hits}
        folded = [p.casefold() for p in phrases]

        def contains_all(s: str) -> bool:
            s = s.casefold()
            return all(p in s for p in folded)

        exact = [a for a in self.corpus.articles
                 if (scope is None or a.doc_id in scope) and contains_all(a.text)]
        exact.sort(key=lambda a: (not contains_all(a.title),
                                  -sum(a.text.casefold().count(p) for p in folded),
                                  rank.get(a.id, len(rank))))
        exact = exact[:30]
        seen = {a.id for a in exact}
        room = max(0, limit - len(exact)) if exact else min(3, limit)
        related = [self.corpus.article(h.article_id) for h in r.hits if h.article_id not in seen][:room]
        terms = self.terms(text, r.tokens)
        results = []
        for a, matched in [(a, True) for a in exact] + [(a, False) for a in related]:
            results.append({
                "id": a.id, "doc_id": a.doc_id, "document": self.corpus.document(a.doc_id).short_name,
                "article": article_label(a, self.corpus), "title": a.title,
                "score": round(score.get(a.id, 0.0), 3), "matched": matched,
                "lead_department": a.lead_department, "departments": list(a.departments),
                "counterparts": self.links.get(a.id, []),
            })
        return {"query": text, "tokens": list(r.tokens), "terms": terms, "phrases": phrases, "results": results,
                "exact_count": len(exact), "related_count": len(related)}

    @staticmethod
    def terms(query: str, tokens: Sequence[str]) -> list[str]:
        """Words to highlight: the query's tokens (with synonyms) and its space-separated parts."""
        parts = [p for p in query.split() if len(p) >= 2]
        return sorted({t for t in list(tokens) + parts if t.strip()}, key=len, reverse=True)

    def article(self, article_id: object) -> dict:
        a = self.corpus.by_id.get(str(article_id or ""))
        if a is None:
            raise KeyError(f"没有这一条：{article_id}")
        meta = self.corpus.document(a.doc_id)
        return {
            "id": a.id, "doc_id": a.doc_id, "document": meta.short_name, "document_title": meta.title,
            "number": meta.number, "article": article_label(a, self.corpus), "title": a.title,
            "text": a.text, "sentences": list(a.sentences), "section_titles": list(a.section_titles),
            "lead_department": a.lead_department, "departments": list(a.departments),
            "counterparts": [{"id": o, "document": self.corpus.document(self.corpus.article(o).doc_id).short_name,
                              "article": article_label(self.corpus.article(o), self.corpus),
                              "title": self.corpus.article(o).title} for o in self.links.get(a.id, [])],
        }

    def documents(self) -> list[dict]:
        out = []
        for m in self.corpus.documents:
            out.append({
                "doc_id": m.doc_id, "title": m.title, "short_name": m.short_name, "issuer": m.issuer,
                "number": m.number, "date": m.date, "level": m.level, "implements": m.implements,
                "articles": [{"id": a.id, "article": article_label(a, self.corpus), "title": a.title}
                             for a in self.corpus.articles if a.doc_id == m.doc_id],
            })
        return out

    def article_choices(self) -> list[tuple[str, str]]:
        return [(f"{self.corpus.document(a.doc_id).short_name} · {render.article_heading(self.corpus, a)}", a.id)
                for a in self.corpus.articles]

    # ------------------------------------------------------------ feedback
    def record_feedback(self, rating: object, question: object = "", answer: object = "",
                        citation_ids: object = None, comment: object = "", refused: object = None,
                        source: str = "api") -> int | None:
        """The stored row's id; None when feedback is off or the database cannot be written (a warning
        is logged); FeedbackError for a rating that is neither up nor down."""
        fb = from_fields(rating, question, answer, citation_ids, refused, comment, source)
        row = self.store.add_feedback(fb.rating, fb.question, fb.answer, fb.citation_ids, fb.refused,
                                      fb.comment, fb.source)
        if self.store.feedback:
            with self._health_lock:
                self._storage_failing = row is None
        return row

    def health(self) -> dict:
        """{"status": "ok", …}; "degraded" with a reason while the database drops rows (answers go on)."""
        body = {"status": "ok", "documents": len(self.corpus.documents), "articles": len(self.corpus.articles)}
        written, dropped = getattr(self.store, "written", 0), getattr(self.store, "dropped", 0)
        with self._health_lock:
            seen_written, seen_dropped = self._seen
            if dropped > seen_dropped:
                self._storage_failing = True
            elif written > seen_written:
                self._storage_failing = False
            self._seen = (written, dropped)
            failing = self._storage_failing
        if failing:
            body.update(status="degraded", dropped=dropped,
                        storage="数据库当前无法写入：评价和咨询记录未保存（回答不受影响），见服务日志。")
        return body


__all__ = ["PolicyService", "QuestionError", "clean_doc_ids"]
