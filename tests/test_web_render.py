"""web.render and web.service helpers that need no model: HTML of answers, cards and contents."""
import re
from dataclasses import replace

import pytest

from retrieval.answering.composer import Answer, citation_for
from retrieval.config import Settings
from retrieval.documents.corpus import load_corpus
from retrieval.documents.links import counterparts
from web import render
from web.service import clean_doc_ids

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(Settings.load().corpus.dir)


@pytest.fixture(scope="module")
def links(corpus):
    return counterparts(corpus)  # lexical only: the same pairs, no index needed


def cite(corpus, article_id, quote):
    return citation_for(corpus.article(article_id), corpus, quote)


@pytest.fixture()
def answer(corpus):
    return Answer(
        question="创业担保贷款有什么规定？",
        answer="根据《自治区实施意见》和《巴彦淖尔市实施细则》：\n加大创业担保贷款工作力度。[1]\n优化创业担保贷款政策。[2]",
        refused=False,
        citations=[cite(corpus, "nmg-2017-132:3.4", "加大创业担保贷款工作力度。"),
                   cite(corpus, "byn-2018-49:3.10", "优化创业担保贷款政策。")],
        related=[], refusal_reason=None, generator="extractive", query="创业担保贷款")


def test_answer_chips_and_expandable_sources(corpus, links, answer):
    html = render.answer_html(answer, corpus, links)
    html = re.sub(r'<span class="pa-copy-text">.*?</span>', "", html)   # the plain text to copy, hidden
    assert html.count('<sup class="pa-ref">') == 2
    assert "[1]" not in html and "\n" not in html and "\n\n" not in html
    assert html.count('<details class="pa-cite">') == 2
    assert "第三部分第（四）条" in html and "拓宽投融资渠道" in html
    assert "政策牵头部门：自治区财政厅" in html and "牵头：" not in html.replace("政策牵头部门：", "")
    assert "加大创业担保贷款工作力度" in html
    assert corpus.article("nmg-2017-132:3.4").body[:30] in html  # full text, on demand
    assert "第（十）条 拓宽融资渠道" in html                          # the counterpart, named
    assert "内政发〔2017〕132号" in html


def test_refusal_is_never_empty_and_names_the_hotline(corpus, links):
    for text in ["抱歉，现有的就业创业政策文件中没有找到能回答这个问题的规定。", ""]:
        html = render.answer_html(Answer(question="q", answer=text, refused=True), corpus, links)
        assert "12333" in html and "pa-refused" in html and "没有找到" in html


def test_everything_is_escaped(corpus, links, answer):
    answer = replace(answer, answer="<script>alert(1)</script>[1]")
    html = render.answer_html(answer, corpus, links)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in render.user_html('<img src=x onerror=alert(1)>')
    assert "<b>" not in render.error_html("<b>x</b>")


def test_highlight():
    assert render.highlight("创业担保贷款", ["创业", "创业担保贷款"]) == "<mark>创业担保贷款</mark>"
    assert render.highlight("a<b>创业", ["创业"]) == "a&lt;b&gt;<mark>创业</mark>"
    assert render.highlight("创业担保", ["创业", "担保"]) == "<mark>创业担保</mark>"  # adjacent marks merge
    assert render.highlight("无关", []) == "无关"


def test_toc_lists_every_article_with_links(corpus, links):
    for meta in corpus.documents:
        html = render.toc_html(corpus, meta.doc_id, links)
        ids = re.findall(r'data-article="([^"]+)"', html)
        assert ids == [a.id for a in corpus.articles if a.doc_id == meta.doc_id]
        assert meta.number in html


def test_article_view_shows_departments_and_counterparts(corpus, links):
    html = render.article_view_html(corpus, "byn-2018-49:3.10", links)
    assert "拓宽融资渠道" in html and "政策牵头部门：市财政局" in html
    assert 'data-article="nmg-2017-132:3.4"' in html and "本条落实的上级条款" in html
    html = render.article_view_html(corpus, "nmg-2017-132:3.4", links)
    assert 'data-article="byn-2018-49:3.10"' in html and "本条由下列条款落实" in html
    assert "pa-cp" not in render.article_view_html(corpus, "byn-2018-49:4.15", links)
    assert "选择" in render.article_view_html(corpus, "no-such:1", links)


def test_search_html_counts_honestly(corpus, links):
    assert "输入关键词" in render.search_html(corpus, "", [], [], links)
    results = [{"id": "nmg-2017-132:4.6", "matched": True}, {"id": "byn-2018-49:4.17", "matched": True},
               {"id": "nmg-2017-132:3.4", "matched": False}]
    html = render.search_html(corpus, "退役军人", results, ["退役军人", "退役", "军人"], links)
    assert "2 条含“退役军人”，另有 1 条相关" in html and "<mark>退役军人</mark>" in html
    assert "相关条款（不含“退役军人”）" in html and html.count("pa-weak") == 1
    html = render.search_html(corpus, "护照办理", [{"id": "nmg-2017-132:6.2", "matched": False}], ["护照", "办理"], links)
    assert "没有条款含“护照办理”" in html and "以下 1 条可能相关" in html
    assert render.esc("<x>") in render.search_html(corpus, "<x>", [], [], links)


