"""Reading a question, once, into a frozen `Query`: what to search, where and when the rules must
apply, which documents and articles it names, and what it asks.

Everything downstream (retrieval, the composer, the LLM step) decides from the `Query`; nothing
re-reads the question's text. Decisions about what is asked look at the question's focus — the
clause that asks — so words elsewhere ("雇几个牧民", "户口在巴彦淖尔") are context, not the question.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from retrieval.documents.text import longest_matches
from retrieval.types import Article, DocumentMeta
from retrieval.understanding.asking import (
    ACTS_ON_BEFORE,
    IDENTITY,
    JUDGES_AN_ACT,
    Asked,
    asked_in,
    clauses_of,
    without_question_words,
)
from retrieval.understanding.periods import Period, period_of
from retrieval.understanding.places import (
    EVERYWHERE,
    LEVELS,
    Gazetteer,
    Place,
    gazetteer,
)
from retrieval.understanding.references import ArticleLookup, DocumentNames, laws_named

# ---------------------------------------------------------------- the Query

@dataclass(frozen=True)
class Query:
    text: str                          # the latest turn, checked and redacted
    topic: str                         # what to search for: the latest turn without names of documents or places
    context_topic: str                 # the same with the earlier turn folded in, for a follow-up
    focus: str                         # the (last) clause that asks
    asking: str = ""                   # every clause that asks, without names of places or documents:
                                       # what is asked about (context clauses are left out)
    asked: Asked = Asked()
    place: Place = EVERYWHERE          # where the rules must apply (named, or the home region)
    place_named: bool = False
    period: Period | None = None            # years the question names, and whether they date the rules
    documents: tuple[str, ...] = ()    # documents named
    scope: tuple[str, ...] = ()        # documents to search, most local first; empty: none applies
    articles: tuple[str, ...] = ()     # articles named by number
    chapter: tuple[str, ...] = ()      # the articles of a chapter named ("第三章说了什么")
    within: tuple[str, ...] = ()       # the articles of a chapter named beside what is asked of it, to search
                                       # ("就业促进法第三章里，对乙肝病毒携带者是怎么规定的")
    missing: str | None = None         # an article named that does not exist, as a message
    follow_up: bool = False
    not_applicable: tuple[str, ...] = ()   # named documents that do not apply at the place
    setting: str = ""                  # clauses that neither ask nor tell about the person ("社保卡丢了")
    story: str = ""                    # the person's own circumstances ("公司已经拖欠我三个月工资了")
    own_rules_missing: bool = False    # a place named outside every loaded local rule: only nationwide ones apply
    sides: tuple[str, ...] = ()        # documents compared, to be answered each in turn ("自治区和巴彦淖尔分别…")
    identity: tuple[str, ...] = ()     # clauses of the story that only say who the person is ("我是个体工商户")
    acts_on_before: bool = False       # the asking clause renews or replaces what was named before ("去哪换证")
    # the asking clause names only the kind of thing it asks for ("需要什么条件", "该找哪个部门"): what it asks
    # about was said before it
    about_before: bool = False
    unloaded: tuple[str, ...] = ()     # laws or regulations named that no loaded document is ("劳动合同法")

    @property
    def is_lookup(self) -> bool:
        """Answered from the numbers it names alone: nothing to search by meaning."""
        return bool(self.articles or self.chapter)


# the place's own rules asked for ("包头市自己出台的…办法", "区里单独出台的…"), "有没有自己的就业扶持办法",
# or a document of its own ("当地的实施细则"); "当地的政策" is only the rules that apply there (a county's
# are its city's)
_OWN_RULES = re.compile(r"(单独|自己|本地|当地|专门|区里|市里|县里|旗里|盟里)[^，。？?]{0,4}(出台|制定|制订|定的|印发|发布|出的|发的)"
                        r"|(单独|自己)的[^，。？?的]{0,6}(办法|细则|政策|文件|规定)|(本地|当地)的[^，。？?的]{0,6}(办法|细则|文件)")
# of a place beyond the home city, whose own rules no loaded document is, more ways of asking for them: what
# it issued ("呼和浩特市出台的…办法"), what it lays down ("赤峰市是怎么规定的", "旗里是怎么规定的"), what it
# gives beyond the rules above ("市里有什么额外的补贴", "专门的返乡创业扶持政策")
_OWN_RULES_AWAY = re.compile(r"(出台|制定|印发|发布|出的|发的)"
                             r"|(是|都是)?(怎么|如何|咋)规定|(有什么|有啥|有哪些|的)(具体)?规定"
                             r"|(区里|市里|县里|旗里|盟里|省里|本地|当地|自己|专门|额外|单独|另外)[^，。？?]{0,16}"
                             r"(政策|办法|细则|文件|规定|补贴|扶持)")

# who lives where: said with a place, it says where, like the place itself
_LIVES_IN = r"(?:家住|住在|我住在?|现住|居住在)?"
# an asking clause pointing back at a place named before it ("我从五原县嫁到哈尔滨了，那边…")
_THERE = re.compile(r"那边|那里|那儿|那块|当地|那地方")
# a comparison: of what each says ("分别", "各自"), or of how they differ
_COMPARES = re.compile(r"分别|各自|有什么不同|有何不同|区别|差别|差异|异同|相比|一样吗|相同吗")
# the documents taken together ("两份文件", "两级文件都是怎么说的")
_BOTH = re.compile(r"两(份|个|级|部)(文件|规定|政策|细则|意见)|两级|两者|二者")

# "什么样的人才算…", "哪些人才能…": a person, then 才 (only then), never 人才 (talent), which the
# segmenter reads there and which would find the articles on recruiting talent
_ONLY_THEN = re.compile(r"(?<=什么|哪些|哪种|样的|几个|啥样|哪类)人才(?=[能算可有符])")


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
    # a question with little topic of its own once its question words are gone ("多长时间内能安排上？")
    short = len(re.sub(r"[\s？?。！!，,的是了吗呢啊哪条什么怎么说规定里]", "", without_question_words(topic))) <= 6
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


# the steps of a procedure asked for, whatever it is for ("要办哪些手续", "流程是什么"): the kind of thing asked,
# like 条件 or 材料, which are everyday words by jieba's idf
_PROCEDURE = frozenset({"手续", "流程", "程序"})


_YEAR_SAID = re.compile(r"(?<!\d)(\d{4})年")


def _in_order(short: str, title: str) -> bool:
    """Are a name's characters all in a title, in order ("河南省条例" of 河南省就业促进条例): a shortening of it."""
    rest = iter(title)
    return len(short) >= 4 and all(ch in rest for ch in short)


