"""A deployment on this machine, for tests and load runs: a real PostgreSQL, N app processes
(`python app.py --port …`) sharing it, and Debian's nginx in front with deploy/nginx.conf.template.

    python -m bench.cluster            # start PostgreSQL, 2 app processes and nginx; print the URLs;
                                       # Ctrl-C (or SIGTERM) stops them all

Everything listens on 127.0.0.1 and lives in one temporary folder. PostgreSQL refuses to run as
root, so as root its folder is given to the `postgres` user and its commands run through
`runuser` (util-linux). Nothing here is used by the app itself.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import wait_healthy
from retrieval.extras import require

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"
START_TIMEOUT = 240.0
# the production limits (as in the template's header); load runs come from one address, which they exempt
PRODUCTION = {"PA_ASK_RATE": "20r/m", "PA_API_RATE": "120r/m", "PA_CONN_LIMIT": "20", "PA_UNLIMITED": ""}
GENEROUS = {**PRODUCTION, "PA_UNLIMITED": "127.0.0.1 0;"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_binary(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, else in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return versions[-1] if versions else None


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def missing_tools() -> str | None:
    """Why a cluster cannot start here (None when it can)."""
    need = {"initdb": pg_binary("initdb"), "pg_ctl": pg_binary("pg_ctl"), "nginx": nginx_binary(),
            "openssl": shutil.which("openssl")}
    if os.geteuid() == 0:
        need["runuser"] = shutil.which("runuser")
    absent = [k for k, v in need.items() if not v]
    if absent:
        return (f"{', '.join(absent)} not installed (Debian: apt-get install postgresql nginx-light openssl; "
                ".ci/run installs them)")
    return None


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGINT, wait: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


class Postgres:
    """A throw-away PostgreSQL server: initdb into a temporary folder, pg_ctl on a loopback port."""

    def __init__(self) -> None:
        # not under pytest's tmp_path: as root, the postgres user must be able to reach the folder
        self.folder = Path(tempfile.mkdtemp(prefix="policy-pg-"))
        self.data, self.log = self.folder / "data", self.folder / "server.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.url = f"postgresql://policy@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = (["runuser", "-u", "postgres", "--"] if self.as_root else []) + list(args)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-2000:]}"
                               f"{self.log.read_text(errors='replace')[-2000:] if self.log.exists() else ''}")

    def start(self) -> Postgres:
        if self.as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(pg_binary("initdb"), "-D", str(self.data), "-U", "policy", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        self._run(pg_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start")
        return self

    def database(self, name: str) -> str:
        """A new, empty database; its URL."""
        psycopg = require("psycopg", "bench", "The cluster benchmark")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')   # name: from the caller's code
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self._run(pg_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print(f"warning: PostgreSQL did not stop: {e}", file=sys.stderr)
        shutil.rmtree(self.folder, ignore_errors=True)


def render(template: str, values: dict[str, str]) -> str:
    """deploy/nginx.conf.template with its ${PA_…} placeholders filled (what `envsubst` does with the
    same names); every placeholder must be given."""
    out = template
    for name, value in values.items():
        out = out.replace("${" + name + "}", value)
    left = sorted({part.split("}")[0] for part in out.split("${PA_")[1:]})
    if left:
        raise ValueError(f"nginx template: no value for {', '.join('PA_' + n for n in left)}")
    return out


@dataclass
class Nginx:
    """Debian's nginx with the repository's site configuration, on loopback ports, TLS with a
    self-signed certificate made for the run. GENEROUS limits exempt 127.0.0.1 (a load run);
    PRODUCTION applies them to it."""
    folder: Path
    upstreams: list[int]
    limits: dict[str, str] = field(default_factory=lambda: dict(GENEROUS))
    proc: subprocess.Popen | None = None

    def start(self) -> Nginx:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.http_port, self.https_port = free_port(), free_port()
        self.cert, self.key = self.folder / "cert.pem", self.folder / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", str(self.key), "-out", str(self.cert)], check=True, capture_output=True, timeout=60)
        servers = " ".join(f"server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in self.upstreams)
        site = render(TEMPLATE.read_text(encoding="utf-8"), {
            "PA_SERVER_NAME": "localhost", "PA_HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            "PA_HTTPS_LISTEN": f"127.0.0.1:{self.https_port}", "PA_CERT": str(self.cert), "PA_KEY": str(self.key),
            "PA_UPSTREAMS": servers, "PA_ACCESS_LOG": str(self.folder / "access.log"), **self.limits})
        (self.folder / "site.conf").write_text(site, encoding="utf-8")
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.folder / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""   # workers read the test's own folder
        tmp = self.folder / "tmp"
        (self.folder / "nginx.conf").write_text(
            f"{user}worker_processes 2;\npid {self.folder}/nginx.pid;\nerror_log {self.folder}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
            f"  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
            f"  include {self.folder}/site.conf;\n}}\n", encoding="utf-8")
        log = (self.folder / "nginx.out").open("wb")
        self.proc = subprocess.Popen([nginx_binary(), "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"),
                                      "-g", "daemon off;"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                error_log = self.folder / 'error.log'
                raise RuntimeError(f"nginx exited: {(self.folder / 'nginx.out').read_text(errors='replace')}"
                                   f"{error_log.read_text(errors='replace') if error_log.exists() else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not open its port")

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def stop(self) -> None:
        _stop(self.proc, signal.SIGQUIT, 10)   # SIGQUIT: graceful shutdown


@dataclass
class App:
    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def start_apps(folder: Path, db: str, n: int = 2, extra_env: dict[str, str] | None = None) -> list[App]:
    """N app processes on loopback ports, all writing to `db`; started together, waited for together."""
    env = {**os.environ, "POLICY_DB": db, "PYTHONUNBUFFERED": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           **(extra_env or {})}
    env.pop("POLICY_FEEDBACK_DB", None)
    apps = []
    for i in range(n):
        port, log = free_port(), folder / f"app{i}.log"
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                                stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        apps.append(App(port, proc, log))
    try:
        for i, app in enumerate(apps):
            wait_healthy(app.port, app.proc, app.log, f"app process {i}", START_TIMEOUT)
    except BaseException:
        for app in apps:
            _stop(app.proc)
        raise
    return apps


class Cluster:
    """PostgreSQL + N app processes + nginx. Use as a context manager."""

    def __init__(self, folder: Path, apps: int = 2, limits: dict[str, str] | None = None,
                 extra_env: dict[str, str] | None = None):
        self.folder, self.n, self.limits, self.extra_env = Path(folder), apps, limits or dict(GENEROUS), extra_env
        self.pg: Postgres | None = None
        self.apps: list[App] = []
        self.nginx: Nginx | None = None

    def __enter__(self) -> Cluster:
        try:
            self.pg = Postgres().start()
            self.db = self.pg.database("policy")
            self.apps = start_apps(self.folder, self.db, self.n, self.extra_env)
            self.nginx = Nginx(self.folder / "nginx", [a.port for a in self.apps], self.limits).start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def proxy(self, limits: dict[str, str]) -> Nginx:
        """Another nginx in front of the same processes, with other limits (the caller stops it)."""
        return Nginx(self.folder / f"nginx-{len(list(self.folder.glob('nginx*')))}", [a.port for a in self.apps],
                     limits).start()

    def kill(self, index: int) -> None:
        """kill -9 one app process, as a crash would."""
        app = self.apps[index]
        if app.proc.poll() is None:
            app.proc.send_signal(signal.SIGKILL)
            app.proc.wait(timeout=10)

    def __exit__(self, *exc: object) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for app in self.apps:
            _stop(app.proc)
        if self.pg is not None:
            self.pg.stop()


def main() -> int:
    problem = missing_tools()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt      # SIGTERM stops everything as Ctrl-C does (a background job ignores SIGINT)

    signal.signal(signal.SIGTERM, interrupted)
    with tempfile.TemporaryDirectory(prefix="policy-cluster-") as tmp, Cluster(Path(tmp)) as c:
        print(f"nginx     {c.nginx.url}  (certificate {c.nginx.cert})")
        for i, app in enumerate(c.apps):
            print(f"app {i}     http://127.0.0.1:{app.port}  pid {app.pid}")
        print(f"database  {c.db}\nCtrl-C stops everything.", flush=True)
        try:
            while all(a.proc.poll() is None for a in c.apps):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
