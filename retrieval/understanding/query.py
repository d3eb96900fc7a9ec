"""Reading a question, once, into a frozen `Query`: what to search, where and when the rules must
apply, which documents and articles it names, and what it asks.

Everything downstream (retrieval, the composer, the LLM step) decides from the `Query`; nothing
re-reads the question's text. Decisions about what is asked look at the question's focus — the
clause that asks — so words elsewhere ("雇几个牧民", "户口在巴彦淖尔") are context, not the question.
"""
from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from retrieval.understanding.places import EVERYWHERE, LEVELS, Gazetteer, Place, gazetteer
from retrieval.documents.text import CN_NUMERAL, cn_to_int, int_to_cn, longest_matches, to_arabic
from retrieval.types import Article, DocumentMeta


# ---------------------------------------------------------------- the Query

@dataclass(frozen=True)
class Asked:
    """What a question asks: a figure (and its kind), the lead department, a list, yes or no, or what."""
    kind: str = "what"                 # figure | lead | where | list | yes_no | what
    figure: str | None = None          # money | rate | duration | count
    unit: str | None = None            # the measure word asked for (年, 天, 户 …)


@dataclass(frozen=True)
class Query:
    text: str                          # the latest turn, checked and redacted
    topic: str                         # what to search for: the latest turn without names of documents or places
    context_topic: str                 # the same with the earlier turn folded in, for a follow-up
    focus: str                         # the (last) clause that asks
    asking: str = ""                   # every clause that asks, for topics: context clauses are left out
    asked: Asked = Asked()
    place: Place = EVERYWHERE          # where the rules must apply (named, or the home region)
    place_named: bool = False
    period: tuple[int, int] | None = None   # years the question asks about, when it names them
    documents: tuple[str, ...] = ()    # documents named
    scope: tuple[str, ...] = ()        # documents to search, most local first; empty: none applies
    articles: tuple[str, ...] = ()     # articles named by number
    chapter: tuple[str, ...] = ()      # the articles of a chapter named ("第三章说了什么")
    missing: str | None = None         # an article named that does not exist, as a message
    follow_up: bool = False
    not_applicable: tuple[str, ...] = ()   # named documents that do not apply at the place

    @property
    def is_lookup(self) -> bool:
        """Answered from the numbers it names alone: nothing to search by meaning."""
        return bool(self.articles or self.chapter)


# ---------------------------------------------------------------- residents' words

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


def load_out_of_scope(path: Path) -> dict[str, str]:
    """Reviewable table: topic words residents ask a hotline about -> who handles them (may be empty)."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as f:
        return {row["term"].strip(): (row.get("refer_to") or "").strip()
                for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if (row.get("term") or "").strip()}


def uncovered_topics(focus: str, texts: Sequence[str], table: dict[str, str],
                     synonyms: Iterable[Synonym] = ()) -> list[str]:
    """Listed topic words in the question's focus that the given provisions never mention, in any wording."""
    out = []
    for term in table:
        if term not in focus:
            continue
        wordings = {term}
        for syn in synonyms:
            if term in syn.resident_words:
                wordings.update(syn.document_words)
        if not any(w in t for w in wordings for t in texts):
            out.append(term)
    return out


# ---------------------------------------------------------------- documents named in a question

def document_aliases(meta: DocumentMeta) -> set[str]:
    """The names a document declares: title, short name, aliases and number. Nothing is derived from
    its level, its issuer or the ending of its title, which other documents share."""
    names = {meta.title, meta.short_name, *meta.aliases}
    if meta.number:
        names.add(meta.number)
        names.add(re.sub(r"[〔〕\[\]（）()]", "", meta.number))
        serial = re.search(r"(\d+)号$", meta.number)
        if serial:
            names.add(serial.group(0))  # 巴政发〔2018〕49号 is called 49号 (a number two documents share names neither)
    return {n for n in names if n and len(n) >= 2}


