"""Corpus loading and structure-aware parsing: the real documents and small fixtures of other layouts."""
import json
import logging

import pytest

from retrieval.documents.corpus import load_corpus
from retrieval.documents.parsing import parse_document, split_departments
from retrieval.types import CorpusError

from conftest import ROOT, write_corpus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "corpus")


def test_both_documents_parse_to_exactly_their_articles(corpus):
    by_doc = {}
    for a in corpus.articles:
        by_doc.setdefault(a.doc_id, []).append(a)
    assert len(by_doc["nmg-2017-132"]) == 26
    assert len(by_doc["byn-2018-49"]) == 27
    assert [a.id for a in by_doc["nmg-2017-132"]][:4] == [
        "nmg-2017-132:1.1", "nmg-2017-132:1.2", "nmg-2017-132:1.3", "nmg-2017-132:2.1"]
    assert [a.path for a in by_doc["byn-2018-49"]][-1] == (6, 27)


def test_citation_ids_follow_the_contract(corpus):
    a = corpus.article("nmg-2017-132:4.3")
    assert a.labels == ("四、", "（三）") and a.title == "推动农牧民转移就业"
    b = corpus.article("byn-2018-49:3.9")
    assert b.labels == ("三、", "（九）") and b.title == "强化政策支持"
    assert b.lead_department == "市财政局"
    assert "市财政局" not in b.body and "牵头" not in b.body


def test_departments_and_lead(corpus):
    a = corpus.article("nmg-2017-132:1.1")
    assert a.lead_department == "自治区发展改革委"
    assert "人民银行呼和浩特中心支行" in a.departments  # corrected from 中心之行 elsewhere too
    assert corpus.article("byn-2018-49:5.23").lead_department == "市人社局"  # ASCII parentheses
    assert corpus.article("byn-2018-49:6.24").departments == ("市委组织部", "市人社局", "财政局")
    assert all(a.departments for a in corpus.articles)


def test_corrections_are_applied(corpus):
    text = "".join(a.title + a.body + "".join(a.departments) for a in corpus.articles)
    for wrong in ("取工社会保险", "解化基地", "容错免贵", "中心之行", "§", "制度雪", "培训l", "[bookmark", "＂"):
        assert wrong not in text, wrong
    body = corpus.article("nmg-2017-132:5.1").body
    assert body.count("用人单位聘用的高级工、技师、高级技师") == 1


def test_closing_paragraph_is_not_part_of_the_last_article(corpus):
    assert "各地区、各部门要结合本地" not in corpus.article("nmg-2017-132:6.5").body
    assert "各地区、各部门要结合本地实际" not in corpus.article("byn-2018-49:6.27").body


def test_sentences_cover_the_body(corpus):
    for a in corpus.articles:
        assert "".join(a.sentences) == a.body


def test_split_departments_ignores_ordinary_parentheses():
    body, depts = split_departments("继续实施行动计划（2016-2020）")
    assert depts == () and body.endswith("（2016-2020）")


def test_fingerprint_changes_with_the_text(tmp_path):
    one = load_corpus(write_corpus(tmp_path / "a", {"doc-a": "一、总则\n（一）目标。就业优先。"}))
    two = load_corpus(write_corpus(tmp_path / "b", {"doc-a": "一、总则\n（一）目标。创业优先。"}))
    assert one.fingerprint != two.fingerprint


CHAPTERS = """某某市就业促进办法
第一章 总则
第一条 为了促进就业，制定本办法。
第二条 本办法适用于本市行政区域。
第二章 扶持政策
第三条 对自主创业人员给予以下扶持：
（一）创业担保贷款；
（二）场地补贴。
第四条 本办法自发布之日起施行。（市人社局、财政局负责）
"""


def test_chapter_and_article_layout(tmp_path):
    arts = parse_document("doc-x", CHAPTERS)
    assert [a.path for a in arts] == [(1, 1), (1, 2), (2, 3), (2, 4)]
    third = arts[2]
    assert "（一）创业担保贷款" in third.body and "（二）场地补贴" in third.body
    assert arts[3].lead_department == "市人社局"
    assert arts[2].section_titles == ("扶持政策",)


