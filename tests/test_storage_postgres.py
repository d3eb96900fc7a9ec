"""web.storage on a real PostgreSQL server that this module starts itself (initdb into a temporary
folder, pg_ctl on a loopback port; bench/cluster.py): the same promises as on SQLite — redaction,
no row lost by concurrent writers, retention, gaps — plus migrations run once by processes starting
together, a connection the server dropped, and a server that is down."""
import json
import logging
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest

from bench import cluster
from web import admin, database, storage
from web.storage import StorageSettings, Store

from web_helpers import concurrent_writes

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ID_CARD, PHONE = "11010519491231002X", "13812345678"


@pytest.fixture(scope="module")
def pg():
    problem = cluster.missing_tools()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL tests cannot run in CI: {problem}")
        pytest.skip(problem)
    server = cluster.Postgres().start()
    yield server
    server.stop()


_names = iter(range(1_000_000))


@pytest.fixture
def url(pg):
    """A new, empty database on the module's server."""
    return pg.database(f"t{next(_names)}")


def answer(question="创业担保贷款有什么规定？", refused=False, reason=None, cites=("nmg-2017-132:3.4",)):
    return {"question": question, "answer": "…", "refused": refused, "refusal_reason": reason,
            "citations": [{"id": c} for c in cites], "generator": "extractive", "llm_error": None}


def sql(url, statement, params=()):
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else None


def test_settings_read_a_url():
    s = StorageSettings.from_env({"POLICY_DB": "postgresql://app:pw@db.internal:5432/policy"})
    assert s.url == "postgresql://app:pw@db.internal:5432/policy" and s.path is None
    assert Store(s).name == "postgresql://app@db.internal:5432/policy"        # never the password
    with pytest.raises(ValueError, match="not a usable PostgreSQL URL"):
        StorageSettings.from_env({"POLICY_DB": "postgresql://app@db/policy?sslmode=sometimes&bogus"})


def test_rows_are_redacted_and_read_back_as_on_sqlite(url):
    store = Store(url)
    store.log_query(answer(f"身份证{ID_CARD}，电话{PHONE}，能贷款吗？"), 0.0424, "chat")
    row_id = store.add_feedback("down", f"我的电话{PHONE}", "答", ["byn-2018-49:3.9"], refused=False, comment="'); --")
    assert store.flush() and row_id == 1
    dump = repr(sql(url, "SELECT * FROM queries")) + repr(sql(url, "SELECT * FROM feedback"))
    assert ID_CARD not in dump and PHONE not in dump
    q = store.rows("queries")[0]
    assert q["question"] == "身份证[身份证号]，电话[手机号]，能贷款吗？" and q["latency_ms"] == 42
    assert q["citation_ids"] == ["nmg-2017-132:3.4"] and q["instance"] == store.instance
    assert datetime.fromisoformat(q["created_at"]).tzinfo is not None
    f = store.rows("feedback")[0]
    assert (f["rating"], f["comment"], f["refused"], f["citation_ids"]) == ("down", "'); --", 0, ["byn-2018-49:3.9"])
    assert sql(url, "SELECT data_type FROM information_schema.columns WHERE table_name = 'feedback'"
                    " AND column_name = 'created_at'") == [("timestamp with time zone",)]
    store.close()


def test_two_processes_worth_of_writers_lose_no_row(url):
    """Two stores (two connections, as two app processes have) × 8 threads each, at once."""
    one, two = Store(url), Store(url)
    two.instance = "other-host:1"
    ids = concurrent_writes(one, two, answer)
    assert one.flush() and two.flush()
    assert None not in ids and len(set(ids)) == len(ids) == 16 * 20
    assert one.ids("feedback") == set(ids) and two.count("queries") == 16 * 40
    assert dict(sql(url, "SELECT instance, COUNT(*) FROM feedback GROUP BY instance")) == {
        one.instance: 160, "other-host:1": 160}
    assert one.dropped == two.dropped == 0
    one.close()
    two.close()


