"""Remove personal data from free text: ID cards, mobile phones, bank cards, stated names and addresses.

Pure functions, no I/O. A number is redacted only when it is what it looks like:
  * resident ID card: 18 characters, a plausible birth date, and a valid ISO 7064 MOD 11-2 check
    character (GB 11643); 15-digit first-generation numbers with a plausible birth date;
  * mobile phone: 11 digits starting 13–19, optionally +86/86/0086 and spaces or hyphens (3-4-4);
  * bank card: 16–19 digits passing the Luhn check, optionally in groups of four.
Full-width digits (１３８…) count as digits. A number glued to further digits or letters is part
of something longer and left alone. Names and addresses are redacted where the text says they are
one (我叫…, 姓名：…, 家住…, 地址：…) or where a street comes with a house number (…路8号).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

ID_CARD = "[身份证号]"
PHONE = "[手机号]"
BANK_CARD = "[银行卡号]"
NAME = "[姓名]"
ADDRESS = "[地址]"

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# full-width digits and letters -> ASCII, one character for one, so offsets are kept
_FULLWIDTH = {0xFF10 + i: 0x30 + i for i in range(10)}
_FULLWIDTH.update({0xFF38: ord("X"), 0xFF58: ord("x"), 0xFF0B: ord("+"), 0xFF0D: ord("-"),
                   0x3000: ord(" ")})

_SEP = r"[ \-]?"
_BEFORE = r"(?<![0-9A-Za-z])"
_AFTER = r"(?![0-9A-Za-z])"

_ID18 = re.compile(_BEFORE + r"(\d{6})" + _SEP + r"(\d{8})" + _SEP + r"(\d{3}[0-9Xx])" + _AFTER)
_ID15 = re.compile(_BEFORE + r"(\d{6})(\d{6})(\d{3})" + _AFTER)
_PHONE = re.compile(_BEFORE + r"(?:(?:\+|00)?86[ \-]?)?(1[3-9]\d)" + _SEP + r"(\d{4})" + _SEP + r"(\d{4})" + _AFTER)
_CARD = re.compile(_BEFORE + r"(\d(?:[ \-]?\d){15,18})" + _AFTER)


@dataclass(frozen=True)
class Finding:
    kind: str   # "id_card" | "phone" | "bank_card" | "name" | "address"
    start: int
    end: int


def id_checksum_ok(number: str) -> bool:
    """The 18th character of a resident ID number matches the MOD 11-2 check of the first 17."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return _ID_CHECK[total % 11] == number[17].upper()


def _plausible_birth(year: int, month: int, day: int) -> bool:
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return date(1890, 1, 1) <= born <= date.today()


def is_id_card(number: str) -> bool:
    number = re.sub(r"[ \-]", "", number)
    if len(number) == 18:
        return (id_checksum_ok(number)
                and _plausible_birth(int(number[6:10]), int(number[10:12]), int(number[12:14])))
    if len(number) == 15 and number.isdigit():
        return _plausible_birth(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    return False


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit() or not digits:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_grouping_ok(raw: str) -> bool:
    """Separators, if any, split the number the way cards are printed: groups of four (the last may be longer)."""
    groups = re.split(r"[ \-]", raw)
    if len(groups) == 1:
        return True
    return all(len(g) == 4 for g in groups[:-1]) and 3 <= len(groups[-1]) <= 7


def find(text: str) -> list[Finding]:
    """Personal numbers in the text, in order, non-overlapping."""
    if not isinstance(text, str) or not text:
        return []
    probe = text.translate(_FULLWIDTH)
    taken: list[Finding] = []

    def free(start: int, end: int) -> bool:
        return all(end <= f.start or start >= f.end for f in taken)

    for m in _ID18.finditer(probe):
        if is_id_card(m.group(0)) and free(m.start(), m.end()):
            taken.append(Finding("id_card", m.start(), m.end()))
    for m in _ID15.finditer(probe):
        if is_id_card(m.group(0)) and free(m.start(), m.end()):
            taken.append(Finding("id_card", m.start(), m.end()))
    for m in _CARD.finditer(probe):
        raw = m.group(1)
        digits = re.sub(r"[ \-]", "", raw)
        if 16 <= len(digits) <= 19 and _card_grouping_ok(raw) and luhn_ok(digits) and free(m.start(), m.end()):
            taken.append(Finding("bank_card", m.start(), m.end()))
    for m in _PHONE.finditer(probe):
        if free(m.start(), m.end()):
            taken.append(Finding("phone", m.start(), m.end()))
    for f in _find_words(text):
        if free(f.start, f.end):
            taken.append(f)
    return sorted(taken, key=lambda f: f.start)


_LABELS = {"id_card": ID_CARD, "phone": PHONE, "bank_card": BANK_CARD, "name": NAME, "address": ADDRESS}

# A name only where the text says it is one ("我叫…", "姓名：…"); "我是…" introduces a role
# (我是返乡农民工), not a name, and is left alone.
_NAME = re.compile(r"(?:我叫|名叫|名字叫|名字是|姓名\s*[:：是为]?)\s*([\u4e00-\u9fff·]{2,4}?)(?=[，,。；;、\s]|$|[我家住在今年想])")
# An address: what follows 住在/家住/地址, or a street with a house number.
_ADDRESS = re.compile(r"(?:(?:家住|住在|住址\s*[:：是为]?|地址\s*[:：是为]?)\s*(?!在哪|是哪|哪|在什么|是什么|怎么|多少)"
                      r"([^，,。；;？?！!\s]{2,30}))|"
                      r"([\u4e00-\u9fff]{1,12}(?:路|街|巷|道|胡同)\d+号(?:\d+(?:栋|楼|单元|室))*)")


def _find_words(text: str) -> list[Finding]:
    found = [Finding("name", m.start(1), m.end(1)) for m in _NAME.finditer(text)]
    for m in _ADDRESS.finditer(text):
        g = 1 if m.group(1) else 2
        found.append(Finding("address", m.start(g), m.end(g)))
    return found


def redact(text: str) -> str:
    """The text with every personal number replaced by a label such as [身份证号]."""
    if not isinstance(text, str):
        return text
    out, pos = [], 0
    for f in find(text):
        out.append(text[pos:f.start])
        out.append(_LABELS[f.kind])
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


def contains_personal_data(text: str) -> bool:
    return bool(find(text))


_MENTION = re.compile(r"(?:我的|本人)?(?:身份证|手机|电话|联系方式|银行卡|卡|我叫|名叫|名字叫|名字是|姓名|家住|住在|住址|地址)?"
                      r"(?:号码|号)?\s*[:：是为]?\s*(\[身份证号\]|\[手机号\]|\[银行卡号\]|\[姓名\]|\[地址\])")


def without_personal_mentions(redacted: str) -> str:
    """A redacted text without its personal numbers or the words naming them ('身份证[身份证号]'):
    they say who is asking, not what about."""
    return _MENTION.sub(" ", redacted)
