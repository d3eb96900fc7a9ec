import datetime as dt

import pytest

from retrieval.documents.corpus import load_corpus
from retrieval.understanding.asking import (
    asked_in,
    asked_of,
    asking_clauses,
    clauses_of,
    has_figure,
)
from retrieval.understanding.lexicon import Synonym, certificate_named, certificates, expand, uncovered_topics
from retrieval.understanding.periods import period_of
from retrieval.understanding.query import Reader
from retrieval.understanding.references import ArticleLookup, DocumentNames, laws_named

from conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "corpus")


@pytest.fixture(scope="module")
def reader(corpus):
    return Reader(corpus.documents, corpus.articles, "巴彦淖尔市", today=dt.date(2026, 11, 29))


@pytest.mark.parametrize("question,expected", [
    ("细则第十二条讲的是什么", ["byn-2018-49:4.12"]),
    ("巴彦淖尔细则第9条", ["byn-2018-49:3.9"]),
    ("49号第（十五）条", ["byn-2018-49:4.15"]),
    ("实施意见第四部分第三条", ["nmg-2017-132:4.3"]),
    ("自治区文件三、（四）说了什么", ["nmg-2017-132:3.4"]),
    ("四（三）是什么内容", ["nmg-2017-132:4.3"]),
    ("实施意见五（二）", ["nmg-2017-132:5.2"]),
    ("132号第四部分第5条", ["nmg-2017-132:4.5"]),
    ("4.3讲什么", ["nmg-2017-132:4.3"]),
    ("第三部分的第（七）条", ["byn-2018-49:3.7"]),
    ("创业园（孵化基地）有哪些", []),
    ("继续实施行动计划（2016-2020）", []),
])
def test_article_references(reader, question, expected):
    assert list(reader.read(question).articles) == expected


def test_a_single_number_names_nothing_where_articles_restart_in_each_section(corpus):
    assert ArticleLookup(corpus.articles).references("第三条", ["nmg-2017-132"]) == ([], [("article", 3)])


def test_documents_are_named_only_by_their_declared_names(corpus):
    names = DocumentNames(corpus.documents)
    assert names.named("巴彦淖尔细则怎么说") == ["byn-2018-49"]
    assert names.named("自治区意见里怎么说") == ["nmg-2017-132"]
    assert names.named("49号文第三条") == ["byn-2018-49"]
    # level words, issuers' places and title endings name no document
    for question in ("自治区有什么规定", "巴彦淖尔有什么规定", "国家规定", "这个意见", "退伍兵找工作"):
        assert names.named(question) == [], question
    assert names.strip("巴彦淖尔细则里贷款怎么说") == "里贷款怎么说"


def test_expand_adds_document_words():
    syns = [Synonym(("退伍兵", "退伍"), ("退役士兵",)), Synonym(("网店",), ("电商",))]
    assert expand("退伍兵找工作", syns) == "退伍兵找工作 退役士兵"
    assert expand("开个饭馆", syns) == "开个饭馆"


def test_which_office_does_what_a_provision_says_is_not_its_lead_nor_where_to_go():
    assert asked_in(asking_clauses("等安排的这段时间，基本医疗保险费由哪个部门来交？")).kind == "what"
    assert asked_in(asking_clauses("这项工作由哪个部门负责？")).kind == "lead"
    # 谁负责 before an act asks who does it, which the provision says ("新就业单位要为其……办理")
    assert asked_in(asking_clauses("我去新单位上班后，社保关系和档案谁负责办转移？")).kind == "what"
    assert asked_in(asking_clauses("这项政策谁负责？")).kind == "lead"


def test_anywhere_is_not_where():
    assert asked_in(asking_clauses("听说自治区有创业补贴，是全区哪儿都能领不？")).kind == "yes_no"
    assert asked_in(asking_clauses("创业补贴去哪儿领？")).kind == "where"
    # which office to turn to is where to go, not the policy's lead department
    assert asked_in(asking_clauses("厂里不给交社保，这种事该找哪个部门？")).kind == "where"
    assert asked_in(asking_clauses("稳岗补贴是哪个部门牵头？")).kind == "lead"


