"""The evaluation metrics on tiny hand-made inputs (no models, no files)."""
from __future__ import annotations

import pytest

from eval.metrics import (
    Outcome,
    citation_precision,
    citation_recall,
    hit_at_k,
    key_fact_coverage,
    numbers_in,
    percentile,
    ratio,
    reciprocal_rank,
    score,
    summarize,
    summarize_by_category,
    unsupported_numbers,
)

pytestmark = pytest.mark.unit

A, B, C, D = "doc:1.1", "doc:1.2", "doc:2.1", "doc:2.2"


# ---------------------------------------------------------------- ranking

def test_hit_at_k_counts_any_gold_id_within_the_first_k():
    assert hit_at_k([A, B, C], [B], 1) == 0.0
    assert hit_at_k([A, B, C], [B], 3) == 1.0
    assert hit_at_k([A, B, C], [D, A], 1) == 1.0   # any gold id, not only the first
    assert hit_at_k([A, B, C, D], [D], 3) == 0.0


def test_hit_on_nothing_cited_is_a_miss():
    assert hit_at_k([], [A], 1) == 0.0
    assert hit_at_k([], [A], 3) == 0.0
    assert reciprocal_rank([], [A]) == 0.0


def test_reciprocal_rank_is_one_over_the_first_gold_rank_within_ten():
    assert reciprocal_rank([A, B, C], [A]) == 1.0
    assert reciprocal_rank([A, B, C], [C, B]) == 0.5
    assert reciprocal_rank([D, D, C], [C]) == 0.5            # repeats do not take a rank
    ranked = [f"x:{i}" for i in range(10)] + [A]
    assert reciprocal_rank(ranked, [A]) == 0.0                  # rank 11 is beyond @10
    assert reciprocal_rank(ranked, [A], k=11) == pytest.approx(1 / 11)


# ---------------------------------------------------------------- citations

def test_citation_precision_is_the_share_of_cited_ids_in_gold():
    assert citation_precision([A, B, C], [A, C, D]) == pytest.approx(2 / 3)
    assert citation_precision([A], [A, B]) == 1.0
    assert citation_precision([A, A, B], [A]) == 0.5            # distinct ids
    assert citation_precision([], [A]) == 0.0                   # nothing cited: no credit


def test_citation_recall_is_the_share_of_gold_ids_cited():
    assert citation_recall([A, B, C], [A, C, D]) == pytest.approx(2 / 3)
    assert citation_recall([A], [A, B]) == 0.5
    assert citation_recall([], [A]) == 0.0
    assert citation_recall([A], []) is None


# ---------------------------------------------------------------- key facts

def test_key_fact_coverage_ignores_whitespace_and_counts_each_fact_once():
    assert key_fact_coverage(["稳岗补贴", "公益性 岗位"], ["给予稳 岗补贴。", "开发公益性岗位[1]"]) == 1.0
    assert key_fact_coverage(["稳岗补贴", "创业担保贷款"], ["给予稳岗补贴"]) == 0.5
    assert key_fact_coverage(["稳岗补贴"], ["稳岗", "补贴"]) == 0.0     # not across two texts
    assert key_fact_coverage([], ["任何文字"]) is None


# ---------------------------------------------------------------- numbers

def test_numbers_in_skips_citation_markers_and_the_hotline():
    assert numbers_in("参保3年以上[1]，补贴2000元[2]。请拨打12333。") == ["3", "2000"]
    assert numbers_in("利率上浮3.5个百分点，最高１０万元") == ["3.5", "10"]
    assert numbers_in("最高1,000元") == ["1000"]
    assert numbers_in("（2016—2020年）") == ["2016", "2020"]
    assert numbers_in("没有数字[3]") == []


def test_unsupported_numbers_are_those_in_no_cited_quote():
    quotes = ["依法参加失业保险3年以上的企业职工", "2016—2020年"]
    assert unsupported_numbers("参保3年以上可申请[1]，2016年起实施[2]", quotes) == []
    assert unsupported_numbers("参保5年以上可申请[1]", quotes) == ["5"]
    assert unsupported_numbers("补贴300元[1]", ["补贴3000元"]) == ["300"]        # whole numbers only
    assert unsupported_numbers("可拨打12333咨询", []) == []
    assert unsupported_numbers("见第2条[1]", []) == ["2"]


