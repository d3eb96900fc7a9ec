"""A short, bounded run of bench/load.py against the real server: 20 concurrent clients, 100 requests
through /api/ask and /api/feedback, no errors, no feedback or query-log row lost. (The 60-second
floor is bench/load.py's own default run, not a test.) And the script refuses any host that is not
this machine."""
import json
import subprocess
import sys

import pytest

from web_helpers import ROOT, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOAD = [sys.executable, str(ROOT / "bench" / "load.py")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("web-load")) as srv:
        yield srv


def test_twenty_clients_no_errors_no_lost_rows(server):
    run = subprocess.run(LOAD + ["--url", server.url, "--db", str(server.feedback_db), "--clients", "20",
                                 "--requests", "100", "--duration", "60", "--feedback-every", "2", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["ok"] and report["errors"] == 0 and report["clients"] == 20
    assert report["requests"] == 100 and report["latency"]["ask"]["count"] >= 50
    assert report["feedback_stored"] >= 20 and report["feedback_ids_unique"]
    assert report["db"]["feedback_lost"] == 0 and report["db"]["feedback_rows_new"] == report["feedback_stored"]
    assert report["db"]["queries_lost"] == 0 and report["db"]["query_rows_new"] == report["answers"]
    assert report["latency"]["all"]["p95_ms"] is not None


@pytest.mark.parametrize("url", ["http://192.0.2.10:7860", "http://[2001:db8::1]:7860", "https://127.0.0.1:7860",
                                 "ftp://127.0.0.1/", "http://0.0.0.0:7860"])
def test_refuses_anything_but_loopback(url):
    run = subprocess.run(LOAD + ["--url", url, "--duration", "1"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "error:" in run.stderr


@pytest.mark.parametrize("args", [["--clients", "201"], ["--duration", "901"], ["--requests", "0"]])
def test_bounded(args):
    run = subprocess.run(LOAD + ["--url", "http://127.0.0.1:9"] + args, cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 2 and "limits" in run.stderr
