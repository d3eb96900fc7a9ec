"""The one public JSON API: FastAPI routes with typed request and response models (pydantic), so
that the OpenAPI description (`/openapi.json`, `/docs`, published with POLICY_OPENAPI=on) is the
contract. The pages (Gradio) are not an API: their events are private.

Every route runs in a worker thread through the admission control (web.admission): past its
waiting limit a request gets 503 with Retry-After at once. Bad input is a 400 `{"error": "…"}`
whose message is the core's own (the same check the pages get), never an echo of the request.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, field_validator

from retrieval.answering.assistant import validate_history, validate_question
from retrieval.answering.render import plain_text
from retrieval.types import QuestionError

from .admission import Busy
from .feedback import FeedbackError, normalize_rating
from .guard import json_depth, scrub, strict_json
from .render import UNAVAILABLE
from .service import MAX_SEARCH_CHARS, PolicyService, clean_doc_ids

log = logging.getLogger(__name__)

MAX_DEPTH = 16        # nesting of a JSON body (history is depth 3)
NOT_AN_OBJECT = "请求内容应为 JSON 对象，例如 {\"question\": \"创业担保贷款有什么规定？\"}。"


class JSON(JSONResponse):
    """JSON as UTF-8 whatever a string holds (a lone surrogate becomes U+FFFD instead of a 500)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8", "replace")


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSON({"error": message}, status_code=status, headers=headers)


# ------------------------------------------------------------------ models

class Error(BaseModel):
    error: str = Field(description="What was wrong and what to do, in Chinese.")


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    question: str = Field(description="The question, at most POLICY_MAX_QUESTION_CHARS (1,000) characters.",
                          examples=["创业担保贷款有什么规定？"])
    history: list[Turn] | None = Field(None, description="Earlier turns of the conversation, oldest first "
                                       "(at most 50; only the last few are used).")
    doc_ids: list[str] | str | None = Field(None, description="Only search these documents (see /api/documents).",
                                            examples=[["nmg-2017-132"]])


class Citation(BaseModel):
    id: str = Field(description="The article's id, e.g. nmg-2017-132:3.4.")
    document: str
    article: str
    title: str
    quote: str = Field(description="The words of the article the answer rests on, verbatim.")
    lead_department: str | None
    departments: list[str]


class AnswerOut(BaseModel):
    """The answer, as `python app.py ask --json` prints it."""
    question: str = Field(description="The question as received, personal numbers replaced.")
    answer: str = Field(description="The answer; [n] marks the citation it comes from.")
    refused: bool = Field(description="True when the documents do not answer the question.")
    citations: list[Citation]
    related: list[Citation] = Field(description="When refused: nearby articles, for reference.")
    refusal_reason: str | None
    generator: Literal["extractive", "llm"]
    query: str = Field(description="What was searched (the question read with the conversation).")
    verification: dict[str, Any] | None = Field(description="What checking an LLM's draft found, when one wrote.")
    llm_error: str | None = Field(description="Why an LLM's answer is not given (timeout, busy, unverified, …).")
    summary: str = Field(description="The short direct answer `answer` starts with, if any.")
    notes: list[str]


class AnswerText(BaseModel):
    text: str = Field(description="The answer as plain text with full citations, ready to paste.")


class FeedbackRequest(BaseModel):
    rating: Literal["up", "down"] = Field(description="up (👍) or down (👎).")
    question: str = ""
    answer: str | dict[str, Any] = Field("", description="The answer's text, or the whole answer object.")
    citation_ids: list[str] | None = None
    comment: str = ""
    refused: bool | None = None

    @field_validator("rating", mode="before")
    @classmethod
    def _rating(cls, value: object) -> str:
        return normalize_rating(value)   # also 👍/👎, true/false, 1/-1; FeedbackError otherwise


class FeedbackOut(BaseModel):
    stored: bool = Field(description="False when feedback is switched off or the database cannot be written.")
    id: int | None


class SearchResult(BaseModel):
    id: str
    doc_id: str
    document: str
    article: str
    title: str
    score: float
    matched: bool = Field(description="True when the article contains every phrase of the query.")
    lead_department: str | None
    departments: list[str]
    counterparts: list[str]


class SearchOut(BaseModel):
    query: str
    tokens: list[str]
    terms: list[str]
    phrases: list[str]
    results: list[SearchResult]
    exact_count: int
    related_count: int


class Counterpart(BaseModel):
    id: str
    document: str
    article: str
    title: str


class ArticleOut(BaseModel):
    id: str
    doc_id: str
    document: str
    document_title: str
    number: str
    article: str
    title: str
    text: str
    sentences: list[str]
    section_titles: list[str]
    lead_department: str | None
    departments: list[str]
    counterparts: list[Counterpart]


class ArticleEntry(BaseModel):
    id: str
    article: str
    title: str


class DocumentOut(BaseModel):
    doc_id: str
    title: str
    short_name: str
    issuer: str
    number: str
    date: str
    level: str
    implements: str | None
    articles: list[ArticleEntry]


class Health(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "degraded"]
    documents: int
    articles: int


# ------------------------------------------------------------------ the routes

