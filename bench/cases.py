"""Benchmark of the cases (issue 13 §5): 100,000 referral cases served to phones and to our own
clients, and phones sending follow-ups, against a real `muntada serve` on loopback.

Run with `make bench` (after bench/ingest.py) or `.venv/bin/python bench/cases.py`. It prints
figures; it asserts nothing about time, but exits non-zero when the data is wrong: a list that
does not hold the cases it should, a delta that does not hold the changes made, a follow-up the
server acknowledged (201) that was not applied to its case. See bench/README.md for what is
measured and one run's figures.

For each database (SQLite in a temporary data folder; PostgreSQL in a database of its own,
created and dropped): the programme loaded with the command line, an administrator with an API
token, an app user whose places hold every case and one tied to a single forum; 100,000 cases
written with the server's own row builders (2,000 of them in that forum); then, the server
started afresh:
  full list     the phone's `cases.csv` (every case) and the JSON list, first (cold) and warm;
  unchanged     the same with If-None-Match: 304;
  own list      the CSV of the phone of one forum (2,000 cases);
  delta         `?since=<token>` after 10 follow-ups;
  follow-ups    1, 4 and 16 phones posting `referral_follow_up`, each updating a case.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Run as a script, this folder comes first on sys.path, and bench/forms.py would shadow the
# `forms` package: put the repository there instead.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(REPO)

import requests  # noqa: E402  (after the sys.path fix above)
import sqlalchemy as sa  # noqa: E402
from lxml import etree  # noqa: E402

from bench import lean_http  # noqa: E402
from bench.forms import (  # noqa: E402
    COLLECT_HEADERS,
    FORM_LIST_NS,
    MANIFEST_NS,
    MUNTADA,
    Server,
    _cli,
    _free_port,
    _percentile,
    server_environment,
)
from bench.ingest import (  # noqa: E402
    BAGHDAD,
    DEFAULT_POSTGRES,
    DEFAULT_WORKERS,
    HEADERS,
    ID_MARK,
    Instances,
    PostgresDatabase,
    ServedForm,
    _el,
    _revision,
    _stamp,
    cpu_seconds,
    cpu_ticks,
    fetch_forms,
    machine_ms,
    postgres_pids,
)
from server.database import case_table  # noqa: E402
from server.database.models import Entity, EntityDef, EntityList  # noqa: E402
from server.services.cases import rows  # noqa: E402

LIST = "cases"
FOLLOW_UP = "referral_follow_up"
CASE_MARK, BRANCH_MARK = "@@CASE_ID@@", "@@BRANCH_ID@@"
OPEN_STATUSES = ["open", "open", "open", "in_progress", "referred_on"]  # none closed: all served


# --------------------------------------------------------------------------------------------
# seeding: case rows written with the server's own row builders


def seed(url: str, forums: list[dict[str, str]], choices: dict[str, list[str]], total: int,
         focus: str, focus_count: int, rng: random.Random) -> list[str]:
    """Write `total` cases of the list `cases` as the submission path would have left them after
    each case's referral (its row, its version 1, its row of the typed table), `focus_count` of
    them in the forum `focus` and the others spread over the other forums; return their uuids
    in the order they were opened."""
    others = [f for f in forums if f["name"] != focus]
    by_name = {f["name"]: f for f in forums}
    in_focus = set(rng.sample(range(total), focus_count))
    engine = sa.create_engine(url)
    uuids = []
    try:
        with engine.begin() as c:
            entity_list = c.execute(sa.select(EntityList.__table__).where(
                EntityList.__table__.c.name == LIST)).one()
            names = rows.property_names(entity_list)
            typed = case_table.table_of(entity_list)
            first_id = (c.execute(sa.select(sa.func.max(Entity.__table__.c.id))).scalar()
                        or 0) + 1
            start = datetime.now(UTC) - timedelta(days=365)
            batch_size = 5000
            for offset in range(0, total, batch_size):
                entities, versions, typed_rows = [], [], []
                for i in range(offset, min(offset + batch_size, total)):
                    forum = by_name[focus] if i in in_focus else rng.choice(others)
                    case_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    opened = start + timedelta(seconds=i * 315)  # a year, in order
                    data = _case_data(forum, choices, opened, rng)
                    data = {name: data.get(name, "") for name in names}
                    label = (f"REF-{opened:%Y%m%d}-{i:06d} · {data['category']} · "
                             f"{forum['label_en']}")
                    data_text = json.dumps(data, ensure_ascii=False)
                    entities.append({
                        "id": first_id + i, "list_id": entity_list.id, "uuid": case_id,
                        "label": label, "version": 1, "data": data_text, "conflict": None,
                        **rows.filter_columns(data), "seq": i + 1,
                        "csv_row": rows.csv_row(entity_list, case_id, label, 1, data),
                        "creator_id": None, "created_at": opened, "updated_at": opened,
                        "deleted_at": None})
                    versions.append({
                        "entity_id": first_id + i, "version": 1, "label": label,
                        "data": data_text, "data_received": data_text, "forced": False,
                        "created_at": opened})
                    typed_rows.append(rows.typed_row(entity_list, case_id, label, 1, data, None,
                                                     opened, opened, None, None))
                    uuids.append(case_id)
                c.execute(Entity.__table__.insert(), entities)
                c.execute(EntityDef.__table__.insert(), versions)
                c.execute(typed.insert(), typed_rows)
            c.execute(EntityList.__table__.update().where(
                EntityList.__table__.c.id == entity_list.id).values(last_seq=total))
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(sa.text("ANALYZE"))  # as autovacuum would on a live server
    finally:
        engine.dispose()
    return uuids


def _case_data(forum: dict[str, str], choices: dict[str, list[str]], opened: datetime,
               rng: random.Random) -> dict[str, str]:
    """A referral's case properties (the places from forums.csv, the rest from the form's
    choices), as the referral form saves them."""
    return {
        "category": rng.choice(choices["incident_category"]),
        "governorate": forum["governorate"], "district": forum["district"],
        "forum": forum["name"], "urgency": rng.choice(choices["urgency"]),
        "agency": rng.choice(choices["agency"]), "status": rng.choice(OPEN_STATUSES),
        "follow_up_date": (opened + timedelta(days=rng.randint(3, 30))).date().isoformat(),
    }


# --------------------------------------------------------------------------------------------
# follow-ups, as Collect sends them


class FollowUps:
    """Pre-built `referral_follow_up` instances in the real form's shape; `next(case)` gives a
    multipart body updating that case from version 1, with a fresh instanceID and branch."""

    def __init__(self, form: ServedForm, forum_of: dict[str, dict[str, str]],
                 variants: int = 64):
        rng = random.Random("follow-ups")
        self.forum_of = forum_of
        self.templates = [self._xml(form, rng) for _ in range(variants)]
        self.rng, self.lock = rng, threading.Lock()

    @staticmethod
    def _xml(form: ServedForm, rng: random.Random) -> str:
        end = datetime.now(BAGHDAD) - timedelta(minutes=rng.randint(5, 600))
        status = rng.choice(["open", "in_progress", "referred_on"])
        agency = rng.choice([c["name"] for c in form.choices["agency"] if c["name"] != "other"])
        body = (
            _el("start", _stamp(end - timedelta(minutes=rng.randint(5, 30))))
            + _el("end", _stamp(end)) + _el("today", end.date())
            + _el("deviceid", f"collect:{rng.getrandbits(64):016x}")
            + "@@PLACES@@" + _el("case", CASE_MARK) + "@@CASE_STATE@@"
            + _el("action_date", end.date()) + _el("agency_contacted", agency)
            + _el("agency_contacted_other")
            + _el("outcome", rng.choice(["تم الاتصال بالجهة وحُدد موعد للمراجعة.",
                                         "Called the agency; an appointment is set.",
                                         "پەیوەندی کرا، چاوەڕێی وەڵامین."]))
            + _el("status", status) + _el("next_step", "مراجعة الجهة مرة أخرى")
            + _el("next_follow_up_date", end.date() + timedelta(days=rng.randint(3, 21))))
        entity = (f'<entity dataset="{LIST}" id="{CASE_MARK}" update="1" baseVersion="1" '
                  f'trunkVersion="1" branchId="{BRANCH_MARK}"/>')
        return ('<?xml version="1.0" encoding="UTF-8"?>'
                '<data xmlns:jr="http://openrosa.org/javarosa" '
                'xmlns:orx="http://openrosa.org/xforms" '
                f'id="{FOLLOW_UP}" version="{form.version}">{body}'
                f"<meta><instanceID>{ID_MARK}</instanceID>"
                f"{_el('instanceName', 'متابعة')}{entity}</meta></data>")

    def next(self, case: dict) -> tuple[str, bytes]:
        with self.lock:
            template = self.templates[self.rng.randrange(len(self.templates))]
        instance_id = f"uuid:{uuid.uuid4()}"
        data = case["data"]
        places = (_el("governorate", data["governorate"]) + _el("district", data["district"])
                  + _el("forum", data["forum"]))
        state = ("<current_state>" + _el("case_status", data["status"])
                 + _el("case_category", data["category"]) + _el("case_urgency", data["urgency"])
                 + _el("case_agency", data["agency"]) + "</current_state>")
        xml = (template.replace(ID_MARK, instance_id).replace(CASE_MARK, case["uuid"])
               .replace(BRANCH_MARK, str(uuid.uuid4())).replace("@@PLACES@@", places)
               .replace("@@CASE_STATE@@", state))
        return instance_id, Instances._body(xml.encode())


def post_follow_ups(url: str, follow_ups: FollowUps, cases, phones: int, seconds: float,
                    max_submissions: int, acknowledged: dict[str, str], server: Server,
                    database: str | None) -> dict:
    """`phones` threads post follow-ups, each of the next case of `cases` (an iterator), until
    `seconds` pass or `max_submissions` are sent; `acknowledged`: instanceID → case uuid."""
    sent = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(phones)]
    errors: list[str] = []
    lock = threading.Lock()
    start_line = threading.Barrier(phones + 1)

    def phone(index: int) -> None:
        connection = lean_http.Connection(url, HEADERS)
        start_line.wait()
        deadline = time.perf_counter() + seconds
        try:
            while time.perf_counter() < deadline and next(sent) < max_submissions:
                with lock:
                    case = next(cases)
                instance_id, body = follow_ups.next(case)
                start = time.perf_counter()
                try:
                    status, answer = connection.post(body)
                except (OSError, lean_http.HttpError) as error:
                    answer, status = repr(error).encode(), 0
                latencies[index].append(time.perf_counter() - start)
                if status == 201:
                    with lock:
                        acknowledged[instance_id] = case["uuid"]
                else:
                    errors.append(f"HTTP {status}: {answer[:300]!r}")
        finally:
            connection.close()

    calibration = machine_ms()  # before the phones start: the server is idle
    threads = [threading.Thread(target=phone, args=(i,)) for i in range(phones)]
    for thread in threads:
        thread.start()
    server_cpu = cpu_ticks(server.processes())
    db_cpu = cpu_ticks(postgres_pids(database)) if database else {}
    start_line.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    server_cpu = cpu_seconds(server_cpu, cpu_ticks(server.processes()))
    db_cpu = cpu_seconds(db_cpu, cpu_ticks(postgres_pids(database))) if database else 0.0
    everything = sorted(x for per_phone in latencies for x in per_phone)
    count = len(everything)
    return {"phones": phones, "seconds": elapsed, "submissions": count,
            "rate": count / elapsed, "p50": _percentile(everything, 50),
            "p99": _percentile(everything, 99), "errors": errors,
            "server_ms": 1000 * server_cpu / max(count, 1),
            "db_ms": 1000 * db_cpu / max(count, 1) if database else None,
            "machine_ms": calibration}


def verify_follow_ups(url: str, acknowledged: dict[str, str]) -> list[str]:
    """Each acknowledged follow-up made version 2 of its case, from that very submission; each
    case updated once is at version 2. Return what is wrong."""
    problems = []
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            made = dict(c.execute(sa.text(
                "SELECT s.instance_id, e.uuid FROM entity_defs d "
                "JOIN entities e ON e.id = d.entity_id JOIN submissions s "
                "ON s.id = d.submission_id WHERE d.version = 2")).all())
            versions = dict(c.execute(sa.text(
                "SELECT uuid, version FROM entities WHERE version <> 1")).all())
            outcomes = dict(c.execute(sa.text(
                "SELECT outcome, count(*) FROM entity_actions GROUP BY outcome")).all())
    finally:
        engine.dispose()
    not_applied = [i for i, case in acknowledged.items() if made.get(i) != case]
    wrong_version = [case for case in acknowledged.values() if versions.get(case) != 2]
    print(f"  {len(acknowledged)} follow-ups acknowledged; {len(made)} versions 2 made by a "
          f"submission; {len(not_applied)} acknowledged but not applied; "
          f"{len(wrong_version)} of their cases not at version 2; "
          f"{len(versions)} cases changed in all; entity actions: "
          + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    if not_applied:
        problems.append(f"{len(not_applied)} acknowledged follow-ups not applied")
    if wrong_version or len(versions) != len(acknowledged):
        problems.append("case versions differ from the follow-ups acknowledged")
    return problems


# --------------------------------------------------------------------------------------------
# reading lists


def timed(session: requests.Session, url: str, headers: dict[str, str],
          expect: int = 200) -> tuple[float, requests.Response]:
    start = time.perf_counter()
    response = session.get(url, headers=headers, timeout=300)
    response.content  # noqa: B018  (read the whole body inside the clock)
    elapsed = time.perf_counter() - start
    if response.status_code != expect:
        raise RuntimeError(f"GET {url}: HTTP {response.status_code} (expected {expect}) "
                           f"{response.content[:300]!r}")
    return elapsed, response


def series(session: requests.Session, url: str, headers: dict[str, str], repeat: int,
           expect: int = 200) -> tuple[float, list[float], requests.Response]:
    """The first request's seconds, then the others' (warm: same keep-alive connection, so the
    same worker), and the first answer."""
    first, response = timed(session, url, headers, expect)
    warm = [timed(session, url, headers, expect)[0] for _ in range(repeat)]
    return first, warm, response


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def report(name: str, first: float, warm: list[float], size: int, note: str = "") -> dict:
    print(f"{name:<44}{ms(first):>10}{ms(statistics.median(warm)):>10}{ms(min(warm)):>10}"
          f"{ms(max(warm)):>10}{size:>13,}  {note}", flush=True)
    return {"name": name, "first": first, "median": statistics.median(warm), "min": min(warm),
            "max": max(warm), "bytes": size}


def media_urls(session: requests.Session, base: str) -> dict[str, str]:
    """The follow-up form's manifest and its `cases.csv`, as the phone finds them."""
    response = session.get(f"{base}/formList?deviceID=collect:bench", headers=COLLECT_HEADERS,
                           timeout=60)
    response.raise_for_status()
    for entry in etree.fromstring(response.content).iter(f"{FORM_LIST_NS}xform"):
        if entry.findtext(f"{FORM_LIST_NS}formID") == FOLLOW_UP:
            manifest_url = entry.findtext(f"{FORM_LIST_NS}manifestUrl")
            manifest = session.get(manifest_url, headers=COLLECT_HEADERS, timeout=300)
            manifest.raise_for_status()
            for media in etree.fromstring(manifest.content).iter(f"{MANIFEST_NS}mediaFile"):
                if media.findtext(f"{MANIFEST_NS}filename") == f"{LIST}.csv":
                    return {"manifest": manifest_url,
                            "csv": media.findtext(f"{MANIFEST_NS}downloadUrl")}
    sys.exit(f"{FOLLOW_UP}'s manifest lists no {LIST}.csv")


