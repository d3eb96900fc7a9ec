"""HTML for the page: answers with citation chips, article cards, search results, tables of contents.

Pure functions over the core's objects (an Answer, the corpus); every piece of text is escaped here.
The HTML is kept on single lines without blank lines, so the chat's Markdown renderer passes it
through as one HTML block.
"""
from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from retrieval.answering.composer import HOTLINE, Answer, article_label
from retrieval.answering.render import plain_text, related_heading
from retrieval.documents.corpus import Corpus
from retrieval.documents.text import int_to_cn
from retrieval.generation import notice as llm_notice
from retrieval.types import Article, Citation

NOTICE = "回答摘自所列政策文件原文，仅供参考，以文件原文和当地人社部门解释为准。"
LEAD_LABEL = "政策牵头部门"
UNAVAILABLE = f"抱歉，系统暂时出了点问题，请稍后再试，或拨打{HOTLINE}人社服务热线咨询。"


def esc(text: object) -> str:
    return html.escape(str(text or ""), quote=True)


# ------------------------------------------------------------------ highlighting

def highlight(text: str, terms: Iterable[str]) -> str:
    """Escaped text with every occurrence of the terms wrapped in <mark> (longest terms win)."""
    words = sorted({t for t in terms if t and len(t.strip()) > 0}, key=len, reverse=True)
    if not words:
        return esc(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out, pos = [], 0
    for m in pattern.finditer(text):
        out.append(esc(text[pos:m.start()]))
        out.append(f"<mark>{esc(m.group(0))}</mark>")
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out).replace("</mark><mark>", "")


def match_weight(text: str, terms: Sequence[str]) -> int:
    return sum(len(t) for t in set(terms) if t and t in text)


def snippet(article: Article, terms: Sequence[str], width: int = 70) -> str:
    """The sentence that matches the terms best, cut around its first match; escaped and highlighted."""
    sentences = list(article.sentences) or [article.body or article.title]
    best = max(sentences, key=lambda s: match_weight(s, terms)) if terms else sentences[0]
    if len(best) > width:
        first = min((best.find(t) for t in terms if t and t in best), default=0)
        start = max(0, min(first - 12, len(best) - width))
        cut = best[start:start + width]
        best = ("…" if start else "") + cut + ("…" if start + width < len(best) else "")
    return highlight(best, terms)


# ------------------------------------------------------------------ pieces

def doc_tag(corpus: Corpus, doc_id: str) -> str:
    meta = corpus.document(doc_id)
    kind = "city" if meta.implements else "region"
    return f'<span class="pa-doc pa-doc-{kind}">{esc(meta.short_name)}</span>'


def departments_html(article: Article) -> str:
    """The departments named at the end of an article. The first leads the policy's implementation;
    it is not where a resident applies, so it is labelled as such (政策牵头部门), never as an office."""
    if not article.departments:
        return ""
    lead, *rest = article.departments
    out = f'<div class="pa-dept"><span class="pa-lead">{LEAD_LABEL}：{esc(lead)}</span>'
    if rest:
        out += f'<span class="pa-co">配合部门：{esc("、".join(rest))}</span>'
    return out + "</div>"


def doc_number(meta) -> str:
    """（内政发〔2017〕132号）, or nothing for a document without a number."""
    return f"（{esc(meta.number)}）" if getattr(meta, "number", "") else ""


def source_line(corpus: Corpus, article: Article) -> str:
    meta = corpus.document(article.doc_id)
    return (f'<div class="pa-src">出自《{esc(meta.title)}》{doc_number(meta)}'
            f' · <code>{esc(article.id)}</code></div>')


def article_heading(corpus: Corpus, article: Article) -> str:
    return f"{article_label(article, corpus)} {article.title}".strip()


def counterpart_block(corpus: Corpus, article: Article, links: dict[str, list[str]],
                      clickable: bool = True, with_text: bool = True) -> str:
    ids = [i for i in links.get(article.id, []) if i in corpus.by_id]
    if not ids:
        return ""
    meta = corpus.document(article.doc_id)
    what = "本条由下列条款落实" if not meta.implements else "本条落实的上级条款"
    items = []
    for other_id in ids:
        other = corpus.article(other_id)
        head = f"{doc_tag(corpus, other.doc_id)} {esc(article_heading(corpus, other))}"
        link = (f' <a class="pa-open" href="#" data-article="{esc(other.id)}">打开</a>' if clickable else "")
        if with_text:
            items.append(f'<details class="pa-cp-item"><summary>{head}</summary>'
                         f'<p class="pa-text">{esc(other.text)}</p>{departments_html(other)}{link}</details>')
        else:
            items.append(f'<div class="pa-cp-item">{head}{link}</div>')
    return f'<div class="pa-cp"><div class="pa-cp-head">↔ {what}</div>{"".join(items)}</div>'


