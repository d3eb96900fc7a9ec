"""Grounded answers without an LLM: the most relevant sentences of the retrieved articles, cited.

Every statement in an answer is a sentence quoted from a cited article, so no figure can appear
that is not in a cited quote. The composer decides from the `Query` (what is asked, where, when)
and the evidence: it declines when no loaded document applies at the place or in the years asked
about, when an article named does not exist, when retrieval is not confident, and when the
question asks for a figure (an amount, a rate, a period) that the relevant articles do not give.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from retrieval.documents.corpus import Corpus
from retrieval.documents.links import bigrams
from retrieval.documents.text import int_to_cn, numbers_in
from retrieval.search.lexical import idf_coverage
from retrieval.search.retriever import HybridRetriever, Retrieval
from retrieval.types import Article, Citation, DocumentMeta
from retrieval.understanding.asking import Asked, has_figure
from retrieval.understanding.lexicon import certificate_named, certificates, expand, topic_label, uncovered_topics
from retrieval.understanding.query import Query, Reader

HOTLINE = "12333"
LIST_CHARS = 600       # a list article up to this length is quoted whole when a question asks 哪些
_ITEM = re.compile(r"[（(][一二三四五六七八九十]+[）)]")
# "以下" after a figure is a bound ("五万元以下的罚款"), not a list's lead-in ("以下几类人员")
_BELOW = r"(?<![\d〇零一二三四五六七八九十百千万亿元岁年月日天周人户个次倍级%])以下"
_LEAD_IN = re.compile(r"下列|如下|" + _BELOW)
_ITEMS = re.compile(r"[（(][一二三四五六七八九十]+[）)]|[；;].*[；;]")
SUMMARY_CHARS = 100     # the direct answer's length at most (characters, without markers)
OWN_WORDS, ADDED_WORDS = 0.4, 0.2  # weights of word overlap in choosing sentences
QUOTE_SENTENCES, QUOTE_SLACK = 4, 0.25   # quoted: up to this many sentences, within this of the best
WHOLE_ARTICLE = 400     # the answering article is quoted whole up to this length (characters)
SUMMARY_WANTED = 80     # a clause group is extended with its neighbours up to this length
FILLER_CHARS = 40       # what else the first rule says, added while there is room: at most this long
NEW_WORDS = 1.0         # weight, in choosing what else to say, of the question's words not yet said
ENUMERATES = 0.5        # weight of a clause listing what the question asks for by name
DIFFERS = 0.3           # weight, in a comparison, of a clause the other side does not say
PROVIDES = 0.2          # weight of a clause that gives something (给予, 享受, 补贴 …): a hint, not the question's words
_YEAR_IN_TEXT = re.compile(r"(?<!\d)((?:19|20)\d{2})年")
_CLAUSE = re.compile(r"[，,；;：:。]")
_PROVIDES = re.compile(r"给予|享受|纳入|提供|补贴|补助|支持|奖补|可按规定|按规定|免费|优先")
_CONDITION = re.compile(r"^(对|凡|符合|为|对于)|的$")
# a phrase that only says by what or where ("根据……变化", "按照《……办法》", "与……契合的创业园")
_PHRASE = re.compile(r"^(根据|按照|依照|依据|与|在|通过|经)")
_NEGATED = re.compile(r"不得|不予|不再|禁止|取消")
# what a rule does to whoever breaks it
_SANCTIONS = re.compile(r"罚款|处罚|吊销|没收|予以关闭|责令|处分|追究")
# "可以。" answers whether the person can have something; never whether someone else's act is allowed
# ("中介扣我身份证，这允许吗"), and never above a sanction
_NOT_A_YES = re.compile(r"合法|违法|允许|准许|能这样|可以这样|能收|该收|对吗|算不算|处罚|罚款|责令|吊销|追究")
# where a document itself names the office to go to ("向住所地街道、社区公共就业服务机构申请")
_OFFICE = re.compile(r"(?:向|到)[^，。；;]{2,30}?(?:申请|办理|登记|咨询|求助|举报|投诉)")
# a clause group that cannot stand alone: a condition without what it gets, or a list's lead-in alone
_FRAGMENT = re.compile(r"(的|时|下列[^，。；;]{0,6}|如下|" + _BELOW + r"[^，。；;]{0,4})$")
# a clause that opens on a modal is the predicate of the clauses before it ("从事职业中介活动，应当遵循…")
_PREDICATE = re.compile(r"^(应当|应该|必须|不得)")
# a frame says in what respect or on what basis ("在……基础上", "在……等方面"), whatever words it holds
_FRAME = re.compile(r"^在.*(上|中|下|方面|期间|以内|之内|内|里|前|后)$")
# who a provision is for: "符合条件的创业者", "对…人员"
_WHO_QUALIFIES = re.compile(r"符合条件的|^对.*的|(者|人员|毕业生|农牧民工?|职工|劳动力|劳动者|家庭|企业)$")
_BY_DATE = re.compile(r"^(到|截至|截止到?)(\d{4}|[〇零一二三四五六七八九]{4})年(\d{1,2}月)?(底|末)?$")
# a sentence opening on a condition ("对自主就业的，…") is a branch of the rule the sentence before it
# states ("加大退役士兵安置工作力度，对符合政府安排工作条件的，…"): it speaks of the same people; one that
# lists whom it is for ("对农牧民合作社、种养殖大户…等生产经营主体，…") names its own
_BRANCH = re.compile(r"^(对(?![^，,；;。]*、)|凡|符合条件的)")
_CONTINUES = re.compile(r"^(并|但|且|或|及|而|同时|其中|[（(][一二三四五六七八九十\d]+[）)])")
# a question with no word of Chinese or of the documents in it: told apart from one they do not answer
NOT_UNDERSTOOD = "没看懂您的问题，可以换个说法吗？请用中文说说您想了解哪方面的就业创业政策，比如“返乡创业有什么扶持？”"
WHERE_TO_GO = f"具体办理或咨询，可拨打{HOTLINE}人社服务热线，或到当地人社局、就业服务中心。"
_FIGURE_WORDS = {"money": "具体金额或补贴标准", "rate": "具体的利率或比例", "duration": "具体期限",
                 "count": "具体数量", "age": "具体年龄", "address": "具体地址", "phone": "具体电话号码",
                 "date": "具体日期", "time": "具体办公时间"}


@dataclass(frozen=True)
class Thresholds:
    """When retrieval is too unsure to answer. Calibrated on eval/questions.jsonl (see eval/README.md)."""
    min_dense: float = 0.80          # best sentence cosine below this: nothing relevant
    min_coverage: float = 0.34       # share of the question's information found in the best article
    confident_dense: float = 0.86    # above this cosine, low word overlap is tolerated
    asking_held: float = 0.2         # the asking clauses' own words this scarce in the best article: the
                                     # topics named in the question's setting count too
    related_margin: float = 1.0      # cite further articles scoring within this of the first (z units)
    figure_slack: float = 0.15       # how much less relevant a sentence giving the asked figure may be
    local_reach: float = 1.0         # the most local document's best article within this of the best leads
    place_reach: float = 3.0         # the same for a place named outright, whose own rules are asked for
                                     # unless they say nothing on the matter (a hiring-law question from 五原)
    local_margin: float = 0.3        # a more local rule within this of the best (z units) is cited first
    local_slack: float = 0.1         # the place's own rule, from further down, is cited (last) when its best
                                     # sentence is within this of the leading article's best


@dataclass
class Answer:
    question: str
    answer: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    related: list[Citation] = field(default_factory=list)
    refusal_reason: str | None = None
    generator: str = "extractive"
    query: str = ""
    verification: dict | None = None  # what checking an LLM's draft removed, when an LLM wrote it
    llm_error: str | None = None       # why the LLM was not used, when it failed
    summary: str = ""                  # the short direct answer that `answer` starts with ([n] markers)
    notes: list[str] = field(default_factory=list)  # what the reader should know first (e.g. whose rules)

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("citations", "related"):
            for c in d[key]:
                c["departments"] = list(c["departments"])
        return d


def article_label(article: Article, corpus: Corpus) -> str:
    """How a person reads an article's place: 第四部分第（三）条, or 第（九）条 where numbering runs on."""
    unique = article.doc_id in corpus.numbered_throughout
    last = article.labels[-1]
    own = last if last.startswith("第") else f"第{last.rstrip('、.')}条"
    if unique or len(article.labels) == 1:
        return own
    parents = []
    for label, number in zip(article.labels[:-1], article.path[:-1], strict=True):
        parents.append(label if label.startswith("第") else f"第{int_to_cn(number)}部分")
    return "".join(parents) + own


