"""Shared helpers for the benchmarks: timing, percentiles, memory, sub-processes, tables, output folder."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.latency import machine as machine  # re-exported for the other benchmarks
from bench.latency import percentile  # the owner's helpers, reused

ROOT = Path(__file__).resolve().parent.parent

OUT = ROOT / "bench" / "out"
RESULT_MARK = "@@BENCH-RESULT@@ "


def out_dir(*parts: str) -> Path:
    """A folder under bench/out/ (never committed: bench/out/.gitignore ignores everything in it)."""
    OUT.mkdir(parents=True, exist_ok=True)
    ignore = OUT / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# generated benchmark data; never committed\n*\n", encoding="utf-8")
    path = OUT.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(msg: str) -> None:
    """Progress on stderr, so stdout keeps only the tables."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _status_kb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return float("nan")


def rss_mib() -> float:
    """Resident memory of this process now (MiB)."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mib() -> float:
    """Highest resident memory of this process so far (MiB)."""
    return _status_kb("VmHWM") / 1024


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


QUIET = {"max_busy": 0.10, "wait_s": 0.0}  # set from the command line (--quiet-wait)


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, in clock ticks (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


def machine_busy(seconds: float = 2.0) -> float:
    """Share of the machine's CPU time in use over the next `seconds` (0..1)."""
    b0, t0 = _cpu_jiffies()
    time.sleep(seconds)
    b1, t1 = _cpu_jiffies()
    return (b1 - b0) / max(1, t1 - t0)


def wait_for_quiet(max_busy: float | None = None, timeout: float | None = None) -> None:
    """Before a timed step: wait (up to `timeout` s) until the machine is idle (CPU busy below
    `max_busy` over 2 s); say so if it is not (other work makes timings pessimistic)."""
    max_busy = QUIET["max_busy"] if max_busy is None else max_busy
    timeout = QUIET["wait_s"] if timeout is None else timeout
    deadline = time.time() + timeout
    busy = machine_busy()
    while busy > max_busy and time.time() < deadline:
        busy = machine_busy()
    if busy > max_busy:
        log(f"note: the machine is {busy:.0%} busy with other work (load average {load_average()}); "
            f"timings are pessimistic")


class OthersCPU:
    """CPU time other processes used while a step ran, as a share of the machine (0..1)."""

    def __enter__(self):
        self.b0, self.t0 = _cpu_jiffies()
        self.own0 = self._own()
        return self

    @staticmethod
    def _own() -> float:
        import resource
        s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

    def __exit__(self, *exc):
        b1, t1 = _cpu_jiffies()
        tick = os.sysconf("SC_CLK_TCK")
        others = (b1 - self.b0) / tick - (self._own() - self.own0)
        self.share = max(0.0, others / max(1e-9, (t1 - self.t0) / tick))
        return False


class Timer:
    def __init__(self):
        self.seconds = 0.0

    @contextmanager
    def __call__(self):
        t = time.perf_counter()
        try:
            yield self
        finally:
            self.seconds += time.perf_counter() - t


def timed(fn: Callable, *args, **kwargs) -> tuple[float, object]:
    t = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - t, value


def p50_p95(values_ms: Sequence[float]) -> tuple[float, float]:
    return percentile(list(values_ms), 50), percentile(list(values_ms), 95)


def fmt_ms(values_ms: Sequence[float]) -> str:
    if not values_ms:
        return "—"
    p50, p95 = p50_p95(values_ms)
    return f"{p50:.1f} / {p95:.1f}"


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def search_latency_ms(index, queries, k: int) -> list[float]:
    """Per query, the time of one FAISS search for its k nearest (ms)."""
    out = []
    for v in queries:
        t = time.perf_counter()
        index.search(v.reshape(1, -1), k)
        out.append((time.perf_counter() - t) * 1000)
    return out


def recall_at(found, truth, k: int) -> float:
    """Mean share of the exact top-k that the index also returns in its top-k."""
    return sum(len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth, strict=True)) / max(1, len(truth))


def dir_size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table on stdout (pastes into the README as it is)."""
    print(f"\n### {title}\n")
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + " |"  # noqa: E731
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        print(line(r))
    sys.stdout.flush()


# ---------------------------------------------------------------- steps in a fresh process

def run_step(target: str, timeout: float | None = None, env: dict | None = None, **kwargs) -> dict:
    """Run `module:function(**kwargs)` in a fresh Python process and return its dict result, with the
    process's peak RSS added as `peak_rss_mib`. Progress (stderr) passes through."""
    wait_for_quiet()
    cmd = [sys.executable, "-m", "bench.step", target, json.dumps(kwargs)]
    with OthersCPU() as others:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
    results = [line[len(RESULT_MARK):] for line in proc.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if proc.returncode != 0 or not results:
        raise RuntimeError(f"step {target} failed (exit {proc.returncode}); stdout:\n{proc.stdout[-2000:]}")
    result = json.loads(results[-1])
    result["others_cpu"] = round(others.share, 3)
    if others.share > 0.05:
        log(f"note: other processes used {others.share:.0%} of the CPU during {target}")
    return result


CLEAN = {"tries": 1, "max_others": 0.05}  # set from the command line (--tries)


def run_step_clean(target: str, **kwargs) -> dict:
    """run_step, repeated (up to CLEAN["tries"] times) while other processes took more than
    CLEAN["max_others"] of the CPU during it; returns the run least disturbed."""
    best = None
    for _ in range(max(1, CLEAN["tries"])):
        result = run_step(target, **kwargs)
        if best is None or result["others_cpu"] < best["others_cpu"]:
            best = result
        if best["others_cpu"] <= CLEAN["max_others"]:
            break
        log(f"{target}: disturbed ({result['others_cpu']:.0%} of the CPU used by other work); again")
    return best
