"""An answer as plain text with full citations: for the terminal, a ticket, or reading to a caller."""
from __future__ import annotations

import re

from retrieval.answering.composer import Answer
from retrieval.types import Citation


def related_heading(answer: Answer) -> str:
    """What the provisions listed with a decline are: older rules, or rules without what was asked."""
    if answer.refusal_reason == "period_not_covered":
        return "收录文件中的相关规定（发布于较早年份，仅供参考，可能已有新规定）"
    if answer.refusal_reason == "place_not_covered":
        return "在当地同样适用的上级规定（仅供参考，不是当地自己的政策）"
    if answer.refusal_reason == "document_not_loaded":
        return "收录文件中的相关规定（仅供参考，不是您问的那部法律法规）"
    return "相关条款（供参考，其中没有所问的内容）"


def citation_label(c: Citation) -> str:
    return f"《{c.document}》{c.article}"


def _cite(n: int, c: Citation, show_quote: bool) -> list[str]:
    lines = [f"[{n}] {citation_label(c)}" + (f" {c.title}" if c.title else "") + f"（{c.id}）"]
    if show_quote:
        lines.append(f"    原文：“{c.quote}”")
    if c.lead_department:
        lines.append(f"    政策牵头部门：{c.lead_department}")
    return lines


def plain_text(answer: Answer, with_question: bool = True) -> str:
    """Each statement followed by the article it comes from; then the articles, with lead departments."""
    def label(m: re.Match) -> str:
        n = int(m.group(1))
        return f"（{citation_label(answer.citations[n - 1])}）" if 0 < n <= len(answer.citations) else ""

    lines = [f"问：{answer.question}"] if with_question else []
    lines.append("答：" + re.sub(r"\[(\d+)\]", label, answer.answer))
    if answer.citations:
        lines += ["", "依据："]
        for n, c in enumerate(answer.citations, start=1):
            lines += _cite(n, c, show_quote=c.quote not in answer.answer)
    if answer.related:
        lines += ["", related_heading(answer) + "："]
        for n, c in enumerate(answer.related, start=1):
            lines += _cite(n, c, show_quote=True)
    if answer.citations or answer.related:
        lines += ["", "说明：以上内容摘自所列政策文件，以文件原文为准。"]
    return "\n".join(lines)
