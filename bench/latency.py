"""Latency of the command-line core: start-up with a built index, and per-question answer time.

    python bench/latency.py [--questions eval/questions.jsonl] [--repeat 3]

Prints a table; nothing here asserts (speed goals are read off these numbers).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # run as a script (python bench/latency.py) from a checkout


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def startup_seconds(repeat: int) -> list[float]:
    """A fresh process: imports, corpus, index load, model load, one answer."""
    code = ("import time; t=time.perf_counter(); from retrieval.answering.assistant import Assistant; "
            "from retrieval.config import Settings; a=Assistant.load(Settings.load()); "
            "a.ask('退伍兵找工作有啥政策'); print(time.perf_counter()-t)")
    out = []
    for _ in range(repeat):
        res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        out.append(float(res.stdout.strip().splitlines()[-1]))
    return out


def batch_cli_seconds(questions: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time of `app.py ask --json` over all questions on stdin, and of the same with one question
    (`env`: variables added to the child's environment)."""
    def timed(lines: list[str]) -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "app.py"), "ask", "--json"], input="\n".join(lines).encode(),
                       cwd=ROOT, capture_output=True, check=True, env={**os.environ, **(env or {})})
        return time.perf_counter() - t
    return timed(questions), timed(questions[:1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=Path, default=ROOT / "eval" / "questions.jsonl")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    items = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [q["question"] for q in items]

    from retrieval.answering.assistant import Assistant
    from retrieval.config import Settings
    assistant = Assistant.load(Settings.load())
    assistant.ask(questions[0])

    single = []
    for q in questions:
        assistant.retriever._vectors.clear()  # no help from earlier runs
        t = time.perf_counter()
        assistant.ask(q)
        single.append((time.perf_counter() - t) * 1000)

    assistant.retriever._vectors.clear()
    t = time.perf_counter()
    assistant.ask_many(questions)
    batch_ms = (time.perf_counter() - t) * 1000 / len(questions)

    starts = startup_seconds(args.repeat)
    total, one = batch_cli_seconds(questions)
    cli_ms = (total - one) * 1000 / (len(questions) - 1)

    rows = [
        ("machine", machine()),
        ("questions", f"{len(questions)} ({args.questions.name})"),
        ("start-up with a built index, to first answer (s)", f"median {statistics.median(starts):.2f}, max {max(starts):.2f}"),
        ("one question at a time, in process (ms)", f"p50 {percentile(single, 50):.1f}, p95 {percentile(single, 95):.1f}"),
        ("batch, in process, per question (ms)", f"{batch_ms:.1f}"),
        ("batch mode `app.py ask --json < file`, per question (ms)", f"{cli_ms:.1f}"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


if __name__ == "__main__":
    main()
