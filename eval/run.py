"""Evaluate the assistant and the baselines on one question set; print and save the comparison.

    python -m eval.run                                   the development set (eval/questions.jsonl)
    python -m eval.run --questions eval/heldout.jsonl    the held-out set
    python -m eval.run --answers-out answers.jsonl       also keep every raw answer, one JSON a line
    python -m eval.run --no-baselines --limit 20         a quick look
    python -m eval.run --gate                            exit 1 if the assistant misses the gate

Writes eval/reports/<timestamp>.md, .json and .png (eval/reports/ is not versioned). Metrics are
defined in eval/README.md and implemented in eval/metrics.py; the baselines are in eval/baselines.py.
Exit codes: 0 done, 1 the gate failed (with --gate), 2 unusable question file or arguments,
3 the corpus or the index cannot be used.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from retrieval.extras import require

from .baselines import LABELS, NAMES, Baseline, baseline_query, make_baselines
from .metrics import Outcome, ratio, score, squeeze, summarize, summarize_by_category

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_QUESTIONS = ROOT / "eval" / "questions.jsonl"
REPORTS_DIR = ROOT / "eval" / "reports"
WARM_UP = "评测开始前的预热问题"  # asked once before timing, so that no question pays for lazy loading
CITED_BY_BASELINES = 3

FOLLOWUP_POLICY = ("baselines search the previous user turn followed by the question "
                   "(the assistant gets the whole history and decides itself)")


@dataclass(frozen=True)
class Gate:
    """What the assistant must reach on the development set (tests/test_eval_gate.py)."""
    min_hit_at_3: float = 0.95
    min_hit_at_1: float = 0.85
    min_refusal_accuracy: float = 1.0
    max_false_refusal_rate: float = 0.03
    not_below_baselines_on: str = "hit@3"


GATE = Gate()


# ---------------------------------------------------------------- questions

_FIELDS = {"id": str, "question": str, "gold": list, "answerable": bool}
_OPTIONAL = {"category": (str, ""), "must_include": (list, []), "history": (list, [])}


def load_questions(path: Path | str) -> list[dict]:
    """The questions of a JSONL file, checked; ValueError says which line is wrong and why."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: cannot read ({e})") from e
    questions, seen = [], set()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{where}: not JSON ({e})") from e
        if not isinstance(q, dict):
            raise ValueError(f"{where}: expected a JSON object")
        for name, kind in _FIELDS.items():
            if not isinstance(q.get(name), kind):
                raise ValueError(f"{where}: field '{name}' is missing or not a {kind.__name__}")
        for name, (kind, default) in _OPTIONAL.items():
            if q.get(name) is None:
                q[name] = "answerable" if name == "category" and q["answerable"] else \
                    "unanswerable" if name == "category" else list(default)
            elif not isinstance(q[name], kind):
                raise ValueError(f"{where}: field '{name}' must be a {kind.__name__} when given")
        for name in ("gold", "must_include"):
            if not all(isinstance(x, str) for x in q[name]):
                raise ValueError(f"{where}: field '{name}' must be a list of strings")
        if not all(isinstance(h, dict) and isinstance(h.get("role"), str) and isinstance(h.get("content"), str)
                   for h in q["history"]):
            raise ValueError(f"{where}: field 'history' must be a list of {{\"role\", \"content\"}} objects")
        if q["answerable"] and not q["gold"]:
            raise ValueError(f"{where}: an answerable question needs at least one gold citation id")
        if q["id"] in seen:
            raise ValueError(f"{where}: duplicate id {q['id']!r}")
        seen.add(q["id"])
        questions.append(q)
    if not questions:
        raise ValueError(f"{path}: no questions")
    return questions


# ---------------------------------------------------------------- running

def _bar(items, desc: str, progress: bool):
    from tqdm import tqdm
    return tqdm(items, desc=desc, unit="q", disable=not progress, file=sys.stderr, leave=False)


