"""The runner's plumbing with a stand-in assistant and baseline (fast; no model is loaded)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from eval import run
from eval.baselines import Baseline

GOLD = {"补贴": "d:1.1", "贷款": "d:1.2", "见习": "d:2.1"}
QUESTIONS = [
    {"id": "q1", "question": "有什么补贴？", "gold": ["d:1.1"], "must_include": ["培训补贴"], "answerable": True,
     "category": "direct", "history": []},
    {"id": "q2", "question": "贷款能贷多少？", "gold": ["d:1.2", "d:1.1"], "must_include": ["10万元"],
     "answerable": True, "category": "direct", "history": []},
    {"id": "q3", "question": "那见习呢？", "gold": ["d:2.1"], "must_include": ["见习补贴"], "answerable": True,
     "category": "followup", "history": [{"role": "user", "content": "毕业生有什么政策？"},
                                         {"role": "assistant", "content": "……"}]},
    {"id": "q4", "question": "明天天气怎么样？", "gold": [], "must_include": [], "answerable": False,
     "category": "offtopic", "history": []},
]


class FakeAnswer:
    def __init__(self, d):
        self.d = d

    def to_dict(self):
        return self.d


class FakeAssistant:
    """Answers by keyword; cites the matching article with a quote; declines otherwise."""

    def __init__(self):
        self.corpus = SimpleNamespace(articles=[SimpleNamespace(id=i) for i in ("d:1.1", "d:1.2", "d:2.1")])
        self.index = SimpleNamespace(manifest={"embedder": "fake", "built_at": "today", "corpus_fingerprint": "f"})
        self.asked = []

    def ask(self, question, history=None, doc_ids=None):
        from retrieval.types import QuestionError
        self.asked.append((question, history))
        if not question.strip():
            raise QuestionError("问题是空的")
        for word, art in GOLD.items():
            if word in question:
                quote = {"补贴": "给予职业培训补贴", "贷款": "最高10万元", "见习": "给予见习补贴"}[word]
                extra = "，期限3年" if word == "贷款" else ""   # 3 is in no quote
                return FakeAnswer({"question": question, "answer": f"{quote}{extra}[1]", "refused": False,
                                   "citations": [{"id": art, "quote": quote}], "related": []})
        return FakeAnswer({"question": question, "answer": "抱歉，请拨打12333。", "refused": True, "citations": [],
                           "related": [], "refusal_reason": "no_match"})


class FakeBaseline(Baseline):
    name = "bm25"

    def __init__(self):
        self.queries = []

    def search(self, query, k=10):
        self.queries.append(query)
        return ["d:2.1", "d:1.2", "d:1.1"][:k]

    def describe(self):
        return "always the same ranking"


@pytest.fixture
def report():
    return run.evaluate(QUESTIONS, assistant=FakeAssistant(), baselines=[FakeBaseline()], source="fake.jsonl")


def test_evaluate_scores_the_assistant_and_the_baseline_side_by_side(report):
    a = report["systems"]["assistant"]["overall"]
    assert a["hit@1"] == pytest.approx(1.0) and a["refusal_accuracy"] == 1.0 and a["false_refusal_rate"] == 0.0
    assert a["unsupported_numbers"] == 1                         # the 3 of q2
    assert a["key_fact_coverage"] == 1.0
    b = report["systems"]["bm25"]["overall"]
    assert b["hit@1"] == pytest.approx(1 / 3) and b["hit@3"] == 1.0
    assert b["refusal_accuracy"] is None and b["key_fact_coverage"] is None
    assert report["ratios"]["bm25"]["hit@1"] == pytest.approx(3.0)
    assert report["ratios"]["bm25"]["refusal_accuracy"] is None
    assert set(report["systems"]["assistant"]["by_category"]) == {"direct", "followup", "offtopic"}
    assert report["gate"]["failures"] == []
    json.dumps(report, ensure_ascii=False)                       # the report is plain data


def test_follow_ups_reach_the_assistant_with_history_and_the_baseline_with_the_previous_turn():
    assistant, baseline = FakeAssistant(), FakeBaseline()
    run.evaluate(QUESTIONS, assistant=assistant, baselines=[baseline])
    assert ("那见习呢？", QUESTIONS[2]["history"]) in assistant.asked
    assert "毕业生有什么政策？ 那见习呢？" in baseline.queries


def test_raw_answers_come_back_in_question_order_and_rejected_questions_as_errors():
    questions = [*QUESTIONS[:2], {**QUESTIONS[0], "id": "q9", "question": "   "}]
    report = run.evaluate(questions, assistant=FakeAssistant(), baselines=[])
    answers = report["answers"]
    assert [a["question"] for a in answers] == ["有什么补贴？", "贷款能贷多少？", "   "]
    assert answers[2] == {"question": "   ", "error": "问题是空的"}
    row = report["per_question"]["assistant"][2]
    assert row["refused"] is True and row["hit@1"] == 0.0 and row["error"] == "问题是空的"
    assert list(report["systems"]) == ["assistant"]


def test_the_gate_applies_to_the_development_set_only(report):
    assert report["gate"]["applies"] is False                    # fake.jsonl
    dev = run.evaluate(QUESTIONS, assistant=FakeAssistant(), baselines=[], source=str(run.DEFAULT_QUESTIONS))
    assert dev["gate"]["applies"] is True
    assert "for reference only" in run.markdown_report(report)
    assert "for reference only" not in run.markdown_report(dev)


def test_gate_failures_name_each_shortfall(report):
    assert run.gate_failures(report) == []
    worse = json.loads(json.dumps(report))
    a = worse["systems"]["assistant"]["overall"]
    a.update({"hit@3": 0.9, "hit@1": 0.8, "refusal_accuracy": 0.95, "false_refusal_rate": 0.05})
    worse["systems"]["bm25"]["overall"]["hit@3"] = 0.92
    failures = run.gate_failures(worse)
    assert len(failures) == 5
    assert any("hit@3 0.900 is below 0.95" in f for f in failures)
    assert any("BM25" in f for f in failures)


def test_tables_list_every_metric_and_ratio(report):
    table = run.comparison_table(report)
    for name in ("hit@1", "hit@3", "MRR@10", "citation precision", "citation recall", "key-fact coverage",
                 "refusal accuracy", "false-refusal rate", "unsupported numbers", "latency p50", "latency p95"):
        assert name in table
    assert "÷ BM25 (jieba)" in table and "3.00" in table and "n/a" in table
    cats = run.category_table(report)
    assert "followup" in cats and "(all)" in cats


def test_write_report_writes_markdown_json_and_a_chart(report, tmp_path):
    paths = run.write_report(report, tmp_path)
    assert set(paths) == {"md", "json", "png"}
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = paths["md"].read_text(encoding="utf-8")
    assert "## Comparison" in md and "q2 unsupported numbers ['3']" in md
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["n_questions"] == 4
    again = run.write_report(report, tmp_path, chart=False)      # same second: a new name, nothing overwritten
    assert again["md"] != paths["md"] and "png" not in again


def test_load_questions_accepts_the_shipped_sets():
    dev = run.load_questions(run.DEFAULT_QUESTIONS)
    held = run.load_questions(run.ROOT / "eval" / "heldout.jsonl")
    assert len(dev) == 134 and len(held) == 66
    assert not {q["id"] for q in dev} & {q["id"] for q in held}


@pytest.mark.parametrize("line, message", [
    ("not json", "not JSON"),
    ('{"id": "x"}', "field 'question'"),
    ('{"id": "x", "question": "q", "gold": [], "must_include": [], "answerable": true, "category": "c", '
     '"history": []}', "at least one gold"),
    ('{"id": "x", "question": "q", "gold": [1], "must_include": [], "answerable": true, "category": "c", '
     '"history": []}', "list of strings"),
    ('{"id": "x", "question": "q", "gold": [], "must_include": [], "answerable": false, "category": "c", '
     '"history": [{"role": "user"}]}', "history"),
])
def test_load_questions_says_which_line_is_wrong(tmp_path, line, message):
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(QUESTIONS[0], ensure_ascii=False) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as e:
        run.load_questions(path)
    assert ":3:" in str(e.value)


def test_load_questions_rejects_duplicate_ids(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [QUESTIONS[0]] * 2), encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate id"):
        run.load_questions(path)


def test_main_prints_the_table_and_writes_answers_and_reports(tmp_path, monkeypatch, capsys):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS), encoding="utf-8")
    seen = {}
    real_evaluate = run.evaluate

    def fake_evaluate(questions, baselines, progress, source):
        seen.update(n=len(questions), baselines=baselines, progress=progress)
        return real_evaluate(questions, assistant=FakeAssistant(), baselines=[FakeBaseline()], source=source)

    monkeypatch.setattr(run, "evaluate", fake_evaluate)
    out = tmp_path / "answers.jsonl"
    code = run.main(["--questions", str(qfile), "--answers-out", str(out), "--limit", "3",
                     "--reports-dir", str(tmp_path / "reports"), "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    assert seen == {"n": 3, "baselines": ["bm25", "dense", "langchain"], "progress": False}
    assert "| hit@1" in printed
    assert "FAILS — refusal_accuracy n/a" in printed             # no unanswerable question among the first 3
    assert "gate thresholds (they apply to the whole development set)" in printed
    assert [json.loads(line)["question"] for line in out.read_text(encoding="utf-8").splitlines()] == \
        [q["question"] for q in QUESTIONS[:3]]
    assert len(list((tmp_path / "reports").glob("*.md"))) == 1

    assert run.main(["--questions", str(qfile), "--no-report", "--limit", "3", "--gate"]) == 1
    assert run.main(["--questions", str(qfile), "--no-report", "--no-baselines", "--gate"]) == 0
    assert seen["baselines"] == [] and "passes" in capsys.readouterr().out


def test_main_rejects_bad_arguments(tmp_path, capsys):
    assert run.main(["--questions", str(tmp_path / "missing.jsonl")]) == 2
    assert run.main(["--baselines", "bm25,nope", "--no-report"]) == 2
    assert run.main(["--limit", "0"]) == 2
    assert "error" in capsys.readouterr().err


def test_facts_of_a_document_not_loaded_are_dropped_with_its_gold_ids():
    article = SimpleNamespace(id="d:1.1", title="创业扶持", body="给予一次性创业补贴。", departments=["市人社局"])
    assistant = SimpleNamespace(corpus=SimpleNamespace(docs_by_id={"d": None}, articles=[article]))
    questions = [
        # the law's words cannot be quoted when the law is not loaded; the loaded document's can
        {"id": "a", "question": "?", "gold": ["d:1.1", "law:2.7"], "answerable": True,
         "must_include": ["一次性创业补贴", "小额信贷", "市人社局"]},
        # every gold document loaded: a fact that no document holds still counts (a miss, not dropped)
        {"id": "b", "question": "?", "gold": ["d:1.1"], "answerable": True, "must_include": ["小额信贷"]},
        {"id": "c", "question": "?", "gold": ["law:2.7"], "answerable": True, "must_include": ["小额信贷"]},
        {"id": "u", "question": "?", "gold": [], "answerable": False},
    ]
    kept, skipped = run.for_loaded_documents(questions, assistant)
    assert skipped == ["c"]
    by_id = {q["id"]: q for q in kept}
    assert by_id["a"]["gold"] == ["d:1.1"] and by_id["a"]["must_include"] == ["一次性创业补贴", "市人社局"]
    assert by_id["b"]["must_include"] == ["小额信贷"]
    assert "must_include" not in by_id["u"]