class _StrictJSONRoute(APIRoute):
    """Bodies are read with the Guard's strict parser (no NaN, no duplicate keys, bounded depth) and
    scrubbed (lone surrogates replaced) before the models see them."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def strict(request: Request):
            if request.method in ("POST", "PUT", "PATCH"):
                body = await request.body()
                try:
                    data = strict_json(body) if body else None
                except ValueError as e:
                    return error(400, str(e))
                if not isinstance(data, dict):
                    return error(400, NOT_AN_OBJECT)
                if not json_depth(data, MAX_DEPTH):
                    return error(400, "请求内容的层次太深。")
                request._json = scrub(data)   # FastAPI reads the body through request.json()
            return await handler(request)
        return strict


BUSY_REPLY = {"model": Error, "description": "Too many requests waiting: try again after Retry-After seconds."}
BAD_REPLY = {"model": Error, "description": "A question, field or body that cannot be used; the message says why."}


def add_api(app: FastAPI, service: PolicyService) -> None:
    """The JSON routes, on `app` (which should use `JSON` as its default response class)."""
    settings = service.assistant.settings.answering
    router = APIRouter(route_class=_StrictJSONRoute, responses={400: BAD_REPLY, 503: BUSY_REPLY})

    def why(field: str, value: object) -> str:
        """The core's message for a field the model refused: the same check the pages get."""
        checks = {"question": lambda v: validate_question(v, settings.max_question_chars),
                  "history": lambda v: validate_history(v, settings), "doc_ids": clean_doc_ids,
                  "rating": normalize_rating}
        try:
            checks[field](value)
        except (QuestionError, FeedbackError) as e:
            return str(e)
        except KeyError:
            pass
        return f"请求格式不对：字段 {field} 缺少或类型不符，请对照接口说明（/docs）。"

    @app.exception_handler(RequestValidationError)
    async def refused(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        loc: tuple = tuple(errors[0].get("loc", ())) if errors else ()
        field = str(loc[1]) if len(loc) > 1 and loc[0] in ("body", "query", "path") else ""
        body = exc.body if isinstance(exc.body, dict) else {}
        return error(400, why(field, body.get(field)) if field else NOT_AN_OBJECT)

    async def run(fn, *args):
        try:
            return await service.admission.run(fn, *args)
        except Busy as e:
            return error(503, str(e), {"Retry-After": "5"})
        except (QuestionError, FeedbackError) as e:
            return error(400, str(e))
        except Exception:  # noqa: BLE001 — the caller gets a message, the log the traceback (redacted)
            log.exception("%s failed", getattr(fn, "__name__", "request"))
            return error(500, UNAVAILABLE)

    @app.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Any:
        """"ok", or "degraded" (with `storage` and `dropped`) while the database drops rows; answers go on."""
        return service.health()

    def answer(body: AskRequest):
        history = None if body.history is None else [t.model_dump() for t in body.history]
        return service.ask(body.question, history, body.doc_ids, "api")

    @router.post("/api/ask", response_model=AnswerOut, tags=["answers"])
    async def api_ask(body: AskRequest) -> Any:
        """Answer a question about the loaded policy documents, with exact citations."""
        result = await run(answer, body)
        return result if isinstance(result, JSONResponse) else result.to_dict()

    @router.post("/api/ask/text", response_model=AnswerText, tags=["answers"])
    async def api_ask_text(body: AskRequest) -> Any:
        """The same answer as plain text with full citations (for a ticket or a message)."""
        result = await run(answer, body)
        if isinstance(result, JSONResponse):
            return result
        return {"text": plain_text(result) if result.answer else ""}

    @router.post("/api/feedback", response_model=FeedbackOut, tags=["feedback"])
    async def api_feedback(body: FeedbackRequest) -> Any:
        """Record 👍 or 👎 on an answer; personal numbers are removed before anything is stored."""
        def record():
            return service.record_feedback(body.rating, question=body.question, answer=body.answer,
                                           citation_ids=body.citation_ids, comment=body.comment,
                                           refused=body.refused, source="api")
        row = await run(record)
        return row if isinstance(row, JSONResponse) else {"stored": row is not None, "id": row}

    @router.get("/api/search", response_model=SearchOut, tags=["articles"])
    async def api_search(q: str = Query("", max_length=10_000, description=f"Words or phrases; the first "
                                        f"{MAX_SEARCH_CHARS} characters are searched."),
                         doc_id: str | None = Query(None, description="Only this document."),
                         limit: int = Query(8, ge=1, le=30)) -> Any:
        """Articles with the exact matches first (`matched`), honestly counted; then related ones."""
        return await run(service.search, q, doc_id, limit)

    @router.get("/api/articles/{article_id}", response_model=ArticleOut, tags=["articles"],
                responses={404: {"model": Error}})
    async def api_article(article_id: str) -> Any:
        """One article in full, with its departments and its counterparts in the other documents."""
        try:
            return service.article(article_id)
        except KeyError as e:
            return error(404, str(e.args[0]))

    @router.get("/api/documents", response_model=list[DocumentOut], tags=["articles"])
    async def api_documents() -> Any:
        """The loaded documents and their tables of contents."""
        return service.documents()

    app.include_router(router)
