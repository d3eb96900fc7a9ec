"""Load test of the running web app through its HTTP API (/api/ask and /api/feedback).

    python bench/load.py                                   # starts its own server (temporary database),
                                                           # 20 clients for 60 s, then stops it
    python bench/load.py --clients 20 --duration 60 --json
    python bench/load.py --url http://127.0.0.1:7860 --db data/policy.sqlite3   # a server you started
    python bench/load.py --cluster 2 --clients 30 --duration 60     # nginx → 2 processes → PostgreSQL
    python bench/load.py --cluster 2 --clients 30 --duration 60 --kill-at 20   # kill -9 one process at 20 s

N clients (threads, one keep-alive connection each) ask a mix of questions — answerable, declined,
with personal numbers, follow-ups with history, limited to one document — and send 👍/👎 on every
k-th answer. It reports requests/s, p50/p95/p99/max latency per route, errors (any status other
than 200, time-outs, dropped connections), and, given the database (--db, or its own when it starts
the server), the feedback and query-log rows written during the run compared with those the
server confirmed: rows lost, and every feedback row id the server acknowledged is looked up (an
acknowledged row that is not there is "missing"). Run it against an otherwise idle server, or the row
counts mean nothing.

--cluster N starts the deployment of docs/scaling.md on this machine (bench/cluster.py): a PostgreSQL
server, N app processes sharing it, and nginx with deploy/nginx.conf.template (TLS with a certificate
made for the run; 127.0.0.1 exempt from the rate limits, since every client comes from it), and drives nginx.
--kill-at S kills one app process with SIGKILL S seconds into the run: requests in flight on it may
fail (reported exactly); the run passes when no acknowledged feedback row is missing.

Bounded: at most 200 clients, 900 s and 200,000 requests; loopback only — any URL whose host is
not, or does not resolve only to, a loopback address is refused (exit 2); https:// only with
--cafile (the certificate is verified). Exit 0 when the run had no errors and lost no rows, 1 otherwise.
"""
from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # run as a script: the web package is the repository's
MAX_CLIENTS, MAX_DURATION, MAX_REQUESTS = 200, 900.0, 200_000
START_TIMEOUT = 240.0

FIRST = "创业担保贷款有什么规定？"
WORKLOAD = [  # (question, history, doc_ids)
    (FIRST, None, None),
    ("高校毕业生创业有哪些扶持政策？", None, None),
    ("退役军人就业创业有什么政策？", None, None),
    ("怎么申请公租房？", None, None),                                     # declined: out of scope
    ("农牧民外出打工有什么支持？", None, None),
    ("我身份证11010519491231002X，手机13812345678，返乡创业有补贴吗？", None, None),
    ("巴彦淖尔市呢？", [{"role": "user", "content": FIRST},
                       {"role": "assistant", "content": "各地要加大创业担保贷款工作力度[1]。"}], None),
    ("灵活就业人员的社保怎么办？", None, None),
    ("创业担保贷款", None, ["byn-2018-49"]),
    ("养老金每月能领多少钱？", None, None),                               # declined
]


class Refused(Exception):
    pass


def loopback_target(url: str, tls: bool = False) -> tuple[str, int]:
    """(host, port) of an http:// URL (https:// when `tls`) on this machine; Refused for anything else."""
    parts = urlsplit(url)
    if parts.scheme == "https" and not tls:
        raise Refused(f"https:// needs --cafile (the server's certificate, to verify it), got {url!r}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"only http://<loopback>:<port> URLs are allowed, got {url!r}")
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except socket.gaierror as e:
        raise Refused(f"cannot resolve {host!r}: {e}") from None
    outside = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if not addresses or outside:
        raise Refused(f"refusing to load-test {host!r}: it is not a loopback address ({', '.join(sorted(outside))}); "
                      "this script only drives a server on this machine")
    return host, port


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"ask": [], "feedback": []})
    errors: dict[str, int] = field(default_factory=dict)
    error_times: list[float] = field(default_factory=list)   # monotonic clock, to place errors in the run
    feedback_ids: list[int] = field(default_factory=list)
    feedback_not_stored: int = 0
    answers: int = 0
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1
            self.error_times.append(time.monotonic())


