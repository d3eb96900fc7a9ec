import pytest

from retrieval.documents.text import clean_control, cn_to_int, int_to_cn, normalize_whitespace, split_sentences

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text,value", [("一", 1), ("十", 10), ("十二", 12), ("二十", 20), ("二十七", 27),
                                        ("一百零三", 103), ("两", 2), ("12", 12), ("１２", 12)])
def test_cn_to_int(text, value):
    assert cn_to_int(text) == value


def test_cn_to_int_rejects_non_numerals():
    with pytest.raises(ValueError):
        cn_to_int("孵化")


@pytest.mark.parametrize("n", [1, 9, 10, 11, 19, 20, 27, 99, 100, 103, 110, 999])
def test_int_to_cn_round_trips(n):
    assert cn_to_int(int_to_cn(n)) == n


def test_normalize_whitespace_drops_spaces_between_chinese_but_keeps_latin_words():
    assert normalize_whitespace("扩大服务业就业 比重。 到 2020 年") == "扩大服务业就业比重。到2020年"
    assert normalize_whitespace("hello world") == "hello world"


def test_split_sentences_keeps_brackets_and_quotes_whole():
    text = "继续实施“创业内蒙古”行动计划（2016-2020。试行）。对首次创业的，给予补贴；另有规定！"
    assert split_sentences(text) == ["继续实施“创业内蒙古”行动计划（2016-2020。试行）。", "对首次创业的，给予补贴；", "另有规定！"]


def test_clean_control_removes_control_and_format_characters():
    assert clean_control("a\x00b\u200bc\x1bd\ne") == "abcd e"
