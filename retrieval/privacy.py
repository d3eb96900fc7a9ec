"""Remove personal data from free text: ID cards, mobile phones, bank cards, stated names and addresses.

Pure functions, no I/O. A number is redacted only when it is what it looks like:
  * resident ID card: 18 characters, a plausible birth date, and a valid ISO 7064 MOD 11-2 check
    character (GB 11643); 15-digit first-generation numbers with a plausible birth date;
  * mobile phone: 11 digits starting 13–19, optionally +86/86/0086;
  * bank card: 16–19 digits passing the Luhn check, as one run, in groups of four, or 6 + the rest;
  * after a word that names it (身份证…, 银行卡/卡号/账号…, 手机/电话/微信…), a number of the right
    length is redacted without those checks: a mistyped ID number is still someone's.
A number may be split by single spaces, hyphens, dots, slashes or invisible (zero-width)
characters anywhere; full-width digits (１３８…) and, in runs of seven or more, Chinese digits
(一三八…, 幺三八…, 四零零…) count as digits. A number glued to further digits or letters is part of
something longer and left alone. Names and addresses are redacted where the text says they are one
(我叫…, 名字：…, 本人张伟, 我姓…, 家住…, 我住…, 地址：…), or where a street comes with a house number
(…路8号) or an estate with a building number (幸福小区12栋2单元301). After 家住/我住 the county, district or
city said first stays (家住五原县[地址]): it is where the rules must apply, and names nobody.
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
                   0x3000: ord(" "), 0xFF0E: ord("."), 0x3002: ord("."), 0x00B7: ord("."), 0x30FB: ord("."),
                   0xFF0F: ord("/"), 0xFF3F: ord("_")})
# digits written as Chinese characters (四零零八八八…, 幺三八…), read as digits inside a run of them
_CN_DIGITS = {ord(c): ord(d) for chars, d in (("〇零", "0"), ("一壹幺", "1"), ("二贰两", "2"), ("三叁", "3"),
                                              ("四肆", "4"), ("五伍", "5"), ("六陆", "6"), ("七柒", "7"),
                                              ("八捌", "8"), ("九玖", "9")) for c in chars}
_CN_RUN = re.compile("[%s0-9０-９ .\\-]{7,}" % "".join(map(chr, _CN_DIGITS)))
# characters that split a number without being seen: zero-width spaces and joiners, soft hyphen, BOM
_INVISIBLE = frozenset("\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff")

# one separator a person may type inside a number: space, hyphen, dot, slash, underscore
_S = r"[ \-./_]?"
_BEFORE = r"(?<![0-9A-Za-z])"
_AFTER = r"(?![0-9A-Za-z])"

_ID18 = re.compile(_BEFORE + r"\d(?:" + _S + r"\d){16}" + _S + r"[0-9Xx]" + _AFTER)
_ID15 = re.compile(_BEFORE + r"\d(?:" + _S + r"\d){14}" + _AFTER)
_PHONE = re.compile(_BEFORE + r"(?:(?:\+|00)?86" + _S + r")?1[3-9](?:" + _S + r"\d){9}" + _AFTER)
_CARD = re.compile(_BEFORE + r"(\d(?:" + _S + r"\d){15,18})" + _AFTER)
# after a word that says what the number is, its shape is enough: an ID number with a wrong check
# character, a card failing Luhn, a landline after 电话 are still someone's
_CUE = r"(?:[:：是为]|号码|号)*\s*"
_ID_CUED = re.compile(r"(?:身份证|身份号码|证件|公民身份)" + _CUE + r"(\d(?:" + _S + r"\d){16}" + _S + r"[0-9Xx]|\d(?:"
                      + _S + r"\d){14})" + _AFTER)
_CARD_CUED = re.compile(r"(?:银行卡|储蓄卡|信用卡|社保卡|卡号|账号|帐号|账户|帐户)" + _CUE + r"(\d(?:" + _S + r"\d){11,18})" + _AFTER)
_PHONE_CUED = re.compile(r"(?:手机|电话|联系方式|座机|微信|QQ|qq)" + _CUE + r"((?:\+|00)?\d(?:" + _S + r"\d){6,12})" + _AFTER)


def _probe(text: str) -> tuple[str, list[int]]:
    """The text as the number patterns read it, and for each of its characters the index in `text`:
    invisible characters dropped, full-width forms and Chinese digits (in runs of 7 or more) as ASCII."""
    keep = [i for i, ch in enumerate(text) if ch not in _INVISIBLE]
    probe = "".join(text[i] for i in keep).translate(_FULLWIDTH)
    if any(ord(ch) in _CN_DIGITS for ch in probe):
        probe = _CN_RUN.sub(lambda m: m.group(0).translate(_CN_DIGITS), probe)
    return probe, keep


@dataclass(frozen=True)
class Finding:
    kind: str   # "id_card" | "phone" | "bank_card" | "name" | "address"
    start: int
    end: int


def id_checksum_ok(number: str) -> bool:
    """The 18th character of a resident ID number matches the MOD 11-2 check of the first 17."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=False))
    return _ID_CHECK[total % 11] == number[17].upper()


