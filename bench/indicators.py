"""Benchmark of the programme's indicators (issue 16 §3): every indicator of
server/services/indicators/programme.toml for a year over all places, on a database holding
100,000 forum meetings with 200,000 issue rows (and referrals with their cases, trainings with
their participants), on SQLite and, with --database-url, PostgreSQL.

    .venv/bin/python bench/indicators.py
    .venv/bin/python bench/indicators.py --database-url postgresql://root@127.0.0.1:5432/postgres

The programme's forms are loaded as `muntada forms add` loads them; the rows are then written
straight into the forms' relational tables (and the cases), in batches, as the projection would
have written them (with a bare submission row for each referral, which its case names): this
measures the indicators, not ingest (bench/ingest.py does that).
Printed: for each grouping (governorate; district; forum; month) the time of computing all 16
indicators (best and median of 5), for an administrator and for a supervisor of one
governorate; the process's peak memory. It asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from server.app import create_app  # noqa: E402
from server.database import make_engine, migrate, per_request, projection  # noqa: E402
from server.database.models import Entity, EntityDef, EntityList, Submission  # noqa: E402
from server.database.queries import forms as form_queries  # noqa: E402
from server.services import indicators  # noqa: E402
from server.services.accounts import create_user  # noqa: E402
from server.services.form_loading import load_form  # noqa: E402
from server.services.programme import PROGRAMME_FORMS  # noqa: E402

GOVERNORATES = {"anbar": ("ramadi", "fallujah", "hit"), "nineveh": ("mosul", "qayyarah"),
                "baghdad": ("baghdad_karkh", "baghdad_rusafa"), "diyala": ("khalis", "baquba"),
                "salah_al_din": ("tikrit", "samarra")}
GROUPS = ("police", "idp", "host", "returnee", "civil_society", "judiciary", "local_authority")
TOPICS = ("security", "services", "disputes", "documentation", "gbv_family", "youth_drugs")
CATEGORIES = ("theft", "gbv", "threat", "property_dispute", "domestic_violence", "harassment")
AGENCIES = ("police_station", "family_protection", "court", "ngo", "health")
BATCH = 5000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meetings", type=int, default=100_000)
    parser.add_argument("--issues", type=int, default=200_000, help="issue rows in all")
    parser.add_argument("--referrals", type=int, default=20_000)
    parser.add_argument("--trainings", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="a PostgreSQL server's admin URL: the bench "
                                               "makes a database of its own there, and drops it")
    return parser.parse_args()


class Columns:
    """The SQL column of each form path, as the projection named it."""

    def __init__(self, proj: projection.Projection):
        self.proj = proj

    def __call__(self, key: str, path: str) -> str:
        return next(name for (k, p, _kind, part), name in self.proj.columns.items()
                    if k == key and p == path and not part)


def forums() -> list[tuple[str, str, str]]:
    return [(g, d, f"{g[:3]}_{d}_{n:02d}") for g, ds in GOVERNORATES.items() for d in ds
            for n in range(1, 5)]


def system(rng: random.Random, submission_id: int, when: datetime, version: str) -> dict:
    return {"_key": f"uuid:{uuid.UUID(int=rng.getrandbits(128))}",
            "_submission_id": submission_id, "_instance_id": f"uuid:{submission_id}",
            "_submitted_at": when, "_updated_at": when, "_submitter": "officer",
            "_device_id": "collect:bench", "_form_version": version,
            "_review_state": rng.choice((None, None, None, "approved", "hasIssues", "rejected")),
            "_attachments_present": 0, "_attachments_expected": 0, "_edits": 0}


def day_in(rng: random.Random) -> date:
    return date(rng.choice((2025, 2026, 2026, 2026)), 1, 1) + timedelta(days=rng.randrange(365))


def fill(session, args) -> dict[str, int]:
    """The forms' tables written in batches; returns the rows written per table."""
    rng = random.Random(16)
    places = forums()

    written: dict[str, int] = {}
    next_id = iter(range(1, 10**9))

    def insert(table: sa.Table, rows: list[dict]) -> None:
        if rows:
            session.execute(table.insert(), rows)
            written[table.name] = written.get(table.name, 0) + len(rows)

    def tables_of(form_id: str):
        proj = projection.load(session, form_queries.get_form(session, form_id))
        return proj, Columns(proj)

    meeting, c = tables_of("forum_meeting")
    issues_per_meeting = args.issues / max(1, args.meetings)
    roots, issues = [], []
    for _ in range(args.meetings):
        governorate, district, forum = rng.choice(places)
        row = system(rng, next(next_id), datetime.now(UTC), "bench")
        row.update({c("", "/governorate"): governorate, c("", "/district"): district,
                    c("", "/forum"): forum, c("", "/meeting_date"): day_in(rng)})
        for group in GROUPS:
            row[c("", f"/attendance_{group}/{group}_women")] = rng.randrange(8)
            row[c("", f"/attendance_{group}/{group}_men")] = rng.randrange(8)
        roots.append(row)
        count = int(issues_per_meeting) + (rng.random() < issues_per_meeting % 1)
        for n in range(1, count + 1):
            issues.append({"_key": f"{row['_key']}/issue[{n}]", "_parent_key": row["_key"],
                           "_position": n, "_submission_id": row["_submission_id"],
                           c("/issue", "/issue/issue_category"): rng.choice(TOPICS),
                           c("/issue", "/issue/issue_priority"): rng.choice(
                               ("high", "medium", "low")),
                           c("/issue", "/issue/action_agreed"): rng.choice(("Call", "", "Visit")),
                           c("/issue", "/issue/due_date"): day_in(rng)})
        if len(roots) >= BATCH:
            insert(meeting.root, roots)
            insert(meeting.tables["/issue"], issues)
            roots, issues = [], []
    insert(meeting.root, roots)
    insert(meeting.tables["/issue"], issues)

    referral, c = tables_of("incident_referral")
    follow_up, f = tables_of("referral_follow_up")
    cases = session.scalar(sa.select(EntityList.id).where(EntityList.name == "cases"))
    rows, entities, closings = [], [], []
    for n in range(args.referrals):
        governorate, district, forum = rng.choice(places)
        row = system(rng, next(next_id), datetime.now(UTC), "bench")
        opened = day_in(rng)
        row.update({c("", "/governorate"): governorate, c("", "/district"): district,
                    c("", "/forum"): forum, c("", "/category"): rng.choice(CATEGORIES),
                    c("", "/agency"): rng.choice(AGENCIES),
                    c("", "/incident_datetime"): datetime(opened.year, opened.month, opened.day,
                                                          rng.randrange(24), tzinfo=UTC)})
        rows.append(row)
        case_id = str(uuid.UUID(int=rng.getrandbits(128)))
        closed = rng.random() < 0.5
        entities.append((case_id, row["_submission_id"], "closed" if closed else "open",
                         governorate, forum))
        if closed:
            closing = system(rng, next(next_id), datetime.now(UTC), "bench")
            closing.update({f("", "/case"): case_id, f("", "/status"): "closed",
                            f("", "/action_date"): opened + timedelta(days=rng.randrange(90))})
            closings.append(closing)
        if len(rows) >= BATCH or n == args.referrals - 1:
            # a case's first version names the referral's submission: those rows exist
            insert(Submission.__table__, [
                {"id": r["_submission_id"], "form_id": form_queries.get_form(
                    session, "incident_referral").id, "instance_id": r["_instance_id"],
                 "review_state": r["_review_state"] or "received"} for r in rows])
            insert(referral.root, rows)
            insert(follow_up.root, closings)
            for case_id, submission_id, status, governorate, forum in entities:
                entity = Entity(list_id=cases, uuid=case_id, label="INC", version=1, data="{}",
                                governorate=governorate, forum=forum, status=status, seq=0)
                session.add(entity)
                session.flush()
                session.add(EntityDef(entity_id=entity.id, version=1, label="INC",
                                      submission_id=submission_id))
            written["entities"] = written.get("entities", 0) + len(entities)
            rows, entities, closings = [], [], []
            session.flush()

    training, c = tables_of("training_attendance")
    roots, people = [], []
    for _ in range(args.trainings):
        governorate, district, forum = rng.choice(places)
        row = system(rng, next(next_id), datetime.now(UTC), "bench")
        row.update({c("", "/governorate"): governorate, c("", "/district"): district,
                    c("", "/forum"): forum, c("", "/start_date"): day_in(rng),
                    c("", "/event_type"): rng.choice(("training", "workshop",
                                                       "awareness_campaign"))})
        roots.append(row)
        for n in range(1, rng.randrange(2, 9)):
            p = "/participant"
            people.append({"_key": f"{row['_key']}{p}[{n}]", "_parent_key": row["_key"],
                           "_position": n, "_submission_id": row["_submission_id"],
                           c(p, f"{p}/participant_sex"): rng.choice(("female", "male")),
                           c(p, f"{p}/participant_role"): rng.choice(
                               ("police_officer", "community_member", "civil_society")),
                           c(p, f"{p}/pre_test_score"): rng.uniform(10, 70),
                           c(p, f"{p}/post_test_score"): rng.uniform(40, 100)})
    insert(training.root, roots)
    insert(training.tables["/participant"], people)
    session.commit()
    return written


