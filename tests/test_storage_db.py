"""web.storage: the query log and feedback in SQLite — configuration, redaction, concurrent writers,
retention, and a database that is locked, read-only, damaged or unreachable (a warning, never an
error for the caller). Also the admin command `gaps` (web.admin)."""
import json
import logging
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from web import admin, database, schema, storage, writer
from web.storage import StorageSettings, Store, question_key

from web_helpers import concurrent_writes, connect_at_once

pytestmark = pytest.mark.integration

ID_CARD, PHONE, CARD = "11010519491231002X", "13812345678", "6222021234567894"  # checksums valid


def answer(question="创业担保贷款有什么规定？", refused=False, reason=None, cites=("nmg-2017-132:3.4",), **extra):
    return {"question": question, "answer": "…", "refused": refused, "refusal_reason": reason,
            "citations": [{"id": c} for c in cites], "generator": "extractive", "llm_error": None, **extra}


@pytest.fixture
def fast(monkeypatch):
    """Short waits, so the failure cases take a moment, not seconds."""
    monkeypatch.setattr(storage, "BUSY_TIMEOUT", 0.2)
    monkeypatch.setattr(writer, "RETRY_OPEN_AFTER", 0.0)
    monkeypatch.setattr(writer, "WARN_EVERY", 0.0)


# ---------------------------------------------------------------- configuration

def test_settings_from_env(tmp_path, load_settings):
    s = load_settings({}).storage
    assert s.path == storage.DEFAULT_DB and s.query_log and s.feedback and s.retention_days == 180
    s = load_settings({"POLICY_DB": str(tmp_path / "x.db"), "POLICY_QUERY_LOG": "off",
                       "POLICY_FEEDBACK": "ON", "POLICY_RETENTION_DAYS": "30"}).storage
    assert (s.path, s.query_log, s.feedback, s.retention_days) == (tmp_path / "x.db", False, True, 30)
    assert load_settings({"POLICY_FEEDBACK_DB": "/tmp/old.db"}).storage.path.name == "old.db"  # older name
    assert load_settings({"POLICY_DB": "/tmp/a.db", "POLICY_FEEDBACK_DB": "/tmp/b.db"}).storage.path.name == "a.db"


@pytest.mark.parametrize("env, fragment", [
    ({"POLICY_QUERY_LOG": "maybe"}, "POLICY_QUERY_LOG must be on or off, got 'maybe'"),
    ({"POLICY_FEEDBACK": "2"}, "POLICY_FEEDBACK must be on or off"),
    ({"POLICY_RETENTION_DAYS": "half a year"}, "POLICY_RETENTION_DAYS must be a whole number"),
    ({"POLICY_RETENTION_DAYS": "0"}, "POLICY_RETENTION_DAYS must be at least 1"),
])
def test_bad_settings_stop_with_a_message(env, fragment, load_settings):
    with pytest.raises(ValueError, match=fragment):
        load_settings(env)


def test_off_means_nothing_is_written(tmp_path):
    path = tmp_path / "off.sqlite3"
    store = Store(StorageSettings(db=path, query_log=False, feedback=False))
    store.start()
    assert store.log_query(answer(), 0.1, "api") is False
    assert store.add_feedback("down", "q", "a") is None
    assert store.flush() and not path.exists()


def test_query_log_off_feedback_on(tmp_path):
    store = Store(StorageSettings(db=tmp_path / "f.sqlite3", query_log=False))
    assert store.log_query(answer(), 0.1, "api") is False
    assert store.add_feedback("up", "q", "a") == 1
    store.flush()
    assert store.count("queries") == 0 and store.count("feedback") == 1
    store.close()
    assert store.add_feedback("up", "after close", "a") == 2          # a closed store starts again when used
    store.close()


# ---------------------------------------------------------------- what a row holds