def _plausible_birth(year: int, month: int, day: int) -> bool:
    try:
        born = date(year, month, day)
    except ValueError:
        return False
    return date(1890, 1, 1) <= born <= date.today()


def is_id_card(number: str) -> bool:
    number = re.sub(r"[ \-./_]", "", number)
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
    """Separators, if any, split the number the way cards are printed: groups of four (the last may
    be longer), or 6 + the rest."""
    groups = re.split(r"[ \-./_]", raw)
    if len(groups) == 1:
        return True
    if len(groups) == 2 and len(groups[0]) == 6:
        return True
    return all(len(g) == 4 for g in groups[:-1]) and 3 <= len(groups[-1]) <= 7


def find(text: str) -> list[Finding]:
    """Personal data in the text, in order, non-overlapping (offsets into `text` as given)."""
    if not isinstance(text, str) or not text:
        return []
    probe, where = _probe(text)
    taken: list[Finding] = []

    def add(kind: str, start: int, end: int, in_probe: bool = True) -> None:
        if in_probe:
            start, end = where[start], where[end - 1] + 1
        if all(end <= f.start or start >= f.end for f in taken):
            taken.append(Finding(kind, start, end))

    for pattern, kind in ((_ID_CUED, "id_card"), (_CARD_CUED, "bank_card"), (_PHONE_CUED, "phone")):
        for m in pattern.finditer(probe):
            add(kind, m.start(1), m.end(1))
    for pattern in (_ID18, _ID15):
        for m in pattern.finditer(probe):
            if is_id_card(m.group(0)):
                add("id_card", m.start(), m.end())
    for m in _CARD.finditer(probe):
        raw = m.group(1)
        digits = re.sub(r"[ \-./_]", "", raw)
        if 16 <= len(digits) <= 19 and _card_grouping_ok(raw) and luhn_ok(digits):
            add("bank_card", m.start(), m.end())
    for m in _PHONE.finditer(probe):
        add("phone", m.start(), m.end())
    for f in _find_words(text):
        add(f.kind, f.start, f.end, in_probe=False)
    return sorted(taken, key=lambda f: f.start)


_LABELS = {"id_card": ID_CARD, "phone": PHONE, "bank_card": BANK_CARD, "name": NAME, "address": ADDRESS}

# A name only where the text says it is one ("我叫…", "姓名：…", "本人张伟", "我姓张"); "我是…"
# introduces a role (我是返乡农民工), not a name, and is left alone.
_SURNAMES_2 = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
               "令狐", "夏侯", "独孤", "端木", "呼延", "南宫", "西门", "轩辕")
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向"
    "汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单"
    "季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄"
    "窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查"
    "麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖"
    "练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那"
    "宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由")
# characters that end a name typed without punctuation ("我叫张伟要申请…")
_NAME_STOP = frozenset("要想是在今年的了和跟与及我你他她家住来去从到因已刚正现需能可会请问申办有没男女岁也就还都")
_NAME_CUE = re.compile(r"(?:我叫|名叫|名字叫|名字是|名字\s*[:：]|姓名\s*[:：是为]?|(本人)(?:姓名)?\s*[:：]?)\s*"
                       r"(?!什么|是否|否|怎|哪|如何|需|要|可以|能|应|必须|栏|一栏|填|写|和|与|及)")
