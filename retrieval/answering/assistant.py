"""The assistant: loads corpus, index and models once, answers questions. Shared by CLI, web and eval."""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import Protocol

from retrieval.answering.composer import Answer, Composer
from retrieval.config import AnsweringSettings, Settings
from retrieval.documents.corpus import Corpus, load_corpus
from retrieval.documents.links import counterpart_lookup
from retrieval.documents.text import clean_control
from retrieval.generation import LLMGenerator
from retrieval.privacy import redact, without_personal_mentions
from retrieval.search.embeddings import Embedder, embedder_for
from retrieval.search.index import DenseIndex, ensure_index
from retrieval.search.lexical import Tokenizer, corpus_bm25
from retrieval.search.retriever import HybridRetriever
from retrieval.types import QuestionError
from retrieval.understanding.lexicon import load_out_of_scope, load_synonyms
from retrieval.understanding.places import RARE_WORD
from retrieval.understanding.query import Query, Reader

log = logging.getLogger(__name__)

BUSY = "busy"  # llm_error when no LLM slot was free in time: the grounded answer is given at once
Event = tuple[str, object]   # see Assistant.answer_events


class Limits(Protocol):
    """Bounds on the two steps of an answer (web.admission.Admission is the web's)."""

    def grounded(self) -> AbstractContextManager[object]:
        """Held while the grounded answer is computed (retrieval: CPU work)."""

    def generation(self) -> AbstractContextManager[bool]:
        """Held while the LLM writes; gives False when no slot was free in time (the answer is "busy")."""


class _Unlimited:
    def grounded(self) -> AbstractContextManager[object]:
        return nullcontext()

    def generation(self) -> AbstractContextManager[bool]:
        return nullcontext(True)


UNLIMITED: Limits = _Unlimited()

_MEANINGFUL = re.compile(r"[\u3400-\u9fffA-Za-z0-9]")


def validate_question(question: object, max_chars: int) -> str:
    """The question as text to search, or QuestionError with a message for the person asking."""
    if not isinstance(question, str):
        raise QuestionError("问题必须是文字。")
    text = unicodedata.normalize("NFC", clean_control(question)).strip()
    if not text:
        raise QuestionError("问题是空的，请输入您想咨询的就业创业问题。")
    if len(text) > max_chars:
        raise QuestionError(f"问题太长（{len(text)}字），请精简到{max_chars}字以内。")
    meaningful = len(_MEANINGFUL.findall(text))
    visible = len(text.replace(" ", ""))
    if meaningful == 0 or meaningful < 0.3 * visible or text.count("\ufffd") > 0.1 * visible:
        raise QuestionError("没有识别出问题的文字内容，请用中文重新描述您的问题。")
    return text


def validate_history(history: object, settings: AnsweringSettings) -> list[dict]:
    """The last turns of a well-formed conversation, each bounded; QuestionError past the limits."""
    if history is None:
        return []
    shape = "对话历史的格式不对：应为 [{\"role\": \"user\", \"content\": \"…\"}, …]。"
    if not isinstance(history, (list, tuple)):
        raise QuestionError(shape)
    if len(history) > settings.max_history_items:
        raise QuestionError(f"对话历史太长（{len(history)}条），最多{settings.max_history_items}条；请清空对话后再问。")
    turns = []
    for h in history:
        if not isinstance(h, dict) or h.get("role") not in ("user", "assistant") or not isinstance(h.get("content"), str):
            raise QuestionError(shape)
        content = redact(clean_control(h["content"])[:settings.max_turn_chars])
        turns.append({"role": h["role"], "content": content})
    return turns[-2 * settings.max_history_turns:]


def lexical_index(settings: Settings, corpus: Corpus, tokenizer: Tokenizer | None = None, rebuild: bool = False):
    """The corpus's BM25 matrix, kept beside the dense index (index/lexical/) between starts, checked
    against the SHA-256 in its manifest; `rebuild` recomputes it without reading the old file."""
    tokenizer = tokenizer or Tokenizer(settings.corpus.dir / "lexicon" / "terms.txt")
    return corpus_bm25(corpus, tokenizer, settings.index.dir / "lexical", rebuild=rebuild)


