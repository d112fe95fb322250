"""Benchmark of a field office's sync with headquarters (issue 14 §4), two real `muntada serve`
processes on loopback with a TCP fault proxy between them.

Run with `.venv/bin/python bench/field_office.py` (`--size small` for a quick check). It prints
figures; it asserts nothing about time, but exits non-zero when headquarters does not hold
exactly what the office holds after a sync (every version's XML and every file, by SHA-256).
See bench/README.md for what is measured and one run's figures.

Headquarters: PostgreSQL, in a database of its own created and dropped on the server of
$TEST_DATABASE_URL; the programme loaded, an officer of Nineveh and the office registered with
the command line. The office: SQLite in a temporary data folder, joined with `muntada
field-office join` through tests/support/proxy.py's FaultProxy (so every byte between the two is
counted, and can be cut). Phones' submissions are loaded into the office through its own
OpenRosa submission endpoint (threads; not measured). Then:
  (1) the first sync office -> headquarters (`muntada field-office sync`, a process of its own);
  (2) syncs with nothing new;
  (3) N more meetings with photos synced whole (the control), then N more cut mid-photo and
      synced again, then N more cut in the middle of the changes' POST and synced again: what
      was sent twice, against the control and against what was in flight;
  (4) peak memory of each sync process (its rusage) and of the servers (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, this folder comes first on sys.path, and bench/forms.py would shadow the
# `forms` package: put the repository there instead.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(REPO)

import psycopg  # noqa: E402  (after the sys.path fix above)
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.forms import Server, _cli, _free_port, server_environment  # noqa: E402
from bench.ingest import (  # noqa: E402
    DEFAULT_WORKERS,
    _revision,
    cpu_seconds,
    cpu_ticks,
    machine_ms,
    make_photo,
    postgres_pids,
    unique_photo,
)
from server.kernel.storage import BlobStore  # noqa: E402
from tests.support.cases import programme_referral  # noqa: E402
from tests.support.instances import new_id  # noqa: E402
from tests.support.phone import Phone, http_transport  # noqa: E402
from tests.support.programme_meetings import forum_meeting  # noqa: E402
from tests.support.proxy import FaultProxy  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SIZES = {  # meetings without a photo, meetings with one, referrals, meetings per cut phase
    "full": (10_000, 1_000, 1_000, 200),
    "small": (500, 50, 50, 20),
}
PHOTO_NAME = "photo.jpg"
SYNC_TIMEOUT = 1800
# The sync command, run as an operator runs it, timing its imports apart from its work (and
# under cProfile when asked): one process, as `muntada field-office sync` is.
DRIVER = """
import json, sys, time
started = time.perf_counter()
import click
from server.surfaces.cli import main
import server.surfaces.cli.field_office  # what main would import for the command
imported = time.perf_counter()
profile_to = sys.argv[1]
code = 0
def run():
    main(["field-office", "sync"], standalone_mode=False)
try:
    if profile_to:
        import cProfile
        cProfile.runctx("run()", globals(), locals(), profile_to)
    else:
        run()
except click.ClickException as error:
    error.show()
    code = 1
done = time.perf_counter()
print("BENCH-TIMES " + json.dumps({"imports": imported - started, "command": done - imported}),
      file=sys.stderr)
sys.exit(code)
"""
# Headquarters under cProfile (--profile-hq): the same app, served one request at a time by
# werkzeug (the office sends one request after another anyway), every /sync/v1 request profiled
# into one set of stats, written when the server is stopped (SIGTERM).
PROFILED_HQ = """
import cProfile, os, signal, sys
from werkzeug.serving import make_server
from server.app import create_app
port, path = int(sys.argv[1]), sys.argv[2]
app = create_app()
profile = cProfile.Profile()
inner = app.wsgi_app
def profiled(environ, start_response):
    if not environ["PATH_INFO"].startswith("/sync/v1/"):
        return inner(environ, start_response)
    profile.enable()
    try:
        return list(inner(environ, start_response))
    finally:
        profile.disable()