def test_query_row_is_redacted_and_complete(tmp_path):
    store = Store(tmp_path / "q.sqlite3")
    # the core hands over the question already redacted; the store redacts again whatever it is given
    raw = f"身份证{ID_CARD}，电话 +86 138-1234-5678，卡号{CARD}，能贷款吗？"
    store.log_query(answer(raw, cites=("nmg-2017-132:3.4", "byn-2018-49:3.10"), generator="llm"), 0.0424, "chat")
    store.log_query(answer("怎么申请公租房？", refused=True, reason="out_of_scope", cites=(), llm_error="busy"),
                    0.01, "api")
    assert store.flush()
    assert sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    dump = repr(sqlite3.connect(store.path).execute("SELECT * FROM queries").fetchall())
    assert ID_CARD not in dump and "1234-5678" not in dump and CARD not in dump
    declined, first = store.rows("queries")
    assert first["question"] == "身份证[身份证号]，电话 [手机号]，卡号[银行卡号]，能贷款吗？"
    assert first["refused"] == 0 and first["refusal_reason"] is None and first["generator"] == "llm"
    assert first["citation_ids"] == ["nmg-2017-132:3.4", "byn-2018-49:3.10"]
    assert first["latency_ms"] == 42 and first["source"] == "chat"
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None
    assert declined["refused"] == 1 and declined["refusal_reason"] == "out_of_scope"
    assert declined["citation_ids"] == [] and declined["llm_error"] == "busy"
    store.close()


def test_text_typed_as_sql_is_stored_as_text(tmp_path):
    store = Store(tmp_path / "q.sqlite3")
    evil = "'); DROP TABLE queries; -- 创业补贴"
    store.log_query(answer(evil), 0.01, "api")
    store.add_feedback("down", evil, evil, [evil], comment=evil)
    store.flush()
    assert store.rows("queries")[0]["question"] == evil
    assert store.rows("feedback")[0]["citation_ids"] == [evil]
    assert store.count("queries") == 1 and store.count("feedback") == 1
    store.close()


def test_malformed_answers_are_logged_as_far_as_they_go(tmp_path):
    store = Store(tmp_path / "q.sqlite3")
    assert store.log_query({"question": 5, "citations": "x", "refused": "yes", "generator": None}, -1, "api")
    assert store.log_query({"question": "a\ud800b", "citations": [None, {"id": 3}]}, 0.5, "api")
    store.flush()
    second, first = store.rows("queries")
    assert first["question"] == "5" and first["refused"] == 1 and first["latency_ms"] == 0
    assert second["question"] == "a?b" and second["citation_ids"] == ["3"]
    store.close()


# ---------------------------------------------------------------- concurrent writers

def test_connections_opening_a_new_file_at_once_all_open(tmp_path):
    """Switching a new file to WAL is refused at once while another connection opens it; each waits."""
    for attempt in range(20):
        errors = connect_at_once(tmp_path / f"new{attempt}.sqlite3", 3)
        assert not errors, errors


def test_concurrent_writers_lose_no_row(tmp_path):
    """16 threads × 60 rows through one store, and a second store (another connection, as a second
    process would have) writing to the same file at the same time."""
    path = tmp_path / "busy.sqlite3"
    one, two = Store(path), Store(path)
    ids = concurrent_writes(one, two, answer)
    assert one.flush() and two.flush()
    assert None not in ids and len(set(ids)) == len(ids) == 16 * 20
    assert one.count("feedback") == 16 * 20 and one.count("queries") == 16 * 40
    assert one.dropped == two.dropped == 0
    one.close()
    two.close()


# ---------------------------------------------------------------- retention

def _insert_old(path, days_ago: float, n: int = 3):
    when = storage.stamp(datetime.now(UTC) - timedelta(days=days_ago))
    database.backend(path).connect().close()            # created and migrated as the app does
    conn = sqlite3.connect(path)
    for i in range(n):
        conn.execute("INSERT INTO queries (created_at, question, refused, citation_ids, generator, latency_ms, source)"
                     " VALUES (?, ?, 1, '[]', 'extractive', 1, 'api')", (when, f"旧问题{days_ago}-{i}"))
        conn.execute("INSERT INTO feedback (created_at, rating, question, answer, citation_ids)"
                     " VALUES (?, 'down', ?, '', '[]')", (when, f"旧问题{days_ago}-{i}"))
    conn.commit()
    conn.close()


def test_rows_past_the_retention_period_are_deleted_on_start(tmp_path):
    path = tmp_path / "r.sqlite3"
    _insert_old(path, 200)
    _insert_old(path, 179, n=2)
    store = Store(StorageSettings(db=path, retention_days=180))
    store.start()
    assert store.flush()
    assert store.count("queries") == 2 and store.count("feedback") == 2
    assert all(r["question"].startswith("旧问题179") for r in store.rows("queries"))
    store.close()


