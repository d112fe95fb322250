"""Benchmark of the supervisors' submission list with 100,000 forum meetings.

Run with `.venv/bin/python bench/review_list.py [--rows 100000] [--postgres URL]`. It prints
figures and asserts nothing about time. See bench/README.md for one run's figures.

For each database (SQLite in a temporary data folder; PostgreSQL, when a server URL is given or
TEST_DATABASE_URL is set, in a database of its own, created and dropped): the programme loaded,
then `--rows` forum meetings written straight into the database, in batches of 5,000 with one
multi-row INSERT each: a `submissions` row and a row of the form's table `f_forum_meeting` (the
projection the list reads), with places drawn from forums.csv, states, dates over a year and a
text answer. No XML and no versions: the list never reads them, and going through the phone path
would take most of an hour. Then, through Flask's test client signed in as an administrator and
as a supervisor of two governorates, each request 7 times (median and slowest printed):
  first page      the list as it opens (newest first, counts per state);
  filtered        state=approved, one governorate, a date range;
  search          free text over the text answers;
  supervisor      the first page within a supervisor's scope;
  deep keyset     the page after the 90,000th submission (the cursor is read once beforehand).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(REPO)

import sqlalchemy as sa  # noqa: E402

from server.app import create_app  # noqa: E402
from server.database import migrate, per_request, projection  # noqa: E402
from server.database.models import Submission  # noqa: E402
from server.database.queries import forms as form_queries  # noqa: E402
from server.services.accounts import create_user  # noqa: E402
from server.services.form_loading import load_form  # noqa: E402
from server.services.programme import PROGRAMME_FORMS  # noqa: E402
from tests.support.web import PASSWORD, Browser  # noqa: E402

STATES = (("received", 50), ("approved", 30), ("hasIssues", 10), ("rejected", 5),
          ("edited", 5))
WORDS = ("water", "electricity", "school", "checkpoint", "market", "road", "lights", "youth",
         "council", "clinic", "tanker", "bridge")
LIST = "/forms/forum_meeting/submissions"
REPEAT = 7


def forums() -> list[dict[str, str]]:
    media = next(m for m in PROGRAMME_FORMS[0].media if m.name == "forums.csv")
    return list(csv.DictReader(io.StringIO(media.read_text(encoding="utf-8"))))


def fill(app, rows: int) -> None:
    with app.app_context():
        session = per_request.of(app).session(writing=True)
        for form in PROGRAMME_FORMS:
            load_form(session, app.extensions["blobs"], form.source.read_bytes(),
                      {m.name: m.read_bytes() for m in form.media}, validate=False)
        create_user(session, "admin", PASSWORD, "administrator")
        create_user(session, "supervisor", PASSWORD, "supervisor",
                    scopes=[("governorate", "nineveh"), ("governorate", "anbar")])
        session.commit()
        form = form_queries.get_form(session, "forum_meeting")
        tables = projection.load(session, form)
        root, columns = tables.root, tables.columns
        name = {path: columns[("", path, kind, "")] for path, kind in (
            ("/governorate", "text"), ("/district", "text"), ("/forum", "text"),
            ("/notes", "text"), ("/facilitator", "text"), ("/meeting_date", "date"))}
        places = forums()
        random.seed(7)
        states = [s for s, weight in STATES for _ in range(weight)]
        start = datetime(2026, 11, 29, tzinfo=UTC)
        started = time.perf_counter()
        batch = 5000
        for first in range(0, rows, batch):
            submissions, root_rows = [], []
            for n in range(first, min(rows, first + batch)):
                key = f"uuid:{uuid.UUID(int=random.getrandbits(128), version=4)}"
                at = start - timedelta(seconds=random.randrange(365 * 86400))
                place = random.choice(places)
                state = random.choice(states)
                submissions.append({"form_id": form.id, "instance_id": key,
                                    "review_state": state, "created_at": at, "updated_at": at})
                root_rows.append({
                    "_key": key, "_submission_id": n + 1, "_instance_id": key,
                    "_submitted_at": at, "_updated_at": at, "_submitter": f"officer-{n % 40}",
                    "_device_id": f"collect:{n % 40}", "_form_version": "2026112901",
                    "_review_state": state, "_attachments_present": 1 - (n % 17 == 0),
                    "_attachments_expected": 1,
                    name["/governorate"]: place["governorate"],
                    name["/district"]: place["district"], name["/forum"]: place["name"],
                    name["/notes"]: " ".join(random.sample(WORDS, 3)),
                    name["/facilitator"]: f"Officer {n % 300}",
                    name["/meeting_date"]: at.date()})
            session.execute(sa.insert(Submission), submissions)
            session.execute(sa.insert(root), root_rows)
            session.commit()
        print(f"  {rows:,} submissions written in {time.perf_counter() - started:.1f} s")
        # the cursor after the 90,000th (newest first), read once, outside the timings
        deep = session.execute(
            sa.select(root.c._submitted_at, root.c._submission_id)
            .order_by(root.c._submitted_at.desc(), root.c._submission_id.desc())
            .offset(int(rows * 0.9)).limit(1)).first()
        session.close()
    from server.surfaces.pages.review_list import _cursor_text

    app.config["BENCH_DEEP"] = _cursor_text(*deep)


def timed(browser: Browser, url: str) -> tuple[float, float]:
    times = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = browser.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return statistics.median(times), max(times)


def run(label: str, url: str, rows: int, data_dir: Path) -> None:
    app = create_app({"DATA_DIR": str(data_dir), "DATABASE_URL": url, "SECRET_KEY": "bench",
                      "VALIDATE_FORMS": False, "LOG_LEVEL": "WARNING"})
    migrate.upgrade(per_request.of(app).engine)
    print(f"{label}:")
    fill(app, rows)
    admin, supervisor = Browser(app), Browser(app)
    admin.sign_in("admin")
    supervisor.sign_in("supervisor")
    admin.get(LIST)  # the first list of a form creates its indexes: not timed
    cases = [
        ("first page", admin, LIST),
        ("filtered", admin, f"{LIST}?state=approved&governorate=nineveh&from=2026-03-01"
                            f"&to=2026-09-30"),
        ("search", admin, f"{LIST}?q=tanker"),
        ("supervisor", supervisor, LIST),
        ("deep keyset", admin, f"{LIST}?after={app.config['BENCH_DEEP']}"),
    ]
    print(f"  {'request':<14}{'median ms':>10}{'max ms':>9}")
    for name, browser, path in cases:
        median, worst = timed(browser, path)
        print(f"  {name:<14}{median:>10.1f}{worst:>9.1f}")
    per_request.of(app).engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL"),
                        help="a PostgreSQL server URL (a database of our own is created there)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run("SQLite", f"sqlite:///{tmp}/muntada.sqlite", options.rows, Path(tmp) / "data")
    if options.postgres:
        server = sa.make_url(options.postgres.replace("postgresql://", "postgresql+psycopg://",
                                                      1))
        name = f"muntada_bench_{os.getpid()}"
        admin = sa.create_engine(server.render_as_string(hide_password=False),
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
        try:
            with tempfile.TemporaryDirectory() as tmp:
                run("PostgreSQL", server.set(database=name).render_as_string(
                    hide_password=False), options.rows, Path(tmp) / "data")
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()


if __name__ == "__main__":
    main()