def manifest_hash(session: requests.Session, url: str) -> str:
    manifest = etree.fromstring(session.get(url, headers=COLLECT_HEADERS, timeout=300).content)
    for media in manifest.iter(f"{MANIFEST_NS}mediaFile"):
        if media.findtext(f"{MANIFEST_NS}filename") == f"{LIST}.csv":
            return media.findtext(f"{MANIFEST_NS}hash").removeprefix("md5:")
    sys.exit(f"{url} lists no {LIST}.csv")


def create_admin(env: dict[str, str]) -> str:
    """An administrator and an API token of theirs (the token)."""
    result = subprocess.run([*MUNTADA, "users", "create", "bench-admin", "--role",
                             "administrator", "--password-stdin"], input="bench-password-1\n",
                            env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        sys.exit(f"muntada users create failed:\n{result.stdout}\n{result.stderr}")
    return _cli(env, "api-tokens", "create", "bench-admin", "bench").strip().splitlines()[-1]


# --------------------------------------------------------------------------------------------
# one database


@dataclass
class Site:
    """What the bench prepared on a server's database, as an operator and the phones see it."""

    base_all: str  # the Collect URL of the phone of every place
    base_one: str  # and of the phone of one forum
    api: str
    bearer: dict[str, str]
    urls_all: dict[str, str]  # the follow-up form's manifest and cases.csv for each
    urls_one: dict[str, str]
    served: dict[str, ServedForm]
    forums: list[dict[str, str]]
    uuids: list[str]  # the cases, in the order they were opened
    seeded: float  # seconds it took to write them


def prepare(env: dict[str, str], port: int, url: str, root: Path, args,
            rng: random.Random) -> Site:
    """The programme, the people and phones, then the cases (with no server running)."""
    _cli(env, "forms", "load-programme")
    token = create_admin(env)
    with open(REPO / "forms" / "xlsforms" / "media" / "forums.csv", encoding="utf-8") as file:
        forum_lines = file.read().splitlines()
    governorates = sorted({line.split(",")[2] for line in forum_lines[1:]})
    every = _cli(env, "app-users", "create", "bench-everywhere",
                 *itertools.chain.from_iterable(("--governorate", g) for g in governorates))
    one = _cli(env, "app-users", "create", "bench-one-forum", "--forum", args.forum)
    base_all = re.search(r"^Collect server URL: (\S+)$", every, re.MULTILINE).group(1)
    base_one = re.search(r"^Collect server URL: (\S+)$", one, re.MULTILINE).group(1)
    # What the phones get: each form's choices and forums.csv, from a first server.
    server = Server(env, port, args.workers, root / "serve-setup.log")
    try:
        server.wait_ready(f"{base_all}/formList")
        with requests.Session() as session:
            served, forums = fetch_forms(session, base_all)
            # The URLs now, so that no worker of the measured server has built a list before
            # the requests measured (the hashes change with the cases).
            urls_all, urls_one = media_urls(session, base_all), media_urls(session, base_one)
    finally:
        server.stop()
    if args.forum not in {f["name"] for f in forums}:
        sys.exit(f"--forum {args.forum}: not a forum of forums.csv")
    choices = {name: [c["name"] for c in served["incident_referral"].choices[name]
                      if c["name"] != "other" or name == "agency"]
               for name in ("incident_category", "urgency", "agency")}
    started = time.perf_counter()
    uuids = seed(url, forums, choices, args.cases, args.forum, args.forum_cases, rng)
    return Site(base_all, base_one, f"http://127.0.0.1:{port}/api/v1/lists/{LIST}/entities",
                {"Authorization": f"Bearer {token}", "Accept": "application/json"},
                urls_all, urls_one, served, forums, uuids, time.perf_counter() - started)


def measure_lists(site: Site, args, problems: list[str]) -> tuple[list[dict], dict]:
    """1-3: the full lists, the 304s, one forum's list; and the JSON list as answered."""
    results = []
    print("ms; 'first' is the first request after the server started, the others "
          f"{args.repeat} more on the same keep-alive connection (the same worker)")
    print(f"{'request':<44}{'first':>10}{'median':>10}{'min':>10}{'max':>10}{'bytes':>13}")
    with requests.Session() as everywhere, requests.Session() as client, \
            requests.Session() as one_forum:
        # 1. the full list
        first, warm, csv_answer = series(everywhere, site.urls_all["csv"], COLLECT_HEADERS,
                                         args.repeat)
        lines = csv_answer.content.decode("utf-8").count("\n")
        if lines != args.cases + 1:
            problems.append(f"full cases.csv: {lines} lines for {args.cases} cases")
        results.append(report("cases.csv, every case (phone)", first, warm,
                              len(csv_answer.content), f"{lines - 1:,} cases"))
        first, warm, manifest = series(everywhere, site.urls_all["manifest"], COLLECT_HEADERS,
                                       args.repeat)
        results.append(report("manifest of referral_follow_up (hash of it)", first, warm,
                              len(manifest.content), "after the CSV, same worker"))
        first, warm, json_answer = series(client, site.api, site.bearer, args.repeat)
        listed = json_answer.json()
        if listed["count"] != args.cases or len(listed["entities"]) != args.cases:
            problems.append(f"JSON list: {listed['count']} cases for {args.cases}")
        results.append(report("JSON list, every case (administrator)", first, warm,
                              len(json_answer.content), f"{listed['count']:,} cases"))
        # 2. unchanged: 304
        etag = csv_answer.headers.get("ETag", "").strip('"')
        listed_hash = manifest_hash(everywhere, site.urls_all["manifest"])
        if etag != listed_hash:
            problems.append(f"cases.csv ETag {etag!r} is not the manifest's hash "
                            f"{listed_hash!r}")
        first, warm, _ = series(everywhere, site.urls_all["csv"], {
            **COLLECT_HEADERS, "If-None-Match": f'"{listed_hash}"'}, args.repeat_small,
            expect=304)
        results.append(report("cases.csv, If-None-Match the hash: 304", first, warm, 0))
        first, warm, _ = series(client, site.api, {
            **site.bearer, "If-None-Match": json_answer.headers["ETag"]}, args.repeat_small,
            expect=304)
        results.append(report("JSON list, If-None-Match its ETag: 304", first, warm, 0))
        # 3. one forum's phone
        first, warm, own = series(one_forum, site.urls_one["csv"], COLLECT_HEADERS,
                                  args.repeat)
        lines = own.content.decode("utf-8").count("\n")
        if lines != args.forum_cases + 1:
            problems.append(f"the forum's cases.csv: {lines} lines for {args.forum_cases} "
                            "cases")
        results.append(report(f"cases.csv of one forum's phone ({args.forum})", first, warm,
                              len(own.content), f"{lines - 1:,} cases"))
    return results, listed


def measure_changes(site: Site, server: Server, listed: dict, args, database: str | None,
                    rng: random.Random, problems: list[str]) -> tuple[list[dict], dict]:
    """4-5: a delta of 10 follow-ups, then follow-ups under load; and what was acknowledged
    (instanceID → case)."""
    results = []
    follow_ups = FollowUps(site.served[FOLLOW_UP], {f["name"]: f for f in site.forums})
    case_of = {e["uuid"]: e for e in listed["entities"]}
    order = [case_of[u] for u in site.uuids]
    rng.shuffle(order)
    cases = iter({"uuid": c["uuid"], "data": c["properties"]} for c in order)
    acknowledged: dict[str, str] = {}
    submit = f"{site.base_all}/submission?deviceID=collect:bench"
    # 4. a delta of 10 changes
    r = post_follow_ups(submit, follow_ups, cases, 1, 60, 10, acknowledged, server, None)
    if r["errors"] or len(acknowledged) != 10:
        problems.append(f"the delta's 10 follow-ups: {r['errors'][:3]}")
    changed = set(acknowledged.values())
    with requests.Session() as client:
        first, warm, delta = series(client, f"{site.api}?since={listed['token']}", site.bearer,
                                    args.repeat_small)
    answer = delta.json()
    got = {e["uuid"]: e["version"] for e in answer["entities"]}
    if not answer["delta"] or set(got) != changed or set(got.values()) != {2}:
        problems.append(f"delta: {len(got)} cases {sorted(set(got.values()))}, "
                        f"expected the {len(changed)} changed at version 2")
    results.append(report("JSON delta ?since=<token>, 10 changes", first, warm,
                          len(delta.content), f"{len(got)} cases"))
    if args.skip_load:
        return results, acknowledged
    # 5. follow-ups under load
    for _warm_up in range(2):  # every worker has read the form, not measured
        post_follow_ups(submit, follow_ups, cases, 4, 30, args.workers * 8, acknowledged,
                        server, None)
    print()
    print("follow-ups (referral_follow_up, each updating one case from version 1); each run: "
          f"until {args.seconds:g} s have passed or {args.max_submissions} follow-ups are sent")
    print(f"{'phones':>7}{'subs':>7}{'seconds':>8}{'subs/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'errors':>7}{'srv CPU':>9}{'db CPU':>8}{'machine':>9}")
    for phones in args.phones:
        r = post_follow_ups(submit, follow_ups, cases, phones, args.seconds,
                            args.max_submissions, acknowledged, server, database)
        db_ms = f"{r['db_ms']:>8.2f}" if r["db_ms"] is not None else f"{'-':>8}"
        print(f"{phones:>7}{r['submissions']:>7}{r['seconds']:>8.1f}{r['rate']:>8.1f}"
              f"{r['p50'] * 1000:>8.1f}{r['p99'] * 1000:>8.1f}{len(r['errors']):>7}"
              f"{r['server_ms']:>9.2f}{db_ms}{r['machine_ms']:>9.1f}", flush=True)
        for error in r["errors"][:3]:
            print(f"    {error}")
        results.append({"name": f"follow-ups, {phones} phones", **r})
    print("(srv CPU, db CPU: ms of CPU per follow-up, user + system, of the gunicorn processes "
          "and of the PostgreSQL backends of the bench database; machine: ms this machine took "
          "for a fixed piece of Python work just before the run, as in bench/ingest.py, higher "
          "when it runs slower)")
    return results, acknowledged


def bench_database(kind: str, args) -> tuple[list[dict], list[str]]:
    problems: list[str] = []
    postgres = PostgresDatabase(args.postgres_url) if kind == "postgresql" else None
    rng = random.Random(f"cases-{args.cases}")
    with tempfile.TemporaryDirectory(prefix="muntada-bench-cases-") as tmp:
        root = Path(tmp)
        port = _free_port()
        env = server_environment(root, port, args.workers)
        url = f"sqlite:///{root / 'data' / 'muntada.sqlite'}"
        if postgres is not None:
            postgres.create()
            url = env["DATABASE_URL"] = postgres.url
        server = None
        try:
            site = prepare(env, port, url, root, args, rng)
            server = Server(env, port, args.workers, root / "serve.log")
            started = time.perf_counter()
            server.wait_ready(f"{site.base_all}/formList")
            ready = time.perf_counter() - started
            title = "PostgreSQL" if postgres else "SQLite"
            print(f"## {title}, {args.workers} gunicorn workers (gthread, 4 threads each), "
                  "loopback")
            print(f"{args.cases:,} cases written in {site.seeded:.1f} s ({args.forum_cases:,} "
                  f"in forum {args.forum}); server answering {ready:.1f} s after start; load "
                  f"average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print()
            results, listed = measure_lists(site, args, problems)
            more, acknowledged = measure_changes(site, server, listed, args,
                                                 postgres.name if postgres else None, rng,
                                                 problems)
            results += more
            del listed
            booted = server.log_path.read_text(errors="replace").count("Booting worker")
            if booted != args.workers:
                print(f"  note: {booted} workers booted for {args.workers}: some were restarted")
            server.stop()
            server = None
            print()
            print("every acknowledged follow-up, looked up in the database:")
            problems += verify_follow_ups(url, acknowledged)
            print("  OK" if not problems else f"  PROBLEMS: {'; '.join(problems)}")
            print()
        finally:
            if server is not None:
                server.stop()
            if postgres is not None:
                postgres.drop()
    return results, problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"],
                        default=["sqlite", "postgresql"])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--forum", default="anb_ramadi_01",
                        help="the forum of the one-forum phone [default: anb_ramadi_01]")
    parser.add_argument("--forum-cases", type=int, default=2000,
                        help="how many cases that forum has [default: 2000]")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--repeat", type=int, default=5,
                        help="warm requests after the first, for full lists [default: 5]")
    parser.add_argument("--repeat-small", type=int, default=20,
                        help="warm requests after the first, for 304s and deltas [default: 20]")
    parser.add_argument("--phones", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="time bound of each follow-up run [default: 20]")
    parser.add_argument("--max-submissions", type=int, default=3000,
                        help="follow-ups per run, all phones together [default: 3000]")
    parser.add_argument("--skip-load", action="store_true", help="no follow-up load runs")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES))
    args = parser.parse_args()

    print(f"# Muntada cases benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"commit {_revision()}")
    print()
    problems = []
    for kind in args.databases:
        if kind == "postgresql":
            try:
                PostgresDatabase(args.postgres_url)._run("SELECT 1")
            except sa.exc.OperationalError as error:
                print(f"## PostgreSQL skipped: {str(error).splitlines()[0]}\n")
                continue
        problems += bench_database(kind, args)[1]
    if problems:
        sys.exit("PROBLEMS: " + "; ".join(problems))


if __name__ == "__main__":
    main()