def outcome_of_answer(q: dict, answer: dict, latency: float) -> Outcome:
    """The assistant's outcome from its raw answer (the `ask --json` object, or {question, error})."""
    citations = answer.get("citations") or []
    ids = [c["id"] for c in citations]
    error = answer.get("error")
    return Outcome(id=q["id"], category=q["category"], answerable=q["answerable"], gold=q["gold"],
                   ranked=ids, cited=ids, refused=bool(answer.get("refused", error is not None)),
                   text=answer.get("answer", ""), quotes=[c.get("quote", "") for c in citations],
                   must_include=q["must_include"], latency=latency, error=error,
                   summary=answer.get("summary") if "summary" in answer else None)


def run_assistant(assistant, questions: Sequence[dict], progress: bool = False) -> tuple[list[Outcome], list[dict]]:
    """Ask every question (with its history) once; (outcomes, raw answers) in question order."""
    from retrieval.types import QuestionError

    try:
        assistant.ask(WARM_UP)
    except QuestionError:
        pass
    outcomes, answers = [], []
    for q in _bar(questions, "assistant", progress):
        started = time.perf_counter()
        try:
            answer = assistant.ask(q["question"], q["history"] or None).to_dict()
        except QuestionError as e:
            answer = {"question": q["question"], "error": str(e)}
        latency = time.perf_counter() - started
        answers.append(answer)
        outcomes.append(outcome_of_answer(q, answer, latency))
    return outcomes, answers


def run_baseline(baseline: Baseline, questions: Sequence[dict], progress: bool = False) -> list[Outcome]:
    """Search every question (follow-ups: see baseline_query); its top 3 count as its citations."""
    baseline.search(WARM_UP)
    outcomes = []
    for q in _bar(questions, baseline.name, progress):
        query = baseline_query(q["question"], q["history"])
        started = time.perf_counter()
        ranked = baseline.search(query)
        latency = time.perf_counter() - started
        outcomes.append(Outcome(id=q["id"], category=q["category"], answerable=q["answerable"], gold=q["gold"],
                                ranked=ranked, cited=ranked[:CITED_BY_BASELINES], refused=None, text=None,
                                must_include=q["must_include"], latency=latency))
    return outcomes


def _git() -> dict:
    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": git("rev-parse", "HEAD") or None, "dirty": bool(status)}


def _load_average() -> float | None:
    """The 1-minute load average: above the number of cores, latencies measure the machine, not the code."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def busy_machine(report: dict) -> bool:
    m = report.get("machine") or {}
    loads = [x for x in (m.get("load_average_before"), m.get("load_average_after")) if x is not None]
    return bool(loads and m.get("cores") and max(loads) > m["cores"])


def _system(label: str, description: str, outcomes: list[Outcome], build_seconds: float | None,
            run_seconds: float) -> dict:
    return {"label": label, "description": description, "build_seconds": build_seconds,
            "run_seconds": round(run_seconds, 2),
            "overall": summarize(outcomes), "by_category": summarize_by_category(outcomes)}


def for_loaded_documents(questions: Sequence[dict], assistant) -> tuple[list[dict], list[str]]:
    """The questions as they stand for the documents loaded: gold ids of documents not loaded are
    dropped, and an answerable question left with no gold is skipped (its ids are returned), since
    whether the assistant should then decline depends on what the missing document would have said.
    Of a question that lost gold ids, the key facts no loaded document holds are dropped too: they were
    the missing document's words, which no system could quote."""
    corpus = getattr(assistant, "corpus", None)
    loaded = set(getattr(corpus, "docs_by_id", {}) or {})
    if not loaded:
        return list(questions), []
    kept, skipped = [], []
    text: str | None = None
    for q in questions:
        gold = [g for g in q["gold"] if g.split(":", 1)[0] in loaded]
        if q["answerable"] and not gold:
            skipped.append(q["id"])
            continue
        facts = q.get("must_include") or []
        if len(gold) < len(q["gold"]) and facts:
            if text is None:
                text = "\n".join(squeeze(a.title + a.body + "".join(a.departments)) for a in getattr(corpus, "articles", []))
            facts = [f for f in facts if squeeze(f) in text]
        kept.append({**q, "gold": gold, **({"must_include": facts} if "must_include" in q else {})})
    return kept, skipped


