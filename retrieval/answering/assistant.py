"""The assistant: loads corpus, index and models once, answers questions. Shared by CLI, web and eval."""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator, Sequence

from retrieval.answering.composer import Answer, Composer
from retrieval.config import Settings
from retrieval.documents.corpus import Corpus, load_corpus
from retrieval.documents.text import clean_control
from retrieval.generation import LLMGenerator
from retrieval.privacy import redact, without_personal_mentions
from retrieval.search.embeddings import Embedder, make_embedder
from retrieval.search.index import DenseIndex, ensure_index
from retrieval.search.lexical import Tokenizer, corpus_bm25
from retrieval.search.retriever import HybridRetriever
from retrieval.types import QuestionError
from retrieval.understanding.query import Query, Reader, load_out_of_scope, load_synonyms

log = logging.getLogger(__name__)

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


def validate_history(history: object, settings: Settings) -> list[dict]:
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
    tokenizer = tokenizer or Tokenizer(settings.corpus_dir / "lexicon" / "terms.txt")
    return corpus_bm25(corpus, tokenizer, settings.index_dir / "lexical", rebuild=rebuild)


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
    def load(cls, settings: Settings | None = None, embedder: Embedder | None = None,
             progress: bool = False, llm: bool = True) -> Assistant:
        settings = settings or Settings.from_env()
        corpus = load_corpus(settings.corpus_dir)
        embedder = embedder or make_embedder(settings.embedder, settings.query_prefix, settings.passage_prefix,
                                             settings.embed_threads, settings.embed_engine)
        index = ensure_index(settings.index_dir, corpus, embedder, progress=progress)
        lexicon = settings.corpus_dir / "lexicon"
        tokenizer = Tokenizer(lexicon / "terms.txt")
        retriever = HybridRetriever(corpus, index, embedder, tokenizer, load_synonyms(lexicon / "synonyms.tsv"),
                                    bm25=lexical_index(settings, corpus, tokenizer))
        reader = Reader(corpus.documents, corpus.articles, settings.home_region or corpus.home_region)
        composer = Composer(retriever, reader, max_articles=settings.top_k,
                            out_of_scope=load_out_of_scope(lexicon / "out_of_scope.tsv"))
        generator = LLMGenerator.from_env(corpus, tokenizer) if llm else None  # None when LLM_* unset
        return cls(settings, corpus, embedder, index, retriever, composer, generator)

    def plan(self, question: object, history: Sequence[dict] | None,
             doc_ids: Sequence[str] | None) -> Query:
        """The question read once into a Query — or QuestionError.

        Personal numbers (ID card, phone, bank card) are removed here, before anything else sees
        the question: they are never searched, logged, stored, sent to an LLM or echoed."""
        text = validate_question(question, self.settings.max_question_chars)
        text = without_personal_mentions(redact(text)).strip() or redact(text)
        known = self.corpus.docs_by_id
        unknown = [d for d in doc_ids or () if d not in known]
        if unknown:
            choices = sorted(known)
            more = f" 等 {len(choices)} 份" if len(choices) > 10 else ""
            raise QuestionError(f"没有这份文件：{', '.join(unknown)}。可选：{', '.join(choices[:10])}{more}。")
        return self.reader.read(text, validate_history(history, self.settings), doc_ids)

    def ask(self, question: object, history: Sequence[dict] | None = None,
            doc_ids: Sequence[str] | None = None) -> Answer:
        query, turns, answer = self.grounded(question, history, doc_ids)
        if self.llm and not answer.refused:
            answer = self.llm.answer(query.text, turns, answer)
        answer.question = self._echo(question)
        return answer

    def _echo(self, question: object) -> str:
        """The question as given back in an answer: as typed, with personal numbers replaced."""
        return redact(unicodedata.normalize("NFC", clean_control(str(question))).strip())

    def ask_stream(self, question: object, history: Sequence[dict] | None = None,
                   doc_ids: Sequence[str] | None = None) -> Iterator[tuple[str, object]]:
        """("delta", text)… then ("final", Answer); QuestionError is raised before iterating."""
        query, turns, answer = self.grounded(question, history, doc_ids)
        if self.llm and not answer.refused:
            return self.llm.stream(query.text, turns, answer)
        return iter([("final", answer)])

    def grounded(self, question: object, history: Sequence[dict] | None,
                 doc_ids: Sequence[str] | None) -> tuple[Query, list[dict], Answer]:
        """(the Query, history as checked, the grounded answer): the deterministic step, before any
        LLM; the web layer runs it and the LLM step under separate limits."""
        query = self.plan(question, history, doc_ids)
        return query, validate_history(history, self.settings), self._compose(question, query)

    def _compose(self, question: object, query: Query) -> Answer:
        answer = self.composer.compose(query, self.retriever.retrieve(query, top_k=10))
        answer.question = self._echo(question)
        return answer

    def ask_many(self, questions: Sequence[object]) -> list[Answer | QuestionError]:
        """Answer a batch of single questions with grounded answers; they are embedded together,
        which is faster per question. (Batch scoring measures the deterministic core, never an LLM.)"""
        plans: list[Query | QuestionError] = []
        for q in questions:
            try:
                plans.append(self.plan(q, None, None))
            except QuestionError as e:
                plans.append(e)
        self.retriever.prepare([p.context_topic for p in plans if not isinstance(p, QuestionError) and not p.is_lookup])
        return [p if isinstance(p, QuestionError) else self._compose(q, p) for q, p in zip(questions, plans, strict=True)]
