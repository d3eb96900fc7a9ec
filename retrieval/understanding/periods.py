"""The years a question asks about, when they date the rules."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.documents.text import CN_NUMERAL, to_arabic
from retrieval.understanding.references import number_of

YEAR_RANGE = re.compile(r"\d{4}\s*[-—–至到]\s*\d{4}")
_PLAN = re.compile(rf"[“\"'「]?([{CN_NUMERAL}]{{1,3}})五(?:[”\"'」]|规划|期间|时期|计划)|"
                   r"(?<![第\d一二三四五六七八九十])(十[一二三四五六七八九])五(?![条年岁个万千百元％%号])|"
                   rf"第([{CN_NUMERAL}]{{1,3}})个五年(?:规划|计划)")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)\s*年?|([〇零一二三四五六七八九]{4})\s*年")
# "23年新出台的": a year said with two digits, only when rules issued then follow (15年工龄 is a duration)
_SHORT_YEAR = re.compile(r"(?<![\d.])(\d{2})\s*年(?=\s*(?:新出台|新出|出台|出的|发布|印发|颁布|下发|发的|的新政|的政策|的文件|的新规|"
                         r"的补贴标准|的标准|的规定|调整|起施行|起执行|起实施))")
_ONWARD = re.compile(r"^\s*(?:年)?\s*(?:以后|之后|以来|起|后)")
_RELATIVE = {"今年": 0, "去年": -1, "前年": -2, "大前年": -3, "明年": 1, "后年": 2, "本年度": 0, "下个月": 0, "下月": 0,
             "本月": 0, "这个月": 0, "上个月": 0, "上月": 0, "年初": 0, "年中": 0}
# "两年前出台的", "三年前": so many years back
_YEARS_AGO = re.compile(r"(?<![\d年])([一两二三四五六七八九十\d]{1,2})年(?:以)?前")
# times people name by what happened then (calendar facts, not anything in the documents); None: until now
_EPOCHS = ((re.compile(r"(?:新冠)?疫情(?:防控)?(?:以后|之后|以来|过后)"), (2020, None)),
           (re.compile(r"(?:新冠)?疫情"), (2020, 2022)),
           (re.compile(r"金融危机"), (2008, 2009)),
           (re.compile(r"非典"), (2003, 2003)),
           (re.compile(r"下岗潮"), (1995, 2002)),
           (re.compile(r"改革开放(?:初期|之初|早期)"), (1978, 1985)),
           (re.compile(r"改革开放(?:以前|之前|前)|计划经济(?:时期|时代|年代|那会)"), (1953, 1978)))
# a decade: 九十年代, 90年代
_DECADE = re.compile(r"(?<![\d一二三四五六七八九十])([一二三四五六七八九])十年代|(?<!\d)([1-9])0年代")
# whether rules are still in force now, which the documents cannot say ("这个细则现在还有效吗"; not whether
# they apply to the person: "这个补贴对个体户还适用吗")
_RULES_NAMED = r"(?:政策|规定|文件|细则|意见|办法|条例)"
_STILL_IN_FORCE = re.compile("|".join((
    _RULES_NAMED + r"[^，。？?]{0,10}?(?:现在|目前|如今)?(?:还(?:有效|执行|在执行)|是否(?:仍然|依然|还)?有效|"
                   r"(?:失效|废止|作废)了?(?:吗|没))",                        # "这个细则现在还有效吗"
    r"(?:现在|目前|如今)还(?:在)?(?:执行|有效)[^，。？?]{0,20}?" + _RULES_NAMED,  # "现在还执行…的规定吗"
    r"还按[^，。？?]{0,20}?(?:执行|办)吗",                                    # "现在还按2018年那个细则执行吗"
    r"(?:政策|规定|文件|细则|意见|办法|条例|号)[^。？?]{0,12}?(?:还算数|有效期|过期)",  # "…132号文件，现在还算数吗"
    r"被[^，。？?]{0,10}?(?:替代|取代|废止)|是不是已经(?:过期|失效|废止|作废)")))
# a time said first in its own clause ("二〇一二年的时候，自治区…", "…下岗的时候，政府是怎么安置的"): it dates the next
_TIME_CLAUSE = re.compile(r"(?:的时候|时候|时|期间|那会儿?|那时候?|那几年|那[一两二三四五]年)$")
# what a time may be followed by before who acted in it ("2015年以前，内蒙古…", "今年下半年巴彦淖尔…")
_TIME_WORDS = re.compile(r"^(?:年)?(?:[，,\s的]|以后|之后|以来|以前|之前|过后|起|后|前|时|的时候|时候|期间|那会儿?|那时候?|"
                         r"上半年|下半年|年初|年底|年末|初|底|中|末|前后|左右)*")
# the rules of a time said before: "当时的安置政策", "那时候是怎么规定的"
_THEN = re.compile(r"(?:当时|那时候?|那会儿?)的?[^，。？?]{0,8}?(?:政策|规定|办法|标准|文件|怎么规定|怎么安置|怎么办)")
# who sets rules, said without naming a place
_GOVERNMENT = ("政府", "国家", "有关部门", "人社部门", "人社局")
# words that ask for the newest rules: the present is the period asked about
_NEWEST = ("最新", "新出台", "新出的", "刚出台", "刚出的", "刚发布", "刚印发", "新近出台", "新近发布", "刚发的", "刚下发",
           "升级版", "新版", "2.0版", "修订后的", "新修订", "修订版")
# rules still to come ("下半年要出台的新政策"), not a company's plan ("企业要出台裁员方案")
_COMING = re.compile(r"(即将|将要|要|将|准备)出台的?[^，。？?]{0,6}(政策|规定|办法|细则|文件|新规)")
# recent years, which date the rules only when said of them ("这两年效益不行" is the person's story)
_RECENT = {"最近": (-1, 0), "近期": (-1, 0), "近来": (-1, 0), "近两年": (-1, 0), "这两年": (-1, 0), "近几年": (-2, 0),
           "近年来": (-2, 0), "前两年": (-2, -1), "前几年": (-3, -1)}
# "最近一两年", "近三年来": a span of recent years said outright dates what follows it in its clause
_RECENT_YEARS = re.compile(r"(?:最近|近|这)(一两|两三|两|三|几)年(?:来|里|内|间)?")
# a time is the question's period when it dates the rules asked about, not the person's own story: a rule
# word right after it in the same clause, or a question about issuing or changing rules ("今年刚毕业，有啥补贴"
# and "我最近失业了，有补贴吗" are stories; a year said in digits is the rules' unless it is the person's)
_RULE_WORDS = r"出台|新出|出的|发布|印发|颁布|实施|施行|执行|生效|政策|规定|文件|细则|意见|办法|条例|标准|一期|那期|这期|期间|版|新规"
_ABOUT_RULES = re.compile(rf"^[^，。；？！,;?!]{{0,6}}?({_RULE_WORDS}|补贴|扶持|有什么|有啥)")
_ABOUT_RULES_NEAR = re.compile(rf"^[^，。；？！,;?!]{{0,6}}?({_RULE_WORDS})")
# what a person did in a year said before it: the year is their story ("2022年毕业的", "2019年回乡创业")
_LIFE_EVENT = re.compile(r"毕业|下岗|失业|退伍|退役|退休|出生|入职|辞职|离职|参加工作|工作了|上班|打工|开了|开的|办了|办的|"
                         r"注册|成立|结婚|生了|回乡|返乡|回来|来到|搬|考上|入学|就读|签了|交了|缴了|干了|干过|承包|流转")
_CLAUSE_BREAK = re.compile(r"[，。；？！,;?!]")
_ABOUT_BENEFITS = re.compile(_RULE_WORDS + r"|补贴|补助|扶持|贷款|奖补|优惠")
_ISSUED = re.compile(r"出台|新出|出的|发布|印发|颁布|下发|发的|发了|出了|新政|新规|通知")
PERSON = re.compile(r"我|俺|咱|本人|自己|家里|孩子|娃")  # a clause about the person: their story
_RULES_CHANGE = re.compile(_ISSUED.pattern + r"|调整|变化|修改|修订|文件|新的?[^，。？?]{0,10}(?:政策|规定|补贴|措施|举措|扶持|标准|办法)")
# asking about something, not telling one's story: "我想了解2023年度…补贴的申报时间"
_ASKING_VERB = re.compile(r"^.*?(?:想了解|想问问?|想咨询|想知道|请问|问一下|咨询一下)")


@dataclass(frozen=True)
class Period:
    """Years a question asks about; `rules` when they date the rules, not only the person's story;
    `issued` when it asks for rules issued then (出台, 发布, 新出的); `in_force` when whether they still are."""
    start: int
    end: int
    rules: bool = True
    issued: bool = False
    in_force: bool = False   # asks whether the rules are still in force today


def five_year_plan(n: int) -> tuple[int, int] | None:
    """The years of the n-th five-year plan (十四五 -> 2021-2025); plans run on from the third (1966)."""
    if n < 3:
        return None
    start = 1966 + 5 * (n - 3)
    return start, start + 4


def _did_then(clause: str) -> bool:
    """Does the clause after a year tell what someone did then ("毕业的大学生", "在临河区开了个小店"), not whom
    rules then were for ("对返乡创业的农民工有什么扶持")?"""
    return not clause.startswith("对") and bool(_LIFE_EVENT.search(clause[:8]))


def _told_of_person(question: str, start: int, clause: str) -> bool:
    """Is the clause of a year said at `start` (its part before, asking words aside, and `clause`, its part
    after) the person's own story?"""
    before = _ASKING_VERB.sub("", _CLAUSE_BREAK.split(question[:start])[-1])
    return bool(PERSON.search(before + clause))