def test_a_two_character_word_said_apart_is_found():
    syns = [Synonym(("兜底",), ("托底",))]
    assert expand("政府能给兜个底不", syns) == "政府能给兜个底不 托底"
    assert expand("兜里没底", syns) == "兜里没底"  # other characters between: not the word
    opening = [Synonym(("开个",), ("创业",))]
    assert expand("我开了个小厂子", opening) == "我开了个小厂子"  # 个 is a measure word, not an object


def test_a_table_word_with_a_gap_matches_its_parts_within_a_clause():
    syns = [Synonym(("招…贫困户",), ("贫困家庭劳动力",))]
    assert expand("想招几个建档立卡贫困户来干活", syns).endswith(" 贫困家庭劳动力")
    assert expand("想招人，家里是贫困户", syns) == "想招人，家里是贫困户"  # another clause


@pytest.mark.parametrize("question,kind", [
    ("创业担保贷款最多能贷多少钱？", "money"),
    ("稳岗补贴的标准是多少？", "money"),
    ("公益性岗位补贴标准是怎么规定的？", "money"),   # the standard itself
    ("职业培训补贴标准如何调整？", None),            # how it is set
    ("贷款利率是多少", "rate"),
    ("孵化期最长能延长几年", "duration"),
    ("创业担保贷款能贷几年", "duration"),          # the question word counts years, not money
    ("至少能免费培训几次", "count"),                # 免费 is free of charge, not a fee
    ("这个补贴一年能领几次", "count"),
    ("扶贫车间要带动多少户贫困户", "count"),
    ("失业了，失业金能不能多领几个月？", None),  # asks whether, not how much
    ("退伍兵找工作有啥政策", None),
])
def test_asked_figure(question, kind):
    asked = asked_in(asking_clauses(question))
    assert (asked.figure if asked.kind == "figure" else None) == kind


@pytest.mark.parametrize("question,kind", [
    ("我们是蒙古族，想开个蒙餐馆子，顺便雇几个牧民，政府有啥照顾不？", None),   # 几个 is context
    ("我家三口人，两个都没工作，政府管不管？", None),
    ("退役后多长时间能给安排上工作？", "duration"),
    ("创业担保贷款，最多能贷多少？", "money"),
    ("失业保险金每个月能领多少钱？怎么算的？", "money"),     # the last clause only asks how
    ("在城里住了好几年了，能不能办失业登记？", None),         # 好几年 asks nothing
    ("最近招了几个贫困家庭的劳动力，企业能拿到啥补贴？", None),   # 招了几个: done, counted loosely
    ("招了几个贫困户能拿补贴吗", None),
    ("想招几个贫困户来干活，厂里能得啥补贴不？", None),        # the last clause names what it wants
    ("厂里干了十几年，下岗了能领多久失业金？", "duration"),
])
def test_a_figure_is_asked_only_by_the_clauses_that_ask(question, kind):
    asked = asked_in(asking_clauses(question))
    assert (asked.figure if asked.kind == "figure" else None) == kind


def test_figures_asked_beside_another_question_are_asked_too():
    # a date asked beside a place, in one clause joined by 、; an amount asked before a list
    assert "date" in asked_in(asking_clauses("招聘会是哪天、在哪儿举办？需要带简历吗？")).also
    assert asked_in(asking_clauses("补贴标准是多少钱？要交哪些材料？")).also == ("money",)
    # 、 between things named asks nothing more
    assert asked_in(asking_clauses("养老、医疗保险能不能补缴？")).also == ()


def test_what_happens_to_whoever_breaks_a_rule_is_asked_by_the_asking_clause():
    for question in ("没许可就开职业中介，会怎么处罚？", "中介收押金，被查到会被怎么处理？", "罚多少钱？"):
        assert asked_in(asking_clauses(question)).sanction, question
    # a penalty named in the story, or a case handled, asks no sanction
    assert not asked_in(asking_clauses("我被罚过款，现在想创业，能贷款吗？")).sanction
    assert not asked_in(asking_clauses("创业担保贷款怎么处理申请？")).sanction