# ---------------------------------------------------------------- percentiles, ratios

def test_percentile_interpolates_linearly_between_closest_ranks():
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([3, 1, 2], 100) == 3


def test_ratio_is_none_when_it_cannot_be_taken():
    assert ratio(0.9, 0.6) == pytest.approx(1.5)
    assert ratio(0.9, 0) is None
    assert ratio(None, 0.5) is None
    assert ratio(0.5, None) is None


# ---------------------------------------------------------------- a set of outcomes

def _assistant(id_, category, answerable, gold, cited, refused, text="", quotes=None, facts=(), latency=0.1):
    return Outcome(id=id_, category=category, answerable=answerable, gold=list(gold), ranked=list(cited),
                   cited=list(cited), refused=refused, text=text, quotes=list(quotes or []),
                   must_include=list(facts), latency=latency)


def test_summarize_over_answerable_and_unanswerable_questions():
    outcomes = [
        _assistant("q1", "direct", True, [A, B], [A, C], False, "补贴3年[1]", ["3年", "x"], ["补贴"], 0.010),
        _assistant("q2", "direct", True, [B], [C, B], False, "给予5万元[1]", ["4万元"], ["5万元", "担保"], 0.020),
        _assistant("q3", "direct", True, [D], [], True, "抱歉，请拨打12333", [], ["贷款"], 0.030),
        _assistant("q4", "offtopic", False, [], [], True, "抱歉，请拨打12333", latency=0.040),
        _assistant("q5", "offtopic", False, [], [A], False, "答非所问[1]", ["…"], latency=0.050),
    ]
    s = summarize(outcomes)
    assert (s["n"], s["n_answerable"], s["n_unanswerable"]) == (5, 3, 2)
    assert s["hit@1"] == pytest.approx(1 / 3)
    assert s["hit@3"] == pytest.approx(2 / 3)
    assert s["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert s["citation_precision"] == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    assert s["citation_recall"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert s["key_fact_coverage"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert s["refusal_accuracy"] == 0.5
    assert s["false_refusal_rate"] == pytest.approx(1 / 3)
    assert s["unsupported_numbers"] == 1                         # the 5 of q2; 12333 is ignored
    assert s["unsupported_number_answers"] == pytest.approx(1 / 5)
    assert s["latency_p50_ms"] == pytest.approx(30.0)
    assert s["latency_p95_ms"] == pytest.approx(48.0)


def test_summarize_by_category_keeps_metrics_that_do_not_apply_as_none():
    outcomes = [_assistant("q1", "direct", True, [A], [A], False, "文字[1]", ["文字"], ["文字"]),
                _assistant("q2", "offtopic", False, [], [], True, "抱歉")]
    by = summarize_by_category(outcomes)
    assert list(by) == ["direct", "offtopic"]
    assert by["direct"]["hit@1"] == 1.0 and by["direct"]["refusal_accuracy"] is None
    assert by["offtopic"]["hit@1"] is None and by["offtopic"]["refusal_accuracy"] == 1.0
    assert by["offtopic"]["false_refusal_rate"] is None


def test_a_baseline_never_declines_and_has_no_text_metrics():
    o = Outcome(id="q1", category="direct", answerable=True, gold=[B], ranked=[A, B, C, D], cited=[A, B, C],
                refused=None, text=None, must_include=["补贴"], latency=0.001)
    s = summarize([o, Outcome(id="q2", category="offtopic", answerable=False, gold=[], ranked=[A], cited=[A])])
    assert s["hit@1"] == 0.0 and s["hit@3"] == 1.0 and s["mrr@10"] == 0.5
    assert s["citation_precision"] == pytest.approx(1 / 3) and s["citation_recall"] == 1.0
    for m in ("refusal_accuracy", "false_refusal_rate", "key_fact_coverage", "unsupported_numbers",
              "unsupported_number_answers"):
        assert s[m] is None, m


def test_a_rejected_question_counts_as_declined_with_no_citations():
    o = Outcome(id="q1", category="direct", answerable=True, gold=[A], ranked=[], cited=[], refused=True,
                text="", error="问题是空的")
    row = score(o)
    assert row["refused"] is True and row["hit@1"] == 0.0 and row["precision"] == 0.0
    assert summarize([o])["errors"] == 1
