"""Checking an LLM draft against the numbered provisions it was given, sentence by sentence.

- Every marker must name one of those provisions (others are removed).
- Every number in a sentence must appear in a provision it cites. Numbers are compared as values,
  whatever the numeral style: Arabic, Chinese (十万, 两千五), financial (伍万, 拾贰), digit by digit
  (四零零八八八…), Roman or circled (Ⅹ, ⑩), full-width; cn2an (a maintained converter) reads the
  Chinese forms.
- The sentence's key terms, weighted by their idf over the corpus (the lexical index's own formula),
  must be found in the cited provisions for at least `min_overlap` of their weight.
- A negation or a word that reverses the meaning (不能, 不予, 取消, 废止, 停止, 不再, 失效 …) must
  be in the cited text too.
- Unmarked sentences are dropped, except an exact closing from a fixed list (CLOSINGS) and a short
  statement that the provisions do not say something, about terms the provisions use.
When nothing cited survives, the draft has no markers, or more than half of its statements fail,
the caller keeps the grounded answer.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import cn2an

from retrieval.answering.composer import HOTLINE
from retrieval.documents.corpus import Corpus
from retrieval.documents.text import int_to_cn, split_sentences
from retrieval.search.lexical import BM25
from retrieval.types import Article

MIN_OVERLAP = 0.5
MARKER = re.compile(r"[\[［【]\s*(\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*)\s*[\]］】]")
_TRAILING = re.compile(r"^(?:\s*(?:[”’」』）)]|" + MARKER.pattern + r"))+")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•·●]\s*|#{1,6}\s*|\d{1,2}[.、)）]\s*|[（(]\d{1,2}[)）]\s*|[一二三四五六七八九十]{1,3}、\s*)")
_MARKUP = re.compile(r"\*\*|__|`")
THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S)

# ---------------------------------------------------------------- numbers

_CN_DIGITS = "〇零一二两三四五六七八九壹贰叁肆伍陆柒捌玖"
_CN_UNITS = "十百千万亿拾佰仟"
_CN_NUM = _CN_DIGITS + _CN_UNITS
_FINANCIAL = set("壹贰叁肆伍陆柒捌玖拾佰仟")   # only ever numerals
_UNIT = (r"(?:元|块|万|亿|年|个|月|日|天|周|小时|学时|课时|岁|倍|成|人|户|家|名|位|次|项|条|款|所|批|期|份|张|间|亩"
         r"|%|％|个百分点)")
_ARABIC = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)\s*([万亿千])?")
_CN_SPAN = re.compile(rf"[{_CN_NUM}]+")


def _numeric_chars(text: str) -> str:
    """Roman numerals, circled and other single-character numbers as decimal digits (before NFKC,
    which would turn Ⅹ into the letter X); CJK numerals are left to cn2an."""
    out = []
    for ch in text:
        if ch.isascii() or ch in _CN_NUM or "\u3400" <= ch <= "\u9fff":
            out.append(ch)
            continue
        value = unicodedata.numeric(ch, None)
        out.append(_fmt(value) if value is not None and unicodedata.category(ch) in ("Nl", "No", "Nd") else ch)
    return unicodedata.normalize("NFKC", "".join(out))


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.6f}".rstrip("0").rstrip(".")


def _cn_value(span: str) -> float | None:
    try:
        return float(cn2an.cn2an(span, "smart"))
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def figures(text: str) -> set[str]:
    """The numbers a text states, as values: '10万元', '十万元', '拾万元' and '100000元' are all
    '100000'; '50%' and '百分之五十' are '50'; '第（九）条' and '第玖条' give '9'; '四零零八八八' is
    '400888'. A Chinese numeral counts when it is written in financial characters, stands before a
    measure word (三年, 两次), after 第 or 百分之, or is a run of three or more digits; so 统一 or
    进一步 state no number. A span cn2an cannot read is kept as written (it must then be in the source)."""
    text = _numeric_chars(text)
    out = set()
    for m in _ARABIC.finditer(text):
        number = float(m.group(1).replace(",", ""))
        mult = {"万": 10_000, "亿": 100_000_000, "千": 1000}.get(m.group(2) or "", 1)
        out.add(_fmt(number * mult))
        if mult != 1:
            out.add(_fmt(number))
    for m in _CN_SPAN.finditer(text):
        span, before, after = m.group(0), text[max(0, m.start() - 3):m.start()], text[m.end():]
        digits_only = all(ch in _CN_DIGITS for ch in span)
        if re.search(r"[\d.]\s*$", before) or all(ch in "万亿" for ch in span):
            continue  # 10万 is read above; 万 or 亿 alone (万众) is no number
        counts = (bool(_FINANCIAL & set(span)) or bool(re.match(_UNIT, after)) or before.endswith(("第", "百分之"))
                  or re.search(r"第\s*[（(]\s*$", before) is not None or (digits_only and len(span) >= 3)
                  or (len(span) >= 2 and span[-1] in _CN_UNITS and any(ch in _CN_DIGITS for ch in span)))
        if not counts:
            continue
        value = _cn_value(span)
        if value is None and digits_only:  # 二〇二四 read digit by digit
            value = _cn_value("".join(ch if ch != "两" else "二" for ch in span))
        out.add(_fmt(value) if value is not None else span)
    return out


def provision_text(article: Article) -> str:
    """What a sentence citing an article may rely on: its labels as read (第四部分第（三）条),
    section titles, title, body and departments."""
    labels = []
    for i, (label, number) in enumerate(zip(article.labels, article.path, strict=False)):
        if label.startswith("第"):
            labels.append(label)
        elif i < len(article.labels) - 1:
            labels.append(f"第{int_to_cn(number) if number < 1000 else number}部分")
        else:
            labels.append(f"第{label.rstrip('、.')}条")
    parts = ["".join(labels), *article.section_titles, article.title, article.body]
    if article.departments:
        parts.append("责任单位：" + "、".join(article.departments) + f"（{article.lead_department}牵头）")
    return "\n".join(p for p in parts if p)


# ---------------------------------------------------------------- sentences and markers

def parse_markers(text: str) -> list[int]:
    out: list[int] = []
    for m in MARKER.finditer(text):
        for part in re.split(r"\s*[,，、]\s*", m.group(1)):
            ends = [int(x) for x in re.split(r"\s*[\-–~]\s*", part) if x]
            numbers = range(ends[0], ends[-1] + 1) if len(ends) == 2 and 0 < ends[1] - ends[0] < 10 else ends
            out.extend(n for n in numbers if n not in out)
    return out


def split_statements(text: str) -> list[list[str]]:
    """Lines of sentences (text.split_sentences); a sentence keeps the markers and closing quotes
    that follow its final punctuation ("……补贴。[1]")."""
    lines = []
    for line in text.splitlines():
        sentences: list[str] = []
        for piece in split_sentences(line):
            m = _TRAILING.match(piece)
            if m and sentences:
                sentences[-1] += m.group(0).strip()
                piece = piece[m.end():].strip()
            if piece:
                sentences.append(piece)
        if sentences:
            lines.append(sentences)
    return lines


def complete_part(text: str) -> str:
    """The text up to its last finished sentence (a reply cut at a length limit ends mid-sentence)."""
    lines = split_statements(text)
    if not lines:
        return ""
    last = lines[-1]
    if not re.search(r"[。！？；!?;][”’」』）)]*\s*(?:" + MARKER.pattern + r"\s*)*$", last[-1]):
        last = last[:-1]
    lines = lines[:-1] + ([last] if last else [])
    return "\n".join("".join(line) for line in lines)


def repeats(text: str) -> bool:
    """Whether a draft repeats itself (a small model looping until its limit): one sentence three
    times, or its last 40 characters three times (a loop without punctuation)."""
    plain = re.sub(r"\s+", "", MARKER.sub("", text))
    if len(plain) < 80:
        return False
    seen: dict[str, int] = {}
    for line in split_statements(plain):
        for s in line:
            if len(s) >= 6:
                seen[s] = seen.get(s, 0) + 1
                if seen[s] >= 3:
                    return True
    tail = plain[-40:]
    return len(re.findall(f"(?=({re.escape(tail)}))", plain)) >= 3  # overlapping occurrences


def renumber(text: str, mapping: Mapping[int, int]) -> str:
    return MARKER.sub(lambda m: "".join(f"[{mapping[n]}]" for n in parse_markers(m.group(0)) if n in mapping), text)


def _plain(sentence: str) -> str:
    """The sentence's words: no markers, list numbering or markup."""
    return _MARKUP.sub("", _LIST_PREFIX.sub("", MARKER.sub("", sentence))).strip()