def test_focus_is_the_clause_that_asks():
    assert asking_clauses("我是退伍军人，户口在巴彦淖尔，想创业有补贴吗") == ["想创业有补贴吗"]
    assert asking_clauses("我户口在巴彦淖尔，想办护照") == ["想办护照"]
    assert asked_of("哪个部门牵头").kind == "lead"
    assert asked_of("公共就业服务机构免费提供哪些服务").kind == "list"


@pytest.mark.parametrize("question,period", [
    ("2023年新出的稳就业政策", (2023, 2023)),
    ("二〇二二年出台的稳岗补贴标准", (2022, 2022)),
    ("2021到2025年那一期的创业补贴", (2021, 2025)),
    ("十四五期间有什么创业扶持", (2021, 2025)),
    ("今年新出台的政策", (2026, 2026)),
    ("2022年疫情那会儿，内蒙古出台了哪些稳就业措施", (2022, 2022)),
    ("2020年以后自治区又出了哪些文件", (2020, 2026)),
    ("巴彦淖尔“十五五”就业工作怎么搞", (2026, 2030)),
    ("近两年零就业家庭的帮扶政策有没有新变化", (2025, 2026)),
    ("创业担保贷款最新的政策是什么", (2026, 2026)),
    ("23年新出台的稳岗政策有哪些", (2023, 2023)),
    ("我有15年工龄，失业了有什么补贴", None),
    ("我2019年开始创业，现在能申请补贴吗", None),   # the person's own story, not the rules' date
    ("我们厂这两年效益不行，不裁员能拿补贴吗", None),
    ("我最近失业了，有补贴吗", None),
    ("今年刚毕业，有啥补贴", None),
    ("我2023年毕业的，有补贴吗", None),
    ("今年有什么新政策", (2026, 2026)),
    ("2023年的创业补贴有多少", (2023, 2023)),
    ("2023年农牧民工参加技能培训的补贴标准是怎么规定的", (2023, 2023)),  # the rules named later in its clause
    ("我在临河，2023年农牧民工参加技能培训的补贴标准是怎么规定的", (2023, 2023)),  # an earlier clause is not its story
    ("2021年开始的新一轮行动计划有啥内容", (2021, 2021)),
    ("2022年毕业的大学生，补贴标准是多少", None),   # the year of graduation: its clause names no rules
    ("我2022年毕业的，创业补贴标准是多少", None),
    ("今年的就业见习补贴还发不发", (2026, 2026)),              # the year's own benefit
    ("我今年的社保补贴还能领吗", None),                         # the person's year
    ("今年高校毕业生到基层就业有什么新补贴", (2026, 2026)),      # new rules asked for
    ("巴彦淖尔2024年稳就业的新措施有哪些", (2024, 2024)),
    ("我想了解2023年度巴彦淖尔市就业创业补贴的申报时间", (2023, 2023)),  # asking, not a story
    ("到2020年力争打造多少个创业园", (2020, 2020)),             # the year a plan's targets are for
    ("到2030年，自治区就业创业工作要达到什么目标？", (2030, 2030)),
    ("我2015年到2018年在厂里上班，现在失业了有补贴吗", None),   # a span of the person's own years
    ("下个月起实施的新就业见习补贴政策是什么内容", (2026, 2026)),
    ("我下个月毕业，有什么就业补贴", None),
    ("疫情期间出台的阶段性减免社保费政策，现在还能享受吗？", (2020, 2022)),   # a time named by what happened
    ("疫情期间我失业了，现在有补贴吗", None),
    ("我2018年就在五原办了个体户，想问问2023年新出的个体户扶持政策有哪些？", (2023, 2023)),  # 2018 is the person's
    ("前两年出的那个以工代训补贴，现在还能申请吗？", (2024, 2025)),
    ("最近一两年有什么新的返乡创业政策？", (2025, 2026)),
    ("刚出台的创业担保贷款新政策是什么？", (2026, 2026)),
    ("下半年要出台的新政策有哪些？", (2026, 2026)),
    ("企业要出台裁员方案，职工怎么办？", None),
    ("我最近两年都没工作，有什么补贴", None),
    ("最近有什么创业补贴", None),                              # "these days": today's rules, which are these
    ("就业促进法第五十五条规定了什么", None),
    ("第十五条说的啥", None),
    ("退伍兵找工作有啥政策", None),
    # a time said of who sets rules, after or before it, or in a time clause of its own
    ("过去九十年代国企职工下岗的时候，政府是怎么安置的？", (1990, 1999)),
    ("九十年代下岗的职工现在能享受什么政策", None),                # the decade says who the people are
    ("改革开放初期出台的个体户扶持政策有哪些", (1978, 1985)),   # an epoch of the calendar
    ("计划经济时期的招工政策是怎么规定的", (1953, 1978)),
    ("改革开放初期我家开了个小卖部，现在能申请补贴吗", None),     # the person's story
    ("疫情后企业效益不好，能申请稳岗补贴吗", None),
    ("上个月刚发的那个稳岗补贴文件具体怎么规定的？", (2026, 2026)),
    # whether rules are still in force: today's question, not whether they apply to the person
    ("自治区2017年那个就业创业实施意见现在还执行吗？", (2026, 2026)),
    ("现在还执行2018年细则里孵化期最长延3年的规定吗？", (2026, 2026)),
    ("这个补贴对个体户还适用吗", None),
    ("有没有什么新政策扶持返乡创业", None),                        # "new" said loosely dates nothing
    ("十四五巴彦淖尔就业规划有哪些目标", (2021, 2025)),            # a plan said bare, or before it
    ("十三五之前的小额担保贷款怎么办", (2011, 2015)),
    ("二十五岁以下的大学生有什么补贴", None),
    ("两年前出台的稳岗政策现在怎么样", (2024, 2024)),
    ("我三年前下岗了，有补贴吗", None),
    ("24年的补贴标准是多少", (2024, 2024)),
    ("干了15年的补贴有吗", None),
    ("现在还按2018年那个细则执行吗", (2026, 2026)),
    # a year is the rules' unless the person's story: their own clause, or what someone did then
    ("2023年对返乡创业的农民工有什么扶持？", (2023, 2023)),
    ("2022年毕业的大学生，补贴标准是多少", None),
    ("2019年回乡创业的，能申请贷款吗", None),
])
def test_period_asked_about(question, period):
    p = period_of(question, dt.date(2026, 11, 29))
    assert ((p.start, p.end) if p and p.rules else None) == period