class DocumentNames:
    """The declared names of a set of documents, found by looking up the question's substrings."""

    def __init__(self, documents: Sequence[DocumentMeta]):
        self.order = {d.doc_id: i for i, d in enumerate(documents)}
        self.owners: dict[str, set[str]] = {}
        for d in documents:
            for a in document_aliases(d):
                self.owners.setdefault(a, set()).add(d.doc_id)
        self.lengths = sorted({len(a) for a in self.owners}, reverse=True)

    def found(self, text: str) -> list[str]:
        """Names that occur in the text, longest first; a name inside a longer one found is not counted."""
        return list(dict.fromkeys(name for _, name in longest_matches(text, self.owners, self.lengths)))

    def named(self, text: str) -> list[str]:
        """doc_ids the text names, in corpus order; a name shared by several documents names none."""
        ids = {d for a in self.found(text) if len(self.owners[a]) == 1 for d in self.owners[a]}
        return sorted(ids, key=self.order.__getitem__)

    def strip(self, text: str) -> str:
        for alias in self.found(text):
            text = text.replace(alias, " ")
        return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- article and chapter references

_NUM = rf"(?:\d{{1,3}}|[{CN_NUMERAL}]{{1,4}})"
_TWO_LEVEL = (
    re.compile(rf"第\s*({_NUM})\s*(?:部分|章|节|大条|项)\s*(?:的)?\s*第?\s*[（(]?\s*({_NUM})\s*[）)]?\s*(?:条|款|项|点)"),
    re.compile(rf"(?<![\d{CN_NUMERAL}])({_NUM})\s*[、.．]?\s*[（(]\s*({_NUM})\s*[）)]"),
    re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})(?![\d.])"),
)
_ONE_LEVEL = (
    re.compile(rf"第\s*[（(]?\s*({_NUM})\s*[）)]?\s*条"),
    re.compile(rf"(?<![{CN_NUMERAL}\d、])[（(]\s*({_NUM})\s*[）)]"),
)
_CHAPTER = re.compile(rf"第\s*({_NUM})\s*(章|部分|节)(?!\s*(?:的)?\s*第)")


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
        self.chapters: dict[tuple[str, int], list[Article]] = {}   # (kind, number) -> articles
        self.count: dict[str, int] = {}
        self.numbered_throughout: set[str] = set()
        per_doc: dict[str, list[Article]] = {}
        for a in articles:
            per_doc.setdefault(a.doc_id, []).append(a)
            if len(a.path) >= 2:
                self.by_pair.setdefault(a.path[-2:], []).append(a)
                top = a.labels[0]
                kind = "章" if top.endswith("章") else "节" if top.endswith("节") else "部分"
                self.chapters.setdefault((kind, a.path[0]), []).append(a)
        for doc_id, own in per_doc.items():
            self.count[doc_id] = len(own)
            # a single number names an article only where a document numbers them uniquely
            if len({a.path[-1] for a in own}) == len(own):
                self.numbered_throughout.add(doc_id)
                for a in own:
                    self.by_number.setdefault(a.path[-1], []).append(a)

    def references(self, question: str, scope: Sequence[str] | None) -> tuple[list[str], list[int]]:
        """(article ids named, single article numbers that name no article in scope)."""
        def allowed(arts: list[Article]) -> list[str]:
            return [a.id for a in arts if not scope or a.doc_id in scope]

        found: list[str] = []
        unknown: list[int] = []
        consumed = question
        for pattern in _TWO_LEVEL:
            for m in pattern.finditer(consumed):
                s, n = _num(m.group(1)), _num(m.group(2))
                if s is None or n is None:
                    continue
                hits = allowed(self.by_pair.get((s, n), []))
                if hits:
                    found.extend(h for h in hits if h not in found)
                    consumed = consumed.replace(m.group(0), " " * len(m.group(0)))
        for pattern in _ONE_LEVEL:
            for m in pattern.finditer(consumed):
                n = _num(m.group(1))
                if n is None:
                    continue
                hits = allowed(self.by_number.get(n, []))
                found.extend(h for h in hits if h not in found)
                if not hits and pattern is _ONE_LEVEL[0]:
                    unknown.append(n)
        if scope and len(found) > 1:
            # the same number in several documents: the first document in scope (the most local) is meant
            first = next(d for d in scope if any(f.startswith(d + ":") for f in found))
            found = [f for f in found if f.startswith(first + ":")]
        return found, unknown

    def chapter(self, question: str, scope: Sequence[str] | None) -> list[str]:
        """The articles of a chapter or part named without an article ('第三章说了什么')."""
        for m in _CHAPTER.finditer(question):
            n = _num(m.group(1))
            arts = [a for a in self.chapters.get((m.group(2), n or -1), []) if not scope or a.doc_id in scope]
            if arts:
                first = scope[0] if scope and any(a.doc_id == scope[0] for a in arts) else arts[0].doc_id
                return [a.id for a in arts if a.doc_id == first]
        return []