def evaluate(questions: Sequence[dict], assistant=None, baselines: Sequence[str | Baseline] = NAMES,
             progress: bool = False, source: str | None = None) -> dict:
    """Run the assistant and the baselines on the questions; the report as plain data (JSON-ready).

    `assistant` defaults to Assistant.load(Settings.load()) (the environment's settings); `baselines` are names (built on the
    assistant's corpus and embedder) or ready Baseline objects. The raw answers are under "answers".
    """
    started = time.perf_counter()
    load_before = _load_average()
    if assistant is None:
        from retrieval.answering.assistant import Assistant
        from retrieval.config import Settings
        assistant = Assistant.load(Settings.load(), progress=progress)

    known = {a.id for a in assistant.corpus.articles} if hasattr(assistant, "corpus") else None
    questions, skipped = for_loaded_documents(questions, assistant)
    unknown_gold = sorted({g for q in questions for g in q["gold"] if known is not None and g not in known})

    phase = time.perf_counter()
    outcomes, answers = run_assistant(assistant, questions, progress)
    index = getattr(getattr(assistant, "index", None), "manifest", {}) or {}
    systems = {"assistant": _system(
        "assistant", f"Assistant.ask() with history; embedder {index.get('embedder', '?')}, "
                     f"index built {index.get('built_at', '?')}", outcomes, None, time.perf_counter() - phase)}
    per_question = {"assistant": _rows(questions, outcomes, answers)}

    names = [b if isinstance(b, str) else b.name for b in baselines]
    to_build = [b for b in baselines if isinstance(b, str)]
    built = {b.name: b for b in make_baselines(assistant, to_build, progress=progress)} if to_build else {}
    built.update({b.name: b for b in baselines if not isinstance(b, str)})
    for name in names:
        b = built[name]
        phase = time.perf_counter()
        b_outcomes = run_baseline(b, questions, progress)
        systems[name] = _system(LABELS.get(name, name), b.describe(), b_outcomes, round(b.build_seconds, 2),
                                time.perf_counter() - phase)
        per_question[name] = _rows(questions, b_outcomes)

    report = {
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "questions_file": source,
        "n_questions": len(questions),
        "skipped_for_documents_not_loaded": skipped,
        "git": _git(),
        "embedder": index.get("embedder"),
        "corpus_fingerprint": index.get("corpus_fingerprint"),
        "index_built_at": index.get("built_at"),
        "baseline_followups": FOLLOWUP_POLICY,
        "baseline_citations": f"top {CITED_BY_BASELINES} of the ranking",
        "unknown_gold_ids": unknown_gold,
        "machine": {"cores": os.cpu_count(), "load_average_before": load_before,
                    "load_average_after": _load_average()},
        "systems": systems,
        "ratios": {name: {m: ratio(systems["assistant"]["overall"].get(m), systems[name]["overall"].get(m))
                          for m in TABLE_METRICS} for name in names},
        "per_question": per_question,
        "answers": answers,
    }
    applies = source is not None and Path(source).resolve() == DEFAULT_QUESTIONS.resolve()
    report["gate"] = {**asdict(GATE), "applies": applies, "failures": gate_failures(report)}
    report["seconds"] = round(time.perf_counter() - started, 2)
    return report


def _rows(questions: Sequence[dict], outcomes: Sequence[Outcome], answers: Sequence[dict] | None = None) -> list[dict]:
    rows = []
    for i, (q, o) in enumerate(zip(questions, outcomes, strict=True)):
        row = {"question": q["question"], "gold": q["gold"], **score(o)}
        if answers is not None:
            a = answers[i]
            row["refusal_reason"] = a.get("refusal_reason")
            if a.get("error"):
                row["error"] = a["error"]
        else:
            row["ranked"] = o.ranked
        rows.append(row)
    return rows


