"""Optional LLM answers: a plain-language rewrite of the grounded answer, checked before anyone sees it.

Only used when an operator configures an OpenAI-compatible chat-completions endpoint
(LLM_BASE_URL and LLM_MODEL); with nothing configured `LLMSettings.from_env()` is None and the
assistant stays extractive.

What keeps the guarantees of the extractive answer:

- The LLM is only asked when the extractive answer did not decline; refusals stay deterministic.
- It sees the articles the extractive answer cited (full text), numbered [1]..[n] in the same order,
  and the question and history as delimited data (prompts/ in Chinese).
- Its draft is verified sentence by sentence (`verify`): every marker must name one of those
  articles (others are removed); every number in a sentence must appear in a provision it cites; the
  sentence's key terms (jieba tokens from the retriever's tokenizer, weighted by their idf over the
  corpus, so a word the documents never use weighs most) must be found in the cited provisions for at
  least `min_overlap` of their weight (0.5, LLM_MIN_OVERLAP); a negation ("不能", "不予" …) must be
  in the cited text too. Sentences failing a check are removed; when nothing cited survives, the draft
  has no markers at all, or more than half of its statements fail, the grounded extractive answer is
  returned instead. Unmarked sentences are dropped, except two short kinds that state nothing about
  the policy and contain no figure (12333 excepted): a closing such as "具体以当地人社部门解释为准。"
  and a statement that the provisions do not say something ("所给条款没有规定具体金额。").
- Citations are the verified ones, renumbered [1]..[k] in their original order; each quote is the
  cited article's sentences that best support the kept statements (else the extractive quote).
- Time-outs, connection errors, rate limits, HTTP errors and malformed replies give the extractive
  answer with `llm_error` set. LLM_TIMEOUT bounds the wait wall-clock, retries included: for a whole
  answer, or, when streaming, for the first piece and each gap (LLM_STREAM_TIMEOUT for the whole).
"""
from __future__ import annotations

import logging
import math
import os
import queue
import re
import secrets
import string
import threading
import time
import tomllib
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from .answer import HOTLINE, Answer, Composer, article_label
from .config import ROOT
from .corpus import Corpus
from .text import int_to_cn
from .types import Article, Citation

log = logging.getLogger(__name__)

PROMPTS_DIR = ROOT / "prompts"
MIN_OVERLAP = 0.5

# ====================================================================== settings


