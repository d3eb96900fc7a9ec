"""LangChain at the edge: the retriever as a `BaseRetriever`, the pipeline as a `Runnable` chain.

The core types stay our own; these adapters let the assistant be composed with LangChain parts
(other retrievers, chat models, tracing) without the core depending on LangChain's churn.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retrieval.extras import MissingExtra

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import Runnable, RunnableLambda
    from pydantic import ConfigDict
except ImportError as e:  # this module is the LangChain edge: nothing else imports it
    raise MissingExtra("retrieval.answering.chain needs LangChain, which is not installed: "
                       "pip install '.[langchain]' (in the project's folder)") from e

from retrieval.answering.assistant import Assistant
from retrieval.answering.composer import article_label


class PolicyRetriever(BaseRetriever):
    """Hybrid article retrieval as a LangChain retriever; one Document per article, best first."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    assistant: Any
    top_k: int = 3
    doc_ids: Sequence[str] | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        a: Assistant = self.assistant
        q = a.reader.read(query, None, self.doc_ids)
        retrieval = a.retriever.retrieve(q, top_k=self.top_k)
        docs = []
        for hit in retrieval.hits:
            art = a.corpus.article(hit.article_id)
            meta = a.corpus.document(art.doc_id)
            docs.append(Document(page_content=art.text, metadata={
                "id": art.id, "document": meta.short_name, "article": article_label(art, a.corpus),
                "title": art.title, "lead_department": art.lead_department, "score": hit.score}))
        return docs


def answer_chain(assistant: Assistant) -> Runnable:
    """{"question", "history"?, "doc_ids"?} -> the answer dict of `app.py ask --json`.

    Stages: plan (validate, read the question into a Query) | retrieve | compose.
    """
    def plan(inputs: dict) -> dict:
        return {"query": assistant.plan(inputs.get("question"), inputs.get("history"), inputs.get("doc_ids"))}

    def retrieve(state: dict) -> dict:
        return {**state, "retrieval": assistant.retriever.retrieve(state["query"], top_k=10)}

    def compose(state: dict) -> dict:
        return assistant.composer.compose(state["query"], state["retrieval"]).to_dict()

    return (RunnableLambda(plan) | RunnableLambda(retrieve) | RunnableLambda(compose)).with_config(
        run_name="policy_answer")