def test_purge_runs_again_while_the_server_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "PURGE_EVERY", 0.3)  # "daily", compressed
    path = tmp_path / "r.sqlite3"
    store = Store(StorageSettings(db=path, retention_days=30))
    store.start()
    store.log_query(answer(), 0.01, "api")
    assert store.flush()
    _insert_old(path, 31)
    assert store.count("queries") == 4
    deadline = datetime.now() + timedelta(seconds=10)
    while store.count("queries") != 1 and datetime.now() < deadline:
        threading.Event().wait(0.1)
    assert store.count("queries") == 1 and store.count("feedback") == 0
    store.close()


# ---------------------------------------------------------------- a database that cannot be written

def test_locked_database_costs_a_warning_and_recovers(tmp_path, fast, caplog):
    path = tmp_path / "locked.sqlite3"
    store = Store(path)
    store.log_query(answer("第一个"), 0.01, "api")
    assert store.flush()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    with caplog.at_level(logging.WARNING, logger="web.writer"):
        assert store.log_query(answer("锁住时"), 0.01, "api") is True   # the caller is never held up or failed
        assert store.add_feedback("down", "锁住时", "a") is None
        assert store.flush()
    assert "not stored" in caplog.text and "locked" in caplog.text
    holder.execute("ROLLBACK")
    holder.close()
    assert store.add_feedback("up", "解锁后", "a") is not None
    store.log_query(answer("解锁后"), 0.01, "api")
    assert store.flush()
    assert [r["question"] for r in store.rows("queries")] == ["解锁后", "第一个"]
    store.close()


def read_only(store: Store, monkeypatch) -> Store:
    """The same writer on a connection that may not write (as on a read-only file or file system)."""
    connect = store.db.connect

    def read_only_connect():
        conn = connect()
        conn.execute("PRAGMA query_only = ON")
        return conn

    monkeypatch.setattr(store.db, "connect", read_only_connect)
    return store


def test_read_only_database_costs_a_warning(tmp_path, fast, caplog, monkeypatch):
    path = tmp_path / "ro.sqlite3"
    Store(path).add_feedback("up", "之前", "a")
    store = read_only(Store(path), monkeypatch)
    with caplog.at_level(logging.WARNING, logger="web.writer"):
        assert store.log_query(answer(), 0.01, "api") is True
        assert store.add_feedback("down", "q", "a") is None
        assert store.flush()
    assert "readonly" in caplog.text.replace("read-only", "readonly")
    assert store.dropped == 2 and store.count("feedback") == 1 and store.count("queries") == 0
    store.close()


def test_unreachable_folder_costs_a_warning(tmp_path, fast, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = Store(blocker / "sub" / "db.sqlite3")
    with caplog.at_level(logging.WARNING, logger="web.writer"):
        store.start()
        assert store.log_query(answer(), 0.01, "api") is True
        assert store.add_feedback("down", "q", "a") is None
        assert store.flush()
    assert "cannot be used" in caplog.text
    assert store.rows() == [] and store.gaps() == []
    store.close()


def test_damaged_database_file_costs_a_warning(tmp_path, fast, caplog):
    path = tmp_path / "damaged.sqlite3"
    path.write_bytes(b"this is not an SQLite database\x00" * 200)
    store = Store(path)
    with caplog.at_level(logging.WARNING, logger="web.writer"):
        assert store.log_query(answer(), 0.01, "api") is True
        assert store.add_feedback("up", "q", "a") is None
        assert store.flush()
    assert "not a database" in caplog.text
    store.close()


def test_backlog_is_bounded(tmp_path, fast, monkeypatch, caplog):
    monkeypatch.setattr(writer, "MAX_PENDING", 5)
    path = tmp_path / "slow.sqlite3"
    store = Store(path)
    store.add_feedback("up", "q", "a")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with caplog.at_level(logging.WARNING, logger="web.writer"):
        results = [store.log_query(answer(f"q{i}"), 0.01, "api") for i in range(50)]
    holder.execute("ROLLBACK")
    holder.close()
    assert results.count(False) >= 40 and "dropped" in caplog.text
    assert store.flush()
    store.close()


# ---------------------------------------------------------------- schema versions
# tests/data/storage/*.sql are databases as earlier releases wrote them (frozen; never regenerate)

FROZEN = Path(__file__).parent / "data" / "storage"


def frozen(path, name):
    """A SQLite file made from a frozen dump; its rows as they were."""
    conn = sqlite3.connect(path)
    conn.executescript((FROZEN / name).read_text(encoding="utf-8"))
    before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in schema.TABLES}
    conn.close()
    return before


def versions(path):
    with sqlite3.connect(path) as conn:
        return [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]


