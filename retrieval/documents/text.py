"""Pure text helpers for Chinese official documents: numerals, whitespace, sentences."""
from __future__ import annotations

import re
import unicodedata

_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
           "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
CN_NUMERAL = "〇零一二两三四五六七八九十百千"
_CN_OUT = "零一二三四五六七八九"


def cn_to_int(text: str) -> int:
    """'二十七' -> 27, '十' -> 10, '一百零三' -> 103, '12' -> 12. Raises ValueError."""
    text = text.strip()
    if text.isdigit():
        return int(unicodedata.normalize("NFKC", text))
    if not text or any(ch not in _DIGITS and ch not in _UNITS for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    total, digit = 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
    return total + (digit or 0)


def int_to_cn(n: int) -> str:
    """27 -> '二十七', 10 -> '十' (the form used in headings, for n < 1000)."""
    if n < 0 or n >= 1000:
        raise ValueError(f"out of range: {n}")
    if n < 10:
        return _CN_OUT[n]
    if n < 20:
        return "十" + (_CN_OUT[n % 10] if n % 10 else "")
    if n < 100:
        return _CN_OUT[n // 10] + "十" + (_CN_OUT[n % 10] if n % 10 else "")
    rest = n % 100
    tail = "" if rest == 0 else ("零" + _CN_OUT[rest] if rest < 10 else
                                ("一" + int_to_cn(rest) if rest < 20 else int_to_cn(rest)))
    return _CN_OUT[n // 100] + "百" + tail


_CJK = r"\u3000-\u303f\u3400-\u9fff\uff00-\uffef“”‘’"
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])[ \t\u00a0\u3000]+|[ \t\u00a0\u3000]+(?=[{_CJK}])")


def normalize_whitespace(text: str) -> str:
    """Drop the spaces that exports scatter between Chinese characters; keep line breaks."""
    lines = [_SPACE_NEAR_CJK.sub("", line).strip() for line in text.splitlines()]
    return "\n".join(lines)


def split_sentences(text: str) -> list[str]:
    """Split on sentence-final punctuation, keeping it; never splits inside （…） or “…”."""
    out: list[str] = []
    depth = 0
    start = 0
    for i, ch in enumerate(text):
        if ch in "（(“《":
            depth += 1
        elif ch in "）)”》":
            depth = max(0, depth - 1)
        elif ch in "。！？；;!?" and depth == 0:
            piece = text[start:i + 1].strip()
            if piece:
                out.append(piece)
            start = i + 1
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def numbers_in(text: str) -> set[str]:
    """Arabic numbers (with ranges) in a text, normalised to half-width."""
    return {m.group(0) for m in re.finditer(r"\d+(?:\.\d+)?", unicodedata.normalize("NFKC", text))}


def longest_matches(text: str, names, lengths) -> list[tuple[int, str]]:
    """(position, name) of the names in the text, longest first where they overlap; `lengths` are
    the names' lengths, longest first. A lookup per substring: the cost grows with the text, not the names."""
    found: list[tuple[int, str]] = []
    taken = [False] * len(text)
    for n in lengths:
        for i in range(len(text) - n + 1):
            if text[i:i + n] in names and not any(taken[i:i + n]):
                found.append((i, text[i:i + n]))
                taken[i:i + n] = [True] * n
    return found


def clean_control(text: str) -> str:
    """Remove control and format characters (keeps line breaks and tabs as spaces)."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\n\t":
            out.append(" ")
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            out.append(ch)
    return "".join(out)


_CN_RUN = re.compile(r"[零〇一二两三四五六七八九十百千万亿壹贰叁肆伍陆柒捌玖拾佰仟]+")
_BOUND_BEFORE = re.compile(r"(至少|最少|最多|不少于|不超过|不低于|仅|只|限|每)有?$")
_QUANTITY_AFTER = re.compile(r"^\s*(?:个|元|万|千|百|亿|年|月|日|天|周|小时|工作日|人|户|家|名|次|项|条|岁|倍|%|％|课时|学时)")


def to_arabic(text: str) -> str:
    """Chinese numerals that state a quantity written in arabic digits ('三十日' -> '30日', '伍万元' ->
    '50000元', '二〇二三年' -> '2023年'), by cn2an; words such as 一次性 and 统一 are left alone."""
    import cn2an  # maintained converter for every Chinese numeral style (小写, 大写, 〇-digit strings)

    def convert(m: re.Match) -> str:
        run = m.group(0)
        if len(run) == 1 and not _QUANTITY_AFTER.match(text[m.end():]):
            return run
        if run == "一" and not _BOUND_BEFORE.search(text[:m.start()]):
            return run  # 一次性, 一人一档: a bare 一 is a quantity only after 至少, 最多, 每 …
        if len(run) >= 2 and run[0] == "一" and not _QUANTITY_AFTER.match(text[m.end():]) and not any(
                c in run for c in "十百千万亿拾佰仟"):
            return run
        try:
            return str(cn2an.cn2an(run, "smart"))
        except (ValueError, KeyError):
            try:  # digit strings such as 二〇二三 or 四零零八八八
                return "".join(str(cn2an.cn2an(c, "smart")) if c not in "〇零" else "0" for c in run)
            except (ValueError, KeyError):
                return run
    return _CN_RUN.sub(convert, text)
