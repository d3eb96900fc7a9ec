"""An answer as plain text with full citations: for the terminal, a ticket, or reading to a caller."""
from __future__ import annotations

from .answer import Answer
from .types import Citation


def _cite(n: int, c: Citation) -> list[str]:
    head = f"[{n}] 《{c.document}》{c.article}" + (f" {c.title}" if c.title else "") + f"（{c.id}）"
    lines = [head, f"    原文：“{c.quote}”"]
    if c.lead_department:
        lines.append(f"    牵头部门：{c.lead_department}")
    return lines


def plain_text(answer: Answer, with_question: bool = True) -> str:
    lines = [f"问：{answer.question}"] if with_question else []
    lines.append(f"答：{answer.answer}")
    if answer.citations:
        lines += ["", "依据："]
        for n, c in enumerate(answer.citations, start=1):
            lines += _cite(n, c)
    if answer.related:
        lines += ["", "相关条款（供参考，其中没有所问的内容）："]
        for n, c in enumerate(answer.related, start=1):
            lines += _cite(n, c)
    lines += ["", "说明：以上内容摘自所列政策文件，以文件原文为准。"]
    return "\n".join(lines)