def indexes(path):
    with sqlite3.connect(path) as conn:
        return {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}


def test_a_fresh_database_gets_every_migration(tmp_path):
    path = tmp_path / "new.sqlite3"
    store = Store(path)
    assert store.add_feedback("up", "q", "a") == 1
    assert versions(path) == [m.version for m in schema.MIGRATIONS] == list(range(1, schema.LATEST + 1))
    with sqlite3.connect(path) as conn:
        for table, columns in schema.COLUMNS.items():
            have = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            assert have == ["id", *columns]
    assert {"queries_declined", "feedback_down", "queries_created", "feedback_created"} <= indexes(path)
    store.close()
    database.backend(path).connect().close()                  # a restart applies nothing again
    assert versions(path) == list(range(1, schema.LATEST + 1))


def test_a_database_from_before_versions_is_adopted(tmp_path):
    """Version 1 as the first release wrote it: no schema_version table, no instance column."""
    path = tmp_path / "v1.sqlite3"
    before = frozen(path, "sqlite-v1.sql")
    store = Store(path)
    assert store.add_feedback("up", "新的", "a") == 2
    rows = {r["question"]: r for r in store.rows()}
    assert rows["怎么申请公租房？"]["instance"] == "" and rows["新的"]["instance"] == store.instance
    assert versions(path) == list(range(1, schema.LATEST + 1))
    with sqlite3.connect(path) as conn:                         # old rows: the same values, instance ''
        assert [r[:-1] for r in conn.execute("SELECT * FROM queries ORDER BY id")] == before["queries"]
    store.close()


def test_a_database_at_the_previous_version_is_migrated(tmp_path):
    """Version LATEST-1 as the previous release wrote it: rows kept, version bumped, ids go on."""
    assert schema.LATEST == 3, "freeze a database of the previous version under tests/data/storage/"
    path = tmp_path / "v2.sqlite3"
    before = frozen(path, "sqlite-v2.sql")
    assert versions(path) == [1, 2] and "queries_declined" not in indexes(path)
    store = Store(path)
    store.log_query(answer("新问题"), 0.01, "api")
    assert store.add_feedback("down", "新的", "a") == 2
    assert store.flush()
    assert versions(path) == [1, 2, 3] and {"queries_declined", "feedback_down"} <= indexes(path)
    with sqlite3.connect(path) as conn:
        for table in schema.TABLES:
            after = conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
            assert after[:len(before[table])] == before[table]
        assert conn.execute("SELECT id, question FROM queries ORDER BY id DESC LIMIT 1").fetchone() == (3, "新问题")
        plan = " ".join(r[-1] for r in conn.execute(
            "EXPLAIN QUERY PLAN SELECT question, created_at, refusal_reason FROM queries"
            " WHERE refused = 1 AND created_at >= '2026-01-01'"))
        assert "queries_declined" in plan                        # the gaps report uses the new index
    assert [g["question"] for g in store.gaps(days=10_000)] == ["怎么申请公租房？", "新的"]
    store.close()


def test_a_database_newer_than_the_app_is_not_written_to(tmp_path, fast, caplog):
    path = tmp_path / "newer.sqlite3"
    frozen(path, "sqlite-v2.sql")
    Store(path).close()
    Store(path).add_feedback("up", "q", "a")
    newer = schema.LATEST + 1
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 'from a newer app', '')", (newer,))
    with pytest.raises(schema.SchemaTooNew) as e:
        database.backend(path).connect()
    assert str(e.value) == (f"{path} has schema version {newer}, newer than this app's {schema.LATEST}: "
                            "upgrade the app (or point POLICY_DB at another database)")
    store = Store(path)
    with caplog.at_level(logging.WARNING, logger="web.writer"):
        assert store.log_query(answer(), 0.01, "api") is True           # the answer is not held up
        assert store.add_feedback("up", "q", "a") is None               # but nothing is written
        assert store.flush()
    assert "upgrade the app" in caplog.text and store.dropped == 2
    assert versions(path) == [1, 2, 3, newer] and store.count("feedback") == 2   # untouched, still readable
    store.close()


def test_lock_errors_are_recognised_by_code_not_message(tmp_path):
    path = tmp_path / "lock.sqlite3"
    db = database.backend(path, 0.05)
    db.connect().close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    conn = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError) as busy:
        conn.execute("BEGIN IMMEDIATE")
    holder.execute("ROLLBACK")
    assert db.transient(busy.value)
    reworded = sqlite3.OperationalError("database is locked")          # the text alone is not enough
    assert not db.transient(reworded)
    with pytest.raises(sqlite3.Error) as other:
        conn.execute("SELECT * FROM no_such_table")
    assert not db.transient(other.value)


