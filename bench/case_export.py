"""Cases in exports: 100,000 referral cases with two versions each (the opening and a follow-up),
then the referral form's CSV zip and Excel workbook, each timed in a fresh process whose peak
memory (VmHWM) is that export's, in wall and CPU seconds (`bench/export.py`'s measures).

The cases are written straight into `entities`, `entity_defs` and the list's typed table
(`e_cases`), as applying submissions would have left them: this measures the cases' part of an
export, not ingest. `--keep DIR` keeps the data folder for a later `--reuse DIR`.

    .venv/bin/python bench/case_export.py                       # SQLite, 100,000 cases
    .venv/bin/python bench/case_export.py --cases 20000 --only csv
    .venv/bin/python bench/case_export.py --database-url postgresql+psycopg://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export import _cpu, _peak_kib, _report, config, measure  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 5000
FORM_ID = "incident_referral"
FORMS = ("incident_referral", "referral_follow_up")
WORDS = ("Basra", "البصرة", "Zubair", "الزبير", "F1", "منتدى الزبير", "theft", "high", "open",
         "in_progress", "سلێمانی")


def load(data_dir: Path, database_url: str | None, cases: int, seed: int) -> None:
    """The two case forms, an analyst and an officer, and `cases` cases of two versions each."""
    import sqlalchemy as sa

    from server.app import create_app
    from server.database import case_table, migrate, per_request
    from server.database.models import Entity, EntityDef, EntityList
    from server.services.accounts import create_app_user, create_user
    from server.services.cases.rows import typed_row
    from server.services.form_loading import load_form

    app = create_app(config(data_dir, database_url))
    migrate.upgrade(per_request.of(app).engine)
    rng = random.Random(seed)
    with app.app_context():
        session = per_request.of(app).session(writing=True)
        for form_id in FORMS:
            source = ROOT / "forms" / "xlsforms" / f"{form_id}.xlsx"
            media = ROOT / "forms" / "xlsforms" / "media" / "forums.csv"
            load_form(session, app.extensions["blobs"], source.read_bytes(),
                      {media.name: media.read_bytes()}, validate=False)
        officer = create_app_user(session, "officer")
        create_user(session, "analyst", "bench-password-long-enough", "analyst")
        session.commit()
        entity_list = session.scalars(sa.select(EntityList)).one()
        typed = case_table.table_of(entity_list)
        properties = case_table.properties_of(entity_list)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for first in range(0, cases, BATCH):
            entities, versions, rows = [], [], []
            for number in range(first + 1, min(cases, first + BATCH) + 1):
                case_id, label = str(uuid.uuid4()), f"R{number} {rng.choice(WORDS)}"
                opened = start + timedelta(minutes=number)
                data = {p["name"]: _value(rng, p["kind"]) for p in properties}
                entities.append({
                    "id": number, "list_id": entity_list.id, "uuid": case_id, "label": label,
                    "version": 2, "data": json.dumps(data, ensure_ascii=False),
                    "governorate": data.get("governorate"), "forum": data.get("forum"),
                    "status": data.get("status"), "seq": number, "csv_row": "",
                    "creator_id": officer.id, "created_at": opened, "updated_at": opened})
                for version in (1, 2):
                    versions.append({
                        "entity_id": number, "version": version, "label": label,
                        "data": entities[-1]["data"], "data_received": "{}", "forced": False,
                        "app_user_id": officer.id, "created_at": opened})
                rows.append(typed_row(entity_list, case_id, label, 2, data, None, opened,
                                      opened, None, "officer"))
            session.execute(sa.insert(Entity.__table__), entities)
            session.execute(sa.insert(EntityDef.__table__), versions)
            session.execute(sa.insert(typed), rows)
            session.commit()


def _value(rng: random.Random, kind: str) -> str:
    if kind == "date":
        return (date(2026, 1, 1) + timedelta(days=rng.randrange(365))).isoformat()
    if kind == "integer":
        return str(rng.randrange(100))
    if kind == "decimal":
        return f"{rng.random() * 100:.2f}"
    return rng.choice(WORDS)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL (an empty database); default: SQLite in the folder")
    parser.add_argument("--keep", type=Path, help="keep the data folder here")
    parser.add_argument("--reuse", type=Path, help="a folder kept by an earlier --keep")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=("csv", "xlsx"), action="append",
                        help="measure only this export (repeatable); default: both")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    data_dir = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="muntada-bench-cases-"))
    try:
        if args.reuse is None:
            started = time.perf_counter()
            load(data_dir, args.database_url, args.cases, args.seed)
            print(f"loaded {args.cases:,} cases and {2 * args.cases:,} versions in "
                  f"{time.perf_counter() - started:.1f} s")
        out = Path(data_dir) / "bench-out"
        out.mkdir(exist_ok=True)
        only = set(args.only or ("csv", "xlsx"))
        for label, fmt, suffix in (("CSV zip", "csv", "zip"), ("Excel workbook", "xlsx", "xlsx")):
            if fmt in only:
                _report(label, measure(_export, str(data_dir), args.database_url, fmt,
                                       str(out / f"export.{suffix}")))
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    finally:
        if args.keep is None and args.reuse is None:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