def test_a_year_in_the_persons_story_is_kept_apart_from_the_rules_date():
    p = period_of("我2019年开始创业，现在能申请补贴吗", dt.date(2026, 11, 29))
    assert p and not p.rules and (p.start, p.end) == (2019, 2019)
    assert period_of("2019年人社局发的新通知", dt.date(2026, 11, 29)).issued


def test_a_named_documents_own_year_beside_another_names_the_document(reader):
    # "2018年的细则" is which document; the other year is the time asked about
    p = reader.read("2022年以后出台的文件，跟2018年的细则比有什么变化？").period
    assert p and (p.start, p.end) == (2022, 2026) and p.issued
    # alone, it still dates what is asked ("2018年细则里的规定")
    assert reader.read("2018年的细则对创业补贴怎么规定的？").period.start == 2018


@pytest.mark.parametrize("question,message", [
    ("49号文第八部分第三条说的啥？", "《巴彦淖尔市实施细则》共六个部分，没有第八部分"),
    ("内政发132号二、（五）是哪方面的规定？", "《自治区实施意见》第二部分共二条，没有第五条"),
    ("自治区实施意见第九部分有哪些内容", "《自治区实施意见》共六个部分，没有第九部分"),
    ("132号文第二十条是什么内容？", "按部分分别编号"),
    ("巴彦淖尔实施细则第三十条", "共二十七条，没有第三十条"),
])
def test_a_reference_to_nothing_says_what_the_document_has(reader, question, message):
    q = reader.read(question)
    assert not q.articles and q.missing and message in q.missing


def test_asked_for_ages_and_addresses_are_figures():
    assert asked_of("男的多大岁数以上才算大龄失业人员").figure == "age"
    assert asked_of("门牌号多少").figure == "address"
    assert asked_of("咨询电话是多少").figure == "phone"
    assert has_figure("age", "年满十六周岁") and not has_figure("age", "对就业困难人员给予补贴")