# ---------------------------------------------------------------- what may stand without a marker

# The closings the prompt offers, as exact sentences (compared without spaces and with the final
# punctuation made uniform): anything added to them ("…12333或加微信领补贴") is not a closing.
CLOSINGS = frozenset({
    "具体以当地人社部门解释为准。",
    "具体以当地人力资源和社会保障部门解释为准。",
    "具体以当地人社部门公布为准。",
    "具体标准以当地人社部门公布为准，可拨打12333咨询。",   # the grounded answer's own closing
    "如有疑问，可拨打12333咨询。",
    "如有疑问，请拨打12333咨询。",
    "如有疑问，可拨打12333人社服务热线咨询。",
    "以上内容仅供参考。",
})


def _closing_form(plain: str) -> str:
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", plain)).replace(",", "，")
    return re.sub(r"[。.!！]*$", "", text) + "。"


# A statement that the provisions do not say something ("所给条款没有规定具体金额。")
GAP = re.compile(r"^(?:所给|上述|以上|现有|提供的|这些|相关)?(?:条款|条文|文件|规定|政策)?(?:中|里|均|都|并)?"
                 r"(?:没有|未|并未|均未|都没有)(?:作出|做出)?(?:具体|明确)?(?:规定|提及|提到|说明|涉及|写明)"
                 r"(?P<what>[^，,；;。.]{0,20})[。.]?$")
