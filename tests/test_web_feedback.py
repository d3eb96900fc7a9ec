"""web.feedback: ratings and entries read from requests or answer objects; stored redacted by web.storage."""
import sqlite3
import threading

import pytest

from web.feedback import FeedbackError, from_answer, from_fields, normalize_rating
from web.storage import Store

pytestmark = pytest.mark.integration

ID = "11010519491231002X"
PHONE = "13812345678"


def add(store, fb):
    return store.add_feedback(fb.rating, fb.question, fb.answer, fb.citation_ids, fb.refused, fb.comment, fb.source)


def test_created_on_demand_and_redacted(tmp_path):
    path = tmp_path / "nested" / "dir" / "feedback.sqlite3"
    store = Store(path)
    assert not path.exists()
    assert store.rows() == []
    row_id = add(store, from_fields("down", f"我身份证{ID}，手机{PHONE}，能贷款吗？", f"回答里也有{PHONE}",
                                    ["nmg-2017-132:3.4", "byn-2018-49:3.10"], refused=False, comment=f"打{PHONE}"))
    assert path.is_file() and row_id == 1
    raw = sqlite3.connect(path).execute("SELECT * FROM feedback").fetchall()
    assert ID not in repr(raw) and PHONE not in repr(raw)
    (row,) = store.rows()
    assert row["rating"] == "down"
    assert row["question"] == "我身份证[身份证号]，手机[手机号]，能贷款吗？"
    assert row["answer"] == "回答里也有[手机号]"
    assert row["comment"] == "打[手机号]"
    assert row["citation_ids"] == ["nmg-2017-132:3.4", "byn-2018-49:3.10"]
    assert row["refused"] == 0
    assert row["created_at"].endswith("+00:00")
    store.close()


def test_from_answer_dict(tmp_path):
    answer = {"question": f"电话{PHONE}", "answer": "根据…[1]", "refused": True,
              "citations": [{"id": "byn-2018-49:4.11"}], "related": []}
    store = Store(tmp_path / "f.sqlite3")
    add(store, from_answer(answer, False, source="chat"))
    (row,) = store.rows()
    assert row["question"] == "电话[手机号]" and row["rating"] == "down" and row["refused"] == 1
    assert row["citation_ids"] == ["byn-2018-49:4.11"] and row["source"] == "chat"
    store.close()


@pytest.mark.parametrize("answer", [
    {"question": 5, "answer": None, "citations": 7, "refused": "yes"},
    {"citations": "nmg-2017-132:3.4"},
    {"citations": [None, 3, {"id": {"nested": 1}}]},
    {},
])
def test_malformed_answer_objects_are_read_as_far_as_they_go(answer):
    fb = from_fields("up", answer=answer)
    assert fb.rating == "up" and isinstance(fb.question, str) and isinstance(fb.answer, str)
    assert all(isinstance(c, str) for c in fb.citation_ids)


@pytest.mark.parametrize("value, expected", [
    ("up", "up"), ("down", "down"), ("👍", "up"), ("👎", "down"), (True, "up"), (False, "down"),
    (1, "up"), (-1, "down"), ("Like", "up"), ("dislike", "down"),
])
def test_ratings(value, expected):
    assert normalize_rating(value) == expected


@pytest.mark.parametrize("value", ["", "meh", 0, 5, None, 2.0, [], {"up": 1}])
def test_bad_ratings(value):
    with pytest.raises(FeedbackError):
        normalize_rating(value)
    with pytest.raises(FeedbackError):
        from_fields(value, "q", "a")


def test_long_text_is_clipped(tmp_path):
    store = Store(tmp_path / "f.sqlite3")
    store.add_feedback("up", "问" * 50_000, "答")
    assert len(store.rows()[0]["question"]) == 4000
    store.close()


def test_concurrent_writes(tmp_path):
    store = Store(tmp_path / "f.sqlite3")
    threads = [threading.Thread(target=store.add_feedback, args=("up", f"问题{i}", "答")) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.rows()) == 12
    store.close()