# ---------------------------------------------------------------- the clause that asks

_ASKING = re.compile(r"吗|么|呢|？|\?|什么|啥|怎么|怎样|如何|哪|谁|多少|几|多久|多长|是否|能否|可否|有没有|"
                     r"能不能|可不可以|是不是|会不会|行不行|给不给|管不管|有无|不[？?。！!]?$")
_CLAUSES = re.compile(r"[，,。；;！!？?\s]+")
_BARE = re.compile(r"怎么办|咋办|怎么弄|怎么整|怎么样|可以|行|能|吗|么|呢|啊|吧|呀|请问|那|该|我")


def asking_clauses(question: str) -> list[str]:
    """The clauses that ask something (the last clause when none does): the rest is context."""
    clauses = [c for c in _CLAUSES.split(question) if c]
    if not clauses:
        return [question]
    out: list[str] = []
    for i, c in enumerate(clauses):
        if _ASKING.search(c):
            # a bare "怎么办？" / "行吗？" asks about the clause before it
            if i > 0 and len(_BARE.sub("", c)) < 2 and clauses[i - 1] not in out:
                out.append(clauses[i - 1])
            out.append(c)
    return out or clauses[-1:]


def focus_of(question: str) -> str:
    """The last clause that asks something: what a figure or a department is asked by."""
    return asking_clauses(question)[-1]


# ---------------------------------------------------------------- what is asked

FIGURE_KINDS = {  # checked in this order
    "rate": re.compile(r"利率|利息|贴息|费率|(比例|百分比)[^，。？?]{0,4}(多少|几)|多少比例|百分之几|几成|几个点"),
    "money": re.compile(r"多少钱|多少元|几块|几千|几万|多少万|金额|额度|多高|贷多少|借多少|"
                        r"(补贴|补助|奖补|奖励|贷款|资金|工资|钱|费|金|津贴)[^，。？?]{0,6}(多少|几)|"
                        r"(给|发|补|奖|拿|领|贷|借|报)多少"),
    "duration": re.compile(r"几年|多少年|多久|多长时间|几个月|多少个月|几天|多少天|几个工作日|期限是|哪几年|哪一年"),
    "count": re.compile(r"多少|几个|几次|几家|几户|几人|几岁|几名|几项|几条"),
}
# "能不能多领几个月" asks whether, not how much
_WHETHER = re.compile(r"能不能|可不可以|是不是|是否|能否|可否|有没有|会不会|给不给|管不管|行不行|有无")
_YES_NO = re.compile(_WHETHER.pattern + r"|吗|不[？?。！!]?$")
_LIST = re.compile(r"哪些|包括|包含|几种|哪几")
LEAD_QUESTION = re.compile(r"牵头|哪个部门|哪些部门|什么部门|哪个单位|哪家单位|谁负责|谁来管|谁管|归谁|负责部门|"
                           r"主管部门|责任部门|哪个局|哪个厅")
