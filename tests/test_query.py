import pytest

from retrieval.corpus import load_corpus
from retrieval.query import (ArticleLookup, Synonym, article_references, asked_figure, contextualize, documents_named, expand,
                             has_figure, strip_document_names, uncovered_topics)

from conftest import ROOT


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "corpus")


@pytest.mark.parametrize("question,expected", [
    ("细则第十二条讲的是什么", ["byn-2018-49:4.12"]),
    ("巴彦淖尔细则第9条", ["byn-2018-49:3.9"]),
    ("49号第（十五）条", ["byn-2018-49:4.15"]),
    ("实施意见第四部分第三条", ["nmg-2017-132:4.3"]),
    ("自治区文件三、（四）说了什么", ["nmg-2017-132:3.4"]),
    ("四（三）是什么内容", ["nmg-2017-132:4.3"]),
    ("意见五（二）", ["nmg-2017-132:5.2"]),
    ("132号第四部分第5条", ["nmg-2017-132:4.5"]),
    ("4.3讲什么", ["nmg-2017-132:4.3"]),
    ("第三部分的第（七）条", ["byn-2018-49:3.7"]),
    ("创业园（孵化基地）有哪些", []),
    ("继续实施行动计划（2016-2020）", []),
])
def test_article_references(corpus, question, expected):
    named = documents_named(question, corpus.documents)
    assert article_references(question, ArticleLookup(corpus.articles), named or None) == expected


def test_a_single_number_names_nothing_where_articles_restart_in_each_section(corpus):
    assert article_references("第三条", ArticleLookup(corpus.articles), ["nmg-2017-132"]) == []


def test_documents_named(corpus):
    assert documents_named("巴彦淖尔的细则怎么说", corpus.documents) == ["byn-2018-49"]
    assert documents_named("自治区意见里怎么说", corpus.documents) == ["nmg-2017-132"]
    assert documents_named("退伍兵找工作", corpus.documents) == []
    assert strip_document_names("巴彦淖尔细则里贷款怎么说", corpus.documents) == "里贷款怎么说"


def test_expand_adds_document_words():
    syns = [Synonym(("退伍兵", "退伍"), ("退役士兵",)), Synonym(("网店",), ("电商",))]
    assert expand("退伍兵找工作", syns) == "退伍兵找工作 退役士兵"
    assert expand("开个饭馆", syns) == "开个饭馆"


@pytest.mark.parametrize("question,kind", [
    ("创业担保贷款最多能贷多少钱？", "money"),
    ("稳岗补贴的标准是多少？", "money"),
    ("贷款利率是多少", "rate"),
    ("孵化期最长能延长几年", "duration"),
    ("扶贫车间要带动多少户贫困户", "count"),
    ("失业了，失业金能不能多领几个月？", None),  # asks whether, not how much
    ("退伍兵找工作有啥政策", None),
])
def test_asked_figure(question, kind):
    got = asked_figure(question)
    assert (got[0] if got else None) == kind


def test_has_figure_respects_the_asked_unit():
    assert has_figure("duration", "延期最长不超过3年。", "年")
    assert not has_figure("duration", "在认定后10个工作日内实现就业。", "月")
    assert has_figure("duration", "在认定后10个工作日内实现就业。", "天")
    assert has_figure("duration", "行动计划（2016-2020）", "年")
    assert not has_figure("count", "稳定就业6个月以上的，给予一定奖补。", "户")
    assert not has_figure("money", "给予一定奖补支持。")
    assert has_figure("money", "给予每人2000元补贴。")


def test_contextualize_folds_elliptical_follow_ups(corpus):
    history = [{"role": "user", "content": "返乡农民工创业有什么扶持？"}, {"role": "assistant", "content": "……"}]
    assert contextualize("那贷款呢？", history, corpus.documents) == "返乡农民工创业有什么扶持？ 那贷款呢？"
    assert contextualize("细则里怎么说？", history, corpus.documents).startswith("返乡农民工")
    assert contextualize("退役士兵自主就业有什么优惠政策？", history, corpus.documents) == "退役士兵自主就业有什么优惠政策？"
    assert contextualize("那贷款呢？", [], corpus.documents) == "那贷款呢？"
    assert contextualize("那贷款呢？", [{"role": "user"}], corpus.documents) == "那贷款呢？"


def test_uncovered_topics_uses_synonyms():
    table = {"医保": "医疗保障部门", "护照": "公安出入境管理部门"}
    syns = [Synonym(("医保",), ("医疗保险",))]
    texts = ["由安置地民政部门为其缴纳基本医疗保险费"]
    assert uncovered_topics("等待安排工作期间医保谁交", texts, table, syns) == []
    assert uncovered_topics("护照过期了怎么办", texts, table, syns) == ["护照"]
