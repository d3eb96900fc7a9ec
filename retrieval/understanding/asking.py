"""What a question asks: the clauses that ask, and the kind of answer wanted (a figure, a department, a list…)."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from retrieval.documents.text import CN_NUMERAL, to_arabic
from retrieval.understanding.periods import PERSON, YEAR_RANGE


@dataclass(frozen=True)
class Asked:
    """What a question asks: a figure (and its kind), the lead department, a list, yes or no, or what;
    and whether it asks who qualifies."""
    kind: str = "what"                 # figure | lead | where | list | yes_no | what
    figure: str | None = None          # money | rate | duration | age | address | phone | date | count
    unit: str | None = None            # the measure word asked for (年, 天, 户 …)
    who: bool = False                  # asks who qualifies ("哪些人能申请创业担保贷款")
    heads: tuple[str, ...] = ()        # what is asked for by name: 措施 in "可以采取哪些措施"
    also: tuple[str, ...] = ()         # other kinds of figure asked in the same question ("补多少钱，能补几年")
    sanction: bool = False             # asks what happens to whoever breaks a rule ("会怎么处罚")


# ---------------------------------------------------------------- the clause that asks

# "用不用", "要不要", "能不能": a verb, 不, the same verb asks whether
_A_NOT_A = r"([\u4e00-\u9fff])不\1"
_ASKING = re.compile(r"吗|么|呢|？|\?|什么|啥|怎么|怎样|如何|哪|谁|多少|(?<![好没了过十])几(?!乎)|多久|多长|是否|能否|可否|有没有|"
                     r"可不可以|有无|不[？?。！!]?$|" + _A_NOT_A)
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


_INTENT = re.compile(r"想|要|打算|准备|希望|需要")
# a clause of the story that only says who the person is ("我是个体工商户")
IDENTITY = re.compile(r"^(我|我们|俺|咱|本人)[^，。]{0,3}是")
# renewing, replacing or reporting lost what the question named before ("…快到期了，去哪换证")
ACTS_ON_BEFORE = re.compile(r"换证|补证|换领|补领|补办|补换|挂失|续期|续签|延期换")
# asked whether someone's act is lawful: a law decides it wherever the act happened
JUDGES_AN_ACT = re.compile(r"合法|违法|违规|允许|准许|符合规定|符不符合|算不算歧视|是不是歧视|算歧视|能这么干|能这样")


def clauses_of(question: str) -> tuple[list[str], list[str], list[str]]:
    """The question's clauses as (asking, setting, story). The setting is the clauses that do not ask, where
    the question may name what it is about when its asking clause does not ("社保卡丢了，怎么挂失补办？",
    "我想考教师资格证，报名时间是什么时候？"); the story is the person's own circumstances, left out of the
    setting ("我户口在外地，…能领创业补贴吗"), though what they want to do is not."""
    asking = asking_clauses(question)
    rest = [c for c in _CLAUSES.split(question) if c and c not in asking]
    setting = [c for c in rest if not PERSON.search(c) or _INTENT.search(c)]
    return asking, setting, [c for c in rest if c not in setting]



# ---------------------------------------------------------------- what is asked

_NOT_MONEY = r"个?(年|月|天|日|周|工作日|小时|次|人|户|家|名|项|条|岁|期|批|所)"
FIGURE_KINDS = {  # checked in this order
    "rate": re.compile(r"利率|利息|贴息|费率|(比例|百分比)[^，。？?]{0,4}(多少|几)|多少比例|百分之几|几成|几个点"),
    "money": re.compile(r"多少钱|多少元|几块|几千|几万|多少万|金额|额度|多高|贷多少|借多少|"
                        # unless the question word counts something else ("贷款能贷几年", "补贴领几次")
                        r"(补贴|补助|奖补|奖励|贷款|资金|工资|钱|(?<!免)费|金|津贴)[^，。？?]{0,6}(多少|几)(?!" + _NOT_MONEY + ")|"
                        r"(给|发|补|奖|拿|领|贷|借|报)多少(?!" + _NOT_MONEY + ")|"
                        # the standard itself asked for, not how it is set ("培训补贴标准如何调整")
                        r"(补贴|补助|奖补|奖励|津贴|罚款)的?标准(是什么|是啥|是怎么规定|怎么规定|怎么定的|有多高)"),
    "duration": re.compile(r"几年|多少年|多久|多长时间|几个月|多少个月|几天|多少天|几个工作日|期限是|哪几年|哪一年"),
    "age": re.compile(r"多大岁数|多大年纪|多少岁|几岁|多大年龄|年龄[^，。？?]{0,4}(多少|多大|上限|下限|限制)|岁数"),
    "address": re.compile(r"哪条街|哪条路|门牌|地址|几号楼|几楼|具体在哪|具体位置"),
    "phone": re.compile(r"电话[^，。？?]{0,3}(多少|是什么)|号码[^，。？?]{0,3}(多少|是什么)|联系方式"),
    # a calendar date: "哪天", or 什么时候 with the event dated ("什么时候发放", not "什么时候能申请")
    "time": re.compile(r"几点|(上班|下班|办公|营业|开门|关门)(时间|几点)|什么时间(上班|下班|开门|办公)"),
    "date": re.compile(r"哪天|哪一天|几号|几月几[日号]|截止(日期|时间)|具体日期|"
                       r"什么时候(开始|起)?(施行|实施|生效|执行|发放|发钱|截止|举办|报名|开始)"),
    "count": re.compile(r"多少|几个|几次|几家|几户|几人|几岁|几名|几项|几条"),
}
# "能不能多领几个月" asks whether, not how much
_WHETHER = re.compile(r"可不可以|是否|能否|可否|有没有|有无|" + _A_NOT_A)
_YES_NO = re.compile(_WHETHER.pattern + r"|吗|不[？?。！!]?$")
_LIST = re.compile(r"哪些|包括|包含|几种|哪几")
_SANCTION = re.compile(r"处罚|罚|处分|追究|法律责任|后果|(被|会|该|要)[^，。？?]{0,3}(怎么|如何)处理")
_WHO = re.compile(r"(哪些|什么|啥|哪种|哪类|什么样的?|啥样的?)(人|群体|对象|单位|企业)|谁(能|可以|有资格|符合)")
LEAD_QUESTION = re.compile(r"牵头|哪个部门|哪些部门|什么部门|哪个单位|哪家单位|谁负责|谁来管|谁管|归谁|负责部门|"
                           r"主管部门|责任部门|哪个局|哪个厅")
# where a resident applies: answered with the service offices, never the policy's lead department
# (not "哪儿都能领": anywhere at all, a yes or no; nor "由哪个部门来交": who does it); a person who asks
# which office to turn to ("该找哪个部门") asks where to go, not who leads the policy
_WHERE = re.compile(r"(?<![由归])(哪个部门|哪个单位|哪里|哪儿|去哪|找谁|什么地方)(?![都也])[^，。？?]{0,4}(办|申请|报名|领|交|咨询)|"
                    r"(办理|申请|报名)[^，。？?]{0,4}(去哪|找谁|哪里|哪个部门)|"
                    r"找(哪个|哪些|哪家|什么|啥)(部门|单位|机构)")
# who does what a provision says ("医疗保险费由哪个部门来交", "档案谁负责办转移"): its text answers, not the
# policy's lead
_AGENT = re.compile(r"(由(哪个|哪些|什么|啥)(部门|单位|机构)来?|谁负责|谁来)(?!牵头|负责|主管|管)[\u4e00-\u9fff]")
_MEASURE = "户家人岁次名项条位座所间期批个"
_ASKED_UNIT = re.compile(rf"(?:多少|几)个?(学时|课时|[{_MEASURE}])")
# "几个证": the thing counted is the unit, so "五证合一" gives the figure asked for
_COUNTED = re.compile(r"(?:多少|几)个([\u4e00-\u9fff])")
_ASKED_PERIOD = re.compile(r"(?:多少|几)个?(年|月|天|日|周|工作日)")


# the thing asked for is named right after the question word: "采取哪些措施", "需要满足什么条件"
_HEAD = re.compile(r"(?:哪些|哪几[种类项个条]?|哪种|哪类|何种|什么样?的?|啥样?的?)([\u4e00-\u9fff]{1,6})")


def heads_of(clauses: list[str]) -> tuple[str, ...]:
    """What the clauses ask for by name, from the question word to the clause's end ("措施", "条件"); its
    first word is the thing asked for."""
    out = []
    for c in clauses:
        for m in _HEAD.finditer(c):
            head = re.split(r"[吗呢啊呀了]", m.group(1))[0]
            if len(head) >= 2:
                out.append(head)
    return tuple(dict.fromkeys(out))


_QUESTION_PHRASES = re.compile(r"多长时间|多少钱|什么时候|多大(岁数|年纪|年龄)|几个月|多少个月")


def without_question_words(text: str) -> str:
    """The text without what only asks ("多长时间", "多少钱", "吗"): what is left names the topic."""
    return _ASKING.sub("", _QUESTION_PHRASES.sub("", text))


# 几 after what was done ("招了几个", "干过几年") or in "十几", "好几" counts loosely: it asks nothing
_LOOSE_COUNT = re.compile(r"(?<=[了过十好])几")


def asked_of(focus: str) -> Asked:
    """What the focus clause asks."""
    focus = _LOOSE_COUNT.sub("数", focus)
    if _WHERE.search(focus):
        return Asked("where")
    if _AGENT.search(focus):
        return Asked()
    if LEAD_QUESTION.search(focus):
        return Asked("lead")
    if not _WHETHER.search(focus):
        for kind, pattern in FIGURE_KINDS.items():
            if pattern.search(focus):
                unit = {"count": _ASKED_UNIT, "duration": _ASKED_PERIOD}.get(kind)
                m = unit.search(focus) if unit else None
                counted = _COUNTED.search(focus) if kind == "count" else None
                if counted and counted.group(1) not in _MEASURE + "年月天日周小工学课":
                    return Asked("figure", kind, counted.group(1))
                return Asked("figure", kind, m.group(1) if m else None)
    who = bool(_WHO.search(focus))
    if _LIST.search(focus):
        return Asked("list", who=who)
    if _YES_NO.search(focus) and not who:
        return Asked("yes_no")
    return Asked(who=who)


def asked_in(clauses: list[str]) -> Asked:
    """What the asking clauses ask: the last one's, unless it only asks how or what, naming nothing, after
    an earlier clause asked for a figure ("失业保险金每月能领多少钱？怎么算的？" wants an amount; "想招几个
    贫困户来干活，厂里能得啥补贴" wants the subsidies)."""
    every = [asked_of(c) for c in clauses]
    asked = every[-1] if every else Asked()
    if asked.kind == "what" and not heads_of(clauses[-1:]):
        asked = next((a for a in reversed(every[:-1]) if a.kind == "figure"), asked)
    # the figures the other asking clauses want ("每年交多少？错过了还能补交吗？" wants an amount too), and
    # those asked in a clause's parts joined by 、 ("招聘会是哪天、在哪儿举办" wants a date as well as a place)
    parts = [asked_of(p) for c in clauses if "、" in c for p in c.split("、") if p]
    also = tuple(dict.fromkeys(a.figure for a in every + parts
                               if a.kind == "figure" and a.figure and a.figure != asked.figure))
    asked = replace(asked, also=also, sanction=any(_SANCTION.search(c) for c in clauses))
    return asked if asked.who else replace(asked, heads=heads_of(clauses))


_FIGURE_IN_TEXT = {
    "money": re.compile(r"\d[\d,.]*\s*(?:元|万元|万|千元|亿)"),
    "rate": re.compile(r"\d[\d.]*\s*(?:%|％|‰|倍|个百分点)|百分之\d+"),
    "duration": re.compile(r"(?<!\d)\d{1,3}\s*(?:个)?(?:年|月|日|天|工作日|周|小时)|半年|" + YEAR_RANGE.pattern),
    "count": re.compile(r"\d+"),
    "age": re.compile(r"\d+\s*周?岁"),
    "address": re.compile(r"[路街道巷]\s*\d+\s*号|\d+\s*号楼"),
    "phone": re.compile(r"\d{5,}"),
    "date": re.compile(r"\d{4}年\d{1,2}月|\d{1,2}月\d{1,2}日|之日起"),
    "time": re.compile(r"\d{1,2}\s*[:：]\s*\d{2}|\d{1,2}\s*点"),
}


def has_figure(kind: str, text: str, unit: str | None = None) -> bool:
    """Does the text give a figure of this kind (in any numeral style)?"""
    text = to_arabic(text)
    if unit:
        if kind == "duration" and YEAR_RANGE.search(text):
            return True
        if kind == "count" and unit[0] not in _MEASURE:  # a thing counted ("几个证"): so many 个, or
            return bool(re.search(rf"\d+\s*个|[{CN_NUMERAL}\d]{unit}", text))  # the count said of it ("五证合一")
        unit = "(?:天|日|工作日)" if unit in ("天", "日") else unit
        return bool(re.search(rf"((?<!\d)\d{{1,3}}|半)\s*个?{unit}", text))  # 2020年 is a year, not 2020 years
    return bool(_FIGURE_IN_TEXT[kind].search(text))