# ---------------------------------------------------------------- the gate

def gate_failures(report: dict, gate: Gate = GATE) -> list[str]:
    """Why the assistant misses the gate, one sentence each; empty when it passes."""
    a = report["systems"]["assistant"]["overall"]
    out = []

    def below(metric: str, floor: float):
        if a[metric] is None or a[metric] < floor:
            out.append(f"{metric} {_fmt(a[metric])} is below {floor}")

    below("hit@3", gate.min_hit_at_3)
    below("hit@1", gate.min_hit_at_1)
    below("refusal_accuracy", gate.min_refusal_accuracy)
    if a["false_refusal_rate"] is None or a["false_refusal_rate"] > gate.max_false_refusal_rate:
        out.append(f"false_refusal_rate {_fmt(a['false_refusal_rate'])} is above {gate.max_false_refusal_rate}")
    m = gate.not_below_baselines_on
    for name, system in report["systems"].items():
        if name != "assistant" and system["overall"][m] is not None and (a[m] or 0) < system["overall"][m]:
            out.append(f"{m} {_fmt(a[m])} is below the {system['label']} baseline's {_fmt(system['overall'][m])}")
    return out


# ---------------------------------------------------------------- tables

TABLE_METRICS = ("hit@1", "hit@3", "mrr@10", "citation_precision", "citation_recall", "key_fact_coverage",
                 "refusal_accuracy", "false_refusal_rate", "unsupported_number_answers", "unsupported_numbers",
                 "summary_key_fact_coverage", "summary_median_chars", "summary_unsupported_numbers",
                 "latency_p50_ms", "latency_p95_ms")
_ROW_NAMES = {"summary_key_fact_coverage": "key facts in the summary (direct answer)",
              "summary_median_chars": "summary length, median (characters)",
              "summary_unsupported_numbers": "numbers in summaries not in a cited quote",
              "hit@1": "hit@1", "hit@3": "hit@3", "mrr@10": "MRR@10", "citation_precision": "citation precision",
              "citation_recall": "citation recall", "key_fact_coverage": "key-fact coverage",
              "refusal_accuracy": "refusal accuracy (unanswerable declined)",
              "false_refusal_rate": "false-refusal rate (answerable declined)",
              "unsupported_number_answers": "answers with unsupported numbers",
              "unsupported_numbers": "unsupported numbers (count)",
              "latency_p50_ms": "latency p50 (ms)", "latency_p95_ms": "latency p95 (ms)"}


def _fmt(v, metric: str = "") -> str:
    if v is None:
        return "n/a"
    if metric.startswith("latency") or metric == "summary_median_chars":
        return f"{v:.1f}"
    if metric in ("unsupported_numbers", "summary_unsupported_numbers") or isinstance(v, int):
        return str(v)
    return f"{v:.3f}"


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                          for i, (c, w) in enumerate(zip(cells, widths, strict=False))) + " |"
    sep = "|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), sep, *map(line, rows)])


def comparison_table(report: dict) -> str:
    """Metrics down, systems across, then assistant ÷ each baseline."""
    systems = report["systems"]
    names = list(systems)
    baselines = [n for n in names if n != "assistant"]
    header = ["metric", *(systems[n]["label"] for n in names), *(f"÷ {systems[n]['label']}" for n in baselines)]
    rows = []
    for m in TABLE_METRICS:
        cells = [_ROW_NAMES[m], *(_fmt(systems[n]["overall"].get(m), m) for n in names)]
        for n in baselines:
            r = report["ratios"][n].get(m)
            cells.append("n/a" if r is None else f"{r:.2f}")
        rows.append(cells)
    return _markdown(header, rows)