_SURNAME_CUE = re.compile(r"我姓\s*(" + "|".join(_SURNAMES_2) + r"|[\u4e00-\u9fff])(?:[，,]?\s*(?:名|叫|名叫)([\u4e00-\u9fff]{1,2}))?")
_HAN = re.compile(r"[\u4e00-\u9fff·]")
# An address: what follows 住在/家住/我住/地址, a street with a house number (…路8号), or an estate
# with a building number (幸福小区12栋2单元301).
_NUM = r"(?:\d+|[一二三四五六七八九十百〇零两]+)"
_ADDRESS = re.compile(r"(?:(?:家住|住在|我住在?(?!房|宿|院)|现住|居住在|住址\s*[:：是为]?|地址\s*[:：是为]?)\s*"
                      r"(?!在哪|是哪|哪|在什么|是什么|怎么|多少)([^，,。；;？?！!\s]{2,30}))|"
                      r"([\u4e00-\u9fff]{1,12}(?:路|街|巷|道|胡同)" + _NUM + r"号(?:" + _NUM + r"(?:栋|楼|单元|室|号))*(?:\d+)?)|"
                      r"([\u4e00-\u9fff]{1,10}(?:小区|花园|家园|公寓|大厦|新村|嘉园|苑|社区|村|园|城|府|湾|庭|居)\s*"
                      + _NUM + r"\s*(?:号楼|栋|幢|号院|号|楼|排|组)(?:\s*" + _NUM + r"\s*(?:单元|层|楼|号楼|室|号|户))*(?:\s*\d+)?)")


# the administrative divisions an address starts with (内蒙古自治区巴彦淖尔市临河区, 五原县, 包头市)…
_COARSE = re.compile(r"(?:[\u4e00-\u9fff]{1,8}?(?:省|自治区|市|盟|县|旗|(?<![小社园])区))*")
# …and what names a place finer than they do: a town, village or street with its name, or a number
_FINE = re.compile(r"[\u4e00-\u9fff]{2,}(?:镇|乡|苏木|街道|村|嘎查|社区|小区|花园|家园|公寓|大院|路|街|巷|胡同|组|队)|"
                   r"[\d０-９一二三四五六七八九十]+\s*(?:号|栋|幢|楼|单元|室|排|组)")


def _name_at(text: str, start: int, need_surname: bool) -> int:
    """End of a name that starts at `start`, or `start` when there is none: two characters at least
    (a name typed without punctuation is cut before a word such as 要/想/今年), at most three, or four
    after a two-character surname."""
    if text.startswith(_SURNAMES_2, start):
        longest, first = 4, 2
    else:
        longest, first = 3, 1
        if need_surname and text[start:start + 1] not in _SURNAMES:
            return start
    end = start
    while end < len(text) and end - start < longest and _HAN.match(text[end]):
        if end - start >= first + 1 and text[end] in _NAME_STOP:
            break
        end += 1
    return end if end - start >= 2 else start


def _find_words(text: str) -> list[Finding]:
    found = []
    for m in _NAME_CUE.finditer(text):
        end = _name_at(text, m.end(), need_surname=bool(m.group(1)))
        if end > m.end():
            found.append(Finding("name", m.end(), end))
    for m in _SURNAME_CUE.finditer(text):
        found.append(Finding("name", m.start(1), m.end(2) if m.group(2) else m.end(1)))
    for m in _ADDRESS.finditer(text):
        g = next(i for i in (1, 2, 3) if m.group(i))
        start = m.start(g)
        if g == 1:
            # after 我住/家住: the county, district or city said first is where the rules must apply, not who
            # asks ("家住五原县隆兴昌镇" keeps 五原县); what is finer (a town, village, street, number) goes
            coarse = _COARSE.match(m.group(1))
            start += coarse.end() if coarse else 0
            if not _FINE.search(text[start:m.end(g)]):
                continue
        found.append(Finding("address", start, m.end(g)))
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


_MENTION = re.compile(r"(?:我的|本人)?(?:身份证|证件|手机|电话|联系方式|微信|银行卡|卡|账号|我叫|名叫|名字叫|名字是|名字|姓名|"
                      r"我姓|家住|住在|我住|现住|居住在|住址|地址)?"
                      r"(?:号码|号)?\s*[:：是为]?\s*(\[身份证号\]|\[手机号\]|\[银行卡号\]|\[姓名\]|\[地址\])")


def without_personal_mentions(redacted: str) -> str:
    """A redacted text without its personal numbers or the words naming them ('身份证[身份证号]'):
    they say who is asking, not what about."""
    return _MENTION.sub(" ", redacted)
