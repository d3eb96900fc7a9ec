"""The LLM's plain-language rewrite of a grounded answer, checked before anyone sees it.

Only used when an operator configures an OpenAI-compatible chat-completions endpoint (LLM_BASE_URL
and LLM_MODEL); with nothing configured `Settings.llm` is None, there is no generator and the assistant stays
extractive. The LLM is only asked when the grounded answer did not decline; it sees the articles
that answer cited, numbered [1]..[n] in its order; its draft is verified (verify.py) and what
fails leaves the grounded answer, with `llm_error` or `verification` saying why.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from retrieval.answering.composer import Answer, Composer
from retrieval.config import LLMSettings
from retrieval.documents.corpus import Corpus
from retrieval.extras import require
from retrieval.generation.client import LLMFailure, classify, stream_reply
from retrieval.generation.prompts import (
    STOP,
    Prompts,
    as_data,
    bound_history,
    history_block,
    provision_block,
)
from retrieval.generation.verify import (
    THINK,
    Verifier,
    complete_part,
    parse_markers,
    renumber,
    repeats,
    split_statements,
)
from retrieval.types import Article, Citation

log = logging.getLogger(__name__)

NOTICES = {  # for the page: why a grounded excerpt is shown instead of a written answer
    "timeout": "智能问答服务响应超时，以下为政策原文摘录。",
    "rate_limited": "智能问答服务繁忙，以下为政策原文摘录。",
    "busy": "智能问答服务繁忙，以下为政策原文摘录。",
    "unverified": "智能生成的回答未能通过条文核对，以下为政策原文摘录。",
    "repetition": "智能生成的回答未能通过条文核对，以下为政策原文摘录。",
    None: "智能问答服务暂时不可用，以下为政策原文摘录。",
}


def notice(answer: Answer) -> str | None:
    """A one-line Chinese notice when an LLM was asked but the grounded excerpt is shown."""
    if answer.llm_error:
        return NOTICES.get(answer.llm_error, NOTICES[None])
    if answer.verification and answer.verification.get("fallback"):
        return NOTICES["unverified"]
    return None


class _ThinkFilter:
    """Hides a leading <think>…</think> block (reasoning models served by vLLM or Ollama) from the draft."""

    def __init__(self):
        self.buffer, self.state = "", "start"

    def feed(self, text: str) -> str:
        if self.state == "pass":
            return text
        self.buffer += text
        if self.state == "start":
            head = self.buffer.lstrip()
            if "<think>".startswith(head):
                return ""
            if not head.startswith("<think>"):
                self.state = "pass"
                out, self.buffer = self.buffer, ""
                return out
            self.state = "thinking"
        end = self.buffer.find("</think>")
        if end < 0:
            return ""
        self.state = "pass"
        out, self.buffer = self.buffer[end + len("</think>"):].lstrip(), ""
        return out


Event = tuple[str, object]   # ("delta", str) while drafting, then once ("final", Answer)


class LLMGenerator:
    """Writes a plain-language answer from the articles an extractive answer cited, and verifies it."""

    def __init__(self, settings: LLMSettings, corpus: Corpus, tokenizer: Callable[[str], list[str]],
                 client: Any = None, redact: Callable[[str], str] | None = None):
        """`redact`, if given, is applied to the question and the history before they are sent
        (e.g. retrieval.privacy.redact: ID card, phone and bank card numbers never leave for the LLM).
        `client` is accepted for compatibility and unused: requests go through client.stream_reply."""
        self.settings = settings
        self.corpus = corpus
        self.redact = redact or (lambda text: text)
        self.prompts = Prompts.load(settings.prompts_dir)
        self.verifier = Verifier(tokenizer, settings.min_overlap, corpus)
        self.warm_up()

    def warm_up(self) -> None:
        """Import the HTTP client (1 s or more) at start, not within the first question's time budget."""
        require("openai", "llm", "An LLM (LLM_BASE_URL, LLM_MODEL)")

    # ------------------------------------------------------------ the request
    def provisions(self, extractive: Answer) -> dict[int, Article]:
        """The articles the extractive answer cited, numbered as it numbered them."""
        return {n: self.corpus.article(c.id) for n, c in enumerate(extractive.citations, start=1)}

    def messages(self, question: str, history: Sequence[Any] | None,
                 provisions: Mapping[int, Article]) -> list[dict]:
        s = self.settings
        turns = [{"role": h["role"], "content": self.redact(h["content"])}
                 for h in bound_history(history, s.history_turns, s.history_chars)]
        block = "\n\n".join(provision_block(n, a, self.corpus) for n, a in provisions.items())
        user = self.prompts.render_user(nonce=secrets.token_hex(4), provisions=block,
                                        history=history_block(turns), question=as_data(self.redact(question)))
        if s.system_role == "user":  # chat templates without a system turn (Gemma) would drop the rules
            return [{"role": "user", "content": self.prompts.system + "\n\n" + user}]
        return [{"role": "system", "content": self.prompts.system}, {"role": "user", "content": user}]

    # ------------------------------------------------------------ answers
    @staticmethod
    def applies(extractive: Answer) -> bool:
        """Whether an LLM is asked at all: only for a grounded answer that did not decline and cites."""
        return not extractive.refused and bool(extractive.citations)

    def answer(self, question: str, history: Sequence[Any] | None, extractive: Answer) -> Answer:
        """The verified LLM answer, or the extractive one with the reason it is kept (the last event of `stream`)."""
        final = extractive
        for kind, value in self.stream(question, history, extractive):
            if kind == "final":
                final = value  # type: ignore[assignment]
        return final

    def _draft(self, messages: list[dict]) -> Generator[tuple[str, str], None, None]:
        """("piece", visible text)… then ("end", why the reply ended: stop, length, client_cap, or
        "" when the server gave no reason). Raises LLMFailure for a repeating draft."""
        s = self.settings
        think, draft, finish, received = _ThinkFilter(), "", "", 0
        pieces = stream_reply(s, messages, STOP)
        try:
            for piece in pieces:
                received += 1
                visible = think.feed(piece.text)
                draft += visible
                if visible:
                    yield "piece", visible
                if repeats(draft):
                    raise LLMFailure("repetition", f"the draft repeats itself after {len(draft)} characters")
                if piece.finish_reason:
                    finish = piece.finish_reason
                    break
                if len(draft) >= s.max_chars:
                    finish = "client_cap"
                    break
        finally:
            pieces.close()  # stop reading: the connection is closed and the server can stop
        if not received:  # a 200 that was no chat-completions stream (an HTML page, a bare JSON body)
            raise LLMFailure("malformed", "the reply was not a chat-completions event stream")
        yield "end", finish

    def stream(self, question: str, history: Sequence[Any] | None, extractive: Answer) -> Generator[Event, None, None]:
        """("delta", text) for each piece of the unverified draft as it arrives (never to be shown as
        an answer), then ("final", Answer): the verified LLM answer, or the extractive one (with
        llm_error or verification saying why). An answer the LLM does not apply to is final at once.
        Closing the iterator early closes the connection to the LLM."""
        if not self.applies(extractive):
            yield "final", extractive
            return
        provisions = self.provisions(extractive)
        draft, finish = "", ""
        try:
            messages = self.messages(question, history, provisions)
            drafts = self._draft(messages)
            try:
                for kind, value in drafts:
                    if kind == "piece":
                        draft += value
                        yield "delta", value
                    else:
                        finish = value
            finally:
                drafts.close()  # also when our caller stops reading: the LLM's connection is closed now
            if not THINK.sub("", draft).strip():
                raise LLMFailure("empty_response", "the model returned no text")
        except Exception as e:  # any failure of the LLM leaves the grounded answer
            code = classify(e)
            (log.exception if code == "unexpected" else log.warning)("LLM not used (%s): %s", code, e)
            yield "final", replace(extractive, generator="extractive", llm_error=code, verification=None)
            return
        try:
            final = self.verified(draft, provisions, extractive, finish)
        except Exception:  # a fault in checking must not reach the person asking
            log.exception("LLM draft could not be verified")
            final = replace(extractive, generator="extractive", llm_error="unexpected", verification=None)
        yield "final", final

    def verified(self, draft: str, provisions: Mapping[int, Article], extractive: Answer,
                 finish: str = "stop") -> Answer:
        """The draft as an Answer after verification, or the extractive answer noting the fallback.
        A draft cut short (finish "length" or "client_cap", or no reason given) loses its
        unfinished last sentence first."""
        if finish != "stop":
            draft = complete_part(draft)
        text, markers, report = self.verifier.verify(draft, provisions)
        report["finish_reason"] = finish or None
        if report["fallback"]:
            log.info("LLM draft not used: %s", report["fallback"])
            return replace(extractive, generator="extractive", verification=report, llm_error=None)
        mapping = {old: new for new, old in enumerate(markers, start=1)}
        statements = [s for line in split_statements(text) for s in line]
        citations: list[Citation] = []
        for old in markers:
            article = provisions[old]
            citing = [s for s in statements if old in parse_markers(s)]
            support = self.verifier.supporting_sentences(article, citing)
            quote = Composer.quote(article, support) if support else extractive.citations[old - 1].quote
            citations.append(replace(extractive.citations[old - 1], quote=quote))
        report["renumbered"] = {str(old): new for old, new in mapping.items() if old != new}
        # the checked draft is itself the plain-language answer: the grounded summary does not lead it
        return replace(extractive, answer=renumber(text, mapping), citations=citations, generator="llm",
                       verification=report, llm_error=None, summary="")
