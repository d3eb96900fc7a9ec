"""Understanding a question: residents' words, article references, document hints, figures, follow-ups."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .text import CN_NUMERAL, cn_to_int
from .types import Article, DocumentMeta


@dataclass(frozen=True)
class Synonym:
    resident_words: tuple[str, ...]
    document_words: tuple[str, ...]


def load_synonyms(path: Path) -> list[Synonym]:
    """The reviewable table of residents' words -> the documents' words (TSV with a header)."""
    if not path.is_file():
        return []
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            resident = tuple((row.get("resident_words") or "").split())
            document = tuple((row.get("document_words") or "").split())
            if resident and document:
                out.append(Synonym(resident, document))
    return out


def expand(question: str, synonyms: Iterable[Synonym]) -> str:
    """Append the documents' words for every resident's word found in the question."""
    extra: list[str] = []
    for syn in synonyms:
        if any(w in question for w in syn.resident_words):
            extra.extend(w for w in syn.document_words if w not in question and w not in extra)
    return f"{question} {' '.join(extra)}" if extra else question


# ---------------------------------------------------------------- documents named in a question

def document_aliases(meta: DocumentMeta) -> set[str]:
    """Ways a person names a document: short name, its last word (细则/意见), number, issuer's place."""
    aliases = {meta.short_name, meta.number, meta.title}
    aliases.update(meta.aliases or ())
    m = re.search(r"(\d+)号", meta.number)
    if m:
        aliases.add(f"{m.group(1)}号")
    for suffix in ("细则", "意见", "办法", "通知", "方案", "规定", "条例", "决定"):
        if meta.short_name.endswith(suffix) or meta.title.endswith(suffix) or suffix in meta.title[-12:]:
            aliases.add(suffix)
    place = re.sub(r"人民政府.*$", "", meta.issuer)
    if place and place != meta.issuer:
        aliases.add(place)
        stripped = re.sub(r"(自治区|省|市|盟|旗|县|区)$", "", place)
        if len(stripped) >= 2:
            aliases.add(stripped)
    aliases.add(meta.level)
    return {a for a in aliases if a and len(a) >= 2}


class DocumentNames:
    """The aliases of a set of documents, found by looking up the question's substrings: the cost
    grows with the question's length, not with the number of documents."""

    def __init__(self, documents: Sequence[DocumentMeta]):
        self.order = {d.doc_id: i for i, d in enumerate(documents)}
        self.owners: dict[str, set[str]] = {}
        for d in documents:
            for a in document_aliases(d):
                self.owners.setdefault(a, set()).add(d.doc_id)
        self.lengths = sorted({len(a) for a in self.owners}, reverse=True)

    def found(self, text: str) -> list[str]:
        """Aliases that occur in the text, longest first."""
        out: dict[str, None] = {}
        for n in self.lengths:
            for i in range(len(text) - n + 1):
                if text[i:i + n] in self.owners:
                    out[text[i:i + n]] = None
        return list(out)

    def named(self, text: str) -> list[str]:
        """doc_ids the text names, in corpus order; an alias shared by several documents names none."""
        ids = {d for a in self.found(text) if len(self.owners[a]) == 1 for d in self.owners[a]}
        return sorted(ids, key=self.order.__getitem__)

    def strip(self, text: str) -> str:
        """The text without the names of documents, which say which document, not what topic."""
        for alias in self.found(text):
            text = text.replace(alias, " ")
        return re.sub(r"\s+", " ", text).strip()


def _names(documents: "DocumentNames | Sequence[DocumentMeta]") -> DocumentNames:
    return documents if isinstance(documents, DocumentNames) else DocumentNames(documents)


def documents_named(question: str, documents: "DocumentNames | Sequence[DocumentMeta]") -> list[str]:
    """doc_ids the question names; an alias shared by several documents names none of them."""
    return _names(documents).named(question)


def strip_document_names(question: str, documents: "DocumentNames | Sequence[DocumentMeta]") -> str:
    """The question without the names of documents."""
    return _names(documents).strip(question)


# ---------------------------------------------------------------- article references