app.wsgi_app = profiled
def stop(*_):
    profile.dump_stats(path)
    os._exit(0)
signal.signal(signal.SIGTERM, stop)
make_server("127.0.0.1", port, app, threaded=False).serve_forever()
"""
UP_LINE = re.compile(r"up: (\d+) applied at headquarters, (\d+) already there, (\d+) refused, "
                     r"(\d+) files sent")
ACCESS = re.compile(r'"(HEAD|PUT|POST|GET) /sync/v1/([a-z]+)(?:/[0-9a-f]+)?'
                    r'(?:\?offset=(\d+))?[^"]*" (\d{3})')


# --------------------------------------------------------------------------------------------
# the two servers


class PostgresDatabase:
    """A database of our own on the server of `admin_url`, dropped at the end."""

    def __init__(self, admin_url: str):
        self.admin = sa.make_url(admin_url.replace("postgresql+psycopg://", "postgresql://", 1))
        self.name = f"muntada_bench_fo_{os.getpid()}"
        self.url = self.admin.set(drivername="postgresql+psycopg", database=self.name) \
            .render_as_string(hide_password=False)

    def _run(self, statement: str) -> None:
        with psycopg.connect(self.admin.render_as_string(hide_password=False),
                             autocommit=True) as connection:
            connection.execute(statement)

    def create(self) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self._run(f'CREATE DATABASE "{self.name}"')

    def transactions(self) -> tuple[int, int]:
        """Commits and rollbacks of the bench database so far (PostgreSQL's statistics, which
        an idle backend reports within 10 s)."""
        with psycopg.connect(self.admin.render_as_string(hide_password=False),
                             autocommit=True) as connection:
            return connection.execute(
                "SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = %s",
                (self.name,)).fetchone()

    def drop(self) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@dataclass
class Site:
    name: str
    root: Path
    port: int
    env: dict[str, str]
    database_url: str
    server: Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.root / "serve.log"

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.is_file() else 0

    def requests_since(self, offset: int) -> dict[str, int]:
        """The `/sync/v1` requests its access log shows after byte `offset`, by kind; a PUT
        that resumed a file (offset > 0) also counts under "PUT resumed"."""
        counts: dict[str, int] = {}
        with open(self.log, "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        for method, path, resumed_at, _status in ACCESS.findall(text):
            key = f"{method} {path}"
            counts[key] = counts.get(key, 0) + 1
            if method == "PUT" and resumed_at and int(resumed_at) > 0:
                counts["PUT resumed"] = counts.get("PUT resumed", 0) + 1
        return counts


def site(root: Path, name: str, workers: int, database_url: str | None) -> Site:
    folder = root / name
    folder.mkdir()
    port = _free_port()
    env = server_environment(folder, port, workers)
    env["MUNTADA_SYNC_EVERY"] = "0"  # no background loop: each sync is the bench's
    if database_url:
        env["DATABASE_URL"] = database_url
    url = database_url or f"sqlite:///{folder / 'data' / 'muntada.sqlite'}"
    return Site(name, folder, port, env, url)


class ProfiledServer(Server):
    """Headquarters' app under cProfile (PROFILED_HQ) in place of `muntada serve`."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path, stats_path: str):
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROFILED_HQ, str(port), stats_path], env=env, cwd=REPO,
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)


def start(s: Site, workers: int, profile_to: str = "") -> None:
    s.server = ProfiledServer(s.env, s.port, s.log, profile_to) if profile_to \
        else Server(s.env, s.port, workers, s.log)
    s.server.wait_ready(f"{s.url}/login")


# --------------------------------------------------------------------------------------------
# loading the office as its phones would


@dataclass
class Loaded:
    instance_ids: list[str] = field(default_factory=list)
    photo_bytes: int = 0
    photos: int = 0
    seconds: float = 0.0