class Assistant:
    def __init__(self, settings: Settings, corpus: Corpus, embedder: Embedder, index: DenseIndex,
                 retriever: HybridRetriever, composer: Composer, llm: LLMGenerator | None = None):
        self.reader = composer.reader
        self.settings = settings
        self.corpus = corpus
        self.embedder = embedder
        self.index = index
        self.retriever = retriever
        self.composer = composer
        self.llm = llm  # rewrites grounded answers in plain language, when an endpoint is configured

    @classmethod
    def load(cls, settings: Settings, embedder: Embedder | None = None,
             progress: bool = False, llm: bool = True) -> Assistant:
        """Corpus, index and models as `settings` (loaded once by the program) say."""
        corpus = load_corpus(settings.corpus.dir)
        embedder = embedder or embedder_for(settings.embedding)
        index = ensure_index(settings.index.dir, corpus, embedder, progress=progress, settings=settings.for_index())
        lexicon = settings.corpus.dir / "lexicon"
        tokenizer = Tokenizer(lexicon / "terms.txt")
        retriever = HybridRetriever(corpus, index, embedder, tokenizer, load_synonyms(lexicon / "synonyms.tsv"),
                                    bm25=lexical_index(settings, corpus, tokenizer))
        reader = Reader(corpus.documents, corpus.articles, settings.corpus.home_region or corpus.home_region,
                        counterparts=counterpart_lookup(corpus, index),
                        everyday_word=lambda w: tokenizer.is_word(w, RARE_WORD),
                        topic_words=tokenizer.topic_words)
        composer = Composer(retriever, reader, max_articles=settings.answering.top_k,
                            out_of_scope=load_out_of_scope(lexicon / "out_of_scope.tsv"))
        # None when LLM_* are unset
        generator = LLMGenerator(settings.llm, corpus, tokenizer) if llm and settings.llm else None
        return cls(settings, corpus, embedder, index, retriever, composer, generator)

    def plan(self, question: object, history: Sequence[dict] | None,
             doc_ids: Sequence[str] | None) -> Query:
        """The question read once into a Query — or QuestionError.

        Personal numbers (ID card, phone, bank card) are removed here, before anything else sees
        the question: they are never searched, logged, stored, sent to an LLM or echoed."""
        text = validate_question(question, self.settings.answering.max_question_chars)
        text = without_personal_mentions(redact(text)).strip() or redact(text)
        known = self.corpus.docs_by_id
        unknown = [d for d in doc_ids or () if d not in known]
        if unknown:
            choices = sorted(known)
            more = f" 等 {len(choices)} 份" if len(choices) > 10 else ""
            raise QuestionError(f"没有这份文件：{', '.join(unknown)}。可选：{', '.join(choices[:10])}{more}。")
        return self.reader.read(text, validate_history(history, self.settings.answering), doc_ids)

    def answer_events(self, question: object, history: Sequence[dict] | None = None,
                      doc_ids: Sequence[str] | None = None, limits: Limits | None = None,
                      query: Query | None = None) -> Iterator[Event]:
        """The one answer flow, for the CLI, the web and eval alike. Events, in order:

        ("grounded", Answer)  the extractive answer, always, first;
        ("writing", None)     an LLM has its slot and starts writing (only when an LLM is configured
                              and the grounded answer cites);
        ("delta", str)        pieces of the LLM's unverified draft (never to be shown as an answer);
        ("final", Answer)     the answer to give: the verified rewrite, or the grounded answer with
                              `llm_error` saying why the LLM was not used ("busy": no LLM slot).

        QuestionError (a message for the person asking) is raised on the first next(). `limits`
        bounds the two steps: the grounded one (CPU work) and the LLM one (network wait); the web
        passes its admission control, the CLI and eval none. Closing the iterator early closes the
        LLM's connection and gives back its slot (stopping after "grounded" never calls the LLM).
        `query` is the question already read by `plan` (ask_many reads a batch first)."""
        limits = limits or UNLIMITED
        with limits.grounded():
            query = query or self.plan(question, history, doc_ids)
            turns = validate_history(history, self.settings.answering)
            answer = self._compose(question, query)
        yield "grounded", answer
        if self.llm is None or not self.llm.applies(answer):
            yield "final", answer
            return
        with limits.generation() as admitted:
            if not admitted:
                yield "final", replace(answer, llm_error=BUSY)
                return
            yield "writing", None
            stream = self.llm.stream(query.text, turns, answer)
            try:
                for kind, value in stream:
                    yield kind, value
                    if kind == "final":
                        return
            finally:
                stream.close()  # also when our caller stops reading: the LLM's connection is closed now
        yield "final", replace(answer, generator="extractive", llm_error="unexpected")  # no final: a fault

    def ask(self, question: object, history: Sequence[dict] | None = None,
            doc_ids: Sequence[str] | None = None, limits: Limits | None = None,
            query: Query | None = None) -> Answer:
        """The final answer of `answer_events`."""
        final = None
        for kind, value in self.answer_events(question, history, doc_ids, limits, query):
            if kind == "final":
                final = value
        assert isinstance(final, Answer)
        return final

    def _echo(self, question: object) -> str:
        """The question as given back in an answer: as typed, with personal numbers replaced."""
        return redact(unicodedata.normalize("NFC", clean_control(str(question))).strip())

    def _compose(self, question: object, query: Query) -> Answer:
        answer = self.composer.compose(query, self.retriever.retrieve(query, top_k=10))
        answer.question = self._echo(question)
        return answer

    def ask_many(self, questions: Sequence[object]) -> list[Answer | QuestionError]:
        """Answer a batch of single questions, each as `ask` does; they are read and embedded together
        first, which is faster per question."""
        plans: list[Query | QuestionError] = []
        for q in questions:
            try:
                plans.append(self.plan(q, None, None))
            except QuestionError as e:
                plans.append(e)
        self.retriever.prepare([p.context_topic for p in plans if not isinstance(p, QuestionError) and not p.is_lookup])
        return [p if isinstance(p, QuestionError) else self.ask(q, query=p) for q, p in zip(questions, plans, strict=True)]
