"""web.feedback: the SQLite store is created on demand and never holds personal numbers."""
import sqlite3
import threading

import pytest

from web.feedback import Feedback, FeedbackError, FeedbackStore, from_answer, normalize_rating

ID = "11010519491231002X"
PHONE = "13812345678"


def test_created_on_demand_and_redacted(tmp_path):
    path = tmp_path / "nested" / "dir" / "feedback.sqlite3"
    store = FeedbackStore(path)
    assert not path.exists()
    assert store.rows() == []
    row_id = store.add(Feedback("down", f"我身份证{ID}，手机{PHONE}，能贷款吗？", f"回答里也有{PHONE}",
                                ("nmg-2017-132:3.4", "byn-2018-49:3.10"), refused=False, comment=f"打{PHONE}"))
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


def test_from_answer_dict(tmp_path):
    answer = {"question": f"电话{PHONE}", "answer": "根据…[1]", "refused": True,
              "citations": [{"id": "byn-2018-49:4.11"}], "related": []}
    store = FeedbackStore(tmp_path / "f.sqlite3")
    store.add(from_answer(answer, False, source="chat"))
    (row,) = store.rows()
    assert row["question"] == "电话[手机号]" and row["rating"] == "down" and row["refused"] == 1
    assert row["citation_ids"] == ["byn-2018-49:4.11"] and row["source"] == "chat"


@pytest.mark.parametrize("value, expected", [
    ("up", "up"), ("down", "down"), ("👍", "up"), ("👎", "down"), (True, "up"), (False, "down"),
    (1, "up"), (-1, "down"), ("Like", "up"), ("dislike", "down"),
])
def test_ratings(value, expected):
    assert normalize_rating(value) == expected


@pytest.mark.parametrize("value", ["", "meh", 0, 5, None, 2.0])
def test_bad_ratings(value, tmp_path):
    with pytest.raises(FeedbackError):
        normalize_rating(value)
    with pytest.raises(FeedbackError):
        FeedbackStore(tmp_path / "f.sqlite3").add(Feedback(value, "q", "a"))  # type: ignore[arg-type]


def test_long_text_is_clipped(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    store.add(Feedback("up", "问" * 50_000, "答"))
    assert len(store.rows()[0]["question"]) == 4000


def test_concurrent_writes(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    threads = [threading.Thread(target=store.add, args=(Feedback("up", f"问题{i}", "答"),)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.rows()) == 12