def test_a_lock_held_briefly_is_waited_out(tmp_path, fast, monkeypatch):
    """SQLite's own busy wait is short here; the writer's retries outlast a lock held for 0.25 s."""
    monkeypatch.setattr(storage, "BUSY_TIMEOUT", 0.05)
    path = tmp_path / "brief.sqlite3"
    store = Store(path)
    assert store.add_feedback("up", "之前", "a") == 1
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.25, holder.execute, ("ROLLBACK",)).start()
    assert store.add_feedback("up", "锁住时", "a") == 2
    assert store.dropped == 0
    holder.close()
    store.close()


# ---------------------------------------------------------------- knowledge gaps

def test_question_key_groups_the_same_question():
    same = ["怎么申请公租房？", "怎么申请公租房", " 怎么 申请 公租房? ", "怎么申请公租房！！", "怎么申请公租房?"]
    assert len({question_key(q) for q in same}) == 1
    assert question_key("ＡＢＣ创业") == question_key("abc创业")
    assert question_key("创业补贴") != question_key("就业补贴")


@pytest.fixture
def gaps_db(tmp_path):
    store = Store(tmp_path / "gaps.sqlite3")
    for q in ["怎么申请公租房？", "怎么申请公租房", "怎么 申请公租房?", "怎么申请公租房？"]:
        store.log_query(answer(q, refused=True, reason="out_of_scope", cites=()), 0.01, "api")
    for _ in range(2):
        store.log_query(answer("创业补贴每月多少钱？", refused=True, reason="figure_missing", cites=()), 0.01, "api")
    store.log_query(answer("创业补贴每月多少钱？", refused=True, reason="no_match", cites=()), 0.01, "api")
    store.add_feedback("down", "创业补贴每月多少钱？", "…")
    store.add_feedback("down", "创业补贴每月多少钱", "…")
    store.add_feedback("down", "灵活就业社保怎么交？", "…")
    store.add_feedback("up", "灵活就业社保怎么交？", "…")              # 👍 is no gap
    store.log_query(answer("创业担保贷款有什么规定？"), 0.01, "api")       # answered: no gap
    store.flush()
    _insert_old(store.path, 60, n=5)                                  # outside --days 30
    yield store
    store.close()


def test_gaps_most_frequent_first(gaps_db):
    gaps = gaps_db.gaps(days=30, limit=10)
    assert [(g["question"], g["count"], g["declined"], g["thumbs_down"]) for g in gaps] == [
        ("创业补贴每月多少钱？", 5, 3, 2),
        ("怎么申请公租房？", 4, 4, 0),
        ("灵活就业社保怎么交？", 1, 0, 1),
    ]
    assert gaps[0]["reasons"] == {"figure_missing": 2, "no_match": 1}
    assert gaps[1]["variants"] == 3 and gaps[1]["reasons"] == {"out_of_scope": 4}
    assert len(gaps_db.gaps(days=30, limit=2)) == 2
    assert len(gaps_db.gaps(days=90, limit=100)) == 3 + 5


def test_admin_gaps_command(gaps_db, capsys, monkeypatch):
    monkeypatch.delenv("POLICY_DB", raising=False)
    assert admin.main(["gaps", "--db", str(gaps_db.path), "--days", "30", "--limit", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["days"] == 30 and [g["question"] for g in out["gaps"]] == ["创业补贴每月多少钱？", "怎么申请公租房？"]
    assert admin.main(["gaps", "--db", str(gaps_db.path)]) == 0
    text = capsys.readouterr().out
    assert "知识缺口" in text and "怎么申请公租房？" in text and "out_of_scope×4" in text
    assert text.index("创业补贴每月多少钱") < text.index("怎么申请公租房")
    monkeypatch.setenv("POLICY_DB", str(gaps_db.path))                 # the server's variable is enough
    assert admin.main(["gaps", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["gaps"]) == 3


def test_admin_gaps_without_a_database(tmp_path, capsys):
    assert admin.main(["gaps", "--db", str(tmp_path / "none.sqlite3")]) == 0
    assert "no database" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        admin.main(["gaps", "--days", "0"])
    assert e.value.code == 2
