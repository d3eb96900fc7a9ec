"""web.storage on a real PostgreSQL server that this module starts itself (initdb into a temporary
folder, pg_ctl on a loopback port; bench/cluster.py): the same promises as on SQLite — redaction,
no row lost by concurrent writers, retention, gaps — plus migrations run once by processes starting
together, a connection the server dropped, and a server that is down."""
import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import cluster
from web import admin, database, schema, writer
from web.storage import StorageSettings, Store

from web_helpers import concurrent_writes, connect_at_once

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


def test_settings_read_a_url(load_settings):
    s = load_settings({"POLICY_DB": "postgresql://app:pw@db.internal:5432/policy"}).storage
    assert s.url == "postgresql://app:pw@db.internal:5432/policy" and s.path is None
    assert Store(s).name == "postgresql://app@db.internal:5432/policy"        # never the password
    with pytest.raises(ValueError, match="POLICY_DB: not a usable PostgreSQL URL") as bad:
        load_settings({"POLICY_DB": "postgresql://app:secret@db/policy?sslmode=sometimes&bogus"})
    assert "secret" not in str(bad.value)


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
    assert connect_at_once(url, 6) == []
    versions = sql(url, "SELECT version, description FROM schema_version ORDER BY version")
    assert [v for v, _ in versions] == [m.version for m in schema.MIGRATIONS] == list(range(1, schema.LATEST + 1))
    database.backend(url).connect().close()                      # a restart applies nothing again
    assert len(sql(url, "SELECT * FROM schema_version")) == schema.LATEST


def test_a_database_at_the_previous_version_is_migrated(url):
    """Version LATEST-1 as the previous release wrote it (tests/data/storage/postgresql-v2.sql)."""
    frozen = Path(__file__).parent / "data" / "storage" / "postgresql-v2.sql"
    sql(url, frozen.read_text(encoding="utf-8"))
    before = {t: sql(url, f"SELECT * FROM {t} ORDER BY id") for t in schema.TABLES}
    assert [v for (v,) in sql(url, "SELECT version FROM schema_version ORDER BY version")] == [1, 2]
    store = Store(url)
    store.log_query(answer("新问题"), 0.01, "api")
    assert store.add_feedback("down", "新的", "a") == 2
    assert store.flush()
    assert [v for (v,) in sql(url, "SELECT version FROM schema_version ORDER BY version")] == [1, 2, 3]
    for table in schema.TABLES:
        assert sql(url, f"SELECT * FROM {table} ORDER BY id")[:len(before[table])] == before[table]
    assert sql(url, "SELECT id, question FROM queries ORDER BY id DESC LIMIT 1") == [(3, "新问题")]
    assert {"queries_declined", "feedback_down"} <= {n for (n,) in sql(url, "SELECT indexname FROM pg_indexes")}
    assert [g["question"] for g in store.gaps(days=10_000)] == ["怎么申请公租房？", "新的"]
    store.close()


def test_a_newer_schema_is_not_written_to(url, caplog, monkeypatch):
    monkeypatch.setattr(writer, "WARN_EVERY", 0.0)
    database.backend(url).connect().close()
    sql(url, "INSERT INTO schema_version VALUES (99, 'from a newer app', now())")
    store = Store(url)
    with caplog.at_level(logging.WARNING, logger="web.writer"):
        assert store.log_query(answer(), 0.01, "api") is True          # the answer is not held up
        assert store.add_feedback("up", "q", "a") is None
        assert store.flush()
    assert f"schema version 99, newer than this app's {schema.LATEST}: upgrade the app" in caplog.text
    assert store.count("feedback") == 0
    store.close()


def test_lock_errors_are_recognised_by_type(url):
    """A lock another session holds (SQLSTATE 55P03) is worth another try; a broken rule is not."""
    import psycopg
    db = database.backend(url)
    db.connect().close()
    with psycopg.connect(url) as holder, psycopg.connect(url, autocommit=True) as other:
        holder.execute("LOCK TABLE feedback IN EXCLUSIVE MODE")
        other.execute("SET lock_timeout = '50ms'")
        with pytest.raises(psycopg.Error) as locked:
            other.execute("INSERT INTO feedback (created_at, rating, question, answer, citation_ids)"
                          " VALUES (now(), 'up', '', '', '[]')")
        holder.rollback()
        with pytest.raises(psycopg.Error) as broken:
            other.execute("INSERT INTO feedback (created_at, rating, question, answer, citation_ids)"
                          " VALUES (now(), 'sideways', '', '', '[]')")
    assert db.transient(locked.value) and not db.transient(broken.value)


def test_a_connection_the_server_dropped_is_replaced_without_losing_the_row(url, caplog):
    store = Store(url)
    assert store.add_feedback("up", "之前", "a") == 1
    killed = sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE application_name = 'policy-assistant' AND pid <> pg_backend_pid()")
    assert killed and all(ok for (ok,) in killed)
    with caplog.at_level(logging.WARNING, logger="web.writer"):
        assert store.add_feedback("up", "之后", "a") == 2
    assert store.dropped == 0 and "not stored" not in caplog.text
    store.close()


def test_a_server_that_is_down_costs_a_warning(caplog, monkeypatch, capsys):
    monkeypatch.setattr(writer, "WARN_EVERY", 0.0)
    monkeypatch.setattr(writer, "RETRY_OPEN_AFTER", 0.0)
    down = f"postgresql://policy:s3cret@127.0.0.1:{cluster.free_port()}/policy"
    store = Store(down)
    with caplog.at_level(logging.WARNING, logger="web.writer"):
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