class Client:
    def __init__(self, host: str, port: int, timeout: float, context: ssl.SSLContext | None = None):
        self.host, self.port, self.timeout, self.context = host, port, timeout, context
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = (http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                         context=self.context) if self.context else
                             http.client.HTTPConnection(self.host, self.port, timeout=self.timeout))
            try:
                self.conn.request("POST", path, body=data, headers={"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                raw = resp.read()
                if resp.getheader("connection", "").lower() == "close":
                    self.close()
                try:
                    return resp.status, json.loads(raw.decode("utf-8")) if raw else {}
                except ValueError:
                    if resp.status == 200:
                        raise
                    return resp.status, {}      # a proxy's HTML error page: the status is what counts
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                # a keep-alive connection the server closed while idle: retry once on a new one
                self.close()
                if attempt or not isinstance(e, http.client.RemoteDisconnected):
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def client_loop(n: int, host: str, port: int, deadline: float, budget: Budget, feedback_every: int,
                timeout: float, tally: Tally, context: ssl.SSLContext | None = None) -> None:
    client = Client(host, port, timeout, context)
    i = 0
    try:
        while time.monotonic() < deadline and budget.take():
            question, history, doc_ids = WORKLOAD[(n + i) % len(WORKLOAD)]
            body = {"question": question}
            if history:
                body["history"] = history
            if doc_ids:
                body["doc_ids"] = doc_ids
            started = time.perf_counter()
            try:
                status, answer = client.post("/api/ask", body)
            except (OSError, http.client.HTTPException, ValueError) as e:
                tally.error(f"ask: {type(e).__name__}")
                client.close()
                i += 1
                continue
            with tally.lock:
                tally.latencies["ask"].append(time.perf_counter() - started)
            if status != 200:
                tally.error(f"ask: HTTP {status}")
                i += 1
                continue
            with tally.lock:
                tally.answers += 1
                tally.refused += bool(answer.get("refused"))
            if feedback_every and i % feedback_every == 0 and time.monotonic() < deadline and budget.take():
                rating = "down" if answer.get("refused") or (n + i) % 2 else "up"
                started = time.perf_counter()
                try:
                    status, stored = client.post("/api/feedback", {"rating": rating, "answer": answer,
                                                                   "comment": f"load client {n}"})
                except (OSError, http.client.HTTPException, ValueError) as e:
                    tally.error(f"feedback: {type(e).__name__}")
                    client.close()
                    i += 1
                    continue
                with tally.lock:
                    tally.latencies["feedback"].append(time.perf_counter() - started)
                    if status != 200:
                        tally.errors[f"feedback: HTTP {status}"] = tally.errors.get(f"feedback: HTTP {status}", 0) + 1
                        tally.error_times.append(time.monotonic())
                    elif stored.get("stored") and isinstance(stored.get("id"), int):
                        tally.feedback_ids.append(stored["id"])
                    else:
                        tally.feedback_not_stored += 1
            i += 1
    finally:
        client.close()


class Budget:
    def __init__(self, total: int):
        self.left = total
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(round(p / 100 * len(ordered) + 0.5 - 1e-9)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values: list[float]) -> dict:
    ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {"count": len(values), "p50_ms": ms(percentile(values, 50)), "p95_ms": ms(percentile(values, 95)),
            "p99_ms": ms(percentile(values, 99)), "max_ms": ms(max(values) if values else None)}


def count_rows(db: Path | str, table: str) -> int | None:
    """Rows in a table of the SQLite file or PostgreSQL URL (web.reports; 0 before it exists)."""
    from web import database, reports
    return reports.Reports(database.backend(db, 10.0)).count(table)


def stored_ids(db: Path | str, table: str = "feedback") -> set[int]:
    from web import database, reports
    return reports.Reports(database.backend(db, 10.0)).ids(table)


def settle(db: Path | str, table: str, expected: int, wait: float = 10.0) -> int | None:
    """The row count once it reaches `expected` or stops changing (the query log is written behind)."""
    deadline = time.monotonic() + wait
    last, still_since = count_rows(db, table), time.monotonic()
    while time.monotonic() < deadline and (last or 0) < expected:
        time.sleep(0.2)
        now = count_rows(db, table)
        if now != last:
            last, still_since = now, time.monotonic()
        elif time.monotonic() - still_since > 3:
            break
    return last


def run(url: str, clients: int, duration: float, max_requests: int, feedback_every: int = 3,
        timeout: float = 60.0, db: Path | str | None = None, context: ssl.SSLContext | None = None,
        kill_at: float | None = None, kill=None) -> dict:
    """`kill`, called `kill_at` seconds in, kills a server process (a crash in the middle of the run)."""
    host, port = loopback_target(url, tls=context is not None)
    clients = max(1, min(int(clients), MAX_CLIENTS))
    duration = max(0.1, min(float(duration), MAX_DURATION))
    max_requests = max(1, min(int(max_requests), MAX_REQUESTS))
    before = {t: count_rows(db, t) for t in ("feedback", "queries")} if db else {}
    tally, budget = Tally(), Budget(max_requests)
    started = time.monotonic()
    deadline = started + duration
    threads = [threading.Thread(target=client_loop, args=(n, host, port, deadline, budget, feedback_every,
                                                         timeout, tally, context), daemon=True) for n in range(clients)]
    killer = threading.Timer(kill_at, kill) if kill is not None and kill_at is not None else None
    for t in threads:
        t.start()
    if killer:
        killer.start()
    for t in threads:
        t.join(duration + timeout + 30)
    if killer:
        killer.cancel()
    elapsed = time.monotonic() - started
    everything = tally.latencies["ask"] + tally.latencies["feedback"]
    errors = sum(tally.errors.values())
    report = {
        "url": url, "clients": clients, "duration_s": round(elapsed, 1),
        "requests": len(everything) + sum(v for k, v in tally.errors.items() if "HTTP" not in k),
        "requests_per_s": round(len(everything) / elapsed, 1) if elapsed else None,
        "latency": {"all": summary(everything), "ask": summary(tally.latencies["ask"]),
                    "feedback": summary(tally.latencies["feedback"])},
        "answers": tally.answers, "refused": tally.refused,
        "errors": errors, "error_kinds": dict(sorted(tally.errors.items())),
        "errors_between_s": [round(min(tally.error_times) - started, 2), round(max(tally.error_times) - started, 2)]
        if tally.error_times else None,
        "feedback_stored": len(tally.feedback_ids), "feedback_not_stored": tally.feedback_not_stored,
        "feedback_ids_unique": len(set(tally.feedback_ids)) == len(tally.feedback_ids),
    }
    lost = 0
    if db:
        fb_after = settle(db, "feedback", (before["feedback"] or 0) + len(tally.feedback_ids))
        q_after = settle(db, "queries", (before["queries"] or 0) + tally.answers)
        fb_new = (fb_after or 0) - (before["feedback"] or 0)
        q_new = (q_after or 0) - (before["queries"] or 0)
        missing = len(set(tally.feedback_ids) - stored_ids(db))
        report["db"] = {"path": _shown(db), "feedback_rows_new": fb_new, "query_rows_new": q_new,
                        "feedback_lost": len(tally.feedback_ids) - fb_new, "feedback_acknowledged_missing": missing,
                        "queries_lost": (tally.answers - q_new) if q_new else None}
        lost = max(0, report["db"]["feedback_lost"]) + max(0, report["db"]["queries_lost"] or 0) + missing
        if q_new == 0:
            report["db"]["note"] = "no query-log rows written: is POLICY_QUERY_LOG off?"
    report["ok"] = errors == 0 and lost == 0 and report["feedback_ids_unique"] and tally.feedback_not_stored == 0
    if kill is not None:
        # a process was killed: requests in flight on it may fail, and the query-log rows it had queued
        # (written behind the answer, never acknowledged) may be lost; acknowledged feedback may not
        report["killed_at_s"] = kill_at
        report["ok"] = bool(db) and report["db"]["feedback_acknowledged_missing"] == 0 and report["feedback_ids_unique"]
    return report


def _shown(db: Path | str) -> str:
    if isinstance(db, str) and db.startswith("postgres"):
        from web.database import postgres_display
        return postgres_display(db)
    return str(db)


# ---------------------------------------------------------------------- a server of its own

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    db = folder / "policy.sqlite3"
    env = {**os.environ, "POLICY_DB": str(db), "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           **(extra_env or {})}
    env.pop("POLICY_FEEDBACK_DB", None)
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(port, proc, folder / "server.log", "server")
    except RuntimeError:
        stop_server(proc)
        raise
    return proc, f"http://127.0.0.1:{port}", db


def wait_healthy(port: int, proc: subprocess.Popen, log: Path, what: str, timeout: float = START_TIMEOUT) -> None:
    """Until GET /healthz on the port answers 200; RuntimeError with the log's end if the process
    exits or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} not healthy after {timeout:.0f} s:\n{log.read_text(errors='replace')[-3000:]}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def print_report(r: dict) -> None:
    def line(name: str, s: dict) -> str:
        if not s["count"]:
            return f"  {name:<9} -"
        return (f"  {name:<9} n={s['count']:<6} p50 {s['p50_ms']:>7.1f} ms  p95 {s['p95_ms']:>7.1f} ms  "
                f"p99 {s['p99_ms']:>7.1f} ms  max {s['max_ms']:>7.1f} ms")
    print(f"load: {r['clients']} clients, {r['duration_s']} s against {r['url']}")
    print(f"  requests  {r['requests']}  ({r['requests_per_s']} req/s); answers {r['answers']}, "
          f"declined {r['refused']}")
    for name in ("all", "ask", "feedback"):
        print(line(name, r["latency"][name]))
    print(f"  errors    {r['errors']}" + (f"  {r['error_kinds']}, between {r['errors_between_s'][0]} and "
                                          f"{r['errors_between_s'][1]} s" if r["errors"] else ""))
    print(f"  feedback  {r['feedback_stored']} confirmed stored, {r['feedback_not_stored']} not stored")
    if "db" in r:
        d = r["db"]
        print(f"  database  feedback rows +{d['feedback_rows_new']} (lost {d['feedback_lost']}; acknowledged and "
              f"missing {d['feedback_acknowledged_missing']}), query-log rows +{d['query_rows_new']} "
              f"(lost {d['queries_lost']})" + (f"  {d['note']}" if "note" in d else ""))
    if "killed_at_s" in r:
        print(f"  killed    one app process (SIGKILL) at {r['killed_at_s']} s")
        print("  result    " + ("OK: no acknowledged feedback row lost" if r["ok"] else "FAILED"))
    else:
        print("  result    " + ("OK: no errors, no rows lost" if r["ok"] else "FAILED"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/load.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server on this machine (default: start one)")
    parser.add_argument("--db", help="its database, to count the rows written (POLICY_DB: a SQLite file or a "
                                     "postgresql:// URL)")
    parser.add_argument("--cafile", help="the server's certificate, for an https:// URL")
    parser.add_argument("--cluster", type=int, metavar="N", help="start PostgreSQL, N app processes and nginx "
                                                                   "(bench/cluster.py) and drive nginx")
    parser.add_argument("--kill-at", type=float, metavar="S", help="with --cluster: kill -9 one app process S s in")
    parser.add_argument("--clients", type=int, default=20, help=f"concurrent clients (default 20, at most {MAX_CLIENTS})")
    parser.add_argument("--duration", type=float, default=60.0, help=f"seconds (default 60, at most {MAX_DURATION:.0f})")
    parser.add_argument("--requests", type=int, default=MAX_REQUESTS,
                        help=f"stop after this many requests in all (default and most {MAX_REQUESTS})")
    parser.add_argument("--feedback-every", type=int, default=3, help="send 👍/👎 on every k-th answer (0: never)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for one request")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.clients > MAX_CLIENTS or not 0 < args.duration <= MAX_DURATION \
            or args.requests < 1 or args.requests > MAX_REQUESTS or args.feedback_every < 0:
        parser.error(f"limits: 1..{MAX_CLIENTS} clients, 0..{MAX_DURATION:.0f} s, 1..{MAX_REQUESTS} requests")
    if args.cluster is not None and (args.url or not 1 <= args.cluster <= 8):
        parser.error("--cluster takes 1..8 processes and no --url")
    if args.kill_at is not None and (args.cluster is None or args.cluster < 2 or not 0 < args.kill_at < args.duration):
        parser.error("--kill-at needs --cluster 2 or more and a time within --duration")
    proc = tmp = deployment = None
    context = kill = None
    try:
        if args.cafile:
            context = ssl.create_default_context(cafile=args.cafile)
        if args.cluster:
            from bench.cluster import Cluster, missing_tools
            problem = missing_tools()
            if problem:
                raise RuntimeError(problem)
            tmp = tempfile.TemporaryDirectory(prefix="policy-cluster-")
            print(f"starting PostgreSQL, {args.cluster} app processes and nginx …", file=sys.stderr, flush=True)
            deployment = Cluster(Path(tmp.name), apps=args.cluster).__enter__()
            url, db, context = deployment.nginx.url, deployment.db, deployment.nginx.ssl_context()
            if args.kill_at is not None:
                kill = lambda: deployment.kill(0)  # noqa: E731
        elif args.url:
            url, db = args.url, args.db
            loopback_target(url, tls=context is not None)
        else:
            tmp = tempfile.TemporaryDirectory(prefix="policy-load-")
            print("starting a server (python app.py) with a temporary database …", file=sys.stderr, flush=True)
            proc, url, db = start_server(Path(tmp.name))
        report = run(url, args.clients, args.duration, args.requests, args.feedback_every, args.timeout, db,
                     context=context, kill_at=args.kill_at, kill=kill)
    except Refused as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        if deployment is not None:
            deployment.__exit__()
        if proc is not None:
            stop_server(proc)
        if tmp is not None:
            tmp.cleanup()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print_report(report)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
