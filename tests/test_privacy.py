"""web.privacy: personal numbers are removed, look-alikes are kept."""
import pytest

from retrieval.privacy import (
    BANK_CARD,
    ID_CARD,
    NAME,
    PHONE,
    contains_personal_data,
    find,
    id_checksum_ok,
    is_id_card,
    luhn_ok,
    redact,
)

pytestmark = pytest.mark.unit

VALID_ID = "11010519491231002X"      # GB 11643 example number, valid check character
VALID_ID_2 = "440524198001011219"  # also passes Luhn
VALID_CARD = "4111111111111111"      # Luhn-valid 16 digits
VALID_CARD_19 = "6222021234567890128"


def test_checksums():
    assert id_checksum_ok(VALID_ID)
    assert id_checksum_ok(VALID_ID.lower())
    assert id_checksum_ok(VALID_ID_2)
    assert not id_checksum_ok("110105194912310021")
    assert luhn_ok(VALID_CARD) and luhn_ok(VALID_CARD_19)
    assert not luhn_ok("4111111111111112")
    assert not luhn_ok("")


@pytest.mark.parametrize("text, expected", [
    (f"我的身份证号是{VALID_ID}，能申请吗", f"我的身份证号是{ID_CARD}，能申请吗"),
    (f"身份证 {VALID_ID.lower()} 谢谢", f"身份证 {ID_CARD} 谢谢"),
    ("身份证110105 19491231 002X", f"身份证{ID_CARD}"),
    ("电话13812345678", f"电话{PHONE}"),
    ("电话 138-1234-5678 或 +86 139 1234 5678", f"电话 {PHONE} 或 {PHONE}"),
    ("手机：８６１３８１２３４５６７８", f"手机：{PHONE}"),  # full-width digits
    (f"卡号{VALID_CARD}", f"卡号{BANK_CARD}"),
    ("卡号 4111 1111 1111 1111 。", f"卡号 {BANK_CARD} 。"),
    (f"卡号{VALID_CARD_19}", f"卡号{BANK_CARD}"),
    (f"{VALID_ID}/13812345678/{VALID_CARD}", f"{ID_CARD}/{PHONE}/{BANK_CARD}"),
])
def test_redacts(text, expected):
    assert redact(text) == expected
    assert contains_personal_data(text)


@pytest.mark.parametrize("text", [
    "创业担保贷款最高多少？",
    "内政发〔2017〕132号第三部分第（四）条",
    "拨打12333咨询",
    "110105194912310021",            # ID shape with a wrong check character
    "110105194913310025",            # month 13: not a birth date
    "4111111111111112",              # fails Luhn
    "1381234567",                    # 10 digits: not a mobile number
    "238123456789",                  # 12 digits
    "订单号138123456789012",          # a phone number glued to more digits is something else
    "2017年5月22日，2018-05-22",
    "ABC13812345678",                # glued to letters
])
def test_leaves_non_personal_numbers(text):
    assert redact(text) == text
    assert not contains_personal_data(text)


def test_id_takes_precedence_over_bank_card():
    # 18 digits that pass both checks are reported once, as an ID card
    assert [f.kind for f in find(f"号码{VALID_ID_2}")] == ["id_card"]


def test_fifteen_digit_id():
    assert is_id_card("110105491231002")
    assert redact("老身份证110105491231002") == f"老身份证{ID_CARD}"


def test_non_text_and_empty():
    assert redact("") == ""
    assert redact(None) is None  # type: ignore[arg-type]
    assert find(None) == []  # type: ignore[arg-type]


def test_offsets_survive_full_width_characters():
    text = "姓名张三，电话：１３８ １２３４ ５６７８，住址"
    assert redact(text) == f"姓名{NAME}，电话：{PHONE}，住址"


@pytest.mark.parametrize("text,kept,gone", [
    ("我叫张三，住临河区新华街12号，想开个小店有什么扶持？", "想开个小店有什么扶持", ["张三", "新华街12号"]),
    ("姓名：李四，电话13812345678", "电话", ["李四", "13812345678"]),
    ("家住五原县隆兴昌镇，退伍兵找工作有啥政策", "退伍兵找工作有啥政策", ["隆兴昌镇"]),
    ("地址是临河区胜利路8号3单元", "", ["胜利路8号"]),
])
def test_stated_names_and_addresses_are_redacted(text, kept, gone):
    out = redact(text)
    assert kept in out
    for g in gone:
        assert g not in out