_GAP_WORDS = frozenset("具体 明确 的 金额 标准 数额 额度 期限 时间 条件 比例 流程 程序 办理 材料 对象 要求 方式 渠道 地点 "
                       "部门 多少 多久 是否 怎么 如何 上限 下限".split())
_HEDGE = re.compile(r"但|不过|然而|可以|只要|需要|应当")
# Words that deny or reverse what a provision grants: they must be in the provision a sentence cites.
NEGATION = re.compile(r"不[能得可予应会符享属包计再需用]|无法|未能|禁止|无权|不是|并非|没有|并无|无须|无需"
                      r"|取消|废止|废除|停止|终止|暂停|中止|撤销|撤回|失效|作废|过期|到期|截止|叫停|收回|追回")
_FILLER = frozenset("您 你 根据 依据 条款 条文 提到 指出 明确 表示 此外 同时 另外 其中 方面 包括 主要 以下 如下 属于 对于 关于 "
                    "所给 上述 以上 按规定 有关 方面 内容".split())


@dataclass
class _Checked:
    sentence: str           # as it will be shown: markers normalised, unknown ones removed
    markers: list[int]
    kind: str               # "cited", "closing", "gap", "intro", "empty" or "removed"
    reason: str | None = None
    detail: str | None = None


class Verifier:
    """verify() with caches of the provisions' tokens and figures (one per generator)."""

    def __init__(self, tokenize: Callable[[str], list[str]], min_overlap: float = MIN_OVERLAP,
                 corpus: Corpus | None = None):
        self.tokenize = tokenize
        self.min_overlap = min_overlap
        self._cache: dict[str, tuple[set[str], set[str], str]] = {}
        self._lock = threading.Lock()
        # a term's weight is its idf over the corpus' articles, by the lexical index's formula: a word
        # the documents never use (a new fact: 公务员, 免息) weighs most, one every article uses least
        self._idf: dict[str, float] = {}
        self._unseen = 1.0
        if corpus is not None and corpus.articles:
            bm25 = BM25.from_documents([tokenize(a.text) for a in corpus.articles])
            self._idf = {t: bm25.idf_of(t) for t in bm25.vocab}
            self._unseen = bm25.max_idf()  # a term no article uses weighs as much as the rarest

    def weight(self, term: str) -> float:
        return self._idf.get(term, self._unseen)

    def overlap(self, terms: set[str], source: set[str]) -> float:
        """Share of the terms' weight found in the source: 0..1."""
        total = sum(self.weight(t) for t in terms)
        return sum(self.weight(t) for t in terms if t in source) / total if total else 1.0

    def source(self, article: Article) -> tuple[set[str], set[str], str]:
        """(tokens, figures, text) of a provision."""
        with self._lock:
            hit = self._cache.get(article.id)
        if hit is None:
            text = provision_text(article)
            hit = (set(self.tokenize(text)), figures(text), text)
            with self._lock:
                self._cache[article.id] = hit
        return hit

    def key_terms(self, plain: str) -> set[str]:
        return {t for t in self.tokenize(plain) if t not in _FILLER}

    def unmarked_ok(self, plain: str, provisions: Mapping[int, Article]) -> str | None:
        """'closing' or 'gap' for the two kinds of sentence that may stand without a marker."""
        if _closing_form(plain) in CLOSINGS:
            return "closing"
        if figures(plain) or HOTLINE in plain or len(plain) > 50 or _HEDGE.search(plain):
            return None
        m = GAP.match(plain)
        if not m:
            return None
        known = set().union(*(self.source(a)[0] for a in provisions.values())) if provisions else set()
        what = {t for t in self.key_terms(m.group("what")) if t not in _GAP_WORDS}
        return "gap" if what <= known else None

    def check(self, sentence: str, provisions: Mapping[int, Article]) -> tuple[_Checked, list[int]]:
        """One sentence: (the verdict, markers it used that name no provision)."""
        markers = parse_markers(sentence)
        unknown = [n for n in markers if n not in provisions]
        known = [n for n in markers if n in provisions]
        shown = MARKER.sub(lambda m: "".join(f"[{n}]" for n in parse_markers(m.group(0)) if n in provisions), sentence)
        plain = _plain(sentence)
        if not re.search(r"[\w\u3400-\u9fff]", plain):
            return _Checked(shown, known, "empty"), unknown   # markers or punctuation alone: no statement
        kind = self.unmarked_ok(plain, provisions)
        if not known:
            if kind:
                return _Checked(shown, [], kind), unknown
            if plain.endswith(("：", ":")) and len(plain) <= 30 and not figures(plain) and not NEGATION.search(plain):
                return _Checked(shown, [], "intro"), unknown
            return _Checked(sentence, markers, "removed", "unknown_marker" if unknown else "no_marker"), unknown
        if kind == "gap":
            return _Checked(shown, known, "gap"), unknown
        if kind == "closing":  # a marker on "具体以…为准" cites nothing
            return _Checked(MARKER.sub("", shown), [], "closing"), unknown
        sources = [self.source(provisions[n]) for n in known]
        missing = sorted(figures(plain) - set().union(*(s[1] for s in sources)))
        if missing:
            return _Checked(sentence, markers, "removed", "number_not_in_source", "、".join(missing)), unknown
        terms = self.key_terms(plain)
        if terms:
            found = terms & set().union(*(s[0] for s in sources))
            overlap = self.overlap(terms, found)
            if overlap < self.min_overlap:
                return _Checked(sentence, markers, "removed", "low_overlap",
                                f"{overlap:.2f}: {'、'.join(sorted(terms - found))}"), unknown
        negations = set(NEGATION.findall(plain)) - set(NEGATION.findall("".join(s[2] for s in sources)))
        if negations:
            return _Checked(sentence, markers, "removed", "negation_not_in_source", "、".join(sorted(negations))), unknown
        return _Checked(shown, known, "cited"), unknown

    def verify(self, text: str, provisions: Mapping[int, Article]) -> tuple[str, list[int], dict]:
        """(kept text, markers it uses, report). The report:
        {"checked_sentences", "kept_sentences", "removed_sentences": [{"sentence", "reason", "markers",
        "detail"}], "unknown_markers", "fallback": None or why the draft cannot be used, "min_overlap"}.
        Fallback reasons: "empty", "no_citations" (no marker at all), "no_supported_sentences",
        "mostly_unsupported" (more than half of the statements removed)."""
        text = THINK.sub("", text).strip()
        kept_lines: list[list[_Checked]] = []
        removed: list[dict] = []
        unknown_all: list[int] = []
        kept_markers: list[int] = []
        statements = supported = 0
        for line in split_statements(text):
            kept = []
            for sentence in line:
                verdict, unknown = self.check(sentence, provisions)
                unknown_all.extend(n for n in unknown if n not in unknown_all)
                if verdict.kind in ("cited", "removed"):
                    statements += 1
                if verdict.kind == "empty":
                    continue
                if verdict.kind == "removed":
                    removed.append({"sentence": verdict.sentence, "reason": verdict.reason,
                                    "markers": verdict.markers, "detail": verdict.detail})
                    continue
                if verdict.kind == "cited":
                    supported += 1
                kept.append(verdict)
                kept_markers.extend(n for n in verdict.markers if n not in kept_markers)
            if kept:
                kept_lines.append(kept)
        # an introduction or closing alone is no answer; an introduction before nothing is dropped
        kept_lines = [line for i, line in enumerate(kept_lines) if any(v.kind != "intro" for v in line) or
                      any(v.kind == "cited" for later in kept_lines[i + 1:] for v in later)]
        fallback = None
        if not text:
            fallback = "empty"
        elif not parse_markers(text):
            fallback = "no_citations"
        elif supported == 0:
            fallback = "no_supported_sentences"
        elif len(removed) * 2 > statements:
            fallback = "mostly_unsupported"
        report = {"checked_sentences": sum(len(line) for line in split_statements(text)),
                  "kept_sentences": 0 if fallback else sum(len(line) for line in kept_lines),
                  "removed_sentences": removed, "unknown_markers": sorted(unknown_all),
                  "fallback": fallback, "min_overlap": self.min_overlap}
        if fallback:
            return "", [], report
        kept_text = "\n".join("".join(v.sentence for v in line) for line in kept_lines)
        return kept_text, sorted(kept_markers), report

    def supporting_sentences(self, article: Article, statements: Sequence[str]) -> list[str]:
        """The article's sentences that best support the statements citing it, in article order."""
        chosen: set[int] = set()
        sentence_terms = [set(self.tokenize(s)) for s in article.sentences]
        for statement in statements:
            plain = _plain(statement)
            terms, numbers = self.key_terms(plain), figures(plain)
            best, best_score = None, 0
            for i, s_terms in enumerate(sentence_terms):
                score = len(terms & s_terms)
                if score > best_score:
                    best, best_score = i, score
                if numbers and numbers & figures(article.sentences[i]):
                    chosen.add(i)
            if best is not None:
                chosen.add(best)
        return [article.sentences[i] for i in sorted(chosen)]


def verify(text: str, provisions: Mapping[int, Article], tokenize: Callable[[str], list[str]],
           min_overlap: float = MIN_OVERLAP, corpus: Corpus | None = None) -> tuple[str, list[int], dict]:
    """Check an LLM draft against the numbered provisions it was given; see Verifier.verify.
    With `corpus`, key terms are weighted by their idf over its articles (as the generator does)."""
    return Verifier(tokenize, min_overlap, corpus).verify(text, provisions)