def category_table(report: dict) -> str:
    """Per category: the assistant's main numbers and each baseline's hit@3."""
    systems = report["systems"]
    baselines = [n for n in systems if n != "assistant"]
    header = ["category", "n", "hit@1", "hit@3", "MRR@10", "precision", "recall", "coverage", "declined",
              *(f"hit@3 {systems[n]['label']}" for n in baselines)]
    rows = []
    cats = systems["assistant"]["by_category"]
    for cat, s in [*cats.items(), ("(all)", systems["assistant"]["overall"])]:
        refused = (s["refusal_accuracy"] if s["n_unanswerable"] and not s["n_answerable"]
                   else s["false_refusal_rate"])
        rows.append([cat, str(s["n"]), _fmt(s["hit@1"]), _fmt(s["hit@3"]), _fmt(s["mrr@10"]),
                     _fmt(s["citation_precision"]), _fmt(s["citation_recall"]), _fmt(s["key_fact_coverage"]),
                     _fmt(refused),
                     *(_fmt((systems[n]["by_category"].get(cat) if cat != "(all)" else systems[n]["overall"])
                            ["hit@3"]) for n in baselines)])
    return _markdown(header, rows)


def misses(report: dict) -> list[str]:
    """The assistant's failures, one line each, for the Markdown report."""
    out = []
    for r in report["per_question"]["assistant"]:
        cited = ", ".join(r["cited"]) or "—"
        if r["answerable"] and r["refused"]:
            out.append(f"- {r['id']} ({r['category']}) declined ({r.get('refusal_reason')}): {r['question']} "
                       f"— gold {', '.join(r['gold'])}")
        elif r["answerable"] and r.get("hit@3") == 0:
            out.append(f"- {r['id']} ({r['category']}) no gold in citations: {r['question']} "
                       f"— gold {', '.join(r['gold'])}; cited {cited}")
        elif r["answerable"] and r.get("hit@1") == 0:
            out.append(f"- {r['id']} ({r['category']}) gold not first: {r['question']} "
                       f"— gold {', '.join(r['gold'])}; cited {cited}")
        elif not r["answerable"] and not r["refused"]:
            out.append(f"- {r['id']} ({r['category']}) answered but should decline: {r['question']} — cited {cited}")
        if r.get("unsupported_numbers"):
            out.append(f"- {r['id']} unsupported numbers {r['unsupported_numbers']}: {r['question']}")
    return out


# ---------------------------------------------------------------- report files

def _font() -> str | None:
    font_manager = require("matplotlib.font_manager", "eval", "The report's chart")
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans CJK JP"):
        if name in names:
            return name
    return None