_NUM = rf"(?:\d{{1,3}}|[{CN_NUMERAL}]{{1,4}})"
_TWO_LEVEL = (
    re.compile(rf"第\s*({_NUM})\s*(?:部分|章|节|大条|项)\s*(?:的)?\s*第?\s*[（(]?\s*({_NUM})\s*[）)]?\s*(?:条|款|项|点)?"),
    re.compile(rf"(?<![\d{CN_NUMERAL}])({_NUM})\s*[、.．]?\s*[（(]\s*({_NUM})\s*[）)]"),
    re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})(?![\d.])"),
)
_ONE_LEVEL = (
    re.compile(rf"第\s*[（(]?\s*({_NUM})\s*[）)]?\s*条"),
    re.compile(rf"(?<![{CN_NUMERAL}\d、])[（(]\s*({_NUM})\s*[）)]"),
)


def _num(text: str) -> int | None:
    try:
        return cn_to_int(text)
    except ValueError:
        return None


class ArticleLookup:
    """Articles by the numbers people use for them, built once per corpus."""

    def __init__(self, articles: Sequence[Article]):
        self.by_pair: dict[tuple[int, int], list[Article]] = {}
        self.by_number: dict[int, list[Article]] = {}
        per_doc: dict[str, list[Article]] = {}
        for a in articles:
            per_doc.setdefault(a.doc_id, []).append(a)
            if len(a.path) >= 2:
                self.by_pair.setdefault(a.path[-2:], []).append(a)
        for own in per_doc.values():
            # a single number names an article only where a document numbers them uniquely
            if len({a.path[-1] for a in own}) == len(own):
                for a in own:
                    self.by_number.setdefault(a.path[-1], []).append(a)


def article_references(question: str, lookup: ArticleLookup, doc_ids: Sequence[str] | None) -> list[str]:
    """Article ids a question names ('细则第十二条', '第四部分第三条', '四（三）', '4.3'), in order."""
    def allowed(arts: list[Article]) -> list[str]:
        return [a.id for a in arts if not doc_ids or a.doc_id in doc_ids]

    found: list[str] = []
    consumed = question
    for pattern in _TWO_LEVEL:
        for m in pattern.finditer(consumed):
            s, n = _num(m.group(1)), _num(m.group(2))
            if s is None or n is None:
                continue
            hits = allowed(lookup.by_pair.get((s, n), []))
            if hits:
                found.extend(h for h in hits if h not in found)
                consumed = consumed.replace(m.group(0), " " * len(m.group(0)))
    for pattern in _ONE_LEVEL:
        for m in pattern.finditer(consumed):
            n = _num(m.group(1))
            if n is not None:
                found.extend(h for h in allowed(lookup.by_number.get(n, [])) if h not in found)
    return found


# ---------------------------------------------------------------- asked-for figures

FIGURE_KINDS = {  # checked in this order
    "rate": re.compile(r"利率|利息|贴息|费率|(比例|百分比)[^，。？?]{0,4}(多少|几)|多少比例|百分之几|几成|几个点"),
    "money": re.compile(r"多少钱|多少元|几块|几千|几万|多少万|金额|额度|多高|贷多少|借多少|"
                        r"(补贴|补助|奖补|奖励|贷款|资金|工资|钱|费|金|津贴)[^，。？?]{0,6}(多少|几)|"
                        r"(给|发|补|奖|拿|领|贷|借|报)多少"),
    "duration": re.compile(r"几年|多少年|多久|多长时间|几个月|多少个月|几天|多少天|期限是|哪几年|哪一年"),
    "count": re.compile(r"多少|几个|几次|几家|几户|几人|几岁|几名|几项|几条"),
}
# "能不能多领几个月" asks whether, not how much
_YES_NO = re.compile(r"能不能|可不可以|是不是|是否|能否|有没有|会不会|给不给|管不管|行不行")
_YEAR_RANGE = re.compile(r"\d{4}\s*[-—–至到]\s*\d{4}")
_FIGURE_IN_TEXT = {
    "money": re.compile(r"\d[\d,.]*\s*(?:元|万元|万|千元|亿)|[一二三四五六七八九十百千万两]+(?:元|万元)"),
    "rate": re.compile(r"\d[\d.]*\s*(?:%|％|‰|倍|个百分点)|百分之[一二三四五六七八九十百]+"),
    "duration": re.compile(r"\d+\s*(?:个)?(?:年|月|日|天|工作日|周|小时)|[一二三两四五六七八九十半]+(?:个)?(?:年|月|工作日)|"
                           + _YEAR_RANGE.pattern),
    "count": re.compile(r"\d+|[一二两三四五六七八九十百千]+(?:个|家|户|人|名|次|项|条)"),
}


