"""The years a question asks about, when they date the rules."""
from __future__ import annotations

import datetime as dt
import re

from retrieval.documents.text import CN_NUMERAL, to_arabic
from retrieval.understanding.references import number_of

YEAR_RANGE = re.compile(r"\d{4}\s*[-—–至到]\s*\d{4}")
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
        n = number_of(m.group(1))
        span = five_year_plan(n) if n else None
        if span and (m.group(0).endswith(("规划", "期间", "时期", "计划")) or _ABOUT_RULES.match(question[m.end():])):
            years.extend(span)
    for m in _YEAR.finditer(question):
        if not _ABOUT_RULES.match(question[m.end():]) and not YEAR_RANGE.match(question[m.start():]):
            continue
        raw = m.group(1) or m.group(2)
        years.append(int(raw) if raw.isdigit() else int(to_arabic(raw + "年")[:-1]))
    for word, delta in _RELATIVE.items():
        i = question.find(word)
        if i >= 0 and _ABOUT_RULES.match(question[i + len(word):]):
            years.append(today.year + delta)
    return (min(years), max(years)) if years else None
