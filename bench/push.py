"""Benchmark of `muntada push`: a phone's folder of 1,000 filled forms sent to a real server.

Run with `.venv/bin/python bench/push.py` (`--help` for the options). It prints figures; it asserts
nothing about time, but exits non-zero when the server does not hold every instance afterwards.
See bench/README.md for what is measured and one run's figures.

A real `muntada serve` (SQLite in a temporary data folder, the programme loaded and one app user
created with the command line) on loopback; a Collect `instances` folder of N forum meetings
(realistic values, by default no photo; `--photo-bytes` gives each one photo of that size) written
to disk; then, timed separately:
  read      reading the folder (`sync.instance_folders.read_folder`);
  push      `server.services.pushing.push` in this process: the pre-flight HEAD, then one POST per
            instance, one connection kept alive, the state file written as it goes;
  again     the same push again: nothing new to send (the state says so);
  command   `muntada push` as an operator types it, on a second folder of N: the whole command,
            Python's start-up included.
For each: seconds, instances per second, and this process's CPU per instance (the client's share
of the machine). Afterwards every instance is looked up in the server's database.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, this folder comes first on sys.path, and bench/forms.py would shadow the
# `forms` package: put the repository there instead.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(REPO)

from bench.forms import MUNTADA, Server, _cli, _free_port, server_environment  # noqa: E402
from server.services import pushing  # noqa: E402
from server.services.push_state import PushState  # noqa: E402
from sync.instance import read_identity  # noqa: E402
from sync.instance_folders import read_folder  # noqa: E402
from tests.support.instances import new_id  # noqa: E402
from tests.support.phone_folders import Filled, collect_folder, collect_name  # noqa: E402
from tests.support.programme_meetings import forum_meeting  # noqa: E402


def phone_folder(root: Path, count: int, photo_bytes: int) -> tuple[Path, list[str]]:
    filled, ids = {}, []
    for n in range(count):
        instance_id = new_id()
        photos = ("photo-1.jpg",) if photo_bytes else ()
        filled[collect_name("forum_meeting", n)] = Filled(
            forum_meeting(photos=photos, instance_id=instance_id, women=str(n % 9),
                          facilitator=f"Officer {n}"),
            {name: os.urandom(photo_bytes) for name in photos})
        ids.append(instance_id)
    return collect_folder(root, filled), ids


def held(data_dir: Path, ids: list[str]) -> int:
    with closing(sqlite3.connect(data_dir / "muntada.sqlite")) as db:
        found = {row[0] for row in db.execute("SELECT instance_id FROM submissions")}
    return sum(1 for i in ids if i in found)


def machine() -> str:
    load = os.getloadavg()
    try:
        revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                                  capture_output=True, check=False).stdout.strip()
    except OSError:
        revision = "?"
    return (f"{platform.node()} {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, load average {load[0]:.2f} {load[1]:.2f} "
            f"{load[2]:.2f}, revision {revision}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--photo-bytes", type=int, default=0,
                        help="give each instance one photo of this many bytes (default: none)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument("--parallel", type=int, default=4,
                        help="instances sent at once, as `muntada push --parallel` (default 4)")
    args = parser.parse_args()

    print(f"# muntada push: {args.instances} forum meetings"
          f"{f' with a {args.photo_bytes}-byte photo each' if args.photo_bytes else ''}, "
          f"SQLite, {args.workers} workers, {args.parallel} at once")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="muntada-bench-push-") as tmp:
        root = Path(tmp)
        port = _free_port()
        env = server_environment(root, port, args.workers)
        _cli(env, "forms", "load-programme")
        created = _cli(env, "app-users", "create", "bench-phone")
        url = re.search(r"^Collect server URL: (\S+)$", created, re.MULTILINE).group(1)
        instances, ids = phone_folder(root / "phone", args.instances, args.photo_bytes)
        second, second_ids = phone_folder(root / "phone-2", args.instances, args.photo_bytes)
        assert len({read_identity(p.read_bytes())[0].instance_id
                    for p in instances.glob("*/*.xml")}) == args.instances

        server = Server(env, port, args.workers, root / "serve.log")
        try:
            server.wait_ready(f"{url}/formList")
            rows = []
            started, cpu = time.perf_counter(), time.process_time()
            contents = read_folder(instances)
            rows.append(("read", time.perf_counter() - started, len(contents.instances),
                         time.process_time() - cpu))
            for label in ("push", "again"):
                client = pushing.Client(pushing.target_for(url))
                try:
                    started, cpu = time.perf_counter(), time.process_time()
                    with PushState(root / "state.json") as state:
                        summary = pushing.push(contents, client, state, parallel=args.parallel)
                    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
                finally:
                    client.close()
                if not summary.ok:
                    sys.exit(f"{label}: {summary}")
                done = len(summary.accepted) if label == "push" else len(summary.sent_before)
                rows.append((label, elapsed, done, cpu))
            started = time.perf_counter()
            command = subprocess.run(
                [*MUNTADA, "push", str(second), url, "--state", str(root / "state-2.json"),
                 "--parallel", str(args.parallel)],
                env=env, cwd=REPO, capture_output=True, text=True, check=False, timeout=600)
            rows.append(("command", time.perf_counter() - started, args.instances, None))
            if command.returncode != 0:
                sys.exit(f"muntada push failed:\n{command.stdout}\n{command.stderr}")
            missing = (args.instances - held(root / "data", ids)) + \
                (args.instances - held(root / "data", second_ids))
        finally:
            server.stop()

    print(f"{'step':<10}{'seconds':>9}{'instances':>11}{'instances/s':>13}"
          f"{'client CPU ms/instance':>24}")
    for label, seconds, count, cpu in rows:
        cpu_text = f"{1000 * cpu / count:.2f}" if cpu is not None else "-"
        print(f"{label:<10}{seconds:>9.2f}{count:>11}{count / seconds:>13.1f}{cpu_text:>24}")
    print(f"held by the server afterwards: {2 * args.instances - missing} of "
          f"{2 * args.instances}")
    if missing:
        sys.exit(f"{missing} instances missing on the server")


if __name__ == "__main__":
    main()