_MEASURE = "户家人岁次名项条位座所间期批个"
_ASKED_UNIT = re.compile(rf"(?:多少|几)个?(学时|课时|[{_MEASURE}])")
_ASKED_PERIOD = re.compile(r"(?:多少|几)个?(年|月|天|日|周)")


def asked_figure(question: str) -> tuple[str, str | None] | None:
    """The kind of figure a question asks for (money, rate, duration, count) and its measure word."""
    if _YES_NO.search(question):
        return None
    for kind, pattern in FIGURE_KINDS.items():
        if pattern.search(question):
            unit = {"count": _ASKED_UNIT, "duration": _ASKED_PERIOD}.get(kind)
            unit = unit.search(question) if unit else None
            return kind, (unit.group(1) if unit else None)
    return None


def has_figure(kind: str, text: str, unit: str | None = None) -> bool:
    if unit:
        if kind == "duration" and _YEAR_RANGE.search(text):
            return True
        unit = "(?:天|日|工作日)" if unit in "天日" else unit
        return bool(re.search(rf"(\d+|[一二两三四五六七八九十百千半]+)\s*个?{unit}", text))
    return bool(_FIGURE_IN_TEXT[kind].search(text))


# ---------------------------------------------------------------- lead departments

LEAD_QUESTION = re.compile(r"牵头|哪个部门|哪些部门|什么部门|哪个单位|哪家单位|谁负责|谁来管|谁管|归谁|找谁|负责部门|主管部门|责任部门|哪个局|哪个厅")


def asks_lead(question: str) -> bool:
    return bool(LEAD_QUESTION.search(question))


# ---------------------------------------------------------------- follow-ups

_ELLIPTICAL = re.compile(r"^(那|那么|还有|另外|再|它|如果是|要是|换成|对应|相应|城市|市里|牵头|哪个部门|谁)|"
                         r"[这那](个|块|边|些|条|项|种|样|笔|部分|方面|里)|它|其中|同样|一样|上面|刚才|呢[？?]?$")


def previous_user_turn(history: Sequence[dict] | None) -> str | None:
    for h in reversed(history or []):
        if isinstance(h, dict) and h.get("role") == "user" and isinstance(h.get("content"), str):
            return h["content"]
    return None


def is_follow_up(question: str, documents: "DocumentNames | Sequence[DocumentMeta]" = ()) -> bool:
    """Does the question lean on the conversation ('那贷款呢？', '这块谁牵头？', '细则里怎么说？')?"""
    topic = strip_document_names(question, documents) if documents else question
    short = len(re.sub(r"[\s？?。！!，,的是了吗呢啊哪条什么怎么说规定里]", "", topic)) <= 6
    return short or bool(_ELLIPTICAL.search(question))


def contextualize(question: str, history: Sequence[dict] | None,
                  documents: "DocumentNames | Sequence[DocumentMeta]" = (),
                  max_chars: int = 200) -> str:
    """Fold the previous user question into a follow-up that leans on it."""
    previous = previous_user_turn(history)
    if previous and is_follow_up(question, documents):
        return f"{previous[-max_chars:]} {question}"
    return question


# ---------------------------------------------------------------- topics the documents do not cover

def load_out_of_scope(path: Path) -> dict[str, str]:
    """Reviewable table: topic words residents ask a hotline about -> who handles them (may be empty)."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        return {row["term"].strip(): (row.get("refer_to") or "").strip()
                for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if (row.get("term") or "").strip()}


def uncovered_topics(question: str, texts: Sequence[str], table: dict[str, str],
                     synonyms: Iterable[Synonym] = ()) -> list[str]:
    """Listed topic words in the question that the given provisions never mention, in any wording."""
    out = []
    for term in table:
        if term not in question:
            continue
        wordings = {term}
        for syn in synonyms:
            if term in syn.resident_words:
                wordings.update(syn.document_words)
        if not any(w in t for w in wordings for t in texts):
            out.append(term)
    return out
