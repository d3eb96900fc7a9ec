"""The quality gate: the real assistant on the development set, against the baselines (slow, ~2 min).

Thresholds are the team's bar for eval/questions.jsonl; if this fails, fix the core, do not lower them.
`python -m eval.run` prints the same numbers with the failing questions in eval/reports/<timestamp>.md.
"""
from __future__ import annotations

import pytest

from eval import run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MIN_HIT_AT_3 = 0.95
MIN_HIT_AT_1 = 0.85
MAX_FALSE_REFUSALS = 0.03


@pytest.fixture(scope="module")
def report():
    from retrieval.answering.assistant import Assistant
    from retrieval.config import Settings

    assistant = Assistant.load(Settings.load())
    return run.evaluate(run.load_questions(run.DEFAULT_QUESTIONS), assistant=assistant,
                        source=str(run.DEFAULT_QUESTIONS))


def _overall(report, system="assistant"):
    return report["systems"][system]["overall"]


def _missed(report, test) -> str:
    rows = [r for r in report["per_question"]["assistant"] if test(r)]
    return "\n".join(f"  {r['id']} {r['question']} gold={r['gold']} cited={r['cited']} refused={r['refused']}"
                     for r in rows)


def test_every_question_was_answered_and_every_gold_id_exists(report):
    assert len(report["answers"]) == report["n_questions"] == 134
    assert not [a for a in report["answers"] if "error" in a]
    assert report["unknown_gold_ids"] == [], "gold ids that are not articles of the corpus"


def test_hit_at_3(report):
    assert _overall(report)["hit@3"] >= MIN_HIT_AT_3, \
        "no gold article among the citations:\n" + _missed(report, lambda r: r["answerable"] and not r["hit@3"])


def test_hit_at_1(report):
    assert _overall(report)["hit@1"] >= MIN_HIT_AT_1, \
        "first citation not a gold article:\n" + _missed(report, lambda r: r["answerable"] and not r["hit@1"])


def test_declines_every_unanswerable_question(report):
    assert _overall(report)["n_unanswerable"] > 0
    assert _overall(report)["refusal_accuracy"] == 1.0, \
        "answered but should have declined:\n" + _missed(report, lambda r: not r["answerable"] and not r["refused"])


def test_false_refusals(report):
    assert _overall(report)["false_refusal_rate"] <= MAX_FALSE_REFUSALS, \
        "declined an answerable question:\n" + _missed(report, lambda r: r["answerable"] and r["refused"])


def test_not_below_any_baseline_on_hit_at_3(report):
    baselines = [n for n in report["systems"] if n != "assistant"]
    assert set(baselines) == {"bm25", "dense", "langchain"}
    for name in baselines:
        assert _overall(report)["hit@3"] >= _overall(report, name)["hit@3"], \
            f"{name}: {_overall(report, name)['hit@3']:.3f} > assistant {_overall(report)['hit@3']:.3f}"


def test_the_gate_in_the_report_agrees(report):
    assert run.GATE.min_hit_at_3 == MIN_HIT_AT_3 and run.GATE.min_hit_at_1 == MIN_HIT_AT_1
    assert run.GATE.max_false_refusal_rate == MAX_FALSE_REFUSALS and run.GATE.min_refusal_accuracy == 1.0
    assert report["gate"]["failures"] == []