def test_places_are_recognised_and_resolved_against_the_home_region(reader):
    assert reader.read("我在包头，想创业有补贴吗").place.name == "包头市"
    assert reader.read("呼和浩特的大学生创业补贴").scope == ("nmg-2017-132",)
    assert reader.read("临河区的退伍军人创业").scope == ("byn-2018-49", "nmg-2017-132")
    assert reader.read("杭锦后旗的返乡创业政策").place.city == "巴彦淖尔市"
    assert reader.read("北京对大学生自主创业有啥补贴").scope == ()
    assert reader.read("自治区层面谁牵头").scope == ("nmg-2017-132",)   # the home region's own province
    assert reader.read("返乡创业有什么扶持").scope == ("byn-2018-49", "nmg-2017-132")   # no place: home, most local first
    q = reader.read("包头市的实施细则里对创业补贴怎么规定")
    assert q.scope == () and q.not_applicable == ("byn-2018-49",)


@pytest.mark.parametrize("question,own_rules", [
    ("呼和浩特市出台的稳岗补贴实施办法具体是怎么规定的？", True),
    ("准格尔旗去产能企业分流职工的安置办法，旗里是怎么规定的？", True),
    ("通辽对高校毕业生到基层就业，市里有什么额外的补贴？", True),
    ("达拉特旗有没有自己的就业扶持办法？", True),
    ("临河区有没有自己的创业补贴办法？", True),       # the home city's county: only when asked for outright
    ("我在包头，想创业有什么补贴？", False),        # support at the place: the higher rules answer
    ("我在临河区，区里有啥创业补贴？", False),
    ("五原县里有专门的农民工培训补贴吗？", False),
    ("五原县专门出台的返乡创业扶持办法，都包括哪些内容？", True),
    # a place named beside the wider one holding it is the one asked about; the wider one is the level above
    ("鄂尔多斯市自己定的稳岗补贴标准是多少？市里的实施细则有没有比自治区提高？", True),
])
def test_a_place_s_own_rules_are_asked_for_in_many_ways_beyond_the_home_city(reader, question, own_rules):
    assert reader.read(question).own_rules_missing == own_rules


def test_usual_names_and_areas_beyond_any_one_division(reader):
    # a capital's abbreviation and a league's former name are the places they name
    assert reader.read("呼市对大学生创业有什么补贴").scope == ("nmg-2017-132",)
    assert reader.read("伊盟的返乡创业政策").place.name == "鄂尔多斯市"
    # regions of several provinces, and countries: no loaded local rules apply there
    for question in ("京津冀地区对高校毕业生就业有什么补贴", "东北三省对下岗职工有什么政策", "日本的就业促进法是怎么规定的"):
        assert reader.read(question).scope == (), question
    # "沿海城市" is a region, not 海城市 in Liaoning
    assert reader.read("南方沿海城市对农民工返乡创业有什么补贴").place.name == "沿海城市"


def test_a_word_for_the_home_city_means_the_city_named_beside_it(reader):
    assert reader.read("石家庄市里对农民工参加技能培训有啥补贴规定？").scope == ()
    assert reader.read("我在临河区，市里对返乡创业有啥补贴？").scope == ("byn-2018-49", "nmg-2017-132")


def test_of_several_places_the_asking_clause_says_which_is_asked_about(reader):
    # the place the asking clause names, or points back to ("那边": the one named last)
    moved = reader.read("我从临河区搬到包头了，包头那边的创业园入驻条件是怎么规定的？")
    assert [p.name for p in [moved.place]] == ["包头市"] and moved.own_rules_missing
    assert reader.read("我从五原县嫁到黑龙江哈尔滨了，那边就业困难人员是怎么认定的？").scope == ()
    assert reader.read("陕西榆林跟鄂尔多斯挨着，榆林那边对煤炭企业分流职工有什么补贴？").scope == ()
    # places of the story beside an asking clause naming none all count
    back = reader.read("我在北京打工多年，现在回临河区创业，有什么扶持？")
    assert back.scope == ("byn-2018-49", "nmg-2017-132")


def test_places_are_not_the_topic(reader):
    assert "巴彦淖尔" not in reader.read("我是退伍军人，户口在巴彦淖尔，想创业有补贴吗").topic


