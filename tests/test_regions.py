"""Whose rules, which years, what is asked — on a corpus with a national law and another province's
rules added the way the README says (text file + metadata), with the real index and embedder."""
import json
import re
import shutil
from pathlib import Path

import pytest

from retrieval.answering.composer import WHERE_TO_GO

from conftest import ROOT

LAW = ROOT.parent / "shared" / "corpus-extra" / "prc-employment-law-2015.txt"
pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.skipif(not LAW.is_file(), reason="shared/corpus-extra is not beside the repo")]


LAW_META = {"doc_id": "prc-employment-law-2015", "file": "prc-employment-law-2015.txt", "title": "中华人民共和国就业促进法",
            "short_name": "就业促进法", "issuer": "全国人民代表大会常务委员会", "number": "", "date": "2015-04-24",
            "level": "国家", "region": "全国", "aliases": ["中华人民共和国就业促进法"]}
SHANGHAI_META = {"doc_id": "sh-demo", "file": "sh-demo.txt", "title": "上海市促进就业若干规定", "short_name": "上海市规定",
                 "issuer": "上海市人民代表大会常务委员会", "number": "", "date": "2006-03-01", "level": "省级",
                 "region": "上海市"}


def load_with(root, shanghai):
    """The shipped corpus with the law added (as GB18030), and with Shanghai's rules when asked."""
    from retrieval.answering.assistant import Assistant
    from retrieval.config import Settings

    corpus = root / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    # the law arrives as GB18030, as government files often do: converted at load, and reported
    (corpus / "prc-employment-law-2015.txt").write_bytes(LAW.read_text(encoding="utf-8").encode("gb18030"))
    meta = json.loads((corpus / "documents.json").read_text(encoding="utf-8"))
    meta["documents"].append(LAW_META)
    if shanghai:
        # three articles of the real 上海市促进就业若干规定 (2006; LawRefBook/Laws), another province's rules
        shutil.copy(Path(__file__).parent / "data" / "shanghai-excerpt.txt", corpus / "sh-demo.txt")
        meta["documents"].append(SHANGHAI_META)
    (corpus / "documents.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return Assistant.load(Settings(corpus={"dir": corpus}, index={"dir": root / "index"}), llm=False)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    return load_with(tmp_path_factory.mktemp("regions"), shanghai=True)


def cited_docs(answer):
    return {c.id.split(":")[0] for c in answer.citations}


def test_the_gb18030_file_was_converted_and_reported(assistant):
    assert "prc-employment-law-2015" in assistant.corpus.docs_by_id
    assert any("GB18030" in p and "prc-employment-law-2015.txt" in p for p in assistant.corpus.problems)


def test_a_question_naming_no_place_gets_the_home_regions_rules_only(assistant):
    a = assistant.ask("返乡农民工创业有什么扶持政策？")
    assert not a.refused and "sh-demo" not in cited_docs(a)
    assert a.citations[0].id.startswith("byn-2018-49:")       # the most local rule first
    assert "直辖市" not in a.answer and "层面" not in a.answer


def test_beijing_is_declined_with_only_the_national_rules_beside_it(assistant):
    a = assistant.ask("北京对大学生自主创业有啥补贴")
    assert a.refused and a.refusal_reason == "place_not_covered" and "北京市本地" in a.answer
    assert not a.citations and a.related
    assert {c.id.split(":")[0] for c in a.related} == {"prc-employment-law-2015"}


def test_whether_an_act_is_lawful_anywhere_is_the_laws_to_say(assistant):
    a = assistant.ask("我在广州找工作，职业中介把我身份证扣下了，说等我上岗了才还，这样合法吗？")
    assert not a.refused and a.citations[0].id.startswith("prc-employment-law-2015:")
    assert any("广州市本地" in n for n in a.notes)


def test_beijing_with_only_local_documents_is_declined_with_the_areas_covered(assistant):
    from retrieval.understanding.query import Reader
    two = [d for d in assistant.corpus.documents if d.doc_id in ("nmg-2017-132", "byn-2018-49")]
    reader = Reader(two, [a for a in assistant.corpus.articles if a.doc_id in ("nmg-2017-132", "byn-2018-49")], "巴彦淖尔市")
    q = reader.read("北京对大学生自主创业有啥补贴")
    a = assistant.composer.compose(q, assistant.retriever.retrieve(q))
    assert a.refused and a.refusal_reason == "place_not_covered"
    assert "内蒙古自治区" in a.answer and "巴彦淖尔市" in a.answer


def test_baotou_is_answered_from_the_region_and_says_its_own_rules_are_not_loaded(assistant):
    a = assistant.ask("我在包头，想自己创业，能申请创业担保贷款吗？")
    assert not a.refused
    assert "byn-2018-49" not in cited_docs(a) and "sh-demo" not in cited_docs(a)
    assert "nmg-2017-132" in cited_docs(a)
    assert "包头市本地的政策文件未收录" in a.answer


def test_baotous_own_rules_asked_by_name_are_declined(assistant):
    a = assistant.ask("包头市的实施细则里对创业补贴怎么规定的？")
    assert a.refused and a.refusal_reason == "place_not_covered" and "包头市" in a.answer


def test_a_places_own_rules_asked_for_are_declined_with_the_higher_rules_beside(assistant):
    # no name of a document, but the place's own rules are what is asked for; the region's apply there too
    a = assistant.ask("包头市自己出台的创业补贴办法有哪些内容？")
    assert a.refused and a.refusal_reason == "place_not_covered" and "包头市本地" in a.answer
    assert a.related and all(c.id.split(":")[0] != "byn-2018-49" for c in a.related)
    # Bayannur's own rules are loaded
    assert not assistant.ask("巴彦淖尔市自己出台的创业补贴政策有哪些？").refused


def test_linhe_and_hangjinhouqi_are_in_bayannur(assistant):
    for place in ("临河区", "杭锦后旗"):
        a = assistant.ask(f"我在{place}，退役士兵自主创业有什么优惠？")
        assert not a.refused and a.citations[0].id.startswith("byn-2018-49:"), place


def test_a_county_said_without_its_suffix_is_the_county(assistant):
    # residents say 临河 and 五原; 回民 is a people, though 回民区 is a district of Hohhot
    for question, county in (("临河有没有专门给农民工办事的一站式地方？", "临河区"),
                             ("我是回民，在五原开个清真饭馆有扶持吗？", "五原县")):
        q = assistant.plan(question, None, None)
        assert q.place_named and q.place.name == county, question


def test_where_a_person_lives_is_read_though_their_address_is_redacted(assistant):
    # the village goes (personal data); the county stays and decides whose rules apply
    q = assistant.plan("我住磴口县补隆淖镇河壕村，家里的地都流转出去了，在村里能登记失业吗？", None, None)
    assert "河壕村" not in q.text and q.place_named and q.place.name == "磴口县", q
    # a city beyond the home region: its own rules are not loaded, the region's apply
    q = assistant.plan("我住包头，想创业有什么补贴？", None, None)
    assert q.place_named and q.place.city == "包头市" and "byn-2018-49" not in q.scope, q
    # "住在" goes with the place it names: what is left is the question
    assert "住在" not in assistant.plan("家里没一个人上班，住在临河城区，该去哪儿申请帮助？", None, None).topic


def test_a_named_places_own_rules_lead_unless_they_say_nothing_on_the_matter(assistant):
    # hiring discrimination: the law speaks, the city's rules hardly; 五原 names the place all the same
    a = assistant.ask("我在五原去面试，人家说这个岗位只要男的不要女的，可这活女的完全能干，这合法吗？")
    assert a.citations[0].id.startswith("prc-employment-law-2015:"), [c.id for c in a.citations]
    b = assistant.ask("我在临河开了个小加工厂，想试制新产品但买不起检测设备，政府的大型科研仪器能给我们用吗？")
    assert b.citations[0].id.startswith("byn-2018-49:"), [c.id for c in b.citations]


def test_the_local_rule_leads_only_when_about_as_relevant_as_the_law(assistant):
    # equal treatment of minorities in hiring is the law's; the city's article is on minority areas' jobs
    a = assistant.ask("招工对少数民族有照顾不")
    assert a.citations[0].id.startswith("prc-employment-law-2015:"), [c.id for c in a.citations]
    # a household with no one in work: the city's rule leads, though the law speaks of it too
    b = assistant.ask("家里两口子都下岗了，一个上班的都没有，政府能帮忙不？")
    assert b.citations[0].id.startswith("byn-2018-49:"), [c.id for c in b.citations]


def test_the_places_own_rule_is_heard_beside_a_law_that_leads_by_far(assistant):
    # the law answers (3.27, marriage clauses); the city's rule on women's equal hiring is cited after it, in
    # the quotes only: the direct answer stays the law's
    a = assistant.ask("女的去面试老被问结没结婚、要不要孩子，政策上管不管？")
    ids = [c.id for c in a.citations]
    assert ids[0] == "prc-employment-law-2015:3.27" and ids[-1].startswith("byn-2018-49:"), ids
    assert "女性平等就业" in a.answer and "[2]" not in a.summary, a.summary


def test_an_asked_figure_must_be_in_the_article_that_answers(assistant):
    # the law's fines for job agencies, cited lower down, are not the fine for running a red light
    a = assistant.ask("我跑网约车算新就业形态吧，上周在五原县闯了个红灯，要罚多少钱扣几分？")
    assert a.refused, a.answer


def test_the_hotline_is_not_the_number_of_an_office_asked_for(assistant):
    a = assistant.ask("巴彦淖尔市公共就业服务中心在临河哪条街？咨询电话是多少？")
    assert a.refused and a.refusal_reason == "figure_missing" and "12333" in a.answer


def test_shanghai_gets_shanghais_rules(assistant):
    a = assistant.ask("上海对自己开业的劳动者提供哪些服务？")
    assert a.citations and a.citations[0].id == "sh-demo:15"
    assert "开业培训" in a.summary and "开业场地" in a.summary
    # a period written in Chinese numerals is the figure asked for
    a = assistant.ask("我在上海，公司裁员要提前多久通知？")
    assert not a.refused and a.citations[0].id == "sh-demo:21" and "三十日" in a.summary


def test_another_provinces_rules_loaded_change_no_answer_about_bayannur(assistant, tmp_path):
    """Word statistics are those of the documents that apply, and each unit's vector depends on its
    text only: loading Shanghai's rules leaves every answer for Bayannur as it was."""
    without = load_with(tmp_path, shanghai=False)
    questions = ["企业不裁员能拿到什么补贴？", "我是劳务经纪人，组织村里人出去打工，能有点补贴不？", "城镇新增就业、失业率被作为什么指标？",
                 "大学生创业能申请创业担保贷款吗？", "我在临河，想自己开业，政府提供哪些服务？", "公共就业服务机构免费提供哪些服务"]
    for question in questions:
        a, b = assistant.ask(question), without.ask(question)
        assert (a.answer, [c.id for c in a.citations]) == (b.answer, [c.id for c in b.citations]), question


def test_another_provinces_rules_are_never_cited_for_a_bayannur_question(assistant):
    for question in ("企业裁员要提前多久通知？", "我在临河，想自己开业，政府提供哪些服务？"):
        a = assistant.ask(question)
        assert "sh-demo" not in cited_docs(a) and not any(c.id.startswith("sh-demo") for c in a.related), question


def test_a_year_the_documents_do_not_cover_is_declined(assistant):
    a = assistant.ask("2023年新出的稳就业政策有哪些？")
    assert a.refused and a.refusal_reason == "period_not_covered"
    assert "2017" in a.answer and "2018" in a.answer


def test_rules_issued_after_the_documents_are_declined_however_the_year_is_said(assistant):
    for question in ("2019年人社局新发的技能提升补贴通知说了什么？", "请问2020年以后自治区又出台了哪些创业政策？",
                     "“十五五”期间的就业规划怎么安排？", "最近两年零就业家庭的帮扶政策有没有新变化？"):
        a = assistant.ask(question)
        assert a.refused and a.refusal_reason == "period_not_covered", question


def test_a_year_in_the_persons_story_is_answered_with_a_note(assistant):
    a = assistant.ask("我2023年在临河开了个小店，能申请创业担保贷款吗？")
    assert not a.refused
    assert any("早于您所说年份" in n for n in a.notes)


def test_the_policy_where_a_county_resident_lives_is_the_citys(assistant):
    a = assistant.ask("我在临河，当地的政策对大学生创业有补贴吗？")
    assert not a.refused and a.citations[0].id.startswith("byn-2018-49:")


def test_residence_is_context_not_the_question(assistant):
    a = assistant.ask("我是退伍军人，户口在巴彦淖尔，想创业有补贴吗")
    assert not a.refused and a.citations[0].id.startswith("byn-2018-49:")


def test_who_the_person_is_is_context_beside_a_setting_the_provisions_hold(assistant):
    a = assistant.ask("俺是农村户口，进城找工作，有的单位专门给农村人设门槛，就业促进法对这种情况咋规定的？")
    assert not a.refused and a.citations[0].id.startswith("prc-employment-law-2015:")
    assert "平等的劳动权利" in a.answer


def test_wage_arrears_are_out_of_scope(assistant):
    a = assistant.ask("老板拖了我三个月工钱，怎么办？")
    assert a.refused
    # asked only "where to complain": the person's story says what about, and no provision covers it
    a = assistant.ask("公司已经拖欠我三个月工资了，老板一直说再等等，我应该去哪投诉？")
    assert a.refused and a.refusal_reason == "out_of_scope" and "劳动保障监察" in a.answer


def test_a_chapter_is_listed(assistant):
    a = assistant.ask("就业促进法第三章说了什么")
    ids = [c.id for c in a.citations]
    assert ids == [f"prc-employment-law-2015:3.{n}" for n in range(25, 32)]
    assert "第三章" in a.answer
    assert a.summary.startswith("《就业促进法》第三章“公平就业”共七条") and a.answer.startswith(a.summary)


def test_a_chapter_named_beside_a_topic_is_where_the_topic_is_looked_for(assistant):
    # the chapter's articles are searched for what is asked, not listed from the first
    a = assistant.ask("就业促进法第八章，职业中介扣押劳动者身份证会怎么处罚？")
    assert not a.refused and a.citations[0].id == "prc-employment-law-2015:8.66"
    a = assistant.ask("就业促进法第三章里，对乙肝病毒携带者找工作是怎么规定的？")
    assert a.citations[0].id == "prc-employment-law-2015:3.30"
    assert all(c.id.startswith("prc-employment-law-2015:3.") for c in a.citations)
    # the chapter's own title is no topic beside it: the chapter is listed
    a = assistant.ask("就业促进法第五章职业教育和培训的内容")
    assert [c.id for c in a.citations][:2] == ["prc-employment-law-2015:5.44", "prc-employment-law-2015:5.45"]
    assert a.summary.startswith("《就业促进法》第五章“职业教育和培训”共八条")


def test_when_a_law_takes_effect_is_its_date_of_施行(assistant):
    a = assistant.ask("就业促进法哪年生效的？")
    assert not a.refused and a.citations[0].id == "prc-employment-law-2015:9.69" and "2008年1月1日" in a.summary


def test_a_law_that_is_not_loaded_is_said_to_be_missing_not_answered_for(assistant):
    # loaded: answered from it; not loaded: neither its article numbers nor its name go to another document
    a = assistant.ask("《就业促进法》对残疾人就业有什么规定？")
    assert not a.refused and a.citations[0].id.startswith("prc-employment-law-2015:")
    a = assistant.ask("劳动合同法第三十九条是怎么规定的？")
    assert a.refused and a.refusal_reason == "document_not_loaded", a.answer
    assert "《劳动合同法》" in a.answer and "《就业促进法》" in a.answer and "共" not in a.answer
    a = assistant.ask("按社会保险法，失业保险金最长能领多久？")
    assert a.refused and a.refusal_reason == "document_not_loaded" and "《社会保险法》" in a.answer
    assert all(c.id.split(":")[0] in assistant.corpus.docs_by_id for c in a.related)
    # a loaded document's title shortened (上海市就业规定 of 上海市促进就业若干规定) is not another one
    assert assistant.reader.unloaded("按《上海市就业规定》，就业困难人员指哪些人？") == []
    assert assistant.reader.unloaded("按《上海市劳动合同条例》，试用期多长？") == ["上海市劳动合同条例"]
    # a rule a loaded document cites is answered for by the document that cites it
    a = assistant.ask("按照《内蒙古自治区就业困难人员认定办法》，就业困难人员范围怎么定？")
    assert not a.refused and a.citations


def test_an_article_that_does_not_exist_says_so(assistant):
    a = assistant.ask("就业促进法第七十条")
    assert a.refused and a.refusal_reason == "no_such_article"
    assert "共六十九条" in a.answer
    a = assistant.ask("就业促进法第十章讲了什么？")
    assert a.refused and "共九章，没有第十章" in a.answer
    a = assistant.ask("第十一章说的是什么")
    assert a.refused and a.refusal_reason == "no_such_article"
    a = assistant.ask("就业促进法第二十七条")
    assert [c.id for c in a.citations] == ["prc-employment-law-2015:3.27"]


def test_a_level_word_or_title_ending_names_no_document(assistant):
    a = assistant.ask("国家规定对就业困难人员有什么援助？")
    assert len(cited_docs(a) - {"sh-demo"}) >= 1 and "sh-demo" not in cited_docs(a)


def test_a_list_question_is_answered_with_the_items_not_the_first_one(assistant):
    a = assistant.ask("职业中介机构不得有哪些行为？")
    assert a.citations[0].id == "prc-employment-law-2015:4.41"
    assert a.summary.startswith("包括：提供虚假就业信息；") and "扣押劳动者的居民身份证" in a.summary
    assert "（一）" not in a.summary


def test_yes_is_said_only_over_a_provision_that_gives_what_was_asked(assistant):
    assert assistant.ask("大学生毕业后开网店能有补助吗").summary.startswith("可以。")
    a = assistant.ask("我创业开的小微企业是小规模纳税人，增值税专用发票怎么申领，能自己开吗？")
    assert a.refused or not a.summary.startswith("可以")


def test_whether_someone_elses_act_is_allowed_is_never_answered_yes(assistant):
    a = assistant.ask("我去中介找工作，中介要扣下我的身份证，还让我交押金，这允许吗？")
    assert a.citations[0].id.startswith("prc-employment-law-2015:")
    assert not a.summary.startswith("可以") and "扣押" in a.summary


def test_where_to_apply_is_the_office_a_document_names(assistant):
    a = assistant.ask("我和老婆都下岗了，家里没一个人上班，住在临河城区，该去哪儿申请帮助？")
    n = next(i for i, c in enumerate(a.citations, start=1) if c.id == "prc-employment-law-2015:6.56")
    assert "社区公共就业服务机构申请就业援助" in a.summary and a.summary.endswith(f"[{n}]")
    assert "牵头" not in a.summary


def test_where_no_document_names_the_office_the_advice_cites_nothing(assistant):
    a = assistant.ask("创业担保贷款找哪个部门办？")
    assert not a.refused and a.citations and "牵头" not in a.summary
    # the hotline and the local offices are our advice: said once, and no article marker is put on them
    assert a.summary.startswith("文件没有写明在哪里办理") and a.summary.endswith(WHERE_TO_GO)
    assert a.answer.count(WHERE_TO_GO) == 1


def test_the_summary_says_no_bare_condition(assistant):
    from retrieval.answering.composer import _fragment
    a = assistant.ask("我是去产能分流下来的，想自己开个修车铺，政府能帮着进创业园吗？")
    parts = [p for p in re.split(r"\[\d+\]", a.summary) if p]
    assert "优先安排入驻" in a.summary
    assert not any(_fragment(p.rstrip("。").removeprefix("可以。").removeprefix("根据规定，")) for p in parts), a.summary


def test_a_certificate_asked_about_is_the_issuers_business_one_held_is_context(assistant):
    a = assistant.ask("我是残疾人，想找工作，但还没办残疾证，残疾证去哪办、残疾等级怎么评？")
    assert a.refused and a.refusal_reason == "out_of_scope" and "残疾证" in a.answer
    assert not assistant.ask("我在厂里上班好几年了，今年考了个电工证，能领补贴吗？").refused
    assert not assistant.ask("我腿有残疾，办了残疾证，打算自己开个小卖部做个体经营，国家对我这样的有啥照顾？").refused


def test_who_qualifies_is_answered_with_whom_the_provision_names(assistant):
    a = assistant.ask("哪些人才能申请创业担保贷款？")
    assert a.citations[0].id in ("nmg-2017-132:3.4", "byn-2018-49:3.10")
    assert "符合条件的创业者" in a.summary and not a.summary.startswith("包括")
    a = assistant.ask("什么样的人才算就业困难人员？我四十多了，地被征了，一直没找到活。")
    assert a.citations[0].id == "prc-employment-law-2015:6.52" and "失去土地" in a.summary


def test_a_lists_lead_in_is_said_with_its_items(assistant):
    a = assistant.ask("我下岗了，打算自己干个体卖点东西，国家在税收上有没有优惠？")
    assert a.citations[0].id == "prc-employment-law-2015:2.17"
    assert "对下列企业、人员依法给予税收优惠：" in a.summary and "从事个体经营" in a.summary
    assert "（一）" not in a.summary and len(re.sub(r"\[\d+\]", "", a.summary)) <= 110


def test_an_item_chosen_alone_is_said_after_its_lists_lead_in(assistant):
    a = assistant.ask("残疾人自己干个体经营，按就业促进法在税收上有啥照顾？")
    assert a.citations[0].id == "prc-employment-law-2015:2.17"
    assert "对下列企业、人员依法给予税收优惠：从事个体经营的残疾人" in a.summary
    assert not re.search(r"（[一二三四五六七八九十]+）", a.summary)


def test_a_sanction_asked_about_is_said_to_its_end_each_consequence_with_its_condition(assistant):
    a = assistant.ask("没有经过许可和登记就私自开职业中介，会受到什么处罚？")
    assert a.citations[0].id == "prc-employment-law-2015:8.64"
    # "五万元以下的罚款" is a bound, not a list's lead-in left hanging
    assert "依法予以关闭" in a.summary and "有违法所得的，没收违法所得，并处一万元以上五万元以下的罚款" in a.summary


def test_without_a_licence_said_plainly_finds_the_article_on_acting_without_one(assistant):
    # "没…许可" is the residents' 未经许可 (corpus/lexicon/synonyms.tsv), not 伪造…许可证
    for question in ("有人没拿到许可就开了个职业中介，会怎么处罚？", "没许可证也敢开职业介绍所，罚多少钱？"):
        assert assistant.ask(question).citations[0].id == "prc-employment-law-2015:8.64", question


def test_no_part_of_the_direct_answer_stops_before_its_sentences_predicate(assistant):
    from retrieval.answering.composer import _stops_short
    a = assistant.ask("俺闺女去应聘，那家公司要在劳动合同里写上两年内不准结婚、不准生孩子，按就业促进法这合法不？")
    assert "限制女职工结婚、生育" in a.summary
    # "除……外" said alone, its "不得以性别为由拒绝录用妇女" left out, would read as if the exception were the rule
    assert "岗位外。" not in a.summary
    sentence = "从事职业中介活动，应当遵循合法、诚实信用、公平、公开的原则。"
    assert _stops_short("从事职业中介活动", sentence) and not _stops_short(sentence.rstrip("。"), sentence)


def test_a_list_question_takes_the_list_of_the_second_rule_when_the_first_has_none(assistant):
    a = assistant.ask("公共就业服务机构免费给我们提供哪些服务？")
    n = next(i for i, c in enumerate(a.citations, start=1) if c.id == "prc-employment-law-2015:4.35")
    assert n <= 2 and a.summary.startswith("包括：就业政策法规咨询；") and a.summary.endswith(f"[{n}]")


def test_a_listed_matter_is_referred_a_trade_one_may_start_is_not(assistant):
    # the routing table names matters other offices handle, never a trade: starting any business is in scope
    trademark = assistant.ask("我开了个小作坊，想注册个商标，去哪办？")
    assert trademark.refused and trademark.refusal_reason == "out_of_scope" and "商标" in trademark.answer
    care_home = assistant.ask("开一家养老院算创业吗，能贷款吗？")
    assert not care_home.refused and "创业担保贷款" in care_home.answer


def test_whether_rules_are_still_in_force_is_declined_with_when_they_were_issued(assistant):
    ans = assistant.ask("自治区2017年那个就业创业实施意见现在还执行吗？")
    assert ans.refused and ans.refusal_reason == "period_not_covered"
    assert "2017年" in ans.answer and "没有说明现在是否仍在执行" in ans.answer
    # whether a benefit applies to the person is answered
    assert not assistant.ask("创业担保贷款对个体户还适用吗？").refused


def test_a_document_named_by_an_earlier_year_of_its_own_is_answered(assistant):
    # the law was adopted in 2007 and is loaded as amended in 2015
    ans = assistant.ask("2007年通过的就业促进法里，“就业困难人员”指的是哪些人？")
    assert not ans.refused and ans.citations[0].id.startswith("prc-employment-law-2015:")
    # a later year of a named document asks for a newer version
    assert assistant.ask("2023年的就业促进法对就业困难人员怎么规定？").refused