# ------------------------------------------------------------------ chat answers

def _answer_lines(text: str) -> str:
    parts = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        body = esc(line)
        body = re.sub(r"\[(\d{1,2})\]", r'<sup class="pa-ref">\1</sup>', body)
        cls = "pa-lead-in" if line.endswith("：") else "pa-line"
        parts.append(f'<p class="{cls}">{body}</p>')
    return "".join(parts)


_SUMMARY_PART = re.compile(r"([^\[\]]+?)\[(\d{1,2})\]")
_SENTENCE_END = re.compile(r"(?<=[。；;])")


def answered_by(summary: str) -> dict[int, list[str]]:
    """Per citation number, the clauses of the direct answer that rest on it (the assistant's own
    connecting words, short pieces, are left out: they are in no quote)."""
    out: dict[int, list[str]] = {}
    for m in _SUMMARY_PART.finditer(summary or ""):
        clauses = [c for c in re.split(r"[，,。；;：:\n]", m.group(1)) if len(c) >= 6]
        out.setdefault(int(m.group(2)), []).extend(clauses)
    return out


def marked_quote(quote: str, clauses: Sequence[str]) -> str:
    """The quote, escaped, with the sentences the direct answer rests on marked: a long quote still
    shows at a glance where the answer is."""
    if not clauses:
        return esc(quote)
    return "".join(f'<mark class="pa-key">{esc(s)}</mark>' if any(c in s for c in clauses) else esc(s)
                   for s in _SENTENCE_END.split(quote) if s)


def citation_card(n: int | None, cite: Citation, corpus: Corpus, links: dict[str, list[str]],
                  answered: Sequence[str] = ()) -> str:
    article = corpus.by_id.get(cite.id)
    num = f'<span class="pa-num">{n}</span>' if n is not None else ""
    head = (f'{num}<span class="pa-cdoc">《{esc(cite.document)}》</span>'
            f'<span class="pa-cart">{esc(cite.article)}</span>'
            f'<span class="pa-ctitle">{esc(cite.title)}</span>')
    body = f'<blockquote class="pa-quote">{marked_quote(cite.quote, answered)}</blockquote>'
    if article is not None:
        if cite.quote != article.body:  # a quote of the whole article needs no second copy
            body += (f'<details class="pa-full"><summary>查看条文全文</summary>'
                     f'<p class="pa-text">{esc(article.text)}</p></details>')
        body += departments_html(article)
        cp = counterpart_block(corpus, article, links, clickable=False, with_text=False)
        body += cp
        body += source_line(corpus, article)
    elif cite.lead_department:
        body += f'<div class="pa-dept"><span class="pa-lead">{LEAD_LABEL}：{esc(cite.lead_department)}</span></div>'
    return f'<details class="pa-cite"><summary>{head}</summary><div class="pa-cbody">{body}</div></details>'


def copy_button(copy_text: str | None) -> str:
    """A button that copies the answer as plain text with full citations (the page's script does the copying)."""
    if not copy_text:
        return ""
    # a link acting as a button, the text in a hidden span: the chat's HTML sanitizer removes <button>
    # and data- attributes. Newlines as character references: a blank line would end the HTML block.
    text = esc(copy_text).replace("\r", "").replace("\n", "&#10;")
    return (f'<div class="pa-tools-row"><a href="#" role="button" class="pa-copy-btn">复制回答</a>'
            f'<span class="pa-copy-text">{text}</span></div>')