def test_has_figure_respects_the_asked_unit():
    assert has_figure("duration", "延期最长不超过3年。", "年")
    assert not has_figure("duration", "在认定后10个工作日内实现就业。", "月")
    assert has_figure("duration", "在认定后10个工作日内实现就业。", "天")
    assert has_figure("duration", "行动计划（2016-2020）", "年")
    assert not has_figure("count", "稳定就业6个月以上的，给予一定奖补。", "户")
    assert not has_figure("money", "给予一定奖补支持。")
    assert has_figure("money", "给予每人2000元补贴。")
    assert has_figure("money", "给予伍万元创业补贴。")          # other numeral styles count
    assert has_figure("duration", "应当提前三十日向工会说明情况。", "日")
    assert has_figure("count", "确保该家庭中至少有一人就业。", "人")  # a bare 一 after 至少 is a quantity
    assert not has_figure("count", "给予一次性创业补贴。", "次")


def test_a_date_is_a_figure_and_a_year_is_not_a_duration():
    assert asked_of("求职创业补贴一般什么时候发放").figure == "date"
    assert asked_of("就业促进法是从哪天开始施行的").figure == "date"
    assert asked_of("什么时候能申请创业贷款").kind != "figure"    # when eligible: the conditions answer
    assert has_figure("date", "本法自2008年1月1日起施行。") and not has_figure("date", "到2020年，力争打造8个以上创业园")
    assert not has_figure("duration", "到2020年，力争打造8个以上创业园", "年")
    assert has_figure("duration", "孵化期最长可延长2年", "年")


def test_a_thing_counted_is_the_unit_and_its_count_may_be_said_in_words():
    asked = asked_of("个体户和开公司分别是几个证合成一个")
    assert (asked.kind, asked.figure, asked.unit) == ("figure", "count", "证")
    assert has_figure("count", "全面实施企业“五证合一、一照一码”", "证")
    assert has_figure("count", "力争打造100个以上创业园", "创")
    assert not has_figure("count", "到2020年，统一办证", "证")   # a year is not a count of 证
    assert asked_of("能雇几个人").unit == "人" and asked_of("培训几个课时").unit == "课时"


def test_follow_ups_fold_in_the_earlier_turn(reader):
    history = [{"role": "user", "content": "返乡农民工创业有什么扶持？"}, {"role": "assistant", "content": "……"}]
    assert reader.read("那贷款呢？", history).context_topic == "返乡农民工创业有什么扶持？ 那贷款呢？"
    q = reader.read("细则里怎么说？", history)
    assert q.context_topic.startswith("返乡农民工") and q.scope == ("byn-2018-49",)
    assert reader.read("退役士兵自主就业有什么优惠政策？", history).follow_up is False
    # once its question words are gone, nothing is left to name a topic of its own
    assert reader.read("多长时间内能安排上？", history).follow_up is True
    assert reader.read("创业担保贷款最多能贷多少钱？", history).follow_up is False
    assert reader.read("那贷款呢？", []).context_topic == "那贷款呢？"
    assert reader.read("那贷款呢？", [{"role": "user"}]).context_topic == "那贷款呢？"


def test_uncovered_topics_uses_synonyms():
    table = {"医保": "医疗保障部门", "护照": "公安出入境管理部门"}
    syns = [Synonym(("医保",), ("医疗保险",))]
    texts = ["由安置地民政部门为其缴纳基本医疗保险费"]
    assert uncovered_topics("等待安排工作期间医保谁交", texts, table, syns) == []
    assert uncovered_topics("护照过期了怎么办", texts, table, syns) == ["护照"]


@pytest.mark.parametrize("certificate, text, named", [
    ("资格证", "在职业教育中推行职业资格与职业教育学历“双证书”制度", True),   # what it certifies, then 证
    ("资格证", "当年取得职业资格证书的企业职工", True),
    ("残疾证", "对残疾人就业给予扶持，核发证明", False),                      # 证 in another clause
    ("电工证", "当年取得职业资格证书的企业职工", False),
    ("营业执照", "全面实施企业“五证合一、一照一码”、个体工商户“两证整合”", True),   # by the reforms merging into it
    ("营业执照", "对自主创业的给予一次性创业补贴", False),
])
def test_a_certificate_is_named_in_full_or_by_what_it_certifies(certificate, text, named):
    assert certificate_named(certificate, text) is named