# where a resident applies: answered with the service offices, never the policy's lead department
_WHERE = re.compile(r"(哪个部门|哪个单位|哪里|哪儿|去哪|找谁|什么地方)[^，。？?]{0,4}(办|申请|报名|领|交|咨询)|(办理|申请|报名)[^，。？?]{0,4}(去哪|找谁|哪里|哪个部门)")
_MEASURE = "户家人岁次名项条位座所间期批个"
_ASKED_UNIT = re.compile(rf"(?:多少|几)个?(学时|课时|[{_MEASURE}])")
_ASKED_PERIOD = re.compile(r"(?:多少|几)个?(年|月|天|日|周|工作日)")


def asked_of(focus: str) -> Asked:
    """What the focus clause asks."""
    if _WHERE.search(focus):
        return Asked("where")
    if LEAD_QUESTION.search(focus):
        return Asked("lead")
    if not _WHETHER.search(focus):
        for kind, pattern in FIGURE_KINDS.items():
            if pattern.search(focus):
                unit = {"count": _ASKED_UNIT, "duration": _ASKED_PERIOD}.get(kind)
                m = unit.search(focus) if unit else None
                return Asked("figure", kind, m.group(1) if m else None)
    if _LIST.search(focus):
        return Asked("list")
    if _YES_NO.search(focus):
        return Asked("yes_no")
    return Asked()


_YEAR_RANGE = re.compile(r"\d{4}\s*[-—–至到]\s*\d{4}")
_FIGURE_IN_TEXT = {
    "money": re.compile(r"\d[\d,.]*\s*(?:元|万元|万|千元|亿)"),
    "rate": re.compile(r"\d[\d.]*\s*(?:%|％|‰|倍|个百分点)|百分之\d+"),
    "duration": re.compile(r"\d+\s*(?:个)?(?:年|月|日|天|工作日|周|小时)|半年|" + _YEAR_RANGE.pattern),
    "count": re.compile(r"\d+"),
}


def has_figure(kind: str, text: str, unit: str | None = None) -> bool:
    """Does the text give a figure of this kind (in any numeral style)?"""
    text = to_arabic(text)
    if unit:
        if kind == "duration" and _YEAR_RANGE.search(text):
            return True
        unit = "(?:天|日|工作日)" if unit in ("天", "日") else unit
        return bool(re.search(rf"(\d+|半)\s*个?{unit}", text))
    return bool(_FIGURE_IN_TEXT[kind].search(text))


# ---------------------------------------------------------------- years

_PLAN = re.compile(rf"([{CN_NUMERAL}]{{1,3}})五(?:规划|期间|时期|计划)?")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)\s*年?|([〇零一二三四五六七八九]{4})\s*年")
_RELATIVE = {"今年": 0, "去年": -1, "前年": -2, "明年": 1, "本年度": 0}
# a year is the question's period when it dates the rules asked about, not the person's own story
_ABOUT_RULES = re.compile(r"^.{0,6}?(出台|新出|出的|发布|印发|颁布|实施|政策|规定|文件|细则|意见|办法|条例|标准|一期|那期|"
                          r"这期|期间|版|新规|补贴|扶持|有什么|有啥)")


def five_year_plan(n: int) -> tuple[int, int] | None:
    """The years of the n-th five-year plan (十四五 -> 2021-2025); plans run on from the third (1966)."""
    if n < 3:
        return None
    start = 1966 + 5 * (n - 3)
    return start, start + 4


def period_of(question: str, today: dt.date) -> tuple[int, int] | None:
    """The years a question asks about: explicit years and ranges, 十四五, 今年/去年 — when they date
    the rules asked about."""
    years: list[int] = []
    for m in _PLAN.finditer(question):
        n = _num(m.group(1))
        span = five_year_plan(n) if n else None
        if span and (m.group(0).endswith(("规划", "期间", "时期", "计划")) or _ABOUT_RULES.match(question[m.end():])):
            years.extend(span)
    for m in _YEAR.finditer(question):
        if not _ABOUT_RULES.match(question[m.end():]) and not _YEAR_RANGE.match(question[m.start():]):
            continue
        raw = m.group(1) or m.group(2)
        years.append(int(raw) if raw.isdigit() else int(to_arabic(raw + "年")[:-1]))
    for word, delta in _RELATIVE.items():
        i = question.find(word)
        if i >= 0 and _ABOUT_RULES.match(question[i + len(word):]):
            years.append(today.year + delta)
    return (min(years), max(years)) if years else None