def meeting(n: int, photo: bytes | None) -> tuple[bytes, dict[str, bytes]]:
    instance_id = new_id()
    xml = forum_meeting(governorate="nineveh", district="mosul", forum="nin_qayyarah_01",
                        instance_id=instance_id, notes=f"meeting {n:07d}",
                        photos=(PHOTO_NAME,) if photo else ())
    return xml, ({PHOTO_NAME: unique_photo(photo, instance_id)} if photo else {})


def referral(_n: int, _photo: bytes | None) -> tuple[bytes, dict[str, bytes]]:
    return programme_referral(str(uuid.uuid4()), governorate="nineveh"), {}


def load(office_url: str, token: str, batches: list[tuple[object, int, bytes | None]],
         threads: int) -> Loaded:
    """POST each instance to the office's submission endpoint, `threads` phones at once."""
    loaded = Loaded()
    lock = threading.Lock()
    local = threading.local()
    jobs = [(build, n, photo) for build, count, photo in batches for n in range(count)]

    def send(job) -> None:
        build, n, photo = job
        if not hasattr(local, "phone"):
            local.phone = Phone(http_transport(requests.Session(), timeout=120),
                                f"{office_url}/collect/key/{token}")
        xml, files = build(n, photo)
        reply = local.phone.submit(xml, files)
        if reply.status != 201:
            raise RuntimeError(f"the office answered {reply.status}: {reply.body[:300]!r}")
        instance_id = re.search(rb"<instanceID>([^<]+)</instanceID>", xml).group(1).decode()
        with lock:
            loaded.instance_ids.append(instance_id)
            loaded.photos += len(files)
            loaded.photo_bytes += sum(len(b) for b in files.values())

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(send, jobs):
            pass
    loaded.seconds = time.perf_counter() - started
    return loaded


# --------------------------------------------------------------------------------------------
# one sync, measured


@dataclass
class Sync:
    ok: bool
    wall: float
    imports: float
    command: float
    cpu: float  # the sync process, user + system
    max_rss_kb: int
    up_bytes: int  # through the proxy, office -> headquarters
    down_bytes: int
    hq_cpu: float  # gunicorn master and workers
    db_cpu: float  # PostgreSQL backends of the bench database
    bench_cpu: float  # this process: the proxy's threads, the memory watch
    hq_pss_peak_kb: int
    applied: int = 0
    held: int = 0
    refused: int = 0
    files: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    output: str = ""