@pytest.mark.parametrize("question,period", [
    ("2015年以前，内蒙古的小额担保贷款怎么办理？", (2015, 2015)),       # past words of time before who acted
    ("乌拉特中旗明年有没有新的牧区劳动力转移就业政策？", (2027, 2027)),  # the place said before the time
    ("疫情期间内蒙古对中小企业有没有减免社保费的政策？", (2020, 2022)),
    ("疫情以后巴彦淖尔对餐饮个体户有什么扶持？", (2020, 2026)),
    ("疫情期间我在乌拉特中旗失业了，现在有补贴吗", None),                # the person's story
    ("我在乌拉特中旗，明年想创业，有补贴吗", None),
    ("二〇一二年的时候，自治区对高校毕业生到基层就业有什么政策？", (2012, 2012)),  # a time clause of its own
])
def test_a_time_said_of_a_place_dates_what_it_did(question, period):
    p = period_of(question, dt.date(2026, 11, 29), authorities=["巴彦淖尔", "内蒙古", "乌拉特中旗", "自治区"])
    assert ((p.start, p.end) if p and p.rules else None) == period


def test_a_topic_of_words_said_together_is_covered_only_by_a_provision_holding_them_all():
    table = {"公积金 提取": "住房公积金管理中心"}
    texts = ["其他从业者可按灵活就业人员身份参加养老、医疗保险和缴纳住房公积金",
             "确保企业职工教育经费足额提取并合理使用"]
    assert uncovered_topics("公积金怎么提取出来付首付", texts, table) == ["公积金 提取"]
    assert uncovered_topics("灵活就业能不能交公积金", texts, table) == []          # one word alone asks nothing listed
    assert uncovered_topics("公积金怎么提取", texts + ["缴存职工可按规定提取住房公积金"], table) == []


@pytest.mark.parametrize("question,dated", [
    ("2022年巴彦淖尔对招用应届高校毕业生的企业，有没有一次性扩岗补助？", True),
    ("今年巴彦淖尔的春风行动招聘会什么时候办？", True),
    ("2023年在临河区开了个小店，能申请创业担保贷款吗？", False),   # the place follows 在: the person's story
    ("2023年巴彦淖尔我开了个小店，能贷款吗？", False),             # the person acts in that year
    ("2010年前后巴彦淖尔对下岗职工再就业有什么政策？", True),
])
def test_a_year_said_of_a_place_dates_what_it_did(question, dated):
    p = period_of(question, dt.date(2026, 11, 29), authorities=["巴彦淖尔", "临河区"])
    assert p is not None and p.rules == dated


def test_the_setting_leaves_out_the_persons_circumstances_but_not_what_they_want():
    assert clauses_of("社保卡丢了，怎么挂失补办？")[1] == ["社保卡丢了"]
    assert clauses_of("我户口在外地，在巴彦淖尔能领创业补贴吗？")[1] == []
    assert clauses_of("我想考教师资格证，报名时间是什么时候？")[1] == ["我想考教师资格证"]
    assert clauses_of("公司已经拖欠我三个月工资了，老板一直说再等等，我应该去哪投诉？")[2] == ["公司已经拖欠我三个月工资了"]
    assert clauses_of("我户口在外地，在巴彦淖尔能领创业补贴吗？")[2] == ["我户口在外地"]


def test_certificates_named_are_found_by_their_shape_not_a_list():
    assert certificates(["残疾证", "去", "哪办", "许可证", "社保卡", "营业执照", "保证", "认证", "资格证书"]) == [
        "残疾证", "许可证", "社保卡", "营业执照", "资格证书"]


def test_who_qualifies_is_asked_and_a_person_then_only_is_not_talent(reader):
    assert asked_of("哪些人能申请创业担保贷款").who and asked_of("谁能领一次性创业补贴").who
    assert not asked_of("哪些服务是免费的").who and asked_of("我能申请吗").kind == "yes_no"
    # 什么样的人才算: a person (人), then 才; not 人才 (talent), which finds the articles on recruiting
    assert "人才" not in reader.read("什么样的人才算就业困难人员？").topic
    assert "人才" in reader.read("引进的高层次人才有哪些优惠？").topic


