"""Export benchmark: 100,000 forum-meeting submissions with their repeats, then the CSV zip, the
Excel workbook and a walk through every page of the data API, each timed in a fresh process whose
peak memory (VmHWM) is the server's for that work, in wall and CPU seconds.

The rows are written straight into the relational tables (and the submissions table they join),
with values of every column's type, as normalising would have left them: this measures exports,
not ingest (bench/ingest.py does that). Loading takes under a minute on SQLite; `--keep DIR`
keeps the data folder so that later runs can `--reuse DIR` (and `--only csv` measures one).

    .venv/bin/python bench/export.py                       # SQLite, 100,000 submissions
    .venv/bin/python bench/export.py --submissions 20000
    .venv/bin/python bench/export.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 5000
FORM_ID = "forum_meeting"


def config(data_dir: Path, database_url: str | None) -> dict:
    return {"DATA_DIR": str(data_dir), "DATABASE_URL": database_url or "",
            "SECRET_KEY": "bench-secret", "VALIDATE_FORMS": False, "LOG_LEVEL": "WARNING"}


def load(data_dir: Path, database_url: str | None, submissions: int, seed: int) -> int:
    """Programme forms, an analyst, and `submissions` meetings; returns repeat rows written."""
    import sqlalchemy as sa

    from server.app import create_app
    from server.database import migrate, per_request, projection
    from server.database.models import Submission
    from server.database.queries import forms as form_queries
    from server.services.accounts import create_app_user, create_user
    from server.services.form_loading import load_form
    from server.services.programme import PROGRAMME_FORMS

    app = create_app(config(data_dir, database_url))
    migrate.upgrade(per_request.of(app).engine)
    rng = random.Random(seed)
    with app.app_context():
        session = per_request.of(app).session(writing=True)
        for form in PROGRAMME_FORMS:
            load_form(session, app.extensions["blobs"], form.source.read_bytes(),
                      {m.name: m.read_bytes() for m in form.media}, validate=False)
        phone = create_app_user(session, "officer")
        create_user(session, "analyst", "a long enough password", "analyst")
        session.commit()
        form = form_queries.get_form(session, FORM_ID)
        proj = projection.load(session, form)
        forums = list(csv.DictReader(io.StringIO(
            PROGRAMME_FORMS[0].media[0].read_text(encoding="utf-8"))))
        root_columns = {(path, kind, part): name for (key, path, kind, part), name
                        in proj.columns.items() if key == ""}
        issue_columns = {(path, kind, part): name for (key, path, kind, part), name
                         in proj.columns.items() if key == "/issue"}
        start = datetime(2026, 1, 1, tzinfo=UTC)
        repeats = 0
        next_id = 1
        for first in range(0, submissions, BATCH):
            subs, roots, issues = [], [], []
            for n in range(first, min(first + BATCH, submissions)):
                key = f"uuid:{rng.getrandbits(128):032x}"
                moment = start + timedelta(seconds=n * 60)
                subs.append({"id": next_id, "form_id": form.id, "instance_id": key,
                             "review_state": "received", "submitter_id": phone.id,
                             "created_at": moment, "updated_at": moment})
                forum = rng.choice(forums)
                row = {"_key": key, "_submission_id": next_id, "_instance_id": key,
                       "_submitted_at": moment, "_updated_at": moment, "_submitter": "officer",
                       "_device_id": "collect:bench", "_form_version": "2026112901",
                       "_review_state": "received", "_attachments_present": 0,
                       "_attachments_expected": 0, "_edits": 0}
                row.update(_values(rng, root_columns, forum, key))
                roots.append(row)
                for position in range(1, rng.randint(0, 4) + 1):
                    issue = {"_key": f"{key}/issue[{position}]", "_parent_key": key,
                             "_submission_id": next_id, "_position": position}
                    issue.update(_values(rng, issue_columns, forum, key))
                    issues.append(issue)
                next_id += 1
            session.execute(sa.insert(Submission), subs)
            session.execute(sa.insert(proj.root), roots)
            if issues:
                session.execute(sa.insert(proj.tables["/issue"]), issues)
            repeats += len(issues)
            session.commit()
            print(f"  loaded {min(first + BATCH, submissions):,} submissions", flush=True)
        if session.bind.dialect.name == "postgresql":
            # A live server's autovacuum keeps statistics; just after a bulk load there are
            # none, and the planner sorts the whole table for every API page (40 times slower).
            session.execute(sa.text("ANALYZE"))
            session.commit()
        session.close()
    per_request.of(app).engine.dispose()
    return repeats


TOPICS = ["security", "services", "women", "youth", "land", "other"]


def _values(rng, columns, forum, key) -> dict:
    out = {}
    for (path, kind, part), name in columns.items():
        field = path.rsplit("/", 1)[-1]
        if field in ("governorate", "district"):
            out[name] = forum[field]
        elif field == "forum":
            out[name] = forum["name"]
        elif field == "instanceID":
            out[name] = key
        elif part:
            out[name] = {"latitude": Decimal("33.3") + Decimal(rng.randint(0, 9999)) / 10000,
                         "longitude": Decimal("44.3") + Decimal(rng.randint(0, 9999)) / 10000,
                         "altitude": Decimal(rng.randint(20, 60)),
                         "accuracy": Decimal(rng.randint(3, 20))}[part]
        elif kind == "integer":
            out[name] = rng.randint(0, 40)
        elif kind == "decimal":
            out[name] = Decimal(rng.randint(0, 1000)) / 10
        elif kind == "date":
            out[name] = date(2026, rng.randint(1, 11), rng.randint(1, 28))
        elif kind == "datetime":
            out[name] = datetime(2026, rng.randint(1, 11), rng.randint(1, 28), 9, 30, tzinfo=UTC)
        elif field == "topics":
            out[name] = " ".join(rng.sample(TOPICS, rng.randint(1, 3)))
        elif field.startswith("photo"):
            out[name] = None
        else:
            out[name] = rng.choice(["Street lights are broken near the market",
                                    "إنارة الشوارع معطلة قرب السوق", "نەبوونی ئاو لە گەڕەک",
                                    "Checkpoint delays", "  spaces and ٠٧٧٠١٢٣٤٥٦٧  "])
    return out


# -- measured work, each in a fresh process --------------------------------------------------------

def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _cpu() -> float:
    """User and system CPU seconds of this process: steadier than wall time on a shared machine
    (with PostgreSQL the database server's own CPU is not in it)."""
    times = os.times()
    return times.user + times.system


def _export(data_dir: str, database_url: str | None, fmt: str, out: str, result) -> None:
    from server.app import create_app
    from server.database import per_request
    from server.database.queries import accounts as account_queries
    from server.database.queries import forms as form_queries
    from server.services.exports import Options, prepare, write

    app = create_app(config(Path(data_dir), database_url))
    with app.app_context():
        session = per_request.of(app).session(writing=False)
        user = account_queries.user_by_username(session, "analyst")
        form = form_queries.get_form(session, FORM_ID)
        started, cpu = time.perf_counter(), _cpu()
        prepared = prepare(session, form, user, Options(format=fmt), secret_key="bench-secret",
                           blobs=app.extensions["blobs"])
        written = write(session, prepared, out)
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    result.put({"seconds": seconds, "cpu": cpu, "rows": written, "peak_kib": _peak_kib(),
                "bytes": os.path.getsize(out), "load": os.getloadavg()[0]})


def _walk(data_dir: str, database_url: str | None, limit: int, basic: bool, result) -> None:
    """Every page, as a script walks them: with an API token, as a bearer token or as the
    password of Basic (as Excel and Power BI send it; the API takes no password)."""
    import base64

    from server.app import create_app
    from server.database import per_request
    from server.database.queries import accounts as account_queries
    from server.services import api_tokens

    app = create_app(config(Path(data_dir), database_url))
    client = app.test_client()
    with app.app_context():
        session = per_request.of(app).session(writing=True)
        user = account_queries.user_by_username(session, "analyst")
        _token, secret = api_tokens.create(session, user, f"bench {os.getpid()} {time.time()}")
        session.commit()
        session.close()
    headers = {"Authorization": f"Bearer {secret}"}
    if basic:
        credentials = base64.b64encode(f"analyst:{secret}".encode()).decode()
        headers = {"Authorization": f"Basic {credentials}"}
    started, cpu = time.perf_counter(), _cpu()
    rows = pages = 0
    after = None
    while True:
        query = {"limit": limit, **({"after": after} if after else {})}
        response = client.get(f"/api/v1/forms/{FORM_ID}/submissions", headers=headers,
                              query_string=query, base_url="https://localhost")
        body = json.loads(response.data)
        rows += body["count"]
        pages += 1
        after = body["next"]
        if after is None:
            break
    seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    result.put({"seconds": seconds, "cpu": cpu, "rows": {"submissions": rows}, "pages": pages,
                "peak_kib": _peak_kib(), "load": os.getloadavg()[0]})


def measure(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    result = context.Queue()
    process = context.Process(target=target, args=(*args, result))
    process.start()
    figures = result.get()
    process.join()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL (an empty database); default: SQLite in the folder")
    parser.add_argument("--keep", type=Path, help="keep the data folder here")
    parser.add_argument("--reuse", type=Path, help="a folder kept by an earlier --keep")
    parser.add_argument("--page", type=int, default=1000, help="API page size")
    parser.add_argument("--basic", action="store_true",
                        help="send the API token as Basic's password instead of as a bearer "
                             "token")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=("csv", "xlsx", "api"), action="append",
                        help="measure only this work (repeatable); default: all three")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    data_dir = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="muntada-bench-export-"))
    try:
        if args.reuse is None:
            started = time.perf_counter()
            repeats = load(data_dir, args.database_url, args.submissions, args.seed)
            print(f"loaded {args.submissions:,} submissions and {repeats:,} issue rows in "
                  f"{time.perf_counter() - started:.1f} s")
        out = Path(data_dir) / "bench-out"
        out.mkdir(exist_ok=True)
        only = set(args.only or ("csv", "xlsx", "api"))
        for label, fmt, suffix in (("CSV zip", "csv", "zip"), ("Excel workbook", "xlsx", "xlsx")):
            if fmt not in only:
                continue
            figures = measure(_export, str(data_dir), args.database_url, fmt,
                              str(out / f"export.{suffix}"))
            _report(label, figures)
        if "api" in only:
            figures = measure(_walk, str(data_dir), args.database_url, args.page, args.basic)
            _report(f"API page walk ({figures['pages']} pages of {args.page}, "
                    f"{'Basic' if args.basic else 'token'})", figures)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    finally:
        if args.keep is None and args.reuse is None:
            shutil.rmtree(data_dir, ignore_errors=True)


def _report(label: str, figures: dict) -> None:
    rows = sum(v for k, v in figures["rows"].items() if k != "media")
    size = f", {figures['bytes'] / 1e6:.1f} MB" if "bytes" in figures else ""
    print(f"{label}: {figures['seconds']:.1f} s ({figures['cpu']:.1f} s CPU), {rows:,} rows, "
          f"{rows / figures['seconds']:,.0f} rows/s, peak memory {figures['peak_kib'] / 1024:.0f} "
          f"MiB{size}, load {figures['load']:.2f} at its end  {json.dumps(figures['rows'])}",
          flush=True)


if __name__ == "__main__":
    main()
