"""A real `muntada serve` (gunicorn, several workers) set up through the command line exactly as an
operator does: load the programme, create app users, serve; on SQLite always and on PostgreSQL when
TEST_DATABASE_URL is set (in a database of its own, created and dropped here, so the other tests'
TRUNCATEs of the `test` database never meet this server). The programme is loaded once a session
for each kind of database, and each module's site serves a copy (`e2e_programme`)."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[2]
# `python -c` rather than the console script, so it runs in any venv that has the dependencies.
MUNTADA = [sys.executable, "-c", "from server.surfaces.cli import main; main()"]
CLI_TIMEOUT = 60
START_TIMEOUT = 20
STOP_TIMEOUT = 10
APP_USER_PASSWORD = "secret-pass-123"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def muntada_environment(data_dir: Path, port: int, database_url: str | None, *,
                        workers: int = 2) -> dict[str, str]:
    """The environment an operator would set, and nothing inherited that could change it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MUNTADA_") and k != "DATABASE_URL"}
    env.update({
        "MUNTADA_DATA_DIR": str(data_dir),
        "MUNTADA_VALIDATE_FORMS": "false",  # the programme forms are validated in tests/forms
        "MUNTADA_WORKERS": str(workers),
        "MUNTADA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # no field-office sync loop beside each server (tests/e2e/test_field_office.py runs one)
        "MUNTADA_SYNC_EVERY": "0",
        "PYTHONUNBUFFERED": "1",
    })
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def run_cli(env: dict[str, str], *args: str, input: str | None = None) -> str:
    """Run `muntada ARGS`; fail the test with its output unless it succeeds. Returns stdout."""
    result = subprocess.run([*MUNTADA, *args], check=False, env=env, cwd=REPO, input=input, text=True,
                            capture_output=True, timeout=CLI_TIMEOUT)
    if result.returncode != 0:
        pytest.fail(f"muntada {' '.join(args)} exited {result.returncode}\n"
                    f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result.stdout


def collect_url(cli_output: str) -> str:
    match = re.search(r"^Collect server URL: (\S+)$", cli_output, re.MULTILINE)
    assert match, cli_output
    return match.group(1)


class ServerProcess:
    """`muntada serve` in its own process group (gunicorn master and workers), output to a file."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path):
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [*MUNTADA, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, probe_url: str, timeout: float = START_TIMEOUT) -> None:
        """Poll until the server answers `probe_url` with 200; fail with its output otherwise."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        with requests.Session() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"muntada serve exited {self.process.returncode} before answering"
                                f"\n{self.output()}")
                try:
                    with session.get(probe_url, headers={"X-OpenRosa-Version": "1.0"},
                                     timeout=2) as response:
                        if response.status_code == 200:
                            return
                        last = f"HTTP {response.status_code}: {response.text[:500]}"
                except (requests.ConnectionError, requests.Timeout) as error:
                    last = repr(error)
                time.sleep(0.1)
        pytest.fail(f"muntada serve did not answer within {timeout} s ({last})\n{self.output()}")

    def stop(self) -> None:
        """SIGTERM (gunicorn's graceful stop), then SIGKILL to the whole group if it lingers."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
            # Workers are in the master's process group (its own session): none may outlive it.
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(STOP_TIMEOUT)
        finally:
            self._log.close()


@dataclass
class Deployment:
    base_url: str
    officer_url: str  # the "Collect server URL" the CLI printed for the token app user
    versions: dict[str, str]  # form id -> version, as `forms load-programme` printed them
    password_user: str
    password: str
    server: ServerProcess
    cli_output: dict[str, str] = field(default_factory=dict)


@contextmanager
def own_postgres_database(name: str, *, template: str | None = None):
    """A PostgreSQL database of our own on TEST_DATABASE_URL's server (a copy of `template` if
    given), dropped at the end; yields its SQLAlchemy URL. Skips when TEST_DATABASE_URL is unset."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("PostgreSQL not available: set TEST_DATABASE_URL (CI sets it)")
    import psycopg

    admin_url = make_url(url.replace("postgresql+psycopg://", "postgresql://", 1))
    dsn = admin_url.render_as_string(hide_password=False)
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield admin_url.set(drivername="postgresql+psycopg", database=name) \
            .render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Programmed:
    """A data folder and database of a module's own with the programme in them, as
    `forms load-programme` loaded it."""

    root: Path  # the module's folder; the data folder is root / "data"
    database_url: str | None  # None: SQLite in the data folder
    output: str  # what `forms load-programme` printed

    @property
    def data_dir(self) -> Path:
        return self.root / "data"