class PssWatch:
    """The peak of the Pss sum of these processes, sampled every second while a sync runs
    (the process tree is read once: walking all of /proc each time cost this bench more CPU
    than the proxy)."""

    def __init__(self, pids: list[int], every: float = 1.0):
        self.pids, self.every, self.peak = pids, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        total = 0
        for pid in self.pids:
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            total += int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE).group(1))
        self.peak = max(self.peak, total)
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> PssWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def sync(office: Site, hq: Site, proxy: FaultProxy, database: str,
         profile_to: str = "") -> Sync:
    up0, down0 = proxy.bytes_up, proxy.bytes_down
    pids = hq.server.processes() + postgres_pids(database)
    before = cpu_ticks(pids)
    bench0 = time.process_time()
    log0 = hq.log_size()
    started = time.perf_counter()
    with PssWatch(hq.server.processes()) as watch:
        process = subprocess.Popen([sys.executable, "-c", DRIVER, profile_to], env=office.env,
                                   cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        # wait4 gives this one child's peak RSS and CPU, not every child's so far
        out_err = {}
        readers = [threading.Thread(target=lambda n, s: out_err.__setitem__(n, s.read()),
                                    args=(name, stream))
                   for name, stream in (("out", process.stdout), ("err", process.stderr))]
        for reader in readers:
            reader.start()
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        for reader in readers:
            reader.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        watch.sample()
    after = cpu_ticks(hq.server.processes() + postgres_pids(database))
    time.sleep(0.3)  # the access log's last lines
    times = {"imports": float("nan"), "command": float("nan")}
    for line in out_err.get("err", "").splitlines():
        if line.startswith("BENCH-TIMES "):
            times = json.loads(line.removeprefix("BENCH-TIMES "))
    hq_pids = set(hq.server.processes())
    result = Sync(
        ok=process.returncode == 0, wall=wall, imports=times["imports"],
        command=times["command"], cpu=usage.ru_utime + usage.ru_stime,
        max_rss_kb=usage.ru_maxrss, up_bytes=proxy.bytes_up - up0,
        down_bytes=proxy.bytes_down - down0,
        hq_cpu=cpu_seconds({p: t for p, t in before.items() if p in hq_pids},
                           {p: t for p, t in after.items() if p in hq_pids}),
        db_cpu=cpu_seconds({p: t for p, t in before.items() if p not in hq_pids},
                           {p: t for p, t in after.items() if p not in hq_pids}),
        bench_cpu=time.process_time() - bench0, hq_pss_peak_kb=watch.peak,
        requests=hq.requests_since(log0),
        output=(out_err.get("out", "") + out_err.get("err", "")).strip())
    if match := UP_LINE.search(result.output):
        result.applied, result.held, result.refused, result.files = map(int, match.groups())
    return result


def show(label: str, s: Sync) -> None:
    mb = s.up_bytes / 1e6
    rate = f"{s.applied / s.wall:,.0f} items/s, {mb / s.wall:,.1f} MB/s" if s.wall else ""
    print(f"{label}: {'ok' if s.ok else 'FAILED'} in {s.wall:.2f} s wall "
          f"(Python start and imports {s.imports:.2f} s, the command {s.command:.2f} s); "
          f"{rate}")
    print(f"    up {s.up_bytes:,} bytes, down {s.down_bytes:,} bytes through the proxy; "
          f"{s.applied:,} applied at headquarters, {s.held:,} already there, {s.refused} "
          f"refused, {s.files:,} files gone through (a file headquarters held is counted too)")
    print(f"    CPU s: sync process {s.cpu:.2f}, headquarters' gunicorn {s.hq_cpu:.2f}, its "
          f"PostgreSQL backends {s.db_cpu:.2f}, this bench (proxy) {s.bench_cpu:.2f}; "
          f"sync process peak RSS {s.max_rss_kb / 1024:.1f} MiB, headquarters' Pss peak "
          f"{s.hq_pss_peak_kb / 1024:.1f} MiB")
    print(f"    headquarters' /sync/v1 requests: "
          f"{', '.join(f'{k} {v:,}' for k, v in sorted(s.requests.items())) or 'none'}")
    if not s.ok:
        tail = s.output.splitlines()[-3:]
        print("    the command said: " + " | ".join(line[:300] for line in tail))


# --------------------------------------------------------------------------------------------
# what each side holds


def holdings(url: str) -> tuple[set, set]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            versions = set(c.execute(sa.text(
                "SELECT f.xml_form_id, d.instance_id, d.xml_sha256 FROM submission_defs d "
                "JOIN forms f ON f.id = d.form_id")).all())
            files = set(c.execute(sa.text(
                "SELECT d.instance_id, a.name, a.blob_sha256 FROM submission_attachments a "
                "JOIN submission_defs d ON d.id = a.submission_def_id")).all())
    finally:
        engine.dispose()
    return versions, files


def check(office: Site, hq: Site) -> bool:
    office_versions, office_files = holdings(office.database_url)
    hq_versions, hq_files = holdings(hq.database_url)
    ids = {v[1] for v in office_versions}
    missing = office_versions - hq_versions
    files_missing = office_files - hq_files
    extra = {v for v in hq_versions if v[1] in ids} - office_versions
    ok = not (missing or files_missing or extra)
    print(f"    check: the office holds {len(office_versions):,} versions and "
          f"{len(office_files):,} files; headquarters {len(hq_versions):,} and "
          f"{len(hq_files):,}; missing at headquarters {len(missing)} versions, "
          f"{len(files_missing)} files; different there {len(extra)}: "
          f"{'OK' if ok else 'WRONG'}")
    return ok


def hq_file_state(hq: Site, shas: list[str]) -> tuple[int, int]:
    """How many of these files headquarters holds whole, and the bytes of partial files it
    keeps for the office."""
    store = BlobStore(hq.root / "data" / "blobs")
    whole = sum(store.path(sha).is_file() for sha in shas)
    partial_root = hq.root / "data" / "sync-partial"
    partial = sum(p.stat().st_size for p in partial_root.rglob("*") if p.is_file()) \
        if partial_root.is_dir() else 0
    return whole, partial


def photo_shas(office: Site, instance_ids: list[str]) -> list[str]:
    engine = sa.create_engine(office.database_url)
    try:
        with engine.connect() as c:
            return list(c.execute(sa.text(
                "SELECT a.blob_sha256 FROM submission_attachments a JOIN submission_defs d "
                "ON d.id = a.submission_def_id WHERE d.instance_id IN :ids "
                "AND a.blob_sha256 IS NOT NULL").bindparams(
                sa.bindparam("ids", expanding=True)), {"ids": instance_ids}).scalars())
    finally:
        engine.dispose()


def count_at(site_: Site, instance_ids: list[str]) -> int:
    engine = sa.create_engine(site_.database_url)
    try:
        with engine.connect() as c:
            return c.execute(sa.text(
                "SELECT count(*) FROM submission_defs WHERE instance_id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)), {"ids": instance_ids}).scalar_one()
    finally:
        engine.dispose()


# --------------------------------------------------------------------------------------------
# the run


def cut_phase(label: str, office: Site, hq: Site, proxy: FaultProxy, db_name: str,
              add, cut_at: int, control: Sync, photo_size: int) -> bool:
    """Add a batch, sync with the link cut after `cut_at` bytes up, sync again; print what
    crossed twice."""
    batch = add()
    shas = photo_shas(office, batch.instance_ids)
    proxy.cut_after(cut_at, "up")
    cut = sync(office, hq, proxy, db_name)
    proxy.cancel_cut()
    whole, partial = hq_file_state(hq, shas)
    applied_before = count_at(hq, batch.instance_ids)
    print(f"{label}: {len(batch.instance_ids)} meetings with a photo added; the link cut "
          f"after {cut_at:,} bytes up (proxy cuts so far: {proxy.cuts})")
    show("  the cut sync", cut)
    print(f"    after the cut, headquarters holds {whole} of the {len(shas)} photos whole, "
          f"{partial:,} bytes of partial files, {applied_before} of the "
          f"{len(batch.instance_ids)} submissions")
    again = sync(office, hq, proxy, db_name)
    show("  synced again", again)
    ok = check(office, hq)
    both = cut.up_bytes + again.up_bytes
    twice = both - control.up_bytes
    puts_again = cut.requests.get("PUT blobs", 0) + again.requests.get("PUT blobs", 0) \
        - control.requests.get("PUT blobs", 0)
    print(f"    bytes up, cut sync + sync again: {both:,}; an uncut sync of an equal batch "
          f"(the control): {control.up_bytes:,}; so sent again: {twice:,} bytes "
          f"({twice / max(control.up_bytes, 1):.2%} of the batch)")
    print("    in flight at the cut: ", end="")
    if whole < len(shas):
        print(f"a photo ({photo_size:,} bytes; headquarters kept {partial:,} of them); PUTs of "
              f"files beyond the control's: {puts_again} ({again.requests.get('PUT resumed', 0)}"
              f" resumed at an offset); items sent in the cut sync: "
              f"{cut.requests.get('POST changes', 0)} POSTs answered")
        limit = photo_size
    else:
        post = control.up_bytes - sum_put_bytes(control, photo_size)
        print(f"the POST of the {len(batch.instance_ids)} items (about {post:,} bytes with the "
              f"requests' headers); every photo was whole at headquarters; items applied "
              f"there before the retry: {applied_before}, in the retry: {again.applied} "
              f"applied, {again.held} already there")
        limit = post
    print(f"    goal: at most what was in flight sent again: {twice:,} <= {limit:,}: "
          f"{'met' if twice <= limit else 'MISSED'}")
    return ok


def sum_put_bytes(control: Sync, photo_size: int) -> int:
    return control.requests.get("PUT blobs", 0) * photo_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full",
                        help="full: 10,000 meetings without a photo, 1,000 with one, 1,000 "
                             "referrals, 200 meetings per cut phase; small: 500, 50, 50, 20")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                        help=f"gunicorn workers of each server [default: {DEFAULT_WORKERS}]")
    parser.add_argument("--load-threads", type=int, default=4,
                        help="phones loading the office at once [default: 4]")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL",
                                                                 DEFAULT_POSTGRES),
                        help="a PostgreSQL server where a database may be created and dropped "
                             f"[default: $TEST_DATABASE_URL or {DEFAULT_POSTGRES}]")
    parser.add_argument("--profile", metavar="FILE", default="",
                        help="run the first sync under cProfile, write its stats to FILE and "
                             "print the top of them")
    parser.add_argument("--profile-hq", metavar="FILE", default="",
                        help="serve headquarters under cProfile (werkzeug, one request at a "
                             "time, in place of muntada serve: its times are then not "
                             "headquarters' own), write the stats of its /sync/v1 requests "
                             "to FILE at the end and print the top of them")
    parser.add_argument("--hq-synchronous-commit", choices=["on", "off"], default="on",
                        help="an experiment: PostgreSQL's synchronous_commit for headquarters' "
                             "database (off: a commit does not wait for its WAL to reach the "
                             "disk) [default: on, as PostgreSQL ships]")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    plain, with_photo, referrals, per_cut = SIZES[args.size]

    print(f"# Muntada field-office sync benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"--size {args.size}")
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, machine "
          f"{machine_ms():.1f} ms")
    print(f"server code: {_revision()}")
    photo = make_photo()
    database = PostgresDatabase(args.postgres_url)
    try:
        database.create()
        if args.hq_synchronous_commit == "off":
            database._run(f'ALTER DATABASE "{database.name}" SET synchronous_commit = off')
            print("EXPERIMENT: headquarters' database has synchronous_commit = off")
    except psycopg.OperationalError as error:  # as bench/ingest.py does: skipped, not failed
        print(f"## skipped: no PostgreSQL for headquarters at {args.postgres_url}: "
              f"{str(error).splitlines()[0]}")
        return
    tmp = tempfile.mkdtemp(prefix="muntada-bench-fo-")
    root = Path(tmp)
    hq = site(root, "hq", args.workers, database.url)
    office = site(root, "office", args.workers, None)
    proxy = FaultProxy(hq.port).start()
    ok = True
    try:
        _cli(hq.env, "forms", "load-programme")
        officer = _cli(hq.env, "app-users", "create", "officer-q", "--governorate", "nineveh")
        token = re.search(r"/collect/key/(\S+)", officer).group(1)
        registered = _cli(hq.env, "field-office", "register", "qayyarah",
                          "--governorate", "nineveh")
        office_token = re.search(r"field-office join \S+ (\S+)", registered).group(1)
        start(hq, args.workers, os.path.abspath(args.profile_hq) if args.profile_hq else "")
        start(office, args.workers)
        print(_cli(office.env, "field-office", "join", proxy.url, office_token).strip()
              .replace("\n", "; "))
        print(f"headquarters: PostgreSQL ({database.name}), {args.workers} workers; the office: "
              f"SQLite, {args.workers} workers, joined through the proxy at {proxy.url}")

        loaded = load(office.url, token, [(meeting, plain, None), (meeting, with_photo, photo),
                                          (referral, referrals, None)], args.load_threads)
        print(f"loaded into the office through its submission endpoint ({args.load_threads} "
              f"threads, {loaded.seconds:.1f} s, not measured): {plain:,} forum meetings "
              f"without a photo, {with_photo:,} forum meetings with one JPEG each "
              f"({loaded.photos:,} photos, {loaded.photo_bytes:,} bytes, each about "
              f"{len(photo) / 1024:.0f} KiB of noise made unique), {referrals:,} incident "
              f"referrals (the form has no photo field), each opening a case: "
              f"{len(loaded.instance_ids):,} submissions")
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, machine "
              f"{machine_ms():.1f} ms; office server {office.server.memory()['VmHWM'] / 1024:.0f}"
              f" MiB VmHWM sum, headquarters {hq.server.memory()['VmHWM'] / 1024:.0f} MiB")
        print()

        transactions = database.transactions()
        first = sync(office, hq, proxy, database.name, os.path.abspath(args.profile)
                     if args.profile else "")
        show("(1) first sync, office -> headquarters", first)
        time.sleep(11)  # until every idle backend has reported its statistics
        commits, rollbacks = (b - a for a, b in zip(transactions, database.transactions(),
                                                    strict=True))
        print(f"    headquarters' database: {commits:,} commits and {rollbacks:,} rollbacks "
              f"during the sync, {commits / max(first.applied, 1):.1f} and "
              f"{rollbacks / max(first.applied, 1):.1f} per item applied")
        if args.size == "full":
            print(f"    goal < 60 s: {'met' if first.ok and first.wall < 60 else 'MISSED'}")
        else:
            print("    goal < 60 s: for --size full's 12,000 submissions, not judged here")
        ok &= check(office, hq)
        if args.profile:
            print(f"    profile of the sync process (cProfile, {args.profile}), top 25 by "
                  f"cumulative time:")
            pstats.Stats(args.profile, stream=sys.stdout).sort_stats("cumulative") \
                .print_stats(25)
        print()

        for n in range(3):
            idle = sync(office, hq, proxy, database.name)
            show(f"(2) sync with nothing new, #{n + 1}", idle)
            print(f"    goal < 1 s: the whole command {'met' if idle.wall < 1 else 'MISSED'}; "
                  f"the sync itself, without Python's start and imports "
                  f"{'met' if idle.command < 1 else 'MISSED'}")
        print()

        def add() -> Loaded:
            return load(office.url, token, [(meeting, per_cut, photo)], args.load_threads)

        add()
        control = sync(office, hq, proxy, database.name)
        show(f"(3) control: {per_cut} meetings with a photo, synced without a cut", control)
        ok &= check(office, hq)
        photo_size = len(unique_photo(photo, new_id()))
        files_and_heads = control.up_bytes - (control.up_bytes - per_cut * photo_size) // 2
        ok &= cut_phase("(3a) cut mid-photo", office, hq, proxy, database.name, add,
                        control.up_bytes // 2, control, photo_size)
        ok &= cut_phase("(3b) cut in the changes' POST", office, hq, proxy, database.name,
                        add, files_and_heads, control, photo_size)
        print()

        print(f"(4) memory: headquarters' gunicorn (master and {args.workers} workers) "
              f"{_memory(hq)}; the office's {_memory(office)} (the office's server takes no "
              f"part in a sync: the sync command reads its database itself)")
        print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
              f"machine {machine_ms():.1f} ms")
    finally:
        proxy.stop()
        for s in (office, hq):
            if s.server is not None:
                s.server.stop()
        database.drop()
        if args.profile_hq and Path(args.profile_hq).is_file():
            print(f"profile of headquarters' /sync/v1 requests (cProfile, {args.profile_hq}), "
                  f"top 40 by cumulative time:")
            pstats.Stats(args.profile_hq, stream=sys.stdout).sort_stats("cumulative") \
                .print_stats(40)
        if args.keep:
            print(f"kept {tmp}")
        else:
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    if not ok:
        sys.exit("headquarters does not hold exactly what the office holds")


def _memory(s: Site) -> str:
    m = s.server.memory()
    return (f"VmHWM sum {m['VmHWM'] / 1024:.0f} MiB, VmRSS sum {m['VmRSS'] / 1024:.0f} MiB, "
            f"Pss sum {m['Pss'] / 1024:.0f} MiB ({m['processes']} processes)")


if __name__ == "__main__":
    main()