def period_of(question: str, today: dt.date, authorities: Sequence[str] = ()) -> Period | None:
    """The years a question names — explicit years and ranges, 2020年以后, 十四五, 今年/去年, 最新 —
    and whether they date the rules asked about. `authorities` are the places the question names:
    a year said of one ("2022年巴彦淖尔对…企业有没有补助") dates what it did, not the person's story."""
    who = (*authorities, *_GOVERNMENT)

    def of_authority(after: str, before: str = "") -> bool:
        """Is a time said of who sets rules: a place or a government right after it (past words of time:
        "2015年以前，内蒙古…"), or right before it ("乌拉特中旗明年…")? A time clause of its own dates
        the next one ("二〇一二年的时候，自治区…")."""
        rest = _TIME_WORDS.sub("", after, count=1)
        clause = _CLAUSE_BREAK.split(after, maxsplit=1)[0]
        if _TIME_CLAUSE.search(clause) or not clause.strip():
            following = _CLAUSE_BREAK.split(after, maxsplit=2)
            rest = following[1].lstrip() if len(following) > 1 else rest
        said_before = _CLAUSE_BREAK.split(before)[-1]
        return (any(rest.startswith(a) for a in who) and not PERSON.search(_CLAUSE_BREAK.split(rest, maxsplit=1)[0])
                or any(said_before.endswith(a) for a in authorities) and not PERSON.search(said_before))

    rules: list[int] = []
    story: list[int] = []
    changes = bool(_RULES_CHANGE.search(question))

    def said_of_rules(start: int, end: int, about: re.Pattern = _ABOUT_RULES) -> bool:
        """Does a time said at question[start:end] date the rules: a question about new rules, a rule word
        right after it, or who sets them beside it — and not in the person's own clause?"""
        after = question[end:]
        return bool(changes or about.match(after) or of_authority(after, question[:start])) \
            and not _told_of_person(question, start, _CLAUSE_BREAK.split(after, maxsplit=1)[0])

    for m in _PLAN.finditer(question):
        n = number_of(m.group(1) or m.group(2) or m.group(3))
        span = five_year_plan(n) if n else None
        if span:
            # "十三五之前": the plan before it; "十三五以后": from its end until now
            if re.match(r"\s*(?:期间)?(?:之前|以前)", question[m.end():]):
                span = (span[0] - 5, span[0] - 1)
            elif re.match(r"\s*(?:期间)?(?:之后|以后|结束后)", question[m.end():]):
                span = (span[1] + 1, max(span[1] + 1, today.year))
            rules.extend(span)
    for m in _YEAR.finditer(question):
        raw = m.group(1) or m.group(2)
        year = int(raw) if raw.isdigit() else int(to_arabic(raw + "年")[:-1])
        after = question[m.end():]
        years = [year, today.year] if _ONWARD.match(after) else [year]
        clause = _CLAUSE_BREAK.split(after, maxsplit=1)[0]
        own = _told_of_person(question, m.start(), clause)
        # a year is the rules' unless it is the person's story: their own clause ("我2018年就办了个体户，2023年
        # 新出的…"), or a clause telling what someone did then ("2022年毕业的大学生", "2023年在临河区开了个小店")
        dated = bool(_ABOUT_RULES.match(after) or YEAR_RANGE.match(question[m.start():]) or after.startswith("度")
                     or of_authority(after, question[:m.start()]) or not (own or _did_then(clause)))
        (rules if dated else story).extend(years)
    for m in _SHORT_YEAR.finditer(question):
        year = 2000 + int(m.group(1))
        if year <= today.year:
            rules.append(year)
    for word, delta in _RELATIVE.items():
        i = question.find(word)
        if i >= 0:
            after = question[i + len(word):]
            clause = _CLAUSE_BREAK.split(after, maxsplit=1)[0]
            # "今年的就业见习补贴": the year's own benefit, not the person's year ("今年刚毕业")
            dated = bool(changes or _ABOUT_RULES_NEAR.match(after) or of_authority(after, question[:i])
                         or (after.startswith("的") and _ABOUT_BENEFITS.search(clause)
                             and not _told_of_person(question, i, clause)))
            (rules if dated else story).append(today.year + delta)
    for m in _YEARS_AGO.finditer(question):
        n = number_of(m.group(1)) if not m.group(1).isdigit() else int(m.group(1))
        if n and said_of_rules(m.start(), m.end(), _ABOUT_RULES_NEAR):
            rules.append(today.year - n)
    for pattern, (first, last) in _EPOCHS if not rules else ():  # a year said beside it is more precise
        epoch = pattern.search(question)
        if epoch:
            # "疫情期间出台的阶段性政策", "疫情期间内蒙古对…": rules of those years; "疫情期间我失业了" is the person's story
            (rules if said_of_rules(epoch.start(), epoch.end()) else story).extend((first, last or today.year))
            break  # the first pattern that names it: 疫情以后 is not also 疫情
    for m in _DECADE.finditer(question):
        decade = 1900 + 10 * (number_of(m.group(1)) or 0 if m.group(1) else int(m.group(2)))
        (rules if said_of_rules(m.start(), m.end()) else story).extend((decade, decade + 9))
    if story and not rules and _THEN.search(question):  # "八十年代…，当时的安置政策": the time said dates them
        rules, story = story, []
    in_force = bool(_STILL_IN_FORCE.search(question))
    if in_force:  # "…现在还执行吗": whether they are, today
        rules = [today.year]
    if not rules:  # "2023年新出的": the year said is the one meant
        if any(word in question for word in _NEWEST) or _COMING.search(question):
            rules.append(today.year)
        for word, (back, ahead) in _RECENT.items():
            i = question.find(word)
            if i >= 0 and (changes or _ABOUT_RULES_NEAR.match(question[i + len(word):])):
                rules.extend((today.year + back, today.year + ahead))
        for m in _RECENT_YEARS.finditer(question):
            clause = _CLAUSE_BREAK.split(question[m.end():], maxsplit=1)[0]
            if (changes or _ABOUT_RULES.match(question[m.end():])) and not _told_of_person(question, m.start(), clause):
                back = 2 if m.group(1) in ("两三", "三", "几") else 1
                rules.extend((today.year - back, today.year))
    if rules:
        return Period(min(rules), max(rules), True, bool(_ISSUED.search(question)), in_force)
    return Period(min(story), max(story), False) if story else None
