"""web.privacy: personal numbers are removed, look-alikes are kept."""
import pytest

from retrieval.privacy import (BANK_CARD, ID_CARD, NAME, PHONE, contains_personal_data, find, id_checksum_ok, is_id_card,
                         luhn_ok, redact)

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