def answer_html(answer: Answer, corpus: Corpus, links: dict[str, list[str]]) -> str:
    """The chat bubble of an answer. With a `summary` (the short direct answer that `answer` starts
    with) it leads, and the rest of the answer (the quotes) folds under 查看原文; then the sources,
    each expandable, and a copy button (the answer as plain text with full citations). When an LLM
    was asked but the grounded excerpt is shown, the core's one-line notice says why."""
    notice = llm_notice(answer)
    note = f'<div class="pa-note">ⓘ {esc(notice)}</div>' if notice else ""
    copy = copy_button(plain_text(answer) if answer.answer else None)
    if answer.refused:
        text = answer.answer or f"抱歉，现有文件中没有找到相关规定。建议拨打{HOTLINE}人社服务热线咨询。"
        if HOTLINE not in text:
            text += f"建议拨打{HOTLINE}人社服务热线咨询。"
        out = ('<div class="pa-answer pa-refused"><div class="pa-notice">'
               '<div class="pa-notice-head">文件中没有找到可以直接回答的规定</div>'
               f'{_answer_lines(text)}'
               f'<div class="pa-hotline">☎ 人社服务热线 <b>{HOTLINE}</b></div></div>')
        if answer.related:
            out += (f'<div class="pa-cites"><div class="pa-cites-head">{html.escape(related_heading(answer))}</div>'
                    + "".join(citation_card(None, c, corpus, links) for c in answer.related) + "</div>")
        return out + copy + "</div>"
    text = answer.answer or ""
    summary = (answer.summary or "").strip()
    if summary:
        rest = text.strip()
        rest = rest[len(summary):] if rest.startswith(summary) else rest
        body = f'<div class="pa-summary">{_answer_lines(summary)}</div>'
        if rest.strip():
            body += (f'<details class="pa-more"><summary>查看原文</summary>'
                     f'<div class="pa-more-body">{_answer_lines(rest)}</div></details>')
    else:
        body = _answer_lines(text)
    out = f'<div class="pa-answer">{note}{body}'
    answered = answered_by(summary)
    if answer.citations:
        out += ('<div class="pa-cites"><div class="pa-cites-head">依据（点开查看原文）</div>'
                + "".join(citation_card(n, c, corpus, links, answered.get(n, ()))
                          for n, c in enumerate(answer.citations, start=1))
                + "</div>")
    return out + copy + "</div>"


def draft_html(text: str) -> str:
    """An LLM's answer while it is being written: shown as a draft, replaced by the checked answer."""
    return ('<div class="pa-answer pa-draft"><div class="pa-note">正在撰写回答，核对条文后显示最终内容…</div>'
            f'{_answer_lines(text)}</div>')


def error_html(message: str) -> str:
    return f'<div class="pa-answer pa-error"><p class="pa-line">⚠ {esc(message)}</p></div>'


def user_html(question: str) -> str:
    return f'<div class="pa-question">{esc(question)}</div>'


def document_names(corpus: Corpus) -> list[str]:
    """《short name》（number） for each loaded document, from the metadata file."""
    return [f"《{m.short_name}》{('（' + m.number + '）') if m.number else ''}" for m in corpus.documents]


def header_html(corpus: Corpus, subtitle: str = "") -> str:
    """The page header: the title and the loaded documents (from the metadata, never a fixed list)."""
    docs = "、".join(
        f'《{esc(m.short_name)}》' + (f'<span class="pa-docnums">（{esc(m.number)}）</span>' if m.number else "")
        for m in corpus.documents)
    sub = f'<span class="pa-sub">{esc(subtitle)}</span>' if subtitle else ""
    return ('<header class="pa-header"><div class="pa-logo" aria-hidden="true">政</div><div>'
            f'<h1>就业创业政策问答{sub}</h1><p>依据 {docs}</p></div></header>')


def welcome_markdown(corpus: Corpus) -> str:
    n = len(corpus.documents)
    docs = "\n".join(f"- {esc(name)}" for name in document_names(corpus))
    count = "以下两份" if n == 2 else (f"以下{int_to_cn(n)}份" if 2 < n <= 10 else "以下")
    return (
        "### 您好！我是就业创业政策问答助手\n"
        f"我根据{count}政策文件回答问题，每句话都注明出自哪一条，点开即可核对原文：\n\n{docs}\n\n"
        f"我**不**办理具体业务，也不回答文件没有涉及的问题；"
        f"这类问题请拨打 **{HOTLINE}** 人社服务热线，或到当地人社局、就业服务中心咨询。"
    )


# ------------------------------------------------------------------ console

def result_card(corpus: Corpus, article: Article, terms: Sequence[str], links: dict[str, list[str]],
                matched: bool = True) -> str:
    text = "".join(f'<p class="pa-text">{highlight(s, terms)}</p>' for s in article.sentences) or \
        f'<p class="pa-text">{highlight(article.body, terms)}</p>'
    weak = "" if matched else " pa-weak"
    return (f'<details class="pa-card{weak}"><summary>'
            f'<div class="pa-card-head">{doc_tag(corpus, article.doc_id)}'
            f'<span class="pa-cart">{esc(article_label(article, corpus))}</span>'
            f'<span class="pa-ctitle">{highlight(article.title, terms)}</span></div>'
            f'<div class="pa-snip">{snippet(article, terms)}</div></summary>'
            f'<div class="pa-cbody">{text}{departments_html(article)}'
            f'{counterpart_block(corpus, article, links)}'
            f'<div class="pa-actions"><a class="pa-open" href="#" data-article="{esc(article.id)}">在条文浏览中打开</a>'
            f' <code>{esc(article.id)}</code></div></div></details>')