def restates(text: str, other: str, share: float = 0.8) -> bool:
    """Does `other` only repeat `text` (nearly all of its character pairs are in `text`)? A city's rule
    often repeats the regional one word for word: the summary says it once."""
    if not numbers_in(other) <= numbers_in(text):  # 培育20家 does not repeat 培育2-5家
        return False
    a, b = bigrams(text), bigrams(other)
    return bool(a and b) and len(a & b) / len(b) >= share


def with_subject(sentences: Sequence[str], tokens: Sequence[set[str]]) -> list[set[str]]:
    """Each sentence's words, a branch ("对自主就业的，…") with those of the sentence before it, whose
    subject it continues: "退役士兵……自主就业" then matches the branch, not only the rule's head."""
    return [tokens[i] | tokens[i - 1] if i > 0 and _BRANCH.match(s) else tokens[i]
            for i, s in enumerate(sentences)]


def _fragment(text: str) -> bool:
    """A clause group that cannot stand alone: it only states a condition ("对自主创业的分流人员"), by
    what or where ("根据……变化") or in what respect ("在……基础上"), or it ends on a condition, a time
    ("……时") or a list's lead-in ("为劳动者免费提供下列服务")."""
    clauses = [c for c in _CLAUSE.split(text) if c]
    return bool(_FRAGMENT.search(text)) or all(_FRAME.match(c) for c in clauses) or (
        not _PROVIDES.search(text) and all(_CONDITION.search(c) or _PHRASE.match(c) for c in clauses))


def _stops_short(part: str, sentence: str) -> bool:
    """Does the part stop before its sentence's predicate, saying a subject or a proviso alone ("从事职业中介
    活动" of "从事职业中介活动，应当遵循…", "除……外" of "除……外，不得以性别为由拒绝录用妇女")?"""
    clauses = [c for c in _CLAUSE.split(sentence.rstrip("。；;")) if c]
    last = [c for c in _CLAUSE.split(part) if c][-1:]
    if not last or last[0] not in clauses:
        return False
    k = clauses.index(last[0])
    return k + 1 < len(clauses) and bool(_PREDICATE.match(clauses[k + 1]))


def _enumerates(clause: str, named: Sequence[str]) -> bool:
    """Does the clause list instances of what is asked for ("通过提高稳岗补贴标准、开展以工代赈…等措施")?"""
    return any(w in clause and ("、" in clause or f"等{w}" in clause) for w in named)


def _lead_in(article: Article) -> str:
    """The clause that introduces an article's list ("对下列企业、人员依法给予税收优惠"); "" without one."""
    for sentence in article.sentences:
        item = _ITEM.search(sentence)
        if item and _LEAD_IN.search(sentence[:item.start()]):
            return [c for c in _CLAUSE.split(sentence[:item.start()]) if c][-1]
    return ""


def document_label(meta: DocumentMeta) -> str:
    return f"《{meta.short_name}》"


def citation_for(article: Article, corpus: Corpus, quote: str) -> Citation:
    meta = corpus.document(article.doc_id)
    return Citation(id=article.id, document=meta.short_name, article=article_label(article, corpus),
                    title=article.title, quote=quote, lead_department=article.lead_department,
                    departments=article.departments)