@pytest.mark.parametrize("text", ["我是返乡农民工，想回乡创业", "我是退役军人", "住房公积金能异地转移吗", "创业园地址在哪"])
def test_roles_and_topics_are_not_names_or_addresses(text):
    assert redact(text) == text


# ---------------------------------------------------------------- forms an outside probe got past (issue 13)

@pytest.mark.parametrize("text, secret", [
    ("身份证 110105 1949 1231 002X 能办吗", "1949"),                       # spaces in other places
    ("身份证110105.19491231.002X", "19491231"),                           # dots
    ("身份证1101\u200b0519\u200b4912\u200b3100\u200b2X", "0519"),        # zero-width spaces
    ("我的身份证号码是370102198507203311，能办吗", "370102198507203311"),   # wrong check digit, after a cue
    ("手机138.1234.5678", "1234"),
    ("电话 1381 234 5678", "234 5678"),
    ("电话一三八一二三四五六七八", "一二三四五六七八"),                     # Chinese digits
    ("打幺三八一二三四五六七八找我", "一二三四五六七八"),
    ("手机138\u200b1234\u200b5678", "5678"),                             # zero-width spaces
    ("手机１３８．１２３４．５６７８", "５６７８"),                            # full-width, full-width dots
    ("银行卡6222.0212.3456.7894", "3456"),
    ("卡号622202 1234567894", "1234567894"),
    ("银行卡 6217 0000 1234 5678 901", "5678"),                          # fails Luhn, after a cue
    ("座机0471-8123456", "8123456"),
])
def test_numbers_in_other_forms(text, secret):
    out = redact(text)
    assert secret not in out, out
    assert "[" in out


@pytest.mark.parametrize("text, name", [
    ("我叫张伟要申请创业担保贷款", "张伟"),
    ("我叫王小明今年35岁", "王小明"),
    ("我叫张家豪", "张家豪"),
    ("我叫欧阳娜娜想问一下", "欧阳娜娜"),
    ("名字：王芳，想问失业金", "王芳"),
    ("本人李建国，申请灵活就业补贴", "李建国"),
    ("我姓刘，想问社保补贴", "刘"),
    ("我姓诸葛名亮，想创业", "诸葛"),
])
def test_names_without_punctuation_or_with_other_cues(text, name):
    out = redact(text)
    assert name not in out and NAME in out, out


@pytest.mark.parametrize("text, place", [
    ("我住幸福小区12栋2单元301，失业了能领什么", "12栋"),
    ("幸福小区12栋2单元301室，想问补贴", "幸福小区"),
    ("家住阳光花园3号楼1单元502", "502"),
    ("我住临河区新华街8号", "新华街"),
])
def test_addresses_after_wo_zhu_and_estates(text, place):
    out = redact(text)
    assert place not in out and "[地址]" in out, out


@pytest.mark.parametrize("text, kept, gone", [
    ("家住五原县隆兴昌镇，退伍兵找工作有啥政策", "家住五原县", "隆兴昌镇"),
    ("我住磴口县补隆淖镇河壕村，地都流转了，能登记失业吗", "磴口县", "河壕村"),
    ("我住在呼和浩特市赛罕区大学西街", "呼和浩特市赛罕区", "大学西街"),
    ("我住包头，想创业有什么补贴", "我住包头", None),      # a city alone names nobody: nothing to redact
    ("我住在农村，能登记失业吗", "我住在农村", None),
])
def test_where_the_rules_apply_stays_what_names_a_home_goes(text, kept, gone):
    out = redact(text)
    assert kept in out, out
    assert (gone not in out and "[地址]" in out) if gone else out == text, out


@pytest.mark.parametrize("text", ["本人想申请创业补贴", "我住房公积金断缴了怎么办", "姓名是否必须填写", "拨打12333咨询",
                                  "第一二三四五六七条", "一二三四五六七八九十", "创业园3年内免租金", "2017.05.22"])
def test_cues_without_personal_data_are_left_alone(text):
    assert redact(text) == text