def test_migrations_run_once_when_processes_start_together(url):
    errors = []

    def start():
        try:
            database.backend(url).connect().close()
        except Exception as e:  # collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    versions = sql(url, "SELECT version, description FROM schema_version ORDER BY version")
    assert [v for v, _ in versions] == [m.version for m in database.MIGRATIONS] == [1, 2]
    database.backend(url).connect().close()                      # a restart applies nothing again
    assert len(sql(url, "SELECT * FROM schema_version")) == 2


def test_a_newer_schema_is_not_written_to(url, caplog, monkeypatch):
    monkeypatch.setattr(storage, "WARN_EVERY", 0.0)
    database.backend(url).connect().close()
    sql(url, "INSERT INTO schema_version (version, description) VALUES (99, 'from a newer app')")
    store = Store(url)
    with caplog.at_level(logging.WARNING, logger="web.storage"):
        assert store.log_query(answer(), 0.01, "api") is True          # the answer is not held up
        assert store.add_feedback("up", "q", "a") is None
        assert store.flush()
    assert "schema version 99, newer than this app's 2: upgrade the app" in caplog.text
    assert store.count("feedback") == 0
    store.close()


def test_a_connection_the_server_dropped_is_replaced_without_losing_the_row(url, caplog):
    store = Store(url)
    assert store.add_feedback("up", "之前", "a") == 1
    killed = sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE application_name = 'policy-assistant' AND pid <> pg_backend_pid()")
    assert killed and all(ok for (ok,) in killed)
    with caplog.at_level(logging.WARNING, logger="web.storage"):
        assert store.add_feedback("up", "之后", "a") == 2
    assert store.dropped == 0 and "not stored" not in caplog.text
    store.close()


def test_a_server_that_is_down_costs_a_warning(caplog, monkeypatch, capsys):
    monkeypatch.setattr(storage, "WARN_EVERY", 0.0)
    monkeypatch.setattr(storage, "RETRY_OPEN_AFTER", 0.0)
    down = f"postgresql://policy:s3cret@127.0.0.1:{cluster.free_port()}/policy"
    store = Store(down)
    with caplog.at_level(logging.WARNING, logger="web.storage"):
        assert store.log_query(answer(), 0.01, "api") is True
        assert store.add_feedback("down", "q", "a") is None
        assert store.flush()
    assert "cannot be used" in caplog.text and "s3cret" not in caplog.text
    store.close()
    assert admin.main(["gaps", "--db", down]) == admin.EXIT_DATA
    err = capsys.readouterr().err
    assert "cannot read postgresql://policy@127.0.0.1" in err and "s3cret" not in err


def test_retention_and_gaps(url, capsys):
    store = Store(StorageSettings.at(url, retention_days=30))
    for q in ["怎么申请公租房？", "怎么申请公租房", "怎么 申请公租房?"]:
        store.log_query(answer(q, refused=True, reason="out_of_scope", cites=()), 0.01, "api")
    store.add_feedback("down", "创业补贴每月多少钱？", "…")
    store.add_feedback("up", "创业补贴每月多少钱？", "…")
    store.log_query(answer(), 0.01, "api")
    store.flush()
    old = datetime.now(UTC) - timedelta(days=31)
    sql(url, "INSERT INTO queries (created_at, question, refused, citation_ids, generator, latency_ms, source)"
             " VALUES (%s, '旧问题', 1, '[]', 'extractive', 1, 'api')", (old,))
    gaps = store.gaps(days=60)
    assert [(g["question"], g["count"]) for g in gaps][:1] == [("怎么申请公租房？", 3)]
    assert {g["question"] for g in gaps} == {"怎么申请公租房？", "创业补贴每月多少钱？", "旧问题"}
    assert store.purge() == {"feedback": 0, "queries": 1}
    assert admin.main(["gaps", "--db", url.replace("policy@", "policy:pw@"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [g["question"] for g in out["gaps"]] == ["怎么申请公租房？", "创业补贴每月多少钱？"]
    assert ":pw@" not in out["db"]
    store.close()