# ---------------------------------------------------------------- follow-ups

_ELLIPTICAL = re.compile(r"^(那|那么|还有|另外|再|它|如果是|要是|换成|对应|相应|城市|市里|牵头|哪个部门|谁)|"
                         r"[这那](个|块|边|些|条|项|种|样|笔|部分|方面|里)|它|其中|同样|一样|上面|刚才|呢[？?]?$")


def previous_user_turn(history: Sequence[dict] | None) -> str | None:
    for h in reversed(history or []):
        if isinstance(h, dict) and h.get("role") == "user" and isinstance(h.get("content"), str):
            return h["content"]
    return None


def is_follow_up(topic: str, question: str) -> bool:
    """Does the question lean on the conversation ('那贷款呢？', '这块谁牵头？', '细则里怎么说？')?"""
    short = len(re.sub(r"[\s？?。！!，,的是了吗呢啊哪条什么怎么说规定里]", "", topic)) <= 6
    return short or bool(_ELLIPTICAL.search(question))


# ---------------------------------------------------------------- the reader

def relative_place_words(home: Place, places: Gazetteer) -> dict[str, Place]:
    """Words for the home region's own province and city: 自治区/本区/全区 where the province is an
    autonomous region, 省里/本省/全省 where it is a province, 市里/本市/全市 for the city. 国家 is not
    among them: residents say it for "the government"."""
    out: dict[str, Place] = {}
    if home.province and home.province != home.city:
        province = places.resolve(home.province)
        kind = "自治区" if home.province.endswith("自治区") else "省" if home.province.endswith("省") else None
        if province and kind:
            short = kind[-1]
            words = [f"本{short}", f"我{short}", f"全{short}"] + ([kind] if kind == "自治区" else ["省里", "省级"])
            out.update({w: province for w in words})
    if home.city and home.city != home.province:
        city = places.resolve(home.city)
        if city:
            out.update({w: city for w in ("市里", "市级", "本市", "我市", "全市")})
    return out