class Programmes:
    """`forms load-programme` run once a session for each kind of database, as an operator runs
    it (migrating an empty database first, then compiling and storing five forms: seconds);
    each site that starts from it gets a copy of the data folder and of the database (CREATE
    DATABASE ... TEMPLATE), so what one changes no other sees."""

    def __init__(self, tmp_path_factory, stack: ExitStack):
        self._tmp, self._stack = tmp_path_factory, stack
        self._made: dict[str, tuple[Path, str | None, str]] = {}
        self._copies = itertools.count(1)

    def _template(self, kind: str) -> tuple[Path, str | None, str]:
        if kind not in self._made:
            root = self._tmp.mktemp(f"programme-{kind}")
            url = None
            if kind == "postgresql":
                url = self._stack.enter_context(
                    own_postgres_database(f"muntada_e2e_programme_{os.getpid()}"))
            env = muntada_environment(root / "data", free_port(), url)
            output = run_cli(env, "forms", "load-programme")
            self._made[kind] = (root / "data", url and make_url(url).database, output)
        return self._made[kind]

    @contextmanager
    def copy(self, kind: str, root: Path):
        """A Programmed in `root` (its data folder must not exist yet), on `kind`'s database."""
        data_dir, template, output = self._template(kind)
        shutil.copytree(data_dir, root / "data")
        if template is None:
            yield Programmed(root, None, output)
            return
        with own_postgres_database(f"{template}_{next(self._copies)}", template=template) as url:
            yield Programmed(root, url, output)


@pytest.fixture(scope="session")
def programmes(tmp_path_factory):
    with ExitStack() as stack:
        yield Programmes(tmp_path_factory, stack)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def e2e_programme(request, programmes, tmp_path_factory) -> Programmed:
    """The module's copy of the programme loaded, on SQLite and on PostgreSQL."""
    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with programmes.copy(request.param, root) as programmed:
        yield programmed


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def e2e_database_url(request):
    """None for SQLite (the data folder's default); for PostgreSQL a fresh database of our own."""
    if request.param == "sqlite":
        yield None
        return
    # two runs at once (two developers) do not collide
    with own_postgres_database(f"muntada_e2e_{os.getpid()}") as url:
        yield url


@pytest.fixture(scope="module")
def deployment(e2e_programme) -> Deployment:
    """The programme loaded and two app users created with the CLI, and `muntada serve`."""
    root = e2e_programme.root
    port = free_port()
    env = muntada_environment(e2e_programme.data_dir, port, e2e_programme.database_url)

    loaded = e2e_programme.output
    versions = {}
    for line in loaded.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2] == "loaded":
            versions[parts[0]] = parts[1]
    password_user = "field-laptop"
    # The server starts while the two app users are made at once: each command spends seconds
    # importing, little in the database.
    server = ServerProcess(env, port, root / "serve.log")
    try:
        with ThreadPoolExecutor(2) as pool:
            officer_run = pool.submit(run_cli, env, "app-users", "create", "officer",
                                      "--governorate", "anbar")  # it follows Anbar's cases
            password_run = pool.submit(run_cli, env, "app-users", "create", password_user,
                                       "--password",
                                       input=f"{APP_USER_PASSWORD}\n{APP_USER_PASSWORD}\n")
            officer, with_password = officer_run.result(), password_run.result()
        officer_url = collect_url(officer)
        server.wait_ready(f"{officer_url}/formList")
        yield Deployment(base_url=server.base_url, officer_url=officer_url, versions=versions,
                         password_user=password_user, password=APP_USER_PASSWORD, server=server,
                         cli_output={"load-programme": loaded, "officer": officer,
                                     "password user": with_password})
    finally:
        server.stop()