def search_html(corpus: Corpus, query: str, results: Sequence[dict], terms: Sequence[str],
                links: dict[str, list[str]], phrases: Sequence[str] | None = None) -> str:
    """Search results with honest counts: how many articles contain the query as typed, how many
    more are only related (some of its words, or a similar meaning)."""
    if not query.strip():
        return ('<div class="pa-hint">输入关键词（如“创业担保贷款”“退役军人”“稳岗”），'
                "边输入边显示匹配的条款；点开条款看全文、政策牵头部门和上下级对应条款。</div>")
    phrases = list(phrases) if phrases else [p for p in query.split() if p]
    quoted = "".join(f"“{esc(p)}”" for p in phrases)
    exact = [r for r in results if r.get("matched")]
    related = [r for r in results if not r.get("matched")]
    if exact:
        head = f"{len(exact)} 条含{quoted}" + (f"，另有 {len(related)} 条相关" if related else "")
    else:
        head = (f"没有条款含{quoted}" + (f"。以下 {len(related)} 条可能相关（只含其中部分词或意思相近），请自行判断"
                                          if related else ""))
    out = [f'<div class="pa-count" role="status">{head}</div>']
    out += [result_card(corpus, corpus.article(r["id"]), phrases, links) for r in exact]
    if related and exact:
        out.append(f'<div class="pa-count pa-related-head">相关条款（不含{quoted}）</div>')
    out += [result_card(corpus, corpus.article(r["id"]), terms, links, matched=False) for r in related]
    return f'<div class="pa-results">{"".join(out)}</div>'


def article_view_html(corpus: Corpus, article_id: str | None, links: dict[str, list[str]]) -> str:
    if not article_id or article_id not in corpus.by_id:
        return '<div class="pa-hint">从目录、检索结果或上方列表中选择一条，查看全文。</div>'
    a = corpus.article(article_id)
    section = ""
    if a.section_titles:
        section = f'<div class="pa-section">{esc(a.labels[0])}{esc(" / ".join(a.section_titles))}</div>'
    text = "".join(f'<p class="pa-text">{esc(s)}</p>' for s in a.sentences) or f'<p class="pa-text">{esc(a.body)}</p>'
    return (f'<article class="pa-article">{section}'
            f'<h2>{doc_tag(corpus, a.doc_id)} {esc(article_label(a, corpus))} {esc(a.title)}</h2>'
            f'{text}{departments_html(a)}{counterpart_block(corpus, a, links)}{source_line(corpus, a)}</article>')


def toc_html(corpus: Corpus, doc_id: str, links: dict[str, list[str]]) -> str:
    meta = corpus.document(doc_id)
    items, current = [], None
    for a in corpus.articles:
        if a.doc_id != doc_id:
            continue
        part = (a.labels[0], a.section_titles[0] if a.section_titles else "") if len(a.labels) > 1 else None
        if part != current and part is not None:
            items.append(f'<li class="pa-toc-part">{esc(part[0])}{esc(part[1])}</li>')
            current = part
        mark = ' <span class="pa-linked" title="有上下级对应条款">↔</span>' if links.get(a.id) else ""
        items.append(f'<li><a href="#" data-article="{esc(a.id)}">'
                     f'<span class="pa-toc-label">{esc(a.labels[-1])}</span>{esc(a.title)}</a>{mark}</li>')
    return (f'<div class="pa-toc"><div class="pa-toc-title">{esc(meta.title)}</div>'
            f'<div class="pa-src">{esc(meta.issuer)} · {esc(meta.number)} · {esc(meta.date)}</div>'
            f'<ul>{"".join(items)}</ul></div>')


def article_finder_html(corpus: Corpus) -> str:
    """Every article in a list that the box above it filters as you type (static/page.js); a click
    opens the article in the viewer. Plain HTML rather than a dropdown, so typing never edits a value."""
    items = []
    for a in corpus.articles:
        items.append(f'<li><a href="#" data-article="{esc(a.id)}">{doc_tag(corpus, a.doc_id)}'
                     f'{esc(article_heading(corpus, a))}</a></li>')
    return ('<div class="pa-finder"><label for="pa-find">条文浏览（输入文件名、条号或标题筛选）</label>'
            '<input id="pa-find" type="search" autocomplete="off" placeholder="如：第十二条、稳岗、担保" '
            'aria-controls="pa-find-list">'
            f'<div class="pa-find-count" aria-live="polite">共 {len(items)} 条</div>'
            f'<ul id="pa-find-list" class="pa-find-list" aria-label="条文列表">{"".join(items)}</ul></div>')