@dataclass(frozen=True)
class LLMSettings:
    """Where the LLM is and how long to wait for it. Environment: LLM_<FIELD NAME IN CAPITALS>."""
    base_url: str                          # e.g. http://127.0.0.1:8000/v1
    model: str
    api_key: str = field(default="EMPTY", repr=False)  # local servers accept any key
    timeout: float = 20.0                  # seconds for a whole answer; when streaming, for each wait
    max_retries: int = 1                   # retries of a failed request (within the time-out)
    stream_timeout: float = 90.0           # seconds for a whole streamed answer
    temperature: float = 0.0
    max_tokens: int = 1024
    history_turns: int = 3                 # earlier exchanges (question + answer) passed along
    history_chars: int = 300               # characters kept of each earlier message
    min_overlap: float = MIN_OVERLAP       # idf-weighted share of a sentence's key terms in its provision
    prompts_dir: Path = PROMPTS_DIR

    def __post_init__(self) -> None:
        if not re.match(r"^https?://[^\s/]+", self.base_url):
            raise ValueError(f"LLM_BASE_URL must be an http(s) URL, got {self.base_url!r}")
        if not self.model.strip():
            raise ValueError("LLM_MODEL is empty")
        for name in ("timeout", "stream_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"LLM_{name.upper()} must be more than 0 seconds, got {getattr(self, name)}")
        for name in ("max_retries", "history_turns"):
            if getattr(self, name) < 0:
                raise ValueError(f"LLM_{name.upper()} must be 0 or more, got {getattr(self, name)}")
        if self.max_tokens < 16 or self.history_chars < 10:
            raise ValueError("LLM_MAX_TOKENS must be at least 16 and LLM_HISTORY_CHARS at least 10")
        if not 0 < self.min_overlap <= 1:
            raise ValueError(f"LLM_MIN_OVERLAP must be in (0, 1], got {self.min_overlap}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "LLMSettings | None":
        """Settings from LLM_* variables, over those of the TOML file named by LLM_CONFIG (if any);
        None when neither gives a base URL and a model (the assistant then stays extractive)."""
        env = os.environ if env is None else env
        raw: dict[str, Any] = {}
        config = (env.get("LLM_CONFIG") or "").strip()
        if config:
            path = Path(config).expanduser()
            try:
                raw.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise ValueError(f"LLM_CONFIG: cannot read {path}: {e}") from e
            unknown = set(raw) - {f.name for f in fields(cls)}
            if unknown:
                raise ValueError(f"LLM_CONFIG: unknown keys in {path}: {', '.join(sorted(unknown))}")
        for f in fields(cls):
            value = env.get(f"LLM_{f.name.upper()}")
            if value is not None and value.strip() != "":
                raw[f.name] = value.strip()
        if not raw.get("base_url") and not raw.get("model"):
            return None
        if not raw.get("base_url") or not raw.get("model"):
            missing = "LLM_BASE_URL" if not raw.get("base_url") else "LLM_MODEL"
            raise ValueError(f"{missing} is not set: an LLM needs both LLM_BASE_URL and LLM_MODEL "
                             "(unset both to answer without an LLM)")
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in raw:
                continue
            value, kind = raw[f.name], str(f.type)
            try:
                if kind == "int":
                    values[f.name] = int(value)
                elif kind == "float":
                    values[f.name] = float(value)
                elif kind == "Path":
                    values[f.name] = Path(str(value)).expanduser()
                else:
                    values[f.name] = str(value)
            except ValueError as e:
                raise ValueError(f"LLM_{f.name.upper()} must be a number, got {value!r}") from e
        return cls(**values)


# ====================================================================== prompts


@dataclass(frozen=True)
class Prompts:
    """prompts/system.zh.md (sent as is) and prompts/user.zh.md (a string.Template with
    ${nonce}, ${provisions}, ${history}, ${question}); user text is substituted once, never parsed."""
    system: str
    user: string.Template

    PLACEHOLDERS = ("nonce", "provisions", "history", "question")

    @classmethod
    def load(cls, folder: Path) -> "Prompts":
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


# ====================================================================== verification

MARKER = re.compile(r"[\[［【]\s*(\d{1,3}(?:\s*[,，、\-–~]\s*\d{1,3})*)\s*[\]］】]")
_SENTENCE_END = "。！？；!?;"
_TRAILING = re.compile(r"\s*(?:[”’」』）)]|" + MARKER.pattern + r")")
_LIST_PREFIX = re.compile(r"^\s*(?:[-*•·●]\s*|#{1,6}\s*|\d{1,2}[.、)）]\s*|[（(]\d{1,2}[)）]\s*|[一二三四五六七八九十]{1,3}、\s*)")
_MARKUP = re.compile(r"\*\*|__|`")
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S)

_CN_NUM = "〇零一二两三四五六七八九十百千万亿"
_UNIT = (r"(?:元|块|万|亿|年|个|月|日|天|周|小时|学时|课时|岁|倍|成|人|户|家|名|次|项|条|款|所|批|期|%|％|个百分点)")
_ARABIC = re.compile(r"(\d+(?:,\d{3})*(?:\.\d+)?)\s*([万亿千])?")
_CN_QUANTITY = re.compile(rf"(?<![\d.])([{_CN_NUM}]*[〇零一二两三四五六七八九十][{_CN_NUM}]*)(?={_UNIT})")
_CN_PERCENT = re.compile(rf"百分之([{_CN_NUM}]+)")
_CN_ORDINAL = re.compile(rf"第\s*[（(]?\s*([{_CN_NUM}]+)")
_NEGATION = re.compile(r"不[能得可予应会符享属包计再需]|无法|未能|禁止|无权|不是")

# A closing that states nothing about the policy: may stand without a marker (no figures but 12333).
CLOSING = re.compile(
    r"^(?:(?:具体|详细|最终|实际)[^，。]{0,14}(?:以|按)[^，。]{0,18}为准"
    r"|(?:如有疑问|如需了解更多|更多信息|详情)?[，,]?(?:可|请|建议)?(?:拨打|致电)[^，。]{0,12}12333[^，。]{0,12}"
    r"|(?:以上|上述)(?:内容|回答|信息)仅供参考[^，。]{0,12})[。！.]?$")
# A statement that the provisions do not say something: may stand without a marker (no figures).
GAP = re.compile(r"^(?:所给|上述|以上|现有|提供的|这些|相关)?(?:条款|条文|文件|规定|政策)?(?:中|里|均|都|并)?"
                 r"(?:没有|未|并未|均未|都没有)(?:作出|做出)?(?:具体|明确)?(?:规定|提及|提到|说明|涉及|写明)"
                 r"[^，,；;]{0,30}[。.]?$")
_HEDGE = re.compile(r"但|不过|然而|可以|只要|需要|应当")
_FILLER = frozenset("您 你 根据 依据 条款 条文 提到 指出 明确 表示 此外 同时 另外 其中 方面 包括 主要 以下 如下 属于 对于 关于 "
                    "所给 上述 以上 按规定 有关 方面 内容".split())


def _cn_number(text: str) -> float | None:
    """'十万' -> 100000, '三千五百' -> 3500, '两' -> 2, '一百零三' -> 103."""
    digits = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
    small = {"十": 10, "百": 100, "千": 1000}
    total, section, digit = 0, 0, None
    for ch in text:
        if ch in digits:
            digit = digits[ch]
        elif ch in small:
            section += (1 if digit is None else digit) * small[ch]
            digit = None
        elif ch in "万亿":
            section += digit or 0
            total += (section or 1) * (10_000 if ch == "万" else 100_000_000)
            section, digit = 0, None
        else:
            return None
    return float(total + section + (digit or 0))


def _fmt(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:.6f}".rstrip("0").rstrip(".")


def figures(text: str) -> set[str]:
    """The numbers a text states, as values: '10万元', '十万元' and '100000元' are all '100000';
    '50%' and '百分之五十' are '50'; ordinals '第（九）条' give '9'. Chinese numerals count only
    before a measure word (三年, 两次), so 统一 or 进一步 state no number."""
    text = unicodedata.normalize("NFKC", text)
    out = set()
    for m in _ARABIC.finditer(text):
        value = float(m.group(1).replace(",", ""))
        mult = {"万": 10_000, "亿": 100_000_000, "千": 1000}.get(m.group(2) or "", 1)
        out.add(_fmt(value * mult))
        if mult != 1:
            out.add(_fmt(value))
    for pattern in (_CN_QUANTITY, _CN_PERCENT, _CN_ORDINAL):
        for m in pattern.finditer(text):
            value = _cn_number(m.group(1))
            if value is not None:
                out.add(_fmt(value))
    return out


def provision_text(article: Article) -> str:
    """What a sentence citing an article may rely on: its labels as read (第四部分第（三）条),
    section titles, title, body and departments."""
    labels = []
    for i, (label, number) in enumerate(zip(article.labels, article.path)):
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


def parse_markers(text: str) -> list[int]:
    out: list[int] = []
    for m in MARKER.finditer(text):
        for part in re.split(r"\s*[,，、]\s*", m.group(1)):
            ends = [int(x) for x in re.split(r"\s*[\-–~]\s*", part) if x]
            numbers = range(ends[0], ends[-1] + 1) if len(ends) == 2 and 0 < ends[1] - ends[0] < 10 else ends
            out.extend(n for n in numbers if n not in out)
    return out


def split_statements(text: str) -> list[list[str]]:
    """Lines of sentences; a sentence keeps the markers and closing quotes that follow its
    final punctuation ("……补贴。[1]")."""
    lines = []
    for line in text.splitlines():
        sentences, start, depth, i = [], 0, 0, 0
        while i < len(line):
            ch = line[i]
            if ch in "（(“《":
                depth += 1
            elif ch in "）)”》":
                depth = max(0, depth - 1)
            elif ch in _SENTENCE_END and depth == 0:
                i += 1
                while (m := _TRAILING.match(line, i)) and m.end() > i:
                    i = m.end()
                sentences.append(line[start:i].strip())
                start = i
                continue
            i += 1
        if line[start:].strip():
            sentences.append(line[start:].strip())
        if sentences:
            lines.append(sentences)
    return lines


def _plain(sentence: str) -> str:
    """The sentence's words: no markers, list numbering or markup."""
    return _MARKUP.sub("", _LIST_PREFIX.sub("", MARKER.sub("", sentence))).strip()


def _unmarked_ok(plain: str) -> str | None:
    """'closing' or 'gap' for the two kinds of sentence that may stand without a marker."""
    if figures(plain) - {HOTLINE}:
        return None
    if len(plain) <= 40 and CLOSING.match(plain):
        return "closing"
    if len(plain) <= 50 and GAP.match(plain) and not _HEDGE.search(plain) and HOTLINE not in plain:
        return "gap"
    return None


@dataclass
class _Checked:
    sentence: str           # as it will be shown: markers normalised, unknown ones removed
    markers: list[int]
    kind: str               # "cited", "closing", "gap", "intro" or "removed"
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
        # a term's weight is its idf over the corpus' articles: a word the documents never use (a new
        # fact: 公务员, 免息) weighs most, a word every article uses (就业) least; no corpus: all weigh 1
        self._idf: dict[str, float] = {}
        self._unseen = 1.0
        if corpus is not None and corpus.articles:
            df = Counter(t for a in corpus.articles for t in set(tokenize(a.text)))
            n = len(corpus.articles)
            self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
            self._unseen = math.log(1 + (n + 0.5) / 0.5)

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

    def check(self, sentence: str, provisions: Mapping[int, Article]) -> tuple[_Checked, list[int]]:
        """One sentence: (the verdict, markers it used that name no provision)."""
        markers = parse_markers(sentence)
        unknown = [n for n in markers if n not in provisions]
        known = [n for n in markers if n in provisions]
        shown = MARKER.sub(lambda m: "".join(f"[{n}]" for n in parse_markers(m.group(0)) if n in provisions), sentence)
        plain = _plain(sentence)
        if not re.search(r"[\w\u3400-\u9fff]", plain):
            return _Checked(shown, known, "empty"), unknown   # markers or punctuation alone: no statement
        if not known:
            kind = _unmarked_ok(plain)
            if kind:
                return _Checked(shown, [], kind), unknown
            if plain.endswith(("：", ":")) and len(plain) <= 30 and not figures(plain) and not _NEGATION.search(plain):
                return _Checked(shown, [], "intro"), unknown
            return _Checked(sentence, markers, "removed", "unknown_marker" if unknown else "no_marker"), unknown
        kind = _unmarked_ok(plain)
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
        negations = set(_NEGATION.findall(plain)) - set(_NEGATION.findall("".join(s[2] for s in sources)))
        if negations:
            return _Checked(sentence, markers, "removed", "negation_not_in_source", "、".join(sorted(negations))), unknown
        return _Checked(shown, known, "cited"), unknown

    def verify(self, text: str, provisions: Mapping[int, Article]) -> tuple[str, list[int], dict]:
        """(kept text, markers it uses, report). The report:
        {"checked_sentences", "kept_sentences", "removed_sentences": [{"sentence", "reason", "markers",
        "detail"}], "unknown_markers", "fallback": None or why the draft cannot be used, "min_overlap"}.
        Fallback reasons: "empty", "no_citations" (no marker at all), "no_supported_sentences",
        "mostly_unsupported" (more than half of the statements removed)."""
        text = _THINK.sub("", text).strip()
        kept_lines, removed, unknown_all, kept_markers = [], [], [], []
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


def renumber(text: str, mapping: Mapping[int, int]) -> str:
    return MARKER.sub(lambda m: "".join(f"[{mapping[n]}]" for n in parse_markers(m.group(0)) if n in mapping), text)


# ====================================================================== errors and notices

NOTICES = {  # for the page: why a grounded excerpt is shown instead of a written answer
    "timeout": "智能问答服务响应超时，以下为政策原文摘录。",
    "rate_limited": "智能问答服务繁忙，以下为政策原文摘录。",
    "busy": "智能问答服务繁忙，以下为政策原文摘录。",
    "unverified": "智能生成的回答未能通过条文核对，以下为政策原文摘录。",
    None: "智能问答服务暂时不可用，以下为政策原文摘录。",
}


def notice(answer: Answer) -> str | None:
    """A one-line Chinese notice when an LLM was asked but the grounded excerpt is shown."""
    if answer.llm_error:
        return NOTICES.get(answer.llm_error, NOTICES[None])
    if answer.verification and answer.verification.get("fallback"):
        return NOTICES["unverified"]
    return None


class LLMFailure(Exception):
    def __init__(self, code: str, message: str = ""):
        super().__init__(message or code)
        self.code = code


def classify(error: BaseException) -> str:
    """A short code for why an LLM call failed: timeout, connection, rate_limited, server_error,
    auth, not_found, bad_request, malformed, empty_response or unexpected."""
    import openai
    if isinstance(error, LLMFailure):
        return error.code
    if isinstance(error, (openai.APITimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(error, openai.APIConnectionError):
        return "connection"
    if isinstance(error, openai.RateLimitError):
        return "rate_limited"
    if isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError)):
        return "auth"
    if isinstance(error, openai.NotFoundError):
        return "not_found"
    if isinstance(error, openai.APIStatusError):
        return "server_error" if error.status_code >= 500 else "bad_request"
    if isinstance(error, (openai.APIResponseValidationError, ValueError, KeyError, TypeError, AttributeError,
                          IndexError)):
        return "malformed"  # json.JSONDecodeError and pydantic's ValidationError are ValueErrors
    return "unexpected"


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


# ====================================================================== the generator

Event = tuple[str, object]   # ("delta", str) while drafting, then once ("final", Answer)


class LLMGenerator:
    """Writes a plain-language answer from the articles an extractive answer cited, and verifies it."""

    def __init__(self, settings: LLMSettings, corpus: Corpus, tokenizer: Callable[[str], list[str]],
                 client: Any = None, redact: Callable[[str], str] | None = None):
        """`redact`, if given, is applied to the question and the history before they are sent
        (e.g. web.privacy.redact: ID card, phone and bank card numbers never leave for the LLM)."""
        self.settings = settings
        self.corpus = corpus
        self.redact = redact or (lambda text: text)
        self.prompts = Prompts.load(settings.prompts_dir)
        self.verifier = Verifier(tokenizer, settings.min_overlap, corpus)
        self._client = client
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, corpus: Corpus, tokenizer: Callable[[str], list[str]], env: Mapping[str, str] | None = None,
                 redact: Callable[[str], str] | None = None) -> "LLMGenerator | None":
        """A generator when LLM_BASE_URL and LLM_MODEL (or LLM_CONFIG) are set, else None."""
        settings = LLMSettings.from_env(env)
        return cls(settings, corpus, tokenizer, redact=redact) if settings else None

    # ------------------------------------------------------------ the client
    @property
    def client(self):
        """The LangChain ChatOpenAI client, created on first use."""
        with self._lock:
            if self._client is None:
                from langchain_openai import ChatOpenAI
                s = self.settings
                self._client = ChatOpenAI(base_url=s.base_url, model=s.model, api_key=s.api_key or "EMPTY",
                                          timeout=s.timeout, max_retries=s.max_retries, temperature=s.temperature,
                                          max_tokens=s.max_tokens, use_responses_api=False, stream_usage=False)
            return self._client

    def warm_up(self) -> None:
        """Import langchain_openai and build the client now (about 3 s), not on the first question."""
        self.client  # noqa: B018

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
        return [{"role": "system", "content": self.prompts.system}, {"role": "user", "content": user}]

    def _drafts(self, messages: list[dict], streaming: bool) -> Iterator[str]:
        """The reply's text as it arrives; raises LLMFailure("timeout") past the deadline.

        The request runs in a worker thread, so a server that stalls (or retries that add up)
        cannot hold the caller beyond the deadline; the worker ends at the client's own time-out."""
        from langsmith import tracing_context
        s = self.settings
        client = self.client  # created (and langchain_openai imported) before the clock starts
        start = time.monotonic()
        total = s.stream_timeout if streaming else s.timeout
        events: queue.Queue = queue.Queue()
        cancel = threading.Event()

        def work() -> None:
            try:
                # questions go to LLM_BASE_URL only: no LangSmith tracing, whatever the environment says
                with tracing_context(enabled=False):
                    _request()
            except BaseException as e:  # noqa: BLE001 — handed to the caller
                events.put(("error", e))

        def _request() -> None:
            stream = None
            try:
                if streaming:
                    stream = client.stream(messages)
                    for chunk in stream:
                        if cancel.is_set():
                            break
                        if chunk.text:
                            events.put(("text", chunk.text))
                else:
                    events.put(("text", client.invoke(messages).text))
                events.put(("done", None))
            finally:
                if stream is not None:
                    stream.close()

        threading.Thread(target=work, name="llm-request", daemon=True).start()
        try:
            while True:
                now = time.monotonic()
                wait = min(start + total, now + s.timeout) - now if streaming else start + total - now
                try:
                    kind, value = events.get(timeout=max(wait, 0.0)) if wait > 0 else events.get_nowait()
                except queue.Empty:
                    raise LLMFailure("timeout", f"no reply within {s.timeout if streaming else total:g} s") from None
                if kind == "text":
                    yield value
                elif kind == "done":
                    return
                else:
                    raise value
        finally:
            cancel.set()

    # ------------------------------------------------------------ answers
    def stream(self, question: str, history: Sequence[Any] | None, extractive: Answer) -> Iterator[Event]:
        """("delta", text) for each piece of the unverified draft as it arrives, then ("final", Answer):
        the verified LLM answer, or the extractive one (with llm_error or verification saying why).
        A refused or uncited extractive answer is final at once, without asking the LLM."""
        yield from self._run(question, history, extractive, streaming=True)

    def answer(self, question: str, history: Sequence[Any] | None, extractive: Answer) -> Answer:
        """The verified LLM answer, or the extractive one with the reason it is kept."""
        final = extractive
        for kind, value in self._run(question, history, extractive, streaming=False):
            if kind == "final":
                final = value  # type: ignore[assignment]
        return final

    def _run(self, question: str, history: Sequence[Any] | None, extractive: Answer,
             streaming: bool) -> Iterator[Event]:
        if extractive.refused or not extractive.citations:
            yield "final", extractive
            return
        provisions = self.provisions(extractive)
        draft = ""
        try:
            messages = self.messages(question, history, provisions)
            think = _ThinkFilter()
            for piece in self._drafts(messages, streaming):
                visible = think.feed(piece)
                draft += piece
                if streaming and visible:
                    yield "delta", visible
            if not _THINK.sub("", draft).strip():
                raise LLMFailure("empty_response", "the model returned no text")
        except Exception as e:  # noqa: BLE001 — any failure of the LLM leaves the grounded answer
            code = classify(e)
            (log.exception if code == "unexpected" else log.warning)("LLM not used (%s): %s", code, e)
            yield "final", replace(extractive, generator="extractive", llm_error=code, verification=None)
            return
        try:
            final = self.verified(draft, provisions, extractive)
        except Exception:  # noqa: BLE001 — a fault in checking must not reach the person asking
            log.exception("LLM draft could not be verified")
            final = replace(extractive, generator="extractive", llm_error="unexpected", verification=None)
        yield "final", final

    def verified(self, draft: str, provisions: Mapping[int, Article], extractive: Answer) -> Answer:
        """The draft as an Answer after verification, or the extractive answer noting the fallback."""
        text, markers, report = self.verifier.verify(draft, provisions)
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
        return replace(extractive, answer=renumber(text, mapping), citations=citations, generator="llm",
                       verification=report, llm_error=None)
