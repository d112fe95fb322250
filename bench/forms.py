"""Benchmark of the programme forms: compiling them, and serving them to phones.

Run with `make bench` (or `.venv/bin/python bench/forms.py`). It prints figures; it asserts
nothing about time. See bench/README.md for what is measured and one run's figures.

(a) compile time of each programme form with `forms.compile_form`, without and with ODK Validate;
(b) a real `muntada serve` (gunicorn, SQLite, 4 workers, a temporary data folder, the programme
    loaded with the command line, one app user) on loopback: formList requests and Collect's whole
    download walk (formList, each form, each manifest, each media file) from 1, 4 and 16
    concurrent phones (threads, one requests.Session each), with requests per second, p50/p99
    latency, and the server's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, this folder comes first on sys.path, and this very file is named `forms`:
# put the repository there instead so `import forms` finds the package, not this script.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(REPO)

import requests  # noqa: E402  (after the sys.path fix above)
from lxml import etree  # noqa: E402  (after the sys.path fix above)

from forms import compile_form  # noqa: E402  (after the sys.path fix above)
from server.services.programme import PROGRAMME_FORMS  # noqa: E402  (after the sys.path fix above)

MUNTADA = [sys.executable, "-c", "from server.surfaces.cli import main; main()"]
COLLECT_HEADERS = {
    "X-OpenRosa-Version": "1.0",
    "User-Agent": "org.odk.collect.android/v2025.2.3 (muntada bench)",
    "Accept-Encoding": "gzip",
}
FORM_LIST_NS = "{http://openrosa.org/xforms/xformsList}"
MANIFEST_NS = "{http://openrosa.org/xforms/xformsManifest}"


# --------------------------------------------------------------------------------------------
# (a) compile


def bench_compile(repeat: int, repeat_validate: int) -> None:
    print("## (a) compile_form per programme form "
          f"(best and median of {repeat} runs without ODK Validate, "
          f"{repeat_validate} with)")
    print(f"{'form':<22}{'validate':>9}{'best s':>9}{'median s':>10}{'XForm bytes':>13}")
    for form in PROGRAMME_FORMS:
        data = form.source.read_bytes()
        for validate, runs in ((False, repeat), (True, repeat_validate)):
            times = []
            size = 0
            try:
                for _ in range(runs):
                    start = time.perf_counter()
                    compiled = compile_form(data, validate=validate)
                    times.append(time.perf_counter() - start)
                    size = len(compiled.xform)
            except Exception as error:  # no Java, say: print it, go on
                print(f"{form.form_id:<22}{str(validate).lower():>9}  failed: {error}")
                continue
            print(f"{form.form_id:<22}{str(validate).lower():>9}{min(times):>9.3f}"
                  f"{statistics.median(times):>10.3f}{size:>13}")
    print()


# --------------------------------------------------------------------------------------------
# (b) serve


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """`muntada ARGS`; `stdin` answers its prompts (passwords, passphrases), read from standard
    input since the command runs in a session of its own, without a terminal to prompt on."""
    result = subprocess.run([*MUNTADA, *args], check=False, env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=300, input=stdin, start_new_session=True)
    if result.returncode != 0:
        sys.exit(f"muntada {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class Server:
    """`muntada serve` in its own process group; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, env: dict[str, str], port: int, workers: int, log_path: Path):
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [*MUNTADA, "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, url: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with requests.Session() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    with session.get(url, headers=COLLECT_HEADERS, timeout=2) as response:
                        if response.status_code == 200:
                            return
                except requests.RequestException:
                    pass
                time.sleep(0.1)
        self.stop()
        sys.exit(f"muntada serve did not answer:\n{self.log_path.read_text(errors='replace')}")

    def processes(self) -> list[int]:
        """The gunicorn master (this process) and every descendant: its workers."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        tree, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo.extend(children.get(pid, []))
        return tree

    def memory(self) -> dict[str, int]:
        """kB summed over the tree: VmHWM (peak RSS), VmRSS (now) and Pss (now, shared pages
        divided among the processes that share them), and how many processes."""
        totals = {"VmHWM": 0, "VmRSS": 0, "Pss": 0, "processes": 0}
        for pid in self.processes():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            totals["processes"] += 1
            for key in ("VmHWM", "VmRSS"):
                totals[key] += int(re.search(rf"^{key}:\s+(\d+) kB", status, re.MULTILINE).group(1))
            totals["Pss"] += int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE).group(1))
        return totals

    def stop(self) -> None:
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(35)  # gunicorn's graceful_timeout is 30 s
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(10)
        finally:
            self._log.close()


def _get(session: requests.Session, url: str, latencies: list[float]) -> bytes:
    start = time.perf_counter()
    response = session.get(url, headers=COLLECT_HEADERS, timeout=60)
    body = response.content
    latencies.append(time.perf_counter() - start)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: HTTP {response.status_code} {body[:200]!r}")
    return body


def form_list_once(session: requests.Session, base: str, latencies: list[float]) -> int:
    _get(session, f"{base}/formList?deviceID=collect:bench", latencies)
    return 1


def walk_once(session: requests.Session, base: str, latencies: list[float]) -> int:
    """Collect's 'Get blank forms': formList, each form, each manifest, each media file."""
    count = 1
    form_list = etree.fromstring(_get(session, f"{base}/formList?deviceID=collect:bench",
                                      latencies))
    for xform in form_list.iter(f"{FORM_LIST_NS}xform"):
        _get(session, xform.findtext(f"{FORM_LIST_NS}downloadUrl"), latencies)
        count += 1
        manifest_url = xform.findtext(f"{FORM_LIST_NS}manifestUrl")
        if manifest_url:
            manifest = etree.fromstring(_get(session, manifest_url, latencies))
            count += 1
            for media in manifest.iter(f"{MANIFEST_NS}mediaFile"):
                _get(session, media.findtext(f"{MANIFEST_NS}downloadUrl"), latencies)
                count += 1
    return count


def load(base: str, operation, phones: int, seconds: float, max_operations: int) -> dict:
    """`phones` threads each repeat `operation` until `seconds` pass or `max_operations` done."""
    latencies: list[list[float]] = [[] for _ in range(phones)]
    operations = [0] * phones
    requests_done = [0] * phones
    errors: list[BaseException] = []
    start_line = threading.Barrier(phones + 1)

    def phone(index: int) -> None:
        with requests.Session() as session:
            start_line.wait()
            deadline = time.perf_counter() + seconds
            try:
                while time.perf_counter() < deadline and operations[index] < max_operations:
                    requests_done[index] += operation(session, base, latencies[index])
                    operations[index] += 1
            except BaseException as error:  # raised after the run
                errors.append(error)

    threads = [threading.Thread(target=phone, args=(i,)) for i in range(phones)]
    for thread in threads:
        thread.start()
    start_line.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    everything = sorted(x for per_phone in latencies for x in per_phone)
    return {
        "phones": phones,
        "seconds": elapsed,
        "operations": sum(operations),
        "requests": sum(requests_done),
        "rps": sum(requests_done) / elapsed,
        "ops": sum(operations) / elapsed,
        "p50": _percentile(everything, 50),
        "p99": _percentile(everything, 99),
    }


def _percentile(ordered: list[float], percent: float) -> float:
    """Nearest rank."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


def server_environment(root: Path, port: int, workers: int) -> dict[str, str]:
    """What an operator would set for a server in `root`, and nothing inherited."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MUNTADA_") and k != "DATABASE_URL"}
    env.update({
        "MUNTADA_DATA_DIR": str(root / "data"),
        "MUNTADA_VALIDATE_FORMS": "false",  # compiling is measured on its own, not here
        "MUNTADA_WORKERS": str(workers),
        "MUNTADA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "MUNTADA_LOG_LEVEL": "WARNING",
    })
    return env


