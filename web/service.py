"""What the web front end can do, as plain functions over the Assistant: shared by the page, the
named Gradio endpoints and the JSON routes."""
from __future__ import annotations

import logging
from dataclasses import fields
from typing import Any, Sequence

from retrieval.answer import Answer, article_label
from retrieval.links import counterparts
from retrieval.render import plain_text
from retrieval.types import Citation, QuestionError

from . import render
from .feedback import Feedback, FeedbackStore, as_ids, from_answer, normalize_rating

log = logging.getLogger(__name__)

MAX_SEARCH_CHARS = 100


def clean_doc_ids(doc_ids: object) -> list[str] | None:
    if doc_ids is None or doc_ids == "" or doc_ids == []:
        return None
    if isinstance(doc_ids, str):
        return [doc_ids]
    if isinstance(doc_ids, (list, tuple)):
        return [str(d) for d in doc_ids if d is not None and str(d)] or None
    raise QuestionError("doc_ids 应为文件编号的列表，例如 [\"nmg-2017-132\"]。")


def answer_from_dict(d: dict) -> Answer:
    """An Answer again from its to_dict() form (any fields the core adds later are carried over)."""
    def cites(items: Any) -> list[Citation]:
        out = []
        for c in items or []:
            if isinstance(c, dict):
                out.append(Citation(id=str(c.get("id", "")), document=str(c.get("document", "")),
                                    article=str(c.get("article", "")), title=str(c.get("title", "")),
                                    quote=str(c.get("quote", "")), lead_department=c.get("lead_department"),
                                    departments=tuple(c.get("departments") or ())))
        return out
    known = {f.name for f in fields(Answer)}
    extra = {k: v for k, v in d.items() if k in known and k not in _CORE_FIELDS}
    return Answer(question=str(d.get("question", "")), answer=str(d.get("answer", "")),
                  refused=bool(d.get("refused")), citations=cites(d.get("citations")),
                  related=cites(d.get("related")), refusal_reason=d.get("refusal_reason"),
                  generator=str(d.get("generator", "extractive")), query=str(d.get("query", "")), **extra)


_CORE_FIELDS = {"question", "answer", "refused", "citations", "related", "refusal_reason", "generator", "query"}


def notice_for(answer: dict) -> str | None:
    """The core's one-line notice (e.g. an LLM was asked but the excerpt is shown), if it has one."""
    try:
        from retrieval.llm import notice
    except Exception:  # noqa: BLE001 — optional part of the core
        return None
    try:
        return notice(answer_from_dict(answer))
    except Exception:  # noqa: BLE001
        log.exception("notice failed")
        return None


class PolicyService:
    def __init__(self, assistant, feedback: FeedbackStore):
        self.assistant = assistant
        self.corpus = assistant.corpus
        self.feedback_store = feedback
        self.links = counterparts(self.corpus, assistant.index)
        self.doc_ids = [m.doc_id for m in self.corpus.documents]

    # ------------------------------------------------------------ answers
    def ask(self, question: object, history: object = None, doc_ids: object = None) -> dict:
        """Answer.to_dict(); QuestionError (Chinese message) for a question, history or doc_ids that cannot be used.
        The history is passed on as sent: the core checks and bounds it."""
        answer = self.assistant.ask(question, history=history, doc_ids=clean_doc_ids(doc_ids))  # type: ignore[arg-type]
        return answer.to_dict()

    def ask_events(self, question: object, history: object = None, doc_ids: object = None):
        """("draft", text so far)… while an LLM writes (when one is configured), then ("final", answer dict).
        The draft is unverified: show it as such, and replace it with the final answer.
        QuestionError is raised on the first next()."""
        scope = clean_doc_ids(doc_ids)
        stream = getattr(self.assistant, "ask_stream", None)
        if stream is None:
            yield "final", self.ask(question, history, scope)
            return
        draft = ""
        for kind, value in stream(question, history=history, doc_ids=scope):  # type: ignore[arg-type]
            if kind == "delta" and isinstance(value, str):
                draft += value
                yield "draft", draft
            elif kind == "final":
                yield "final", value.to_dict() if hasattr(value, "to_dict") else dict(value)  # type: ignore[arg-type]
                return

    def warm_up(self) -> None:
        """Load the embedding model now, not on the first visitor's question (grounded path only: no LLM call)."""
        try:
            self.assistant.ask_many(["创业担保贷款"])
        except Exception:  # noqa: BLE001 — only a warm-up
            log.exception("warm-up question failed")

    @staticmethod
    def copy_text(answer: dict) -> str:
        """The answer as plain text with full citations (for pasting into a ticket or a message)."""
        if not answer or not isinstance(answer, dict) or not answer.get("answer"):
            return ""
        return plain_text(answer_from_dict(answer))

    # ------------------------------------------------------------ console
    def search(self, query: object, doc_id: object = None, limit: int = 8) -> dict:
        text = str(query or "").strip()[:MAX_SEARCH_CHARS]
        scope = [str(doc_id)] if doc_id and str(doc_id) in self.doc_ids else None
        if not text:
            return {"query": "", "tokens": [], "results": []}
        r = self.assistant.retriever.retrieve(text, top_k=max(1, min(int(limit), 30)), doc_ids=scope)
        terms = self.terms(text, r.tokens)
        results = []
        for hit in r.hits:
            a = self.corpus.article(hit.article_id)
            results.append({
                "id": a.id, "doc_id": a.doc_id, "document": self.corpus.document(a.doc_id).short_name,
                "article": article_label(a, self.corpus), "title": a.title,
                "score": round(float(hit.score), 3),
                "matched": any(t in a.text for t in terms),
                "lead_department": a.lead_department, "departments": list(a.departments),
                "counterparts": self.links.get(a.id, []),
            })
        return {"query": text, "tokens": list(r.tokens), "terms": terms, "results": results}

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
                        source: str = "api") -> int:
        if isinstance(answer, dict):
            fb = from_answer(answer, rating, comment=str(comment or ""), source=source)
            if question and not fb.question:
                fb = Feedback(fb.rating, str(question), fb.answer, fb.citation_ids, fb.refused, fb.comment, source)
        else:
            fb = Feedback(rating=normalize_rating(rating), question=str(question or ""), answer=str(answer or ""),
                          citation_ids=as_ids(citation_ids),  # type: ignore[arg-type]
                          refused=None if refused is None else bool(refused), comment=str(comment or ""),
                          source=source)
        return self.feedback_store.add(fb)

    def health(self) -> dict:
        return {"status": "ok", "documents": len(self.corpus.documents), "articles": len(self.corpus.articles)}


__all__ = ["PolicyService", "QuestionError", "clean_doc_ids", "answer_from_dict", "notice_for"]
