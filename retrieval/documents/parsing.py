"""Structure-aware parsing of Chinese official documents into articles.

Recognises the usual heading hierarchies — 第X章 / 第X节 / 第X条 and 一、 / （一） / 1. / （1） —
in whatever nesting a document uses: the nesting is read from the order in which heading
kinds first appear, as outline numbering works. The article level is 第X条 where present,
otherwise the shallowest heading kind whose headings carry text of their own.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from retrieval.documents.text import CN_NUMERAL, cn_to_int, split_sentences
from retrieval.types import Article

log = logging.getLogger(__name__)

_N = f"[{CN_NUMERAL}]+"
# (kind, pattern); order matters where patterns could overlap.
_HEADINGS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("zhang", re.compile(rf"^第({_N}|\d+)章[\s　]*(.*)$")),
    ("jie", re.compile(rf"^第({_N}|\d+)节[\s　]*(.*)$")),
    ("tiao", re.compile(rf"^第({_N}|\d+)条[\s　]*(.*)$")),
    ("cn", re.compile(rf"^({_N})[、．.][\s　]*(.*)$")),
    ("cn_paren", re.compile(rf"^[（(]({_N})[）)][\s　]*(.*)$")),
    ("ar", re.compile(r"^(\d{1,3})[.．、](?!\d)[\s　]*(.*)$")),
    ("ar_paren", re.compile(r"^[（(](\d{1,3})[）)][\s　]*(.*)$")),
)
_LABEL = {"zhang": "第{}章", "jie": "第{}节", "tiao": "第{}条", "cn": "{}、",
          "cn_paren": "（{}）", "ar": "{}.", "ar_paren": "（{}）"}

# A closing parenthesis listing responsible departments: （A、B、C等负责。列第一位者为牵头单位，下同）
_DEPT_TAIL = re.compile(r"[（(]([^（）()]{2,300})[）)]\s*$")
_DEPT_WORD = re.compile(r"(局|厅|委|办|行|会|部|联|室|署|院|处|所|组)$")
_TITLE_MAX = 40


@dataclass
class _Heading:
    kind: str
    number: int
    label: str
    rest: str
    lines: list[str] = field(default_factory=list)


def _match_heading(line: str) -> _Heading | None:
    for kind, pattern in _HEADINGS:
        m = pattern.match(line)
        if m:
            raw = m.group(1)
            try:
                number = cn_to_int(raw)
            except ValueError:
                continue
            return _Heading(kind, number, _LABEL[kind].format(raw), m.group(2).strip())
    return None


def split_title(text: str) -> tuple[str, str]:
    """Lead phrase and remainder: '强化政策支持。继续实施…' -> ('强化政策支持', '继续实施…')."""
    m = re.match(r"^([^。；;！？]{1,%d})[。．.](.*)$" % _TITLE_MAX, text, re.S)
    if m and m.group(2).strip():
        return m.group(1).strip(), m.group(2).strip()
    if len(text) <= _TITLE_MAX and not re.search(r"[。；;]", text):
        return text.strip(), ""
    return "", text.strip()


def split_departments(body: str) -> tuple[str, tuple[str, ...]]:
    """Separate the trailing department list, if any: (body, departments)."""
    m = _DEPT_TAIL.search(body)
    if not m:
        return body, ()
    inner = re.split(r"[，,。]\s*列第一位", m.group(1))[0]
    inner = re.sub(r"(等)?(负责)?[。.]?$", "", inner.strip())
    names = [re.sub(r"等$", "", n.strip()) for n in re.split(r"[、，,]", inner) if n.strip()]
    if not names or not all(_DEPT_WORD.search(n) for n in names):
        return body, ()
    return body[:m.start()].rstrip(), tuple(names)


def _article_kind(headings: list[_Heading]) -> str | None:
    kinds = [h.kind for h in headings]
    if "tiao" in kinds:
        return "tiao"
    order: list[str] = []
    for k in kinds:
        if k not in order:
            order.append(k)
    for kind in order:  # shallowest kind whose headings mostly carry their own text
        own = [h for h in headings if h.kind == kind]
        if sum(1 for h in own if split_title(h.rest)[1]) * 2 >= len(own):
            return kind
    return order[-1] if order else None


def _paragraph_articles(doc_id: str, lines: list[str]) -> list[Article]:
    articles = []
    for i, para in enumerate(lines, start=1):
        body, depts = split_departments(para)
        sentences = tuple(split_sentences(body))
        articles.append(Article(doc_id=doc_id, path=(i,), labels=(f"第{i}段",), title="",
                                body="".join(sentences), sentences=sentences, departments=depts))
    return articles


def parse_document(doc_id: str, text: str) -> list[Article]:
    """Parse a normalised document text into its articles, in document order."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    items: list[_Heading | str] = [(_match_heading(ln) or ln) for ln in lines]
    headings = [it for it in items if isinstance(it, _Heading)]
    article_kind = _article_kind(headings)
    if article_kind is None:
        log.warning("%s: no recognisable headings; falling back to paragraph chunks", doc_id)
        return _paragraph_articles(doc_id, lines)

    # The nesting order of heading kinds, read from the order they open in.
    stack: list[_Heading] = []
    articles: list[tuple[list[_Heading], _Heading]] = []
    current: _Heading | None = None
    closed = False  # the current article has ended with its department list
    depth_of_article: int | None = None
    for it in items:
        if isinstance(it, str):
            if current is not None and not closed:
                current.lines.append(it)
                closed = bool(split_departments(it)[1])
            continue
        kinds = [h.kind for h in stack]
        if current is not None and it.kind not in kinds and it.kind != article_kind \
                and depth_of_article is not None and len(stack) >= depth_of_article:
            # a deeper heading inside an article: part of its body
            if not closed:
                current.lines.append(f"{it.label}{it.rest}")
            continue
        if it.kind in kinds:
            del stack[kinds.index(it.kind):]
        stack.append(it)
        if it.kind == article_kind:
            current = it
            depth_of_article = len(stack)
            closed = bool(split_departments(it.rest)[1])
            articles.append((list(stack[:-1]), it))
        else:
            current, closed = None, False

    if not articles:
        log.warning("%s: headings found but no articles; falling back to paragraph chunks", doc_id)
        return _paragraph_articles(doc_id, lines)

    out: list[Article] = []
    for parents, head in articles:
        if head.kind == "tiao":  # 第X条 carries no lead phrase, unless one is set off as 【…】
            m = re.match(r"^【([^】]{1,40})】(.*)$", head.rest, re.S)
            title, first = (m.group(1), m.group(2).strip()) if m else ("", head.rest)
        else:
            title, first = split_title(head.rest)
        body = "".join([first, *head.lines]) if first else "".join(head.lines)
        body, depts = split_departments(body)
        sentences = tuple(split_sentences(body))  # the body is its sentences: spaces between them dropped
        out.append(Article(
            doc_id=doc_id,
            path=tuple(h.number for h in parents) + (head.number,),
            labels=tuple(h.label for h in parents) + (head.label,),
            title=title,
            body="".join(sentences),
            sentences=sentences,
            departments=depts,
            section_titles=tuple(split_title(h.rest)[0] or h.rest for h in parents),
        ))
    return out