class Composer:
    def __init__(self, retriever: HybridRetriever, reader: Reader, thresholds: Thresholds = Thresholds(),
                 max_articles: int = 3, max_sentences: int = 2, out_of_scope: dict[str, str] | None = None):
        self.retriever = retriever
        self.reader = reader
        self.out_of_scope = out_of_scope or {}
        self.corpus = retriever.corpus
        self.t = thresholds
        self.max_articles = max_articles
        self.max_sentences = max_sentences
        self._spans_by_doc: dict[str, tuple[int, int] | None] = {}
        self._words_by_article: dict[str, list[set[str]]] = {}

    # ------------------------------------------------------------ choosing
    def _confident(self, r: Retrieval) -> bool:
        if r.referenced:
            return True
        if not r.hits:
            return False
        best = r.hits[0].article_id
        dense = r.best_dense
        coverage = r.coverage.get(best, 0.0)
        if dense < self.t.min_dense:
            return False
        return coverage >= self.t.min_coverage or dense >= self.t.confident_dense

    def _articles(self, q: Query, r: Retrieval) -> list[Article]:
        if r.referenced:
            limit = len(r.referenced) if q.chapter else self.max_articles
            return [self.corpus.article(a) for a in r.referenced[:limit]]
        first = r.hits[0]
        chosen = [first.article_id]
        # the most local rules for the place speak first: the best article of the most local document
        # that has a relevant one, even when a broader rule (a national law) matches the words better
        # (a document that implements the best one restates it: there relevance decides, as below, unless
        # the question names the place whose rules it is)
        rank = {d: i for i, d in enumerate(q.scope)}
        top_doc = first.article_id.split(":")[0]
        # a place named outright asks for its own rules: its most local document's best article leads, from
        # further down
        floor = first.score - (self.t.place_reach if q.place_named else self.t.local_reach)
        reach = [h for h in r.hits if h.score >= floor
                 and (q.place_named or not self._implements(h.article_id.split(":")[0], top_doc))]
        local = min(reach, key=lambda h: rank.get(h.article_id.split(":")[0], len(rank)))
        if local.article_id != first.article_id:
            chosen.insert(0, local.article_id)
        # a comparison hears every document it compares: each one's best article
        for doc_id in q.sides:
            best = next((h for h in r.hits if h.article_id.split(":")[0] == doc_id), None)
            if best and len(chosen) < self.max_articles and not any(a.startswith(f"{doc_id}:") for a in chosen):
                chosen.append(best.article_id)
        for hit in r.hits[1:]:
            if len(chosen) >= self.max_articles:
                break
            if hit.score >= first.score - self.t.related_margin and hit.article_id not in chosen:
                chosen.append(hit.article_id)
        # the place's own rules are heard even when a broader one (a national law) leads by far: the most
        # local document's article among the best few is cited last, if a sentence of it is nearly as
        # relevant as the leading article's best (its quote, not the direct answer; see _summary)
        if q.scope:
            home = q.scope[0]
            near = next((h.article_id for h in r.hits[:self.max_articles] if h.article_id.startswith(f"{home}:")), None)
            if near and not any(a.startswith(f"{home}:") for a in chosen) \
                    and self._best_sentence(r, near) >= self._best_sentence(r, chosen[0]) - self.t.local_slack:
                chosen = chosen[:self.max_articles - 1] + [near]
        return [self.corpus.article(a) for a in chosen]

    def _best_sentence(self, r: Retrieval, article_id: str) -> float:
        return self._scored_sentences(r, self.corpus.article(article_id))[0][0]

    def _implements(self, doc_id: str, other: str) -> bool:
        """Does doc_id implement `other`, directly or through documents in between?"""
        seen = set()
        current: str | None = doc_id
        while current and current not in seen:
            seen.add(current)
            current = self.corpus.document(current).implements if current in self.corpus.docs_by_id else None
            if current == other:
                return True
        return False

    def _words(self, article: Article) -> list[set[str]]:
        """Each sentence's words, a branch's with its subject's (`with_subject`); made once per article."""
        words = self._words_by_article.get(article.id)
        if words is None:
            words = with_subject(article.sentences, self.retriever.sentence_tokens(article.id))
            self._words_by_article[article.id] = words
        return words

    def _scored_sentences(self, r: Retrieval, article: Article) -> list[tuple[float, int]]:
        """(relevance, position) for each sentence, best first: cosine plus overlap with the question's
        own words (the documents' words added for search find the article, not the sentence)."""
        dense = self.retriever.sentence_scores(r, article.id)
        tokens = self._words(article)
        words = r.asked_tokens or r.tokens
        scored = [(dense.get(i, 0.0) + OWN_WORDS * idf_coverage(words, tokens[i], r.lexicon)
                   + ADDED_WORDS * idf_coverage(r.tokens, tokens[i], r.lexicon), i)
                  for i in range(len(article.sentences))]
        return sorted(scored, reverse=True)

    def _sentence_relevance(self, r: Retrieval, article: Article) -> dict[str, float]:
        return {article.sentences[i]: score for score, i in self._scored_sentences(r, article)}

    def _sentences(self, r: Retrieval, article: Article, asked: Asked) -> list[str]:
        if not article.sentences:
            return [article.title] if article.title else []
        if asked.kind == "list" and _ITEMS.search(article.body) and len(article.body) <= LIST_CHARS:
            return list(article.sentences)  # "哪些": the whole list, not its first item
        scored = self._scored_sentences(r, article)
        best = scored[0][0]
        if asked.kind == "figure" and asked.figure:
            # the sentence giving the asked-for figure, if one is nearly as relevant as the best
            with_figure = [(sc, i) for sc, i in scored
                           if sc >= best - self.t.figure_slack and has_figure(asked.figure, article.sentences[i], asked.unit)]
            if with_figure:
                return [article.sentences[with_figure[0][1]]]
        keep = [i for score, i in scored[:self.max_sentences] if score >= best - 0.05]
        return [article.sentences[i] for i in sorted(keep)]

    def _quoted(self, r: Retrieval, article: Article, sentences: Sequence[str]) -> list[str]:
        """What is quoted under the direct answer: the sentences it was built from, and the article's
        other sentences nearly as relevant (a second condition or what else is given), in their order."""
        if len(sentences) >= QUOTE_SENTENCES or len(sentences) == len(article.sentences):
            return list(sentences)
        scored = self._scored_sentences(r, article)
        best = scored[0][0]
        chosen = {article.sentences.index(s) for s in sentences if s in article.sentences}
        for score, i in scored:
            if len(chosen) >= QUOTE_SENTENCES or score < best - QUOTE_SLACK:
                break
            chosen.add(i)
        return [article.sentences[i] for i in sorted(chosen)]

    @staticmethod
    def quote(article: Article, sentences: Sequence[str]) -> str:
        """Sentences as they stand in the article; a gap between them is shown as ……"""
        out, end = "", None
        for s in sentences:
            start = article.body.find(s, end or 0)
            out += ("……" if out and start != end else "") + s
            end = start + len(s)
        return out

    # ------------------------------------------------------------ deciding
    def compose(self, q: Query, r: Retrieval) -> Answer:
        if q.unloaded:
            # the law asked about is not here: say which documents are, and show what they say, marked
            related = self._beside_decline(q, r)
            return self._decline(q, r, "document_not_loaded", text=self._not_loaded(q, bool(related)), articles=related)
        if q.missing:
            return self._decline(q, r, "no_such_article", text=f"{q.missing}请核对条款序号，或直接描述您想了解的内容。")
        if not q.scope:
            return self._decline(q, r, "place_not_covered", text=self._not_covered(q))
        if q.own_rules_missing:
            higher = self._beside_decline(q, r)
            return self._decline(q, r, "place_not_covered", text=self._not_covered(q, bool(higher)),
                                 articles=higher)
        if q.period and not self._period_covered(q):
            # the older provisions on the topic, when there are clearly relevant ones, marked as such
            older = self._beside_decline(q, r)
            return self._decline(q, r, "period_not_covered", text=self._other_years(q), articles=older)
        if not r.referenced and not any(t in self.retriever.bm25.vocab or self.retriever.tokenize.is_word(t)
                                        for t in r.tokens):
            return self._decline(q, r, "not_understood", text=NOT_UNDERSTOOD)
        if not self._confident(r):
            return self._decline(q, r, "no_match")
        articles = self._articles(q, r)
        texts = [a.title + a.body for a in articles]
        outside = [] if r.referenced else uncovered_topics(q.asking, texts, self.out_of_scope, self.retriever.synonyms)
        if not outside and not r.referenced and (q.setting or q.story):
            held = self.retriever.holds(self.retriever.tokenize(q.asking), articles[0].id, r.lexicon)
            # an asking clause that only acts on something said before it ("身份证快过期了，…能在打工的地方
            # 换证吗？"), or names only the kind of thing it asks for ("想申请公租房，需要什么条件？"), asks
            # about that
            refers = q.acts_on_before or q.about_before
            if held < self.t.asking_held or refers:
                # the asking clause's own words are scarce in the provisions ("社保卡丢了，怎么挂失补办？"): what
                # it asks about is then named in the setting, whose topics count too; the person's story counts
                # only when none of them are there ("公司拖欠我三个月工资了，我应该去哪投诉？"), not beside
                # what they ask for ("我户口在外地，…能领创业补贴吗"); who they are counts not beside a setting
                # the provisions hold ("俺是农村户口，进城找工作，有的单位专门给农村人设门槛，…咋规定的")
                def holds(clause: str) -> float:  # in the documents' words or the resident's (开个店: 创业)
                    return self.retriever.holds(self.retriever.tokenize(expand(clause, self.retriever.synonyms)),
                                                articles[0].id, r.lexicon)

                story = [] if held > 0 and not refers else q.story.split()
                if any(holds(c) >= self.t.asking_held for c in q.setting.split()):
                    story = [c for c in story if c not in q.identity]
                # of the person's circumstances, those the provisions do not hold are incidental beside one
                # they hold as well as an asking clause should ("…孩子还在上学，家里一个上班的都没有，政府
                # 管不管"); who the person is ("我是个体工商户") does not make them so
                holding = {c: holds(c) for c in story}
                if any(h >= self.t.asking_held and c not in q.identity for c, h in holding.items()):
                    story = [c for c in story if holding[c] >= self.t.asking_held]
                # (a topic's words may be said across the context and the asking clause: "营业执照丢了，怎么补办？")
                outside = uncovered_topics(" ".join([q.setting, *story, q.asking]), texts, self.out_of_scope,
                                           self.retriever.synonyms, context=True)
        if not outside and not r.referenced:
            # a certificate asked about (not one named as context: "今年考了个电工证，能领补贴吗") that no
            # cited provision names
            named = certificates(self.retriever.tokenize(q.asking))
            outside = [c for c in named if not any(certificate_named(c, t) for t in texts)]
        if outside:
            return self._decline(q, r, "out_of_scope", topics=outside)
        # an article asked for by number is shown whole; a chapter by its first sentences; else the most relevant
        picks = [(a, list(a.sentences[:1] if q.chapter else a.sentences) if a.id in r.referenced
                  else self._sentences(r, a, q.asked)) for a in articles]
        # the figure asked must be given by the article that answers, not by one cited lower down (the hotline,
        # which every answer gives anyway, is not the number of an office asked for); a figure another clause
        # asks ("每年交多少？还能补交吗？") that it does not give is said so beside the answer
        def given(kind: str, unit: str | None = None) -> bool:
            return any(has_figure(kind, s.replace(HOTLINE, "") if kind == "phone" else s, unit)
                       for _, sents in picks[:1] for s in sents)
        if q.asked.kind == "figure" and q.asked.figure and not r.referenced and not given(q.asked.figure, q.asked.unit):
            return self._decline(q, r, "figure_missing", articles=articles)
        not_given = [] if r.referenced else [kind for kind in q.asked.also if not given(kind)]
        return self._answer(q, r, self._local_first(q, r, picks), not_given)

    def _beside_decline(self, q: Query, r: Retrieval) -> list[Article]:
        """The two best articles, listed as `related` beside a decline, when retrieval is confident."""
        return self._articles(q, r)[:2] if r.hits and self._confident(r) else []

    def _local_first(self, q: Query, r: Retrieval, picks: list[tuple[Article, list[str]]]):
        """The place's own rule before the higher rule it implements, when both are about as relevant."""
        if r.referenced:
            return picks
        score = {h.article_id: h.score for h in r.hits}
        top = score.get(picks[0][0].id, 0.0)
        rank = {d: i for i, d in enumerate(q.scope)}
        # a place named outright asks for its own rules first; otherwise only when about as relevant
        margin = self.t.place_reach if q.place_named else self.t.local_margin
        close = [p for p in picks if score.get(p[0].id, top) >= top - margin]
        return sorted(close, key=lambda p: rank.get(p[0].doc_id, len(rank))) + [p for p in picks if p not in close]

    def _answer(self, q: Query, r: Retrieval, picks: list[tuple[Article, list[str]]],
                not_given: Sequence[str] = ()) -> Answer:
        shown = [list(sents) if a.id in r.referenced else self._quoted(r, a, sents) for a, sents in picks]
        summary = self._summary(q, r, picks, shown)  # (a comparison may add the sentence it says to `shown`)
        # the answering article, when short, is quoted whole: its other conditions and what else it gives
        # are often what the person needs next (the quotes are folded on the page)
        quoted = [list(a.sentences) if n == 0 and len(a.body) <= WHOLE_ARTICLE else sents
                  for n, ((a, _), sents) in enumerate(zip(picks, shown, strict=True))]
        citations = [citation_for(a, self.corpus, self.quote(a, sents)) for (a, _), sents in zip(picks, quoted, strict=True)]
        # a second figure asked that the answering article does not give is said so, not left unanswered
        notes = self._notes(q) + [f"您问的{_FIGURE_WORDS.get(k, '具体数字')}，文件中没有写明。" for k in not_given]
        lines: list[str] = ([summary] if summary else []) + list(notes)
        by_doc: dict[str, list[int]] = {}
        for n, (a, _) in enumerate(picks, start=1):
            by_doc.setdefault(a.doc_id, []).append(n)
        several = len(by_doc) > 1
        if q.chapter and not summary:
            lines.append(self._chapter_head(picks))
        for doc_id, numbers in by_doc.items():
            meta = self.corpus.document(doc_id)
            if several:
                lines.append(f"{self.reader.label(doc_id)}的规定，{document_label(meta)}：")
            elif not q.chapter:
                lines.append(f"根据{document_label(meta)}：")
            for n in numbers:
                a, _ = picks[n - 1]
                if q.asked.kind == "lead" and a.lead_department:
                    others = "、".join(a.departments[1:])
                    lines.append(f"“{a.title}”一条的政策牵头部门是{a.lead_department}"
                                 + (f"，{others}共同负责" if others else "") + f"。[{n}]")
                prefix = f"{article_label(a, self.corpus)}：" if q.chapter else ""
                lines.append(f"{prefix}“{citations[n - 1].quote}”[{n}]")
        if WHERE_TO_GO not in summary:
            lines.append(WHERE_TO_GO)
        return Answer(q.text, "\n".join(lines), False, citations, [], None, query=r.query, notes=notes,
                      summary=summary)

    # ------------------------------------------------------------ the direct answer
    def _summary(self, q: Query, r: Retrieval, picks: list[tuple[Article, list[str]]],
                 shown: list[list[str]]) -> str:
        """One or two sentences built from clauses of the cited articles that answer the question, with
        their markers (`shown`: the sentences each citation quotes). Only connecting words of our own
        are added, so every figure is in the article."""
        if not picks:
            return ""
        quoted = shown[0]
        article, sentences = picks[0]
        if q.chapter:  # what the chapter is, then how its first article begins
            head = f"{self._chapter_head(picks)}{article_label(article, self.corpus)}规定："
            return f"{head}{self._opening(article, max(SUMMARY_CHARS - len(head), 20))}。[1]"
        if q.asked.kind == "where":
            # the hotline and the local offices are our advice, not the articles': no marker on them
            cited = "".join(f"[{n}]" for n in range(1, len(picks) + 1))
            return self._office(q, r, picks) or f"文件没有写明在哪里办理，相关规定见下文{cited}。{WHERE_TO_GO}"
        if q.asked.kind == "lead" and article.lead_department:
            if q.sides:  # each document's own lead department, when they are compared
                leads: dict[str, tuple[int, str]] = {}
                for n, (a, _) in enumerate(picks, 1):
                    if a.doc_id in q.sides and a.lead_department:
                        leads.setdefault(a.doc_id, (n, a.lead_department))
                if len(leads) >= 2:
                    return "政策牵头部门（负责推动落实，不是办理窗口）：" + "；".join(
                        f"{self.reader.label(d)}是{lead}[{n}]" for d, (n, lead) in leads.items()) + "。"
            return f"这项政策的牵头部门是{article.lead_department}（负责推动落实，不是办理窗口）。[1]"
        if q.articles:  # what the article is about, then how it begins
            head = f"这一条是“{article.title}”：" if article.title else "这一条规定："
            return f"{head}{self._opening(article, SUMMARY_CHARS - len(head))}。[1]"
        if q.asked.kind == "list" and not q.sides:  # the list of the first two rules that has one
            for n, (a, _) in enumerate(picks[:2], start=1):
                if items := self._items(a, SUMMARY_CHARS - 5):
                    return f"包括：{items}。[{n}]"
        if compared := self._compared(q, r, picks, shown):
            return compared
        # the most relevant chosen sentence of the first two rules (the second article often says what
        # the first only frames); then the first rule's next sentence quoted beside it, while there is
        # room (clauses of one sentence belong together)
        spans: list[tuple[int, str, bool]] = []   # (marker, sentence, only to fill the wanted length)
        first = self._sentence_relevance(r, article)
        score = {h.article_id: h.score for h in r.hits}
        for n, (a, sents) in enumerate(picks[:2], start=1):
            if n == 2 and score.get(a.id, 0.0) < score.get(article.id, 0.0) - self.t.related_margin:
                continue  # cited as the place's own rule, not for answering as well (_articles)
            if sents:
                relevance = first if n == 1 else self._sentence_relevance(r, a)
                spans.append((n, max(sents, key=lambda s: relevance.get(s, 0.0)), False))
        if spans and article.id not in r.referenced:
            more = [s for s in quoted if s != spans[0][1]]
            if more:
                # relevant for what it adds: the question's own words the first part lacks (maximal marginal
                # relevance; a sentence restating the first part adds nothing)
                unsaid = self._unsaid(r, spans[0][1])
                spans.append((1, max(more, key=lambda s: first.get(s, 0.0)
                                      + NEW_WORDS * self._adds(r, unsaid, article, s)), True))
        # asked what happens to whoever breaks a rule: the rest of its sanction sentence ("…依法予以关闭；有违法
        # 所得的，没收违法所得，并处…罚款") too, each unit whole, for a consequence without its condition misstates it
        whole: list[str] = []
        if q.asked.sanction and spans and _SANCTIONS.search(spans[0][1]):
            whole = self._rest_of_sentence(article, spans[0][1])
            spans = spans[:1] + [(1, s, False) for s in whole] + [s for s in spans[1:] if s[0] != 1]
            quoted[:] = [s for s in article.sentences if s in quoted or s in whole]  # what it says is quoted
        parts: list[str] = []
        markers: list[int] = []   # each part's citation
        named = False             # a part gives a figure of another document than the first
        budget = SUMMARY_CHARS
        # a figure from another document than the first says whose rule it is ("内蒙古自治区：…"): two
        # figures side by side (8个, 100个) must not read as one place's (both places' rules apply there)
        mine = f"{self.reader.label(article.doc_id)}："
        theirs = f"{self.reader.label(picks[1][0].doc_id)}：" if len(picks) > 1 and picks[1][0].doc_id != article.doc_id else ""
        other = {2} if theirs else set()   # the marker of the other document's part
        labels = len(mine) + len(theirs)
        for n, sentence, filler in spans:
            head = "" if filler else _lead_in(picks[n - 1][0])
            if head and _ITEM.search(sentence):
                if not _ITEM.match(sentence):
                    # the list's lead-in ("对下列企业、人员依法给予税收优惠"): said with the items, not the first alone
                    listed = self._items(picks[n - 1][0], budget - len(head) - 1)
                else:  # an item alone ("（五）从事个体经营的残疾人") says nothing: said after the lead-in
                    listed = _ITEM.sub("", sentence, count=1).strip().rstrip("。；;，,:：")
                    listed = listed if len(head) + len(listed) + 1 <= budget else ""
                if listed:
                    parts.append(f"{head}：{listed}。[{n}]")
                    markers.append(n)
                    named = named or n in other and bool(numbers_in(listed))
                    budget -= len(head) + len(listed) + 1
                    continue
            if sentence in whole:
                unit = sentence.rstrip("。；;")
                if len(unit) <= budget:
                    parts.append(f"{unit}。[{n}]")
                    markers.append(n)
                    budget -= len(unit)
                continue
            figure = n in other and not named and bool(numbers_in(sentence))
            room = budget - labels if figure else budget  # the names it needs said too
            if not parts and whole:  # room kept for the sanction's later units
                room = max(room - sum(len(s) for s in whole), SUMMARY_CHARS // 3)
            best = self._best_clauses(q, r, sentence, min(room, FILLER_CHARS) if filler else room)
            figure = figure and bool(numbers_in(best))
            if parts and best:
                # a part adds only what was not said (a city often restates the region word for word); what
                # is left of a part mostly said already is its framing ("支持企业尽最大努力挖掘内部安置潜力")
                clauses = [c for c in _CLAUSE.split(best) if c]
                new = [c for c in clauses if not any(restates(p, c) for p in parts)]
                best = "，".join(new) if 2 * len(new) >= len(clauses) else ""
            if not best or _fragment(best) or _stops_short(best, sentence) \
                    or filler and parts and not self._adds_more(r, best, parts[0]):
                continue
            parts.append(f"{best}。[{n}]")
            markers.append(n)
            budget -= len(best) + (labels if figure else 0)
            named = named or figure
            if budget < 20:
                break
        if not parts and spans:  # only fragments: the best clauses of the anchor sentence, as they are
            best = self._best_clauses(q, r, spans[0][1], SUMMARY_CHARS)
            parts, markers = ([f"{best}。[{spans[0][0]}]"], [spans[0][0]]) if best else ([], [])
        if not parts:
            return ""
        if named:  # each document's parts together, under its name
            own_parts = [p for p, n in zip(parts, markers, strict=True) if n not in other]
            other_parts = [p for p, n in zip(parts, markers, strict=True) if n in other]
            parts = ([mine + own_parts[0], *own_parts[1:]] if own_parts else []) \
                + [theirs + other_parts[0], *other_parts[1:]]
        # "可以" only where the provision gives what was asked about, in its words
        yes = (_PROVIDES.search(parts[0]) and not _NEGATED.search(parts[0]) and not _NOT_A_YES.search(parts[0] + q.asking)
               and idf_coverage(self.retriever.tokenize(q.asking), set(self.retriever.tokenize(parts[0])),
                                r.lexicon) > 0)
        # "包括：" introduces items only (above); a provision is introduced as one, whatever was asked
        lead = "可以。根据规定，" if q.asked.kind == "yes_no" and yes else "根据规定，"
        return lead + "".join(parts)

    def _compared(self, q: Query, r: Retrieval, picks: list[tuple[Article, list[str]]],
                  shown: list[list[str]]) -> str:
        """A comparison: what each of two documents compared says, in turn, in half the length each;
        "" unless both are cited and say different things (the same rule twice is said once). The second
        side says what adds most to the first, from any of its sentences: one not quoted joins `shown`."""
        sides: dict[str, int] = {}
        for n, (a, _) in enumerate(picks):
            if a.doc_id in q.sides and a.doc_id not in sides and shown[n]:
                sides[a.doc_id] = n
        if len(sides) < 2:
            return ""
        parts: list[str] = []
        compared = list(sides.items())[:2]
        said = ""  # what the first side says
        for doc_id, n in compared:
            article = picks[n][0]
            label = self.reader.label(doc_id)
            relevance = self._sentence_relevance(r, article)
            if parts:
                unsaid = self._unsaid(r, parts[0])
                sentence = max(article.sentences,
                               key=lambda s: relevance.get(s, 0.0) + NEW_WORDS * self._adds(r, unsaid, article, s))
            else:
                sentence = max(shown[n], key=lambda s: relevance.get(s, 0.0))
            # each side for what the other does not say: the first against the other's article
            other = said or next(picks[m][0].body for d, m in compared if d != doc_id)
            best = self._best_clauses(q, r, sentence, SUMMARY_CHARS // 2 - len(label) - 1, other)
            if not best or _fragment(best) or parts and all(restates(parts[0], c) for c in _CLAUSE.split(best) if c):
                return ""
            parts.append(f"{label}：{best}。[{n + 1}]")
            said = said or best
            if sentence not in shown[n]:  # what the summary says is in the quote it cites
                shown[n][:] = [s for s in article.sentences if s in shown[n] or s == sentence]
        return "\n".join(parts)  # each side on its own line

    def _office(self, q: Query, r: Retrieval, picks: list[tuple[Article, list[str]]]) -> str:
        """Where to apply, in the words of a cited article that names the office; "" when none does."""
        for n, (article, _) in enumerate(picks, start=1):
            named = [s for s in article.sentences if _OFFICE.search(s)]
            if named:
                relevance = self._sentence_relevance(r, article)
                sentence = max(named, key=lambda s: relevance.get(s, 0.0))
                clauses = self._best_clauses(q, r, sentence, SUMMARY_CHARS - 5)
                if clauses and _OFFICE.search(clauses):
                    return f"根据规定，{clauses}。[{n}]"
        return ""

    @staticmethod
    def _items(article: Article, budget: int) -> str:
        """A list article's items ((一)…(六)), without their numbers, as many as fit; 等 when some do not."""
        items = [i.strip().rstrip("。；;，,:：") for i in _ITEM.split(article.body)[1:]]
        if len(items) < 2:
            return ""
        text = ""
        for n, item in enumerate(items):
            more = ("；" if text else "") + item
            if len(text) + len(more) > budget - (0 if n == len(items) - 1 else 1):
                return text + "等" if text else ""
            text += more
        return text

    @staticmethod
    def _rest_of_sentence(article: Article, sentence: str) -> list[str]:
        """The article's units after `sentence` that continue its sentence (units end at "；" within one)."""
        if sentence not in article.sentences:
            return []
        rest: list[str] = []
        i = article.sentences.index(sentence)
        while i + 1 < len(article.sentences) and article.sentences[i].endswith(("；", ";")):
            i += 1
            rest.append(article.sentences[i])
        return rest

    def _adds_more(self, r: Retrieval, text: str, first: str) -> bool:
        """Is a short clause group worth adding after the `first` part of the direct answer: it stands
        alone (it does not continue a sentence left out; fragments are left out before) and holds at
        least a quarter as much of the question's own words?"""
        own = r.asked_tokens or r.tokens

        def held(t: str) -> float:
            return idf_coverage(own, set(self.retriever.tokenize(t)), r.lexicon)
        return bool(not _CONTINUES.match(text) and held(text) > 0 and held(text) >= 0.25 * held(first))

    def _unsaid(self, r: Retrieval, said: str) -> list[str]:
        """The question's own words that `said` does not hold."""
        held = set(self.retriever.tokenize(said))
        return [t for t in (r.asked_tokens or r.tokens) if t not in held]

    def _adds(self, r: Retrieval, unsaid: Sequence[str], article: Article, sentence: str) -> float:
        """Share of the unsaid words' information a sentence of the article would add; 0..1."""
        if not unsaid:
            return 0.0
        words = (self._words(article)[article.sentences.index(sentence)] if sentence in article.sentences
                 else set(self.retriever.tokenize(sentence)))
        return idf_coverage(unsaid, words, r.lexicon)

    def _chapter_head(self, picks: list[tuple[Article, list[str]]]) -> str:
        a0 = picks[0][0]
        title = a0.section_titles[0] if a0.section_titles else ""
        return (f"{document_label(self.corpus.document(a0.doc_id))}{a0.labels[0]}" + (f"“{title}”" if title else "")
                + f"共{int_to_cn(len(picks))}条：")

    @staticmethod
    def _opening(article: Article, budget: int) -> str:
        """The article's first clauses, whole, up to the budget (at least its first clause)."""
        clauses = [c for s in article.sentences[:2] for c in _CLAUSE.split(s.rstrip("。；;")) if c]
        text = clauses[0] if clauses else ""
        for c in clauses[1:]:
            if len(text) + 1 + len(c) > min(budget, SUMMARY_WANTED):
                break
            text += "，" + c
        if len(text) <= budget:
            return text
        cut = budget - 1
        while cut > 0 and text[cut - 1].isdigit():  # never split a figure
            cut -= 1
        return text[:cut] + "…"

    def _best_clauses(self, q: Query, r: Retrieval, sentence: str, budget: int, other: str = "") -> str:
        """The sentence's clause that best answers the question, with the condition or the provision that
        completes it ("对……的，给予……"), then its neighbours while they fit the budget. In a comparison,
        a clause `other` (what the other side says) does not restate counts more."""
        clauses = [c for c in _CLAUSE.split(sentence.rstrip("。；;")) if c]
        if not clauses:
            return ""
        figure = q.asked.figure if q.asked.kind == "figure" else None
        named = self._asked_for(q)

        def score(i: int) -> float:
            c = clauses[i]
            value = idf_coverage(r.tokens, set(self.retriever.tokenize(c)), r.lexicon)
            value += PROVIDES if _PROVIDES.search(c) else 0.0
            value += 1.0 if figure and has_figure(figure, c, q.asked.unit) else 0.0
            value += 0.3 if q.asked.who and _WHO_QUALIFIES.search(c) else 0.0
            value += ENUMERATES if _enumerates(c, named) else 0.0
            value += DIFFERS if other and not restates(other, c) else 0.0
            return value
        i = max(range(len(clauses)), key=score)
        lo, hi = i, i
        if i > 0 and _CONDITION.search(clauses[i - 1]) and not _CONDITION.search(clauses[i]):
            lo = i - 1
        elif (_CONDITION.search(clauses[i]) or not _PROVIDES.search(clauses[i])) and i + 1 < len(clauses) \
                and _PROVIDES.search(clauses[i + 1]):
            hi = i + 1
        text = "，".join(clauses[lo:hi + 1])
        if len(text) > budget:
            part = next((c for c in clauses[lo:hi + 1] if _PROVIDES.search(c)), clauses[i])
            return part if len(part) <= budget else ""
        # more of the same provision while it fits: the next clauses first, they usually say what is given
        while hi + 1 < len(clauses) and len(text) + 1 + len(clauses[hi + 1]) <= min(budget, SUMMARY_WANTED):
            hi += 1
            text = "，".join(clauses[lo:hi + 1])
        # never end on a condition without what it gets, nor on the date a target is set for ("到2020年")
        while hi > i and (clauses[hi].endswith("的") or _BY_DATE.match(clauses[hi])):
            hi -= 1
            text = "，".join(clauses[lo:hi + 1])
        # then the clauses before it, which say to whom or on what condition
        while lo > 0 and len(text) + 1 + len(clauses[lo - 1]) <= min(budget, SUMMARY_WANTED):
            lo -= 1
            text = "，".join(clauses[lo:hi + 1])
        return text

    def _asked_for(self, q: Query) -> list[str]:
        """The words naming what is asked for ("措施" in "可以采取哪些措施"): each head's first word."""
        words = [next(iter(self.retriever.tokenize(h)), "") for h in q.asked.heads]
        return [w for w in words if len(w) >= 2]

    def _notes(self, q: Query) -> list[str]:
        """What to know first: the rules are older than the year in the person's story; only higher
        levels speak for the place ('包头市本地的政策文件未收录，以下是内蒙古自治区的规定。')."""
        notes = []
        spans = self._spans(q)
        if q.period and spans and q.period.end > max(hi for _, hi in spans):
            notes.append("以下规定出自早于您所说年份的文件，此后可能已有新规定，请以当地人社部门公布的为准。")
        return notes + self._whose_rules(q)

    def _whose_rules(self, q: Query) -> list[str]:
        if not q.place_named or q.place.province is None:
            return []
        local = q.place if q.place.level in ("省级", "地市级") else type(q.place)(q.place.city or "", q.place.province, q.place.city)
        if any(local.contains(self.reader.region[d]) for d in q.scope):
            return []
        higher = "、".join(dict.fromkeys(self.reader.label(d) for d in q.scope))
        return [f"{local.name}本地的政策文件未收录，以下是{higher}的规定，在{local.name}同样适用。"]

    def _years(self, doc_id: str) -> tuple[int, int] | None:
        """The years a document speaks for: from its issue to the last year its text plans for
        (a 2018 document with targets "到2020年" covers 2018-2020)."""
        if doc_id not in self._spans_by_doc:
            issued = self.corpus.document(doc_id).year
            planned = [int(y) for a in self.corpus.articles if a.doc_id == doc_id
                       for y in _YEAR_IN_TEXT.findall(a.body)] if issued else []
            self._spans_by_doc[doc_id] = (issued, max([issued] + [y for y in planned if y <= issued + 15])) if issued else None
        return self._spans_by_doc[doc_id]

    def _spans(self, q: Query) -> list[tuple[int, int]]:
        """The years each document in the question's scope speaks for (documents without a date left out)."""
        return [s for d in q.scope if (s := self._years(d))]

    def _period_covered(self, q: Query) -> bool:
        """Rules dated to a year after the documents' span, or before them, are not in the documents."""
        spans = self._spans(q)
        if not q.period or not q.period.rules or not spans:
            return True
        named = [y for d in q.documents if (y := self.corpus.document(d).year)]
        if named and not q.period.issued and not q.period.in_force and q.period.end <= max(named):
            return True  # a document named by an earlier year of its own: "2007年通过的就业促进法" (amended 2015)
        if q.period.issued:  # rules issued in those years: a document issued then
            return any(q.period.start <= lo <= q.period.end for lo, _ in spans)
        return min(lo for lo, _ in spans) <= q.period.end <= max(hi for _, hi in spans)

    def _not_covered(self, q: Query, higher: bool = False) -> str:
        areas = "、".join(dict.fromkeys("全国" if self.reader.label(d) == "国家" else self.reader.label(d)
                                        for d in self.reader.order))
        asked = "、".join(self.corpus.document(d).short_name for d in q.not_applicable)
        what = f"{q.place.name}的{asked}" if asked else f"适用于{q.place.name}的政策文件"
        if q.own_rules_missing:
            return (f"抱歉，{q.place.name}本地的政策文件没有收录，无法回答当地的具体规定。"
                    + ("下面列出在当地同样适用的上级规定，仅供参考。" if higher else "")
                    + f"当地的具体政策请咨询当地人社部门，或拨打{HOTLINE}人社服务热线。")
        return (f"抱歉，目前收录的政策文件只适用于{areas}，{what}没有收录，无法回答。"
                f"请咨询当地人社部门，或拨打{HOTLINE}人社服务热线。")

    def _not_loaded(self, q: Query, related: bool) -> str:
        loaded = "".join(document_label(self.corpus.document(d)) for d in self.reader.order)
        return (f"抱歉，目前收录的政策文件中没有{'、'.join(f'《{n}》' for n in q.unloaded)}，无法按它回答。"
                f"收录的是{loaded}。" + ("下面列出收录文件中的相关规定，仅供参考。" if related else "")
                + f"具体问题可拨打{HOTLINE}人社服务热线咨询。")

    def _other_years(self, q: Query) -> str:
        issued = "、".join(f"{self.corpus.document(d).short_name}（{self.corpus.document(d).year}年）"
                           for d in q.scope if self.corpus.document(d).year)
        if q.period and q.period.in_force:
            return (f"抱歉，收录的{issued}本身没有说明现在是否仍在执行，发布后可能已有新的规定或调整。"
                    f"请以当地人社部门最新公布的为准，或拨打{HOTLINE}人社服务热线。")
        start, end = (q.period.start, q.period.end) if q.period else (0, 0)
        when = f"{start}年" if start == end else f"{start}—{end}年"
        return (f"抱歉，目前收录的政策文件是{issued}发布的，没有{when}的规定；此后可能出台了新的政策。"
                f"请以当地人社部门最新公布的为准，或拨打{HOTLINE}人社服务热线。")

    def _decline(self, q: Query, r: Retrieval, reason: str, text: str | None = None,
                 articles: Sequence[Article] = (), topics: Sequence[str] = ()) -> Answer:
        related: list[Citation] = []
        if reason in ("period_not_covered", "place_not_covered", "document_not_loaded"):
            related = [citation_for(a, self.corpus, self.quote(a, self._sentences(r, a, Asked()))) for a in articles]
        if reason == "figure_missing":
            what = _FIGURE_WORDS.get(q.asked.figure or "", "具体数字")
            text = (f"现有文件提到了相关政策，但没有规定{what}。"
                    f"具体标准以当地人社部门公布为准，可拨打{HOTLINE}咨询。")
            related = [citation_for(a, self.corpus, self.quote(a, self._sentences(r, a, Asked()))) for a in articles]
        elif reason == "out_of_scope":
            # a certificate's own office is the one that issues it
            offices = [self.out_of_scope.get(t) or ("发证部门" if certificates([t]) else "") for t in topics]
            where = "、".join(dict.fromkeys(o for o in offices if o))
            text = (f"抱歉，现有的就业创业政策文件没有涉及“{'、'.join(map(topic_label, topics))}”方面的规定。"
                    + (f"这类问题建议咨询{where}，或" if where else "建议")
                    + f"拨打{HOTLINE}人社服务热线。")
        elif text is None:
            text = (f"抱歉，现有的就业创业政策文件中没有找到能回答这个问题的规定。"
                    f"建议拨打{HOTLINE}人社服务热线或咨询当地人社部门。")
        return Answer(q.text, text, True, [], related, reason, query=r.query)