def timed(session, user, by, runs: int) -> tuple[float, float, int]:
    times = []
    for _ in range(runs):
        session.rollback()
        start = time.perf_counter()
        results = indicators.compute(session, user, indicators.Period.year(2026), by)
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), sum(len(r.figures) for r in results)


def run(kind: str, url: str, data_dir: str, args) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)  # as `muntada db upgrade` does
    engine.dispose()
    app = create_app({"DATA_DIR": data_dir, "DATABASE_URL": url, "SECRET_KEY": "bench",
                      "VALIDATE_FORMS": False, "TESTING": True})
    with app.app_context():
        session = per_request.session()
        for form in PROGRAMME_FORMS:
            load_form(session, app.extensions["blobs"], form.source.read_bytes(),
                      {m.name: m.read_bytes() for m in form.media}, validate=False)
            session.commit()
        head = create_user(session, "head", "a long bench password", "administrator")
        local = create_user(session, "anbar-sup", "a long bench password", "supervisor",
                            scopes=[("governorate", "anbar")])
        session.commit()
        start = time.perf_counter()
        written = fill(session, args)
        print(f"\n{kind}: wrote {', '.join(f'{n:,} {t}' for t, n in written.items())} in "
              f"{time.perf_counter() - start:.1f} s")
        if kind == "postgresql":
            session.execute(sa.text("ANALYZE"))
            session.commit()
        print(f"  {'grouping':<32} {'reader':<22} {'best':>8} {'median':>8} {'lines':>7}")
        for by in (("governorate",), ("governorate", "district"),
                   ("governorate", "district", "forum"), ("month",)):
            for name, user in (("administrator", head), ("supervisor of Anbar", local)):
                best, median, lines = timed(session, user, by, args.runs)
                print(f"  {' · '.join(by):<32} {name:<22} {best * 1000:7.0f}ms "
                      f"{median * 1000:7.0f}ms {lines:7,}")
        per_request.of(app).engine.dispose()


def main() -> None:
    args = parse_args()
    print(f"bench/indicators.py  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  "
          f"{platform.python_version()}  {os.cpu_count()} CPUs  load {os.getloadavg()[0]:.2f}")
    print(f"{args.meetings:,} meetings, {args.issues:,} issue rows, {args.referrals:,} "
          f"referrals (half closed), {args.trainings:,} trainings; all 16 indicators for 2026")
    with tempfile.TemporaryDirectory() as folder:
        run("sqlite", f"sqlite:///{folder}/bench.sqlite", folder, args)
    if args.database_url:
        admin = sa.make_url(args.database_url)
        name = f"muntada_bench_indicators_{os.getpid()}"
        engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
        try:
            with tempfile.TemporaryDirectory() as folder:
                run("postgresql", admin.set(database=name).render_as_string(
                    hide_password=False), folder, args)
        finally:
            with engine.connect() as connection:
                connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak memory of this process (data generation included): {peak:.0f} MiB; "
          f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
