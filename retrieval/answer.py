"""Grounded answers without an LLM: the most relevant sentences of the retrieved articles, cited.

Every statement in an answer is a sentence quoted from a cited article, so no figure can appear
that is not in a cited quote. The answer declines when retrieval is not confident, and when the
question asks for a figure (an amount, a rate, a period) that the relevant articles do not give.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

from .corpus import Corpus
from .lexical import idf_coverage
from .query import asked_figure, asks_lead, has_figure, uncovered_topics
from .retriever import HybridRetriever, Retrieval
from .text import int_to_cn
from .types import Article, Citation, DocumentMeta

HOTLINE = "12333"
_FIGURE_WORDS = {"money": "具体金额或补贴标准", "rate": "具体的利率或比例", "duration": "具体期限",
                 "count": "具体数量"}


@dataclass(frozen=True)
class Thresholds:
    """When retrieval is too unsure to answer. Calibrated on eval/questions.jsonl (see eval/README.md)."""
    min_dense: float = 0.80          # best sentence cosine below this: nothing relevant
    min_coverage: float = 0.34       # share of the question's information found in the best article
    confident_dense: float = 0.86    # above this cosine, low word overlap is tolerated
    related_margin: float = 1.0      # cite further articles scoring within this of the first (z units)
    figure_slack: float = 0.15       # how much less relevant a sentence giving the asked figure may be


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
    for label, number in zip(article.labels[:-1], article.path[:-1]):
        parents.append(label if label.startswith("第") else f"第{int_to_cn(number)}部分")
    return "".join(parents) + own


def document_label(meta: DocumentMeta) -> str:
    return f"《{meta.short_name}》"


def citation_for(article: Article, corpus: Corpus, quote: str) -> Citation:
    meta = corpus.document(article.doc_id)
    return Citation(id=article.id, document=meta.short_name, article=article_label(article, corpus),
                    title=article.title, quote=quote, lead_department=article.lead_department,
                    departments=article.departments)


class Composer:
    def __init__(self, retriever: HybridRetriever, thresholds: Thresholds = Thresholds(), max_articles: int = 3,
                 max_sentences: int = 2, out_of_scope: dict[str, str] | None = None):
        self.retriever = retriever
        self.out_of_scope = out_of_scope or {}
        self.corpus = retriever.corpus
        self.t = thresholds
        self.max_articles = max_articles
        self.max_sentences = max_sentences

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

    def _articles(self, r: Retrieval) -> list[Article]:
        if r.referenced:
            return [self.corpus.article(a) for a in r.referenced[:self.max_articles]]
        first = r.hits[0]
        chosen = [first.article_id]
        for hit in r.hits[1:]:
            if len(chosen) >= self.max_articles:
                break
            if hit.score >= first.score - self.t.related_margin:
                chosen.append(hit.article_id)
        return [self.corpus.article(a) for a in chosen]

    def _scored_sentences(self, r: Retrieval, article: Article) -> list[tuple[float, int]]:
        """(relevance, position) for each sentence, best first: cosine plus word overlap."""
        dense = self.retriever.sentence_scores(r, article.id)
        tokens = self.retriever.sentence_tokens(article.id)
        scored = [(dense.get(i, 0.0) + 0.5 * idf_coverage(r.tokens, tokens[i], self.retriever.bm25), i)
                  for i in range(len(article.sentences))]
        return sorted(scored, reverse=True)

    def _sentences(self, r: Retrieval, article: Article, figure: tuple[str, str | None] | None) -> list[str]:
        if not article.sentences:
            return [article.title] if article.title else []
        scored = self._scored_sentences(r, article)
        best = scored[0][0]
        if figure:
            # the sentence giving the asked-for figure, if one is nearly as relevant as the best
            with_figure = [(sc, i) for sc, i in scored
                           if sc >= best - self.t.figure_slack and has_figure(figure[0], article.sentences[i], figure[1])]
            if with_figure:
                return [article.sentences[with_figure[0][1]]]
        keep = [i for score, i in scored[:self.max_sentences] if score >= best - 0.05]
        return [article.sentences[i] for i in sorted(keep)]

    @staticmethod
    def quote(article: Article, sentences: Sequence[str]) -> str:
        """Sentences as they stand in the article; a gap between them is shown as ……"""
        out, end = "", None
        for s in sentences:
            start = article.body.find(s, end or 0)
            out += ("……" if out and start != end else "") + s
            end = start + len(s)
        return out

    # ------------------------------------------------------------ composing
    def compose(self, question: str, r: Retrieval) -> Answer:
        figure = asked_figure(question)
        if not self._confident(r):
            return self._decline(question, r, reason="no_match")
        articles = self._articles(r)
        outside = uncovered_topics(question, [a.title + a.body for a in articles], self.out_of_scope,
                                   self.retriever.synonyms)
        if outside:
            return self._decline(question, r, reason="out_of_scope", topics=outside)
        # an article asked for by number is shown whole; otherwise its most relevant sentences
        picks = [(a, list(a.sentences) if a.id in r.referenced else self._sentences(r, a, figure))
                 for a in articles]
        if figure and not any(has_figure(figure[0], s, figure[1]) for _, sents in picks for s in sents):
            return self._decline(question, r, reason="figure_missing", figure=figure, articles=articles)

        citations = [citation_for(a, self.corpus, self.quote(a, sents)) for a, sents in picks]
        lead = asks_lead(question)
        lines: list[str] = []
        by_doc: dict[str, list[int]] = {}
        for n, (a, _) in enumerate(picks, start=1):
            by_doc.setdefault(a.doc_id, []).append(n)
        several = len(by_doc) > 1
        for doc_id, numbers in by_doc.items():
            meta = self.corpus.document(doc_id)
            if several:
                lines.append(f"{meta.level}层面，{document_label(meta)}规定：")
            for n in numbers:
                a, _ = picks[n - 1]
                if lead and a.lead_department:
                    others = "、".join(a.departments[1:])
                    lines.append(f"“{a.title}”一条由{a.lead_department}牵头"
                                 + (f"，{others}共同负责" if others else "") + f"。[{n}]")
                lines.append(f"“{citations[n - 1].quote}”[{n}]")
        head = "根据" + "和".join(document_label(self.corpus.document(d)) for d in by_doc) + "：" if not several else ""
        text = (head + "\n" if head else "") + "\n".join(lines)
        return Answer(question, text, False, citations, [], None, query=r.query)

    def _decline(self, question: str, r: Retrieval, reason: str, figure: tuple[str, str | None] | None = None,
                 articles: Sequence[Article] = (), topics: Sequence[str] = ()) -> Answer:
        if reason == "figure_missing":
            what = _FIGURE_WORDS.get(figure[0] if figure else "", "具体数字")
            text = (f"现有文件提到了相关政策，但没有规定{what}。"
                    f"具体标准以当地人社部门公布为准，可拨打{HOTLINE}咨询。")
            related = [citation_for(a, self.corpus, self.quote(a, self._sentences(r, a, None))) for a in articles]
        elif reason == "out_of_scope":
            where = "、".join(dict.fromkeys(self.out_of_scope[t] for t in topics if self.out_of_scope.get(t)))
            text = (f"抱歉，现有的就业创业政策文件没有涉及“{'、'.join(topics)}”方面的规定。"
                    + (f"这类问题建议咨询{where}，" if where else "建议")
                    + f"或拨打{HOTLINE}人社服务热线。")
            related = []
        else:
            text = (f"抱歉，现有的就业创业政策文件中没有找到能回答这个问题的规定。"
                    f"建议拨打{HOTLINE}人社服务热线或咨询当地人社部门。")
            related = []
        return Answer(question, text, True, [], related, reason, query=r.query)