NUMBERED = """关于支持创业的若干措施
一、资金支持
1. 创业补贴。对首次创业的给予补贴。
（1）申请条件：登记注册满6个月。
2. 贷款贴息。按规定给予贴息。
二、场地支持
1. 孵化基地。免费入驻。
"""


def test_numbered_layout_with_deeper_items_folded_into_articles():
    arts = parse_document("doc-y", NUMBERED)
    assert [a.path for a in arts] == [(1, 1), (1, 2), (2, 1)]
    assert arts[0].title == "创业补贴" and "申请条件" in arts[0].body
    assert arts[2].labels == ("二、", "1.")


def test_unstructured_text_falls_back_to_paragraphs_with_a_warning(caplog):
    text = "这是一段没有编号的说明。\n\n第二段也没有编号，但有内容。\n"
    with caplog.at_level(logging.WARNING):
        arts = parse_document("doc-z", text)
    assert [a.path for a in arts] == [(1,), (2,)]
    assert "paragraph" in caplog.text


@pytest.mark.parametrize("field", ["doc_id", "title", "short_name", "level"])
def test_broken_metadata_names_file_and_field(tmp_path, field):
    root = write_corpus(tmp_path / "c", {"doc-a": "一、总则\n（一）目标。就业优先。"})
    meta = json.loads((root / "documents.json").read_text(encoding="utf-8"))
    del meta["documents"][0][field]
    (root / "documents.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        load_corpus(root)
    assert "documents.json" in str(err.value) and f"'{field}'" in str(err.value)


def test_metadata_that_is_not_json(tmp_path):
    root = write_corpus(tmp_path / "c", {"doc-a": "一、总则"})
    (root / "documents.json").write_bytes(b"{\"documents\": [")
    with pytest.raises(CorpusError, match="documents.json"):
        load_corpus(root)


@pytest.mark.parametrize("encoding", ["gb18030", "utf-16"])
def test_a_gb18030_or_utf16_document_is_converted_and_reported(tmp_path, encoding, caplog):
    text = "一、总则\n（一）目标。促进就业，扶持创业。"
    root = write_corpus(tmp_path / "c", {"doc-a": text, "doc-b": "一、总则\n（一）其他。"})
    (root / "doc-a.txt").write_bytes(text.encode(encoding))
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(root)
    assert corpus.article("doc-a:1.1").body == "促进就业，扶持创业。"
    assert any(encoding.upper().replace("-", "") in p.upper().replace("-", "") and "doc-a.txt" in p
               for p in corpus.problems)


def test_an_unreadable_document_is_skipped_and_the_others_serve(tmp_path, caplog):
    root = write_corpus(tmp_path / "c", {"doc-a": "一、总则", "doc-b": "一、总则\n（一）目标。就业优先。"})
    (root / "doc-a.txt").write_bytes(bytes(range(256)) * 8)
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(root)
    assert [d.doc_id for d in corpus.documents] == ["doc-b"]
    assert "doc-a.txt" in caplog.text and "UTF-8" in caplog.text


def test_missing_document_file_is_skipped_with_its_name(tmp_path, caplog):
    root = write_corpus(tmp_path / "c", {"doc-a": "一、总则", "doc-b": "一、总则\n（一）目标。就业优先。"})
    (root / "doc-a.txt").unlink()
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(root)
    assert [d.doc_id for d in corpus.documents] == ["doc-b"] and "doc-a.txt" in caplog.text


def test_no_readable_document_at_all_says_so(tmp_path):
    root = write_corpus(tmp_path / "c", {"doc-a": "一、总则"})
    (root / "doc-a.txt").unlink()
    with pytest.raises(CorpusError, match="doc-a.txt"):
        load_corpus(root)


def test_number_may_be_empty_and_level_must_be_known(tmp_path):
    root = write_corpus(tmp_path / "c", {"doc-a": "一、总则\n（一）目标。就业优先。"}, meta_extra={"doc-a": {"number": ""}})
    assert load_corpus(root).documents[0].number == ""
    root = write_corpus(tmp_path / "d", {"doc-a": "一、总则"}, meta_extra={"doc-a": {"level": "盟市"}})
    with pytest.raises(CorpusError, match="'level'.*地市级"):
        load_corpus(root)


def test_file_field_cannot_escape_the_corpus_folder(tmp_path):
    root = write_corpus(tmp_path / "c", {"doc-a": "一、总则"}, meta_extra={"doc-a": {"file": "../secret.txt"}})
    with pytest.raises(CorpusError, match="'file'"):
        load_corpus(root)


def test_corrections_for_unknown_documents_are_rejected(tmp_path):
    root = write_corpus(tmp_path / "c", {"doc-a": "一、总则"}, corrections="doc-b\t错\t对\tnote\n")
    with pytest.raises(CorpusError, match="doc-b"):
        load_corpus(root)


def test_stale_correction_warns(tmp_path, caplog):
    root = write_corpus(tmp_path / "c", {"doc-a": "一、总则\n（一）目标。就业优先。"},
                        corrections="doc-a\t不存在的错字\t对\tnote\ndoc-a\t就业优先\t就业第一\tnote\n")
    with caplog.at_level(logging.WARNING):
        corpus = load_corpus(root)
    assert "不存在的错字" in caplog.text
    assert corpus.articles[0].body == "就业第一。"


def test_a_third_document_needs_only_a_text_file_and_a_metadata_entry(real_corpus_copy):
    (real_corpus_copy / "demo-2020-1.txt").write_text(CHAPTERS, encoding="utf-8")
    meta = json.loads((real_corpus_copy / "documents.json").read_text(encoding="utf-8"))
    meta["documents"].append({"doc_id": "demo-2020-1", "file": "demo-2020-1.txt", "title": "某某市就业促进办法",
                              "short_name": "某某市办法", "issuer": "某某市人民政府", "number": "某政发〔2020〕1号",
                              "date": "2020", "level": "地市级", "region": "巴彦淖尔市"})
    (real_corpus_copy / "documents.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    corpus = load_corpus(real_corpus_copy)
    assert len(corpus.articles) == 26 + 27 + 4
    assert corpus.article("demo-2020-1:2.3").title == ""


def test_the_shipped_routing_table_lists_no_topic_the_shipped_documents_hold():
    from retrieval.documents.check import corpus_report
    root = ROOT / "corpus"
    report = [line for line in corpus_report(load_corpus(root), root / "lexicon") if "out_of_scope.tsv" in line]
    assert report == []


def test_check_reports_what_contradicts_the_corpus(tmp_path):
    from retrieval.documents.check import corpus_report
    root = write_corpus(tmp_path / "c", {"doc-a": "一、总则\n（一）目标。对失业人员发放失业保险金。",
                                         "doc-b": "一、总则\n（一）其他。就业优先。"},
                        meta_extra={"doc-b": {"region": ""}})
    (root / "lexicon").mkdir()
    (root / "lexicon" / "out_of_scope.tsv").write_text("term\trefer_to\tnote\n失业保险金\t社保\tx\n护照\t公安\tx\n"
                                                       "失业 发放\t社保\tx\n失业 护照\t公安\tx\n",
                                                       encoding="utf-8")
    (root / "lexicon" / "synonyms.tsv").write_text("resident_words\tdocument_words\n下岗\t失业人员\n退伍兵\t退役士兵\n",
                                                   encoding="utf-8")
    report = "\n".join(corpus_report(load_corpus(root), root / "lexicon"))
    assert "'失业保险金'" in report and "护照" not in report
    assert "'失业 发放'" in report  # words said together, all in one article
    assert "退役士兵" in report and "失业人员" not in report
    assert "doc-b: no 'region'" in report
    assert "home_region" in report
