"""The messages sent to the LLM: prompts/ (Chinese) filled with the cited articles, the history and
the question, all as delimited data."""
from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.answering.composer import article_label
from retrieval.documents.corpus import Corpus
from retrieval.generation.verify import MARKER
from retrieval.types import Article


@dataclass(frozen=True)
class Prompts:
    """prompts/system.zh.md (sent as is) and prompts/user.zh.md (a string.Template with
    ${nonce}, ${provisions}, ${history}, ${question}); user text is substituted once, never parsed."""
    system: str
    user: string.Template

    PLACEHOLDERS = ("nonce", "provisions", "history", "question")

    @classmethod
    def load(cls, folder: Path) -> Prompts:
        try:
            system = (folder / "system.zh.md").read_text(encoding="utf-8").strip()
            user = string.Template((folder / "user.zh.md").read_text(encoding="utf-8").strip())
        except OSError as e:
            raise ValueError(f"LLM prompts: cannot read {e.filename}") from e
        found = {m.group("named") or m.group("braced") for m in user.pattern.finditer(user.template)
                 if m.group("named") or m.group("braced")}
        if found != set(cls.PLACEHOLDERS):
            raise ValueError(f"LLM prompts: {folder / 'user.zh.md'} must use exactly "
                             f"{', '.join('${%s}' % p for p in cls.PLACEHOLDERS)}; found {sorted(found)}")
        return cls(system, user)

    def render_user(self, nonce: str, provisions: str, history: str, question: str) -> str:
        return self.user.substitute(nonce=nonce, provisions=provisions, history=history, question=question)


_ANGLE = str.maketrans({"<": "＜", ">": "＞"})

# Where a reply is cut by the server: a model that starts writing the data section's tags has left
# the answer (Gemma 270M does, measured). Opening tags only: "</" would also cut a reasoning model's
# "</think>". Four at most: OpenAI's API takes no more.
STOP = ["<资料", "<条款", "<对话", "<居民"]


def as_data(text: str) -> str:
    """Text placed in the data section: no angle brackets, so it cannot open or close a tag there."""
    return text.translate(_ANGLE)


def provision_header(n: int, article: Article, corpus: Corpus) -> str:
    return f"[{n}] 《{corpus.document(article.doc_id).short_name}》{article_label(article, corpus)} {article.title}".rstrip()


def provision_block(n: int, article: Article, corpus: Corpus) -> str:
    lines = [provision_header(n, article, corpus), article.text]
    if article.departments:
        lines.append(f"责任单位：{'、'.join(article.departments)}（{article.lead_department}牵头）")
    return "\n".join(as_data(line) for line in lines)


def bound_history(history: Sequence[Any] | None, turns: int, chars: int) -> list[dict]:
    """The last `turns` exchanges (2 messages each), each message cut to `chars` characters;
    markers are taken out of earlier answers, their numbering belonged to other provisions."""
    out = []
    for h in history or ():
        if isinstance(h, dict) and h.get("role") in ("user", "assistant") and isinstance(h.get("content"), str):
            text = h["content"]
            if h["role"] == "assistant":
                text = MARKER.sub("", text)
            text = re.sub(r"\s+", " ", text).strip()
            if len(text) > chars:
                text = text[:chars - 1] + "…"
            if text:
                out.append({"role": h["role"], "content": text})
    return out[-2 * turns:] if turns else []


def history_block(history: Sequence[dict]) -> str:
    if not history:
        return "（无）"
    names = {"user": "居民", "assistant": "助手"}
    return "\n".join(f"{names[h['role']]}：{as_data(h['content'])}" for h in history)