def bench_serve(workers: int, seconds: float, max_operations: int, phones: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="muntada-bench-") as tmp:
        root = Path(tmp)
        port = _free_port()
        env = server_environment(root, port, workers)
        loaded = _cli(env, "forms", "load-programme")
        created = _cli(env, "app-users", "create", "bench-phone")
        base = re.search(r"^Collect server URL: (\S+)$", created, re.MULTILINE).group(1)

        server = Server(env, port, workers, root / "serve.log")
        try:
            started = time.perf_counter()
            server.wait_ready(f"{base}/formList")
            ready = time.perf_counter() - started
            with requests.Session() as session:
                per_walk = walk_once(session, base, [])  # warm every worker's caches a little
            for _ in range(workers * 4):
                with requests.Session() as session:
                    walk_once(session, base, [])
            idle = server.memory()

            print(f"## (b) muntada serve: SQLite, {workers} gunicorn workers (gthread, 4 threads "
                  "each), loopback")
            print("programme loaded: " + ", ".join(
                "/".join(line.split("\t")[:2]) for line in loaded.splitlines()
                if line.count("\t") == 2))
            print(f"server answering {ready:.1f} s after start; one full walk = {per_walk} "
                  "requests (formList + forms + manifests + media)")
            print(f"each run: until {seconds:g} s have passed or every phone has done "
                  f"{max_operations} operations")
            print()
            print(f"{'scenario':<11}{'phones':>7}{'requests':>10}{'seconds':>9}{'req/s':>9}"
                  f"{'walks/s':>9}{'p50 ms':>9}{'p99 ms':>9}")
            for name, operation in (("formList", form_list_once), ("full walk", walk_once)):
                for count in phones:
                    r = load(base, operation, count, seconds, max_operations)
                    walks = f"{r['ops']:>9.1f}" if operation is walk_once else f"{'-':>9}"
                    print(f"{name:<11}{count:>7}{r['requests']:>10}{r['seconds']:>9.1f}"
                          f"{r['rps']:>9.1f}{walks}{r['p50'] * 1000:>9.1f}"
                          f"{r['p99'] * 1000:>9.1f}", flush=True)
            peak = server.memory()
            print()
            print(f"server memory over {peak['processes']} processes (master + workers), MiB:")
            print(f"  after warm-up:  VmHWM sum {idle['VmHWM'] / 1024:.1f}, "
                  f"VmRSS sum {idle['VmRSS'] / 1024:.1f}, Pss sum {idle['Pss'] / 1024:.1f}")
            print(f"  after the load: VmHWM sum {peak['VmHWM'] / 1024:.1f} (peak RSS), "
                  f"VmRSS sum {peak['VmRSS'] / 1024:.1f}, Pss sum {peak['Pss'] / 1024:.1f}")
            print("  (VmHWM and VmRSS sums count pages the forked workers share with the master "
                  "once per process; Pss divides them)")
            restarts = server.log_path.read_text(errors="replace").count("Booting worker")
            if restarts != workers:
                print(f"  note: {restarts} workers booted for {workers}: some were restarted")
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="time bound of each load run [default: 5]")
    parser.add_argument("--max-operations", type=int, default=500,
                        help="per phone and run: formList requests or full walks [default: 500]")
    parser.add_argument("--phones", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--repeat", type=int, default=5,
                        help="compile runs per form without ODK Validate [default: 5]")
    parser.add_argument("--repeat-validate", type=int, default=3,
                        help="compile runs per form with ODK Validate [default: 3]")
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--skip-serve", action="store_true")
    args = parser.parse_args()

    print(f"# Muntada benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    if not args.skip_compile:
        bench_compile(args.repeat, args.repeat_validate)
    if not args.skip_serve:
        bench_serve(args.workers, args.seconds, args.max_operations, args.phones)


if __name__ == "__main__":
    main()