def test_welcome_and_header_list_the_loaded_documents(corpus):
    text = render.welcome_markdown(corpus)
    header = render.header_html(corpus)
    for meta in corpus.documents:  # from the metadata, whatever documents are loaded
        assert meta.short_name in text and meta.short_name in header
        assert meta.number in text and meta.number in header
    assert "12333" in text and "不" in text
    assert ("两份" if len(corpus.documents) == 2 else f"{render.int_to_cn(len(corpus.documents))}份") in text


def test_welcome_and_header_follow_the_metadata(corpus):
    """A corpus with other documents, one without a number: the page names those, nothing fixed."""
    from dataclasses import replace
    from types import SimpleNamespace
    law = replace(corpus.documents[0], doc_id="law", short_name="就业促进法", number="", title="中华人民共和国就业促进法")
    fake = SimpleNamespace(documents=[law, corpus.documents[1]])
    text, header = render.welcome_markdown(fake), render.header_html(fake)
    assert "《就业促进法》" in text and "《就业促进法》" in header and "（）" not in text + header
    assert corpus.documents[0].short_name not in text + header


def test_summary_leads_and_quotes_fold(corpus, links, answer):
    plain = render.answer_html(answer, corpus, links)
    assert "pa-summary" not in plain and "查看原文</summary>" not in plain  # no summary: as before
    summary = "可以申请创业担保贷款。[1]"
    led = replace(answer, summary=summary, answer=summary + "\n" + answer.answer)
    html = render.answer_html(led, corpus, links)
    lead = html.index('class="pa-summary"')
    fold = html.index("<summary>查看原文</summary>")
    assert lead < fold < html.index("加大创业担保贷款工作力度。")  # the quotes come under the disclosure
    shown = html[:html.index('<span class="pa-copy-text">')]
    assert shown.count("可以申请创业担保贷款") == 1 and '<sup class="pa-ref">1</sup>' in html[lead:fold]
    assert 'class="pa-copy-btn"' in html and '<span class="pa-copy-text">问：创业担保贷款有什么规定？&#10;' in html
    only = replace(answer, summary=summary, answer=summary)
    assert "查看原文</summary>" not in render.answer_html(only, corpus, links)


def test_a_quote_marks_the_sentences_the_direct_answer_rests_on(corpus, links, answer):
    article = corpus.article("nmg-2017-132:4.2")
    key = "对不裁员或少裁员的困难企业，按规定给予稳岗补贴。"
    assert key in article.body
    summary = "根据规定，对不裁员或少裁员的困难企业，按规定给予稳岗补贴。[1]"
    whole = replace(answer, summary=summary, answer=summary + "\n" + answer.answer,
                    citations=[cite(corpus, article.id, article.body)])
    html = render.answer_html(whole, corpus, links)
    card = html[html.index('class="pa-cites"'):]
    assert card.count('<mark class="pa-key">') == 1 and f'<mark class="pa-key">{key}</mark>' in card
    # the whole article quoted needs no second copy; a part of it keeps the way to the whole
    assert "查看条文全文" not in card
    part = replace(whole, citations=[cite(corpus, article.id, key)])
    assert "查看条文全文" in render.answer_html(part, corpus, links)
    # the assistant's own words ("根据规定") and a citation the direct answer does not use mark nothing
    assert render.answered_by("可以。根据规定，对就业困难人员自主创业的，享受创业担保贷款。[2]") == {
        2: ["对就业困难人员自主创业的", "享受创业担保贷款"]}
    assert render.marked_quote("甲乙丙丁戊己。庚辛。", []) == "甲乙丙丁戊己。庚辛。"


def test_article_finder_lists_every_article(corpus):
    html = render.article_finder_html(corpus)
    assert re.findall(r'data-article="([^"]+)"', html) == [a.id for a in corpus.articles]
    assert 'id="pa-find"' in html and 'for="pa-find"' in html


def test_copy_text_is_the_plain_text_of_the_answer(corpus, links, answer):
    from retrieval.answering.render import plain_text
    text = plain_text(answer)
    assert text.startswith("问：创业担保贷款有什么规定？")
    assert "[1] 《自治区实施意见》第三部分第（四）条 拓宽投融资渠道（nmg-2017-132:3.4）" in text
    assert "以文件原文为准" in text
    html = render.answer_html(answer, corpus, links)
    assert render.esc(text).replace("\n", "&#10;") in html
    assert 'class="pa-copy-btn"' not in render.answer_html(replace(answer, answer=""), corpus, links)


def test_notices_show_why_the_llm_answer_is_not_given(corpus, links, answer):
    from retrieval.generation import NOTICES
    assert "pa-note" not in render.answer_html(answer, corpus, links)
    for code in ("timeout", "busy", "server_error"):
        html = render.answer_html(replace(answer, llm_error=code), corpus, links)
        assert render.esc(NOTICES.get(code, NOTICES[None])) in html
    unverified = replace(answer, verification={"fallback": "no_citations"})
    assert render.esc(NOTICES["unverified"]) in render.answer_html(unverified, corpus, links)


def test_clean_inputs():
    assert clean_doc_ids("nmg-2017-132") == ["nmg-2017-132"]
    assert clean_doc_ids([]) is None and clean_doc_ids(None) is None