def test_what_is_asked_for_by_name_is_read_from_after_the_question_word():
    assert asked_in(asking_clauses("出现严重规模性失业风险时，可以采取哪些措施？")).heads == ("措施",)
    assert asked_in(asking_clauses("企业能拿到啥补贴，需要满足什么条件？")).heads == ("补贴", "条件")
    assert asked_in(asking_clauses("这一条讲的是什么？")).heads == ()
    assert asked_in(asking_clauses("哪些人能申请创业担保贷款")).heads == ()  # who qualifies is asked apart


@pytest.mark.parametrize("question", ["现在统计就业失业情况用不用大数据", "去人社局咨询要不要交钱", "培训完给不给发证"])
def test_a_verb_not_the_verb_asks_whether(question):
    assert asking_clauses(question) == [question] and asked_in([question]).kind == "yes_no"


def test_a_comparison_naming_one_document_loosely_searches_the_others_too(reader):
    # "自治区文件" is no declared name of the regional document: the comparison still needs it
    q = reader.read("去产能企业职工安置，自治区文件和巴彦淖尔细则分别点名了哪些行业？")
    assert set(q.scope) >= {"byn-2018-49", "nmg-2017-132"}
    assert reader.read("巴彦淖尔细则对去产能企业职工安置点名了哪些行业？").scope == ("byn-2018-49",)


@pytest.mark.parametrize("question, compared", [
    ("自治区和巴彦淖尔对干部履职中的失误是怎么规定容错的？", True),    # two areas named, each a document's
    ("两份文件对就业统计监测分别有什么要求？", True),                  # the documents spoken of together
    ("创业担保贷款和创业补贴有什么区别？", False),                     # two things in one document
    ("我和老婆分别在两个厂上班，企业不裁员能拿稳岗补贴吗？", False),    # 分别 of people, not of rules
    ("我在临河，自治区有啥创业补贴？", False),                          # 临河区 has no document of its own
])
def test_a_comparison_is_of_the_documents_it_names_or_speaks_of_together(reader, question, compared):
    sides = reader.read(question).sides
    assert (set(sides) == {"byn-2018-49", "nmg-2017-132"}) if compared else sides == ()


@pytest.mark.parametrize("text, names", [
    ("劳动合同法第三十九条是怎么规定的？", ["劳动合同法"]),
    ("公司辞退我，按劳动合同法该赔多少", ["劳动合同法"]),
    ("根据《社会保险法》，失业保险金领多久？", ["社会保险法"]),
    ("中华人民共和国就业促进法第七十条", ["中华人民共和国就业促进法"]),
    ("工伤保险条例规定工伤怎么认定", ["工伤保险条例"]),
    # words ending in 法 that name no law, and 法 inside a longer word
    ("两份文件的提法有什么不同？", []), ("有没有什么好办法", []), ("公司这样做合法吗", []),
    ("到了法定退休年龄怎么办", []), ("有法律援助吗", []),
])
def test_laws_named_by_their_own_name(text, names):
    assert laws_named(text) == names


def test_an_asking_clause_naming_only_the_kind_of_thing_asked_asks_about_what_came_before(corpus):
    from retrieval.search.lexical import Tokenizer

    reader = Reader(corpus.documents, corpus.articles, "巴彦淖尔市", today=dt.date(2026, 11, 29),
                    topic_words=Tokenizer().topic_words)
    for question in ("我想给孩子办个收养登记，要准备哪些材料？", "想申请公租房，需要什么条件？",
                     "快递丢了不给赔，该找哪个部门？", "我和爱人想收养亲戚家的孩子，要办哪些手续？",
                     "公司不想开了，要走什么流程？"):
        assert reader.read(question).about_before, question
    # an asking clause that names its topic, or a question with nothing before its asking clause
    for question in ("我想申请公租房，公租房的租金怎么算？", "我户口在巴彦淖尔，想创业，有什么补贴？",
                     "申请公租房需要什么条件？", "需要什么条件？"):
        assert not reader.read(question).about_before, question