@dataclass
class Reader:
    """Reads questions for one corpus. Built once; `read` is pure apart from the clock."""
    documents: Sequence[DocumentMeta]
    articles: Sequence[Article]
    home_region: str | None = None
    today: dt.date | None = None
    places: Gazetteer = field(default_factory=gazetteer)

    def __post_init__(self) -> None:
        self.names = DocumentNames(self.documents)
        self.lookup = ArticleLookup(self.articles)
        self.docs_by_id = {d.doc_id: d for d in self.documents}
        self.home = self.places.resolve(self.home_region) if self.home_region else None
        if self.home_region and self.home is None:
            raise ValueError(f"home region {self.home_region!r} is not an official area name "
                             f"(e.g. 全国, 内蒙古自治区, 巴彦淖尔市)")
        self.region: dict[str, Place] = {}
        for d in self.documents:
            place = self.places.resolve(d.region) if d.region else None
            # a document whose region is missing or unknown serves where the deployment is (reported by `check`)
            self.region[d.doc_id] = place or self.home or EVERYWHERE
        self.order = {d.doc_id: i for i, d in enumerate(self.documents)}
        self.relative = relative_place_words(self.home, self.places) if self.home else {}

    def find_places(self, text: str) -> list[Place]:
        """Places a text names: official and short names, and words that point at the home region's
        own province or city (自治区, 本省, 市里), which are resolved against the home region."""
        text = self.names.strip(text)
        found = self.places.find(text, self.home)
        for name in self._place_names(text):
            text = text.replace(name, " ")
        for word, place in self.relative.items():
            if word in text and place not in found:
                found.append(place)
        return found

    def applying(self, places: Sequence[Place]) -> list[str]:
        """Documents whose rules apply at any of the places, most local first."""
        ids = [d for d in self.order if any(self.region[d].contains(p) for p in places)]
        return sorted(ids, key=lambda d: (-LEVELS.index(self.region[d].level), self.order[d]))

    def label(self, doc_id: str) -> str:
        """How a person names where a document applies: 国家, 内蒙古自治区, 巴彦淖尔市."""
        place = self.region[doc_id]
        return "国家" if place == EVERYWHERE else place.name

    def read(self, text: str, history: Sequence[dict] | None = None,
             doc_ids: Sequence[str] | None = None) -> Query:
        """The question as a Query. `text` is already checked and redacted; `doc_ids` is a filter
        chosen by the person (the console's document selector), which wins over everything."""
        named = self.names.named(text)
        places = self.find_places(text)
        topic = self._topic(text) or text
        previous = previous_user_turn(history)
        follow_up = bool(previous) and is_follow_up(topic, text)
        context_topic = topic
        if follow_up and previous:
            context_topic = f"{self._topic(previous)[-200:]} {topic}"
            if not named and not places:
                named = self.names.named(previous)
                places = self.find_places(previous)
        place = places[0] if places else (self.home or EVERYWHERE)
        # with no home region set, a question naming no place may be about any document's area
        applying = self.applying(places or [place]) if places or self.home else self.applying(list(self.region.values()))
        not_applicable: list[str] = []
        if doc_ids:
            scope = [d for d in applying if d in doc_ids] + [d for d in doc_ids if d not in applying]
        elif named:
            # a document named together with a place it has nothing to do with is not the one meant
            # (包头市的实施细则 is not Bayannur's); one for a part of the place is (自治区和巴彦淖尔的细则)
            not_applicable = [d for d in named if places and not any(
                self.region[d].contains(p) or p.contains(self.region[d]) for p in places)]
            scope = sorted((d for d in named if d not in not_applicable),
                           key=lambda d: (-LEVELS.index(self.region[d].level), self.order[d]))
        else:
            scope = applying
        focus = focus_of(text)
        articles, unknown = self.lookup.references(text, scope or None)
        chapter = [] if articles else self.lookup.chapter(text, scope or None)
        missing = None
        if unknown and not articles:
            missing = self._missing(unknown[0], named or scope)
        return Query(
            text=text, topic=topic, context_topic=context_topic, focus=focus, asking=" ".join(asking_clauses(text)),
            asked=asked_of(focus), place=place, place_named=bool(places),
            period=period_of(text, self.today or dt.date.today()),
            documents=tuple(named), scope=tuple(scope), articles=tuple(articles), chapter=tuple(chapter),
            missing=missing, follow_up=follow_up, not_applicable=tuple(not_applicable))

    def _topic(self, text: str) -> str:
        """What the text is about: without the names of documents and places, which say which and where."""
        stripped = self.names.strip(text)
        for name in sorted(self._place_names(stripped) | {w for w in self.relative if w in stripped}, key=len, reverse=True):
            stripped = stripped.replace(name, " ")
        return re.sub(r"\s+", " ", stripped).strip()

    def _place_names(self, text: str) -> set[str]:
        return {name for _, name in longest_matches(text, self.places.by_name, self.places.lengths)}

    def _missing(self, number: int, candidates: Sequence[str]) -> str | None:
        """'《就业促进法》共六十九条，没有第七十条。' for a number past the end of the document meant."""
        docs = [d for d in candidates if d in self.lookup.numbered_throughout and number > self.lookup.count[d]]
        if not docs:
            return None
        d = docs[0]
        return (f"《{self.docs_by_id[d].short_name}》共{int_to_cn(self.lookup.count[d])}条，"
                f"没有第{int_to_cn(number) if number < 1000 else number}条。")