def plot(report: dict, path: Path) -> Path | None:
    """A PNG of the comparison: retrieval metrics side by side, and median latency."""
    matplotlib = require("matplotlib", "eval", "The report's chart")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = _font()
    if font:
        plt.rcParams["font.sans-serif"] = [font, "DejaVu Sans"]
        plt.rcParams["axes.unicode_minus"] = False
    systems = report["systems"]
    names = list(systems)
    metrics = ["hit@1", "hit@3", "mrr@10", "citation_precision", "citation_recall"]
    labels = ["hit@1", "hit@3", "MRR@10", "precision", "recall"]
    fig, (ax, lat) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / len(names)
    colors = ["#c0392b", "#7f8c8d", "#2980b9", "#27ae60", "#8e44ad", "#d35400"]
    for i, n in enumerate(names):
        values = [systems[n]["overall"].get(m) or 0.0 for m in metrics]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(metrics))]
        bars = ax.bar(xs, values, width, label=systems[n]["label"], color=colors[i % len(colors)])
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=1)
    ax.set_xticks(range(len(metrics)), labels)
    ax.set_ylim(0, 1.22)
    ax.set_ylabel("share (answerable questions)")
    ax.legend(loc="upper right", ncol=len(names), fontsize=8)
    source = Path(report.get("questions_file") or "questions").name
    title = (f"政策问答助手 vs 基线 — {source}, n={report['n_questions']}" if font
             else f"assistant vs baselines — {source}, n={report['n_questions']}")
    ax.set_title(title)
    p50 = [systems[n]["overall"].get("latency_p50_ms") or 0.0 for n in names]
    bars = lat.bar(range(len(names)), p50, color=[colors[i % len(colors)] for i in range(len(names))])
    lat.bar_label(bars, labels=[f"{v:.1f}" for v in p50], fontsize=7)
    lat.set_xticks(range(len(names)), [systems[n]["label"] for n in names], rotation=30, ha="right", fontsize=8)
    lat.set_ylabel("ms")
    lat.set_title(("latency p50 (延迟)" if font else "latency p50")
                  + ("\nmachine busy: inflated" if busy_machine(report) else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown_report(report: dict) -> str:
    systems = report["systems"]
    lines = [f"# Evaluation {report['created']}", "",
             f"- questions: `{report['questions_file']}` ({report['n_questions']}: "
             f"{systems['assistant']['overall']['n_answerable']} answerable, "
             f"{systems['assistant']['overall']['n_unanswerable']} unanswerable)",
             f"- code: {report['git']['commit']}{' (with uncommitted changes)' if report['git']['dirty'] else ''}",
             f"- embedder: {report['embedder']}; index built {report['index_built_at']}",
             f"- follow-ups: {report['baseline_followups']}",
             f"- baselines: citations are their {report['baseline_citations']}; they never decline "
             f"and write no text, so refusal, coverage and number metrics are n/a for them",
             f"- run time: {report['seconds']} s; load average {report['machine']['load_average_before']} "
             f"before, {report['machine']['load_average_after']} after, {report['machine']['cores']} cores"
             + (" — **the machine was busy: latencies are inflated**" if busy_machine(report) else ""), ""]
    for s in systems.values():
        build = f"built in {s['build_seconds']} s, " if s["build_seconds"] is not None else ""
        lines.append(f"- **{s['label']}**: {s['description']} ({build}questions in {s['run_seconds']} s)")
    if report["unknown_gold_ids"]:
        lines += ["", f"**Gold ids not in the corpus** (they can never be hit): {', '.join(report['unknown_gold_ids'])}"]
    lines += ["", "## Comparison", "", comparison_table(report), "",
              "Ratios are assistant ÷ baseline (for latency, above 1 means the assistant is slower).", "",
              "## By category (assistant; last columns: each baseline's hit@3)", "", category_table(report), "",
              "`declined`: refusal accuracy for unanswerable categories, false-refusal rate for the others.", "",
              "## Gate", ""]
    if not report["gate"].get("applies"):
        lines += ["The gate applies to the whole development set (eval/questions.jsonl); "
                  "for this set its thresholds are for reference only.", ""]
    failures = report["gate"]["failures"]
    lines += [f"- FAIL: {f}" for f in failures] or ["- passes: hit@3 ≥ 0.95, hit@1 ≥ 0.85, every unanswerable "
                                                   "question declined, ≤ 3% false refusals, hit@3 ≥ every baseline"]
    lines += ["", "## Assistant failures", ""] + (misses(report) or ["- none"])
    return "\n".join(lines) + "\n"


def _stamp_path(out_dir: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base, n = out_dir / stamp, 2
    while base.with_suffix(".json").exists() or base.with_suffix(".md").exists():
        base, n = out_dir / f"{stamp}-{n}", n + 1
    return base


def write_report(report: dict, out_dir: Path | str = REPORTS_DIR, chart: bool = True) -> dict[str, Path]:
    """eval/reports/<timestamp>.md, .json and (if matplotlib works) .png; the paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    base = _stamp_path(out_dir)
    paths = {"md": base.with_suffix(".md"), "json": base.with_suffix(".json")}
    paths["json"].write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    paths["md"].write_text(markdown_report(report), encoding="utf-8")
    if chart:
        try:
            png = plot(report, base.with_suffix(".png"))
            if png is not None:
                paths["png"] = png
        except Exception as e:  # a report without its chart is still a report
            print(f"warning: no chart ({type(e).__name__}: {e})", file=sys.stderr)
    return paths


def write_answers(answers: Sequence[dict], path: Path | str) -> None:
    with Path(path).open("w", encoding="utf-8") as f:
        for a in answers:
            f.write(json.dumps(a, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------- command line

def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--questions", default=str(DEFAULT_QUESTIONS), help="a JSONL question file (default: %(default)s)")
    p.add_argument("--answers-out", metavar="FILE", help="write every raw answer, one JSON object a line")
    p.add_argument("--no-baselines", action="store_true", help="evaluate the assistant only")
    p.add_argument("--baselines", default=",".join(NAMES), help="comma-separated subset of: %(default)s")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N questions")
    p.add_argument("--reports-dir", default=str(REPORTS_DIR), help="where reports go (default: %(default)s)")
    p.add_argument("--no-report", action="store_true", help="print only; write no report files")
    p.add_argument("--gate", action="store_true", help="exit 1 if the assistant misses the gate")
    p.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="progress bars on stderr (default: when stderr is a terminal)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    args = p.parse_args(argv)
    progress = sys.stderr.isatty() if args.progress is None else args.progress

    try:
        questions = load_questions(args.questions)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.limit is not None:
        if args.limit < 1:
            print("error: --limit must be at least 1", file=sys.stderr)
            return 2
        questions = questions[:args.limit]
    names = [] if args.no_baselines else [n.strip() for n in args.baselines.split(",") if n.strip()]
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        print(f"error: unknown baseline(s) {unknown}; known: {', '.join(NAMES)}", file=sys.stderr)
        return 2

    from retrieval.config import SettingsError
    from retrieval.types import CorpusError, IndexStateError
    try:
        report = evaluate(questions, baselines=names, progress=progress, source=str(args.questions))
    except (CorpusError, IndexStateError, SettingsError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 3

    if args.answers_out:
        write_answers(report["answers"], args.answers_out)
    s = report["systems"]["assistant"]["overall"]
    print(f"{Path(args.questions).name}: {report['n_questions']} questions "
          f"({s['n_answerable']} answerable, {s['n_unanswerable']} unanswerable), {report['seconds']} s\n")
    if report["skipped_for_documents_not_loaded"]:
        print(f"skipped {len(report['skipped_for_documents_not_loaded'])} questions answered only by documents "
              f"not loaded: {', '.join(report['skipped_for_documents_not_loaded'])}\n")
    print(comparison_table(report))
    print("\nassistant ÷ baseline; baselines never decline and write no text (n/a).\n")
    print(category_table(report))
    if busy_machine(report):
        m = report["machine"]
        print(f"\nwarning: load average {max(m['load_average_before'] or 0, m['load_average_after'] or 0)} "
              f"on {m['cores']} cores: other work was running, latencies are inflated", file=sys.stderr)
    if report["unknown_gold_ids"]:
        print(f"\nwarning: gold ids not in the corpus: {', '.join(report['unknown_gold_ids'])}", file=sys.stderr)
    failures = report["gate"]["failures"]
    if args.limit is not None:
        report["gate"]["applies"] = False
    label = "gate" if report["gate"]["applies"] else "gate thresholds (they apply to the whole development set)"
    print(f"\n{label}: " + ("passes" if not failures else "FAILS — " + "; ".join(failures)))
    if not args.no_report:
        paths = write_report(report, args.reports_dir)
        print("report: " + ", ".join(str(p) for p in paths.values()))
    if args.answers_out:
        print(f"answers: {args.answers_out}")
    return 1 if args.gate and failures else 0


if __name__ == "__main__":
    sys.exit(main())
