"""Residents' words: synonyms that widen a search, topics the documents do not cover."""
from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

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


# a two-character verb and its object may be said apart: "兜个底", "帮了忙", "创过业"
_APART = "[个了过下一]{1,2}"
_SPLITS = re.compile(_APART)
# in the table, "招…贫困户" is 招 and 贫困户 in one clause, a few characters apart ("招几个建档立卡贫困户")
_GAP = "[^，。？?！!；;]{0,8}"


@functools.lru_cache(maxsize=4096)
def _apart(word: str) -> re.Pattern | None:
    """The word's pattern when said apart, or around its gap; None when it has no such form."""
    if "…" in word:
        parts = [p for p in word.split("…") if p]
        return re.compile(_GAP.join(map(re.escape, parts))) if parts else None
    if len(word) == 2 and not _SPLITS.search(word):  # "开个" is no verb and object: "开了个" is not it
        return re.compile(re.escape(word[0]) + _APART + re.escape(word[1]))
    return None


def said(word: str, text: str) -> bool:
    """Is the word in the text, whole or (two characters) said apart, or its parts around a gap (…)?"""
    if "…" in word:
        if word[0] not in text:  # most words: no pattern to run
            return False
    elif word in text:
        return True
    elif len(word) != 2 or word[0] not in text or word[1] not in text:
        return False
    pattern = _apart(word)
    return pattern is not None and pattern.search(text) is not None


def expand(question: str, synonyms: Iterable[Synonym]) -> str:
    """Append the documents' words for every resident's word found in the question."""
    extra: list[str] = []
    for syn in synonyms:
        if any(said(w, question) for w in syn.resident_words):
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
                     synonyms: Iterable[Synonym] = (), context: bool = False) -> list[str]:
    """Listed topics in the question's focus that the given provisions never mention, in any wording.
    A topic is a word, or words said together ("公积金 提取": taking money out of the housing fund, which
    provisions that mention the fund only as something paid into do not cover): all must be in the
    focus, and a provision covers it when it holds them all. In the question's `context`, a topic said
    only as the time of something else ("我离婚后出来找工作") is not one."""
    synonyms = list(synonyms)
    out = []
    for term in table:
        words = term.split()
        if not words or not all(w in focus for w in words):
            continue
        if context and len(words) == 1 and all(_WHEN.match(focus, m.end()) for m in re.finditer(re.escape(term), focus)):
            continue  # only the time of something else ("我离婚后出来找工作")
        wordings = [{w, *(d for syn in synonyms if w in syn.resident_words for d in syn.document_words)}
                    for w in words]
        if not any(all(any(x in t for x in ws) for ws in wordings) for t in texts):
            out.append(term)
    return out


# a topic said only as the time of something else: "离婚后", "退休以前", "结婚的时候"
_WHEN = re.compile(r"(后|以后|之后|以前|之前|的时候|那年|那会)")


def topic_label(term: str) -> str:
    """How a listed topic reads in a sentence: "公积金 提取" -> "公积金提取"."""
    return "".join(term.split())


_ENDING = re.compile(r"(证书|证|执照|卡)$")
_CERTIFICATE = re.compile(r"^[\u4e00-\u9fff]{2,}" + _ENDING.pattern)
# the registration reforms that merge other certificates into the business licence name it by them
# (多证合一, 五证合一, 两证整合, 一照一码, 证照分离)
_LICENCE_REFORM = re.compile(r"[多两三五]证(合一|整合)|一照一码|证照")


def certificates(tokens: Iterable[str]) -> list[str]:
    """Certificates and cards a question names (残疾证, 食品经营许可证's 许可证, 社保卡): getting or handling
    one is the issuing office's business, which policy provisions that never name it do not answer."""
    return list(dict.fromkeys(t for t in tokens if _CERTIFICATE.match(t)))


def certificate_named(certificate: str, text: str) -> bool:
    """Does a provision name the certificate, in full or as what it certifies with a certificate word
    after it ("资格证" in "职业资格证书", in "职业资格与职业教育学历“双证书”")?"""
    if certificate in text:
        return True
    if certificate.endswith("执照") and _LICENCE_REFORM.search(text):
        return True
    stem, ending = _ENDING.sub("", certificate), _ENDING.search(certificate)
    return len(stem) >= 2 and ending is not None and bool(
        re.search(re.escape(stem) + r"[^，。；;,]{0,20}?" + ending.group(1)[0], text))  # within one clause