@dataclass
class Reader:
    """Reads questions for one corpus. Built once; `read` is pure apart from the clock."""
    documents: Sequence[DocumentMeta]
    articles: Sequence[Article]
    home_region: str | None = None
    today: dt.date | None = None
    places: Gazetteer = field(default_factory=gazetteer)
    # article id -> the articles that carry it out in another document, or that it carries out
    counterparts: Callable[[str], Sequence[str]] | None = None
    # is a word an everyday one (then no short county name: 回民 is a people, 回民区 a district)
    everyday_word: Callable[[str], bool] | None = None
    # a text's words that may name a topic (not 办理, 部门, 需要)
    topic_words: Callable[[str], list[str]] | None = None

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
        self._names: tuple[dict[str, list[Place]], list[int]] | None = None

    @cached_property
    def _texts(self) -> str:
        """Every article's text, joined: made on the first question naming a law, not at start-up."""
        return "\n".join(f"{a.title}\n{a.body}" for a in self.articles)

    @property
    def place_names(self) -> tuple[dict[str, list[Place]], list[int]]:
        """The names of places looked for, with the short names of the home province's counties."""
        if self._names is None:
            self._names = (self.places.names_near(self.home, self.everyday_word)
                           if self.home and self.everyday_word else (self.places.by_name, self.places.lengths))
        return self._names

    def find_places(self, text: str) -> list[Place]:
        """Places a text names: official and short names, and words that point at the home region's
        own province or city (自治区, 本省, 市里), which are resolved against the home region."""
        text = self.names.strip(text)
        found = self.places.find(text, self.home, self.place_names)
        for name in self._place_names(text):
            text = text.replace(name, " ")
        for word, place in self.relative.items():
            # "石家庄市里" is 石家庄's city: 市里 is the home city only beside places within or around it
            if word in text and place not in found and all(place.contains(p) or p.contains(place) for p in found):
                found.append(place)
        return found

    def applying(self, places: Sequence[Place]) -> list[str]:
        """Documents whose rules apply at any of the places, most local first."""
        ids = [d for d in self.order if any(self.region[d].contains(p) for p in places)]
        return sorted(ids, key=lambda d: (-LEVELS.index(self.region[d].level), self.order[d]))

    def unloaded(self, text: str) -> list[str]:
        """Laws or regulations the text names that no loaded document is, nor any loaded one cites
        ("按照《内蒙古自治区就业困难人员认定办法》" is cited by the city's rules, which answer for it)."""
        out = []
        for name in laws_named(text):
            core = name.removeprefix("中华人民共和国")
            if not (self.names.found(name) or any(core in alias for alias in self.names.owners) or core in self._texts
                    or any(_in_order(core, d.title) for d in self.documents)):
                out.append(name)
        return out

    def label(self, doc_id: str) -> str:
        """How a person names where a document applies: 国家, 内蒙古自治区, 巴彦淖尔市."""
        place = self.region[doc_id]
        return "国家" if place == EVERYWHERE else place.name

    def read(self, text: str, history: Sequence[dict] | None = None,
             doc_ids: Sequence[str] | None = None) -> Query:
        """The question as a Query. `text` is already checked and redacted; `doc_ids` is a filter
        chosen by the person (the console's document selector), which wins over everything."""
        named = self.names.named(text)
        asking, setting, story = clauses_of(text)
        places = self._asked_places(self.find_places(text), asking)
        compares = bool(_COMPARES.search(text))
        topic = self._topic(text) or text
        previous = previous_user_turn(history)
        follow_up = bool(previous) and is_follow_up(topic, text)
        context_topic = topic
        said = (named, places)  # what this turn names itself
        if follow_up and previous:
            context_topic = f"{self._topic(previous)[-200:]} {topic}"
            if not named and not places:
                named = self.names.named(previous)
                places = self.find_places(previous)
        # a place named beside a wider one holding it is the one asked about ("鄂尔多斯市…比自治区提高"): the
        # wider one is the level above
        narrowest = [p for p in places if not any(o != p and p.contains(o) for o in places)]
        place = narrowest[0] if narrowest else (self.home or EVERYWHERE)
        # with no home region set, a question naming no place may be about any document's area
        applying = self.applying(places or [place]) if places or self.home else self.applying(list(self.region.values()))
        not_applicable: list[str] = []
        if doc_ids:
            scope = [d for d in applying if d in doc_ids] + [d for d in doc_ids if d not in applying]
        elif named:
            # a document named together with a place it has nothing to do with is not the one meant
            # (包头市的实施细则 is not Bayannur's); one for a part of the place is (自治区和巴彦淖尔的细则)
            not_applicable = [d for d in named if places and not any(
                self.region[d].contains(p) or p.contains(self.region[d]) for p in narrowest)]
            kept = [d for d in named if d not in not_applicable]
            # a comparison naming one document in a way it does not declare ("自治区文件和巴彦淖尔细则分别…")
            # is with the other documents that apply
            if compares and len(kept) == 1:
                kept += [d for d in applying if d not in kept]
            scope = sorted(kept, key=lambda d: (-LEVELS.index(self.region[d].level), self.order[d]))
        else:
            scope = applying
        # a place outside every area with loaded local rules (北京, where only a national law applies) asks
        # for rules that are not here; the nationwide ones are shown beside the decline, not as its answer,
        # unless what is asked is whether an act is lawful ("在北京…中介扣我身份证，这合法吗"), which they decide
        own_rules_missing = bool(places) and not doc_ids and not named and self.home not in (None, EVERYWHERE) \
            and bool(scope) and all(self.region[d] == EVERYWHERE for d in scope) \
            and not any(JUDGES_AN_ACT.search(c) for c in asking)
        # the place's own rules asked for by name, and none of the documents is the place's own; of a place
        # beyond the home region (whose counties the city's rules serve), asked for in more ways
        home = self.home
        away = home is not None and not any(home.contains(p) or p.contains(home) for p in narrowest)
        asks_own = _OWN_RULES.search(text) or (away and _OWN_RULES_AWAY.search(text))
        own_rules_missing = own_rules_missing or (bool(places) and not doc_ids and bool(asks_own)
                                                  and not any(place.contains(self.region[d]) for d in scope))
        # what a comparison compares: the documents it names, or whose areas it names, when two or more
        # ("自治区和巴彦淖尔对……怎么规定的"); every document searched when it speaks of them together
        # ("两份文件分别…") or compares one it names with the rest; never two things in one document
        # ("创业担保贷款和创业补贴有什么区别")
        mentioned = list(dict.fromkeys([d for d in scope if d in named]
                                       + [d for d in scope if any(self.region[d] == p for p in said[1])]))
        sides = mentioned if len(mentioned) >= 2 else list(scope) if _BOTH.search(text) or compares and mentioned else []
        # a law named that is not loaded: its article numbers are not any loaded document's
        unloaded = [] if named or doc_ids else self.unloaded(text)
        articles, unknown = self.lookup.references(text, scope or None) if not unloaded else ([], [])
        if follow_up and previous and not articles and any(said):
            articles = self._counterparts(previous, scope)
        chapter, no_chapter = ([], []) if articles or unloaded else self.lookup.chapter(text, scope or None)
        # a chapter named beside a topic its title does not name is where to look for that topic, not what to list
        bare = re.sub(r"\s+", " ", self.lookup.without_chapters(topic)).strip() if chapter else topic
        within = chapter if chapter and self._asks_within(bare, chapter) else []
        chapter = [] if within else chapter
        if within:  # the chapter says where to look, not what about
            topic = bare
            context_topic = re.sub(r"\s+", " ", self.lookup.without_chapters(context_topic)).strip()
            asking = [self.lookup.without_chapters(c) for c in asking]
        missing = None
        if not articles and not chapter and not within and (unknown or no_chapter):
            names = {d: m.short_name for d, m in self.docs_by_id.items()}
            missing = self.lookup.missing((unknown or no_chapter)[0], named or scope, names)
        return Query(
            text=text, topic=topic, context_topic=context_topic, focus=asking[-1], asking=self._topic(" ".join(asking)),
            asked=asked_in(asking), place=place, place_named=bool(places),
            period=period_of(self._without_own_years(text, named), self.today or dt.date.today(),
                             sorted(self._place_names(text) | set(self.relative))),
            documents=tuple(named), scope=tuple(scope), articles=tuple(articles), chapter=tuple(chapter),
            within=tuple(within),
            missing=missing, follow_up=follow_up, not_applicable=tuple(not_applicable),
            setting=" ".join(setting), story=" ".join(story),
            own_rules_missing=own_rules_missing, sides=tuple(sides) if len(sides) >= 2 else (),
            identity=tuple(c for c in story if IDENTITY.match(c)),
            acts_on_before=any(ACTS_ON_BEFORE.search(c) for c in asking), unloaded=tuple(unloaded),
            about_before=bool(setting or story) and self._names_only_the_kind(asking))

    def _without_own_years(self, text: str, named: Sequence[str]) -> str:
        """A named document's own year, said beside other years, names the document, not a time asked
        about ("2021年以后发布的文件，与2018年细则相比…")."""
        own = {str(y) for d in named if (y := self.docs_by_id[d].year)}
        if not own or all(y in own for y in _YEAR_SAID.findall(text)):
            return text
        return _YEAR_SAID.sub(lambda m: "" if m.group(1) in own else m.group(0), text)

    def _asks_within(self, bare: str, chapter: Sequence[str]) -> bool:
        """Does a question naming a chapter (`bare`: its topic without the chapter) ask about a topic in it
        ("第八章，中介扣押身份证怎么处罚") rather than what the chapter says ("第三章讲的是什么",
        "第五章职业教育和培训的内容")?"""
        if self.topic_words is None:
            return False
        first = next(a for a in self.articles if a.id == chapter[0])
        heading = "".join(first.section_titles[:1])
        return any(w not in heading for w in self.topic_words(bare))

    def _names_only_the_kind(self, asking: Sequence[str]) -> bool:
        """Does the asking clause name only the kind of thing it asks for, in everyday words ("需要什么条件",
        "该找哪个部门", "要办哪些手续")? A word a topic is named by ("补贴", "注销") makes it name its own topic."""
        return self.topic_words is not None and bool("".join(asking).strip()) and not any(
            w not in _PROCEDURE for c in asking for w in self.topic_words(c))

    def _asked_places(self, places: list[Place], asking: Sequence[str]) -> list[Place]:
        """Of several places named, those the asking clauses name ("我从临河搬到包头了，包头那边…是怎么规定的");
        an asking clause that points back ("那边", "当地") asks about the place named last ("我从五原嫁到
        哈尔滨了，那边…"). Places of the person's story beside an asking clause naming none all count
        ("我在北京打工多年，现在回临河创业，有什么扶持")."""
        if len(places) < 2:
            return places
        said = self.find_places(" ".join(asking))
        if said:
            return [p for p in places if p in said] or said
        return places[-1:] if _THERE.search(" ".join(asking)) else places

    def _counterparts(self, previous: str, scope: Sequence[str]) -> list[str]:
        """"对应的巴彦淖尔条款是哪条？" after an article asked for by number: its counterparts in the
        documents this turn names, other than the article's own."""
        if not self.counterparts:
            return []
        before, _ = self.lookup.references(previous, None)
        own = {a.split(":")[0] for a in before}
        return [c for a in before for c in self.counterparts(a) if c.split(":")[0] in scope and c.split(":")[0] not in own]

    def _topic(self, text: str) -> str:
        """What the text is about: without the names of documents and places, which say which and where."""
        stripped = self.names.strip(_ONLY_THEN.sub("人", text))
        for name in sorted(self._place_names(stripped) | {w for w in self.relative if w in stripped}, key=len, reverse=True):
            stripped = re.sub(_LIVES_IN + re.escape(name), " ", stripped)  # "住在" goes with the place it names
        return re.sub(r"\s+", " ", stripped).strip()

    def _place_names(self, text: str) -> set[str]:
        return {name for _, name in longest_matches(text, *self.place_names)}
