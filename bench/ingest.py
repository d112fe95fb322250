"""Benchmark of taking submissions in: phones posting filled forms to a real `muntada serve`.

Run with `make bench` (after bench/forms.py) or `.venv/bin/python bench/ingest.py`. It prints
figures; it asserts nothing about time, but exits non-zero when a submission the server
acknowledged is missing or not normalised. See bench/README.md for what is measured and one run's
figures.

For each database (SQLite in a temporary data folder; PostgreSQL in a database of its own, created
and dropped) and each number of gunicorn workers: the programme loaded with the command line, one
app user, a real `muntada serve` on loopback; then 1, 4 and 16 concurrent phones (threads, one
requests.Session each) POST multipart submissions, each with a fresh instanceID:
  meeting        forum_meeting, realistic values (2-3 `issue` repeats), no photo;
  referral       incident_referral (with a photo only if the form has an image field);
  meeting+photo  forum_meeting with one ~200 KB JPEG in its first image field.
Printed: submissions per second, p50/p99 latency, errors (any answer but 201), CPU per submission
(server, PostgreSQL, this client), the server's memory; then every acknowledged instanceID is
looked up in the database, with its relational rows.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parents[1]
# Run as a script, this folder comes first on sys.path, and bench/forms.py would shadow the
# `forms` package: put the repository there instead.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(REPO)

import requests  # noqa: E402  (after the sys.path fix above)
import sqlalchemy as sa  # noqa: E402
from lxml import etree  # noqa: E402
from PIL import Image  # noqa: E402

from bench import lean_http  # noqa: E402
from bench.forms import (  # noqa: E402
    COLLECT_HEADERS,
    FORM_LIST_NS,
    MANIFEST_NS,
    Server,
    _cli,
    _free_port,
    _percentile,
    server_environment,
)
from server.kernel.settings import SETTINGS  # noqa: E402

XF = "{http://www.w3.org/2002/xforms}"
BAGHDAD = timezone(timedelta(hours=3))
DEFAULT_WORKERS = next(s.default for s in SETTINGS if s.name == "WORKERS")
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BOUNDARY = "----muntada-bench-boundary-7MA4YWxkTrZu0gW"
ID_MARK = "@@INSTANCE_ID@@"
TICK = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------------------------
# what the server gives a phone: each form's version, choices and photo fields, and forums.csv


@dataclass
class ServedForm:
    form_id: str
    version: str
    choices: dict[str, list[dict[str, str]]]  # list name → items (name and filter columns)
    image_fields: list[str]  # paths below the root, e.g. "photo_1"
    public_key: str | None = None  # an encrypted form's: phones encrypt with it


def fetch_forms(session: requests.Session, base: str) -> tuple[dict[str, ServedForm],
                                                                 list[dict[str, str]]]:
    """Download the form list, each XForm and forums.csv as Collect does."""
    def get(url: str) -> bytes:
        response = session.get(url, headers=COLLECT_HEADERS, timeout=60)
        response.raise_for_status()
        return response.content

    served: dict[str, ServedForm] = {}
    forums: list[dict[str, str]] = []
    form_list = etree.fromstring(get(f"{base}/formList?deviceID=collect:bench"))
    for entry in form_list.iter(f"{FORM_LIST_NS}xform"):
        xform = etree.fromstring(get(entry.findtext(f"{FORM_LIST_NS}downloadUrl")))
        model = xform.find(f".//{XF}model")
        instances = model.findall(f"{XF}instance")
        primary = instances[0][0]
        choices = {}
        for secondary in instances[1:]:
            if secondary.get("src") or not len(secondary):
                continue
            choices[secondary.get("id")] = [
                {etree.QName(c).localname: (c.text or "") for c in item}
                for item in secondary[0].iter(f"{XF}item")]
        root_path = f"/{etree.QName(primary).localname}/"
        image_fields = [
            bind.get("nodeset").removeprefix(root_path) for bind in model.iter(f"{XF}bind")
            if bind.get("type") == "binary" and _is_image(xform, bind.get("nodeset"))]
        form_id = entry.findtext(f"{FORM_LIST_NS}formID")
        submission = model.find(f"{XF}submission")
        served[form_id] = ServedForm(form_id, primary.get("version") or "", choices,
                                     image_fields, None if submission is None
                                     else submission.get("base64RsaPublicKey"))
        manifest_url = entry.findtext(f"{FORM_LIST_NS}manifestUrl")
        if manifest_url and not forums:
            manifest = etree.fromstring(get(manifest_url))
            for media in manifest.iter(f"{MANIFEST_NS}mediaFile"):
                if media.findtext(f"{MANIFEST_NS}filename") == "forums.csv":
                    text = get(media.findtext(f"{MANIFEST_NS}downloadUrl")).decode("utf-8-sig")
                    forums = list(csv.DictReader(io.StringIO(text)))
    return served, forums


def _is_image(xform: etree._Element, nodeset: str) -> bool:
    for upload in xform.iter(f"{XF}upload"):
        if upload.get("ref") == nodeset:
            return (upload.get("mediatype") or "").startswith("image/")
    return False


# --------------------------------------------------------------------------------------------
# instances as an officer's phone fills them


FACILITATORS = ["النقيب أحمد حسين علي", "الملازم أول علي كاظم جواد", "المقدم سامر عبد الله",
                "النقيب زينب جاسم محمد", "الرائد كاروان محمد أمين", "الملازم حيدر عباس"]
ISSUES = [
    ("انقطاع الإنارة في الشارع الرئيسي قرب المدرسة الابتدائية", "مخاطبة مديرية الكهرباء",
     "المجلس المحلي"),
    ("تجمع شباب ليلاً قرب السوق وشكاوى من الإزعاج", "زيادة الدوريات المسائية",
     "مركز الشرطة"),
    ("نزاع على قطعة أرض بين عائلتين عائدتين", "عقد جلسة صلح بحضور المختار",
     "مختار المنطقة"),
    ("عائلات نازحة بلا مستمسكات رسمية لتسجيل الأطفال في المدارس",
     "تنظيم زيارة لدائرة الأحوال المدنية", "دائرة الأحوال المدنية"),
    ("مخلفات حربية في أرض زراعية شرق القرية", "إبلاغ فريق إزالة الألغام", "مركز الشرطة"),
    ("تأخر الاستجابة لبلاغات العنف الأسري", "التنسيق مع وحدة حماية الأسرة",
     "وحدة حماية الأسرة"),
    ("قلة مشاركة النساء في اجتماعات المنتدى", "عقد جلسة خاصة للنساء في المركز الصحي",
     "منظمة محلية"),
]
MEETING_NOTES = ["", "", "حضر ممثل عن المجلس المحلي.", "الاجتماع القادم بعد أسبوعين.",
                 "طلب الحاضرون عقد الاجتماع القادم في المدرسة."]
INCIDENTS = [
    "تعرض محل تجاري للسرقة ليلاً وتم إبلاغ المنتدى في الصباح.",
    "شكوى من تهديدات متكررة عبر الهاتف بسبب خلاف على دين.",
    "العثور على جسم مشبوه قرب الطريق الزراعي، وتم إبعاد الأطفال عن المكان.",
    "خلاف بين عائلتين حول حدود أرض زراعية تطور إلى مشاجرة.",
    "بلاغ عن تعرض امرأة للعنف داخل المنزل، وطلبت المساعدة من المنتدى.",
    "فقدان شاب منذ يومين بعد خروجه إلى العمل.",
]
PEOPLE = ["فاطمة حسن كريم", "مريم عباس علي", "هوزان رشيد أحمد", "عمر خالد محمود",
          "نرگز عثمان صالح", "حسين جبار ناصر"]


def _now(rng: random.Random) -> datetime:
    return datetime.now(BAGHDAD) - timedelta(minutes=rng.randint(5, 600))


def _stamp(moment: datetime) -> str:
    """Collect's dateTime: milliseconds and the phone's offset."""
    return moment.isoformat(timespec="milliseconds")


def _location(rng: random.Random) -> str:
    return (f"{rng.uniform(30.5, 36.9):.6f} {rng.uniform(40.0, 47.5):.6f} "
            f"{rng.uniform(20, 900):.1f} {rng.uniform(3, 25):.1f}")


def _el(name: str, value: object = "") -> str:
    return f"<{name}>{escape(str(value))}</{name}>" if value != "" else f"<{name}/>"


def _root(form: ServedForm, body: str, instance_name: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<data xmlns:jr="http://openrosa.org/javarosa" '
            'xmlns:orx="http://openrosa.org/xforms" xmlns:odk="http://www.opendatakit.org/xforms" '
            f'id="{escape(form.form_id)}" version="{escape(form.version)}">{body}'
            f"<meta><instanceID>{ID_MARK}</instanceID>"
            f"{_el('instanceName', instance_name)}</meta></data>")


def forum_meeting(form: ServedForm, forums: list[dict[str, str]], rng: random.Random,
                  photo: str = "") -> tuple[str, int]:
    """An instance of forum_meeting (with ID_MARK for its instanceID); and its `issue` count."""
    forum = rng.choice(forums)
    end = _now(rng)
    meeting_date = end.date() - timedelta(days=rng.randint(0, 14))
    groups = ["police", "idp", "host", "returnee", "civil_society", "judiciary",
              "local_authority"]
    women = {g: rng.choice([0, 0, 1, 2, 3, 4, 6, 8]) for g in groups}
    men = {g: rng.choice([0, 1, 2, 3, 5, 7, 10, 12]) for g in groups}
    women["police"], men["police"] = rng.randint(0, 2), rng.randint(1, 4)
    topics = rng.sample([c["name"] for c in form.choices["topic"] if c["name"] != "other"],
                        rng.randint(1, 3))
    issues = []
    for category in rng.sample(topics * 3, rng.randint(2, 3)):
        description, action, responsible = rng.choice(ISSUES)
        issues.append(
            "<issue>" + _el("issue_category", category) + _el("issue_description", description)
            + _el("issue_priority", rng.choice(form.choices["priority"])["name"])
            + _el("action_agreed", action) + _el("responsible", responsible)
            + _el("due_date", meeting_date + timedelta(days=rng.randint(7, 45))) + "</issue>")
    photos = {name: "" for name in ("photo_1", "photo_2", "photo_3")}
    if photo:
        photos[form.image_fields[0]] = photo
    name = f"{forum['label_ar']} – {meeting_date}"
    body = (
        _el("start", _stamp(end - timedelta(minutes=rng.randint(20, 90)))) + _el("end", _stamp(end))
        + _el("today", end.date()) + _el("deviceid", f"collect:{rng.getrandbits(64):016x}")
        + _el("governorate", forum["governorate"]) + _el("district", forum["district"])
        + _el("forum", forum["name"]) + _el("forum_name", forum["label_ar"])
        + _el("meeting_date", meeting_date) + _el("location", _location(rng))
        + _el("facilitator", rng.choice(FACILITATORS)) + _el("attendance_note")
        + "".join(f"<attendance_{g}>{_el(f'{g}_women', women[g])}{_el(f'{g}_men', men[g])}"
                  f"</attendance_{g}>" for g in groups)
        + _el("total_women", sum(women.values())) + _el("total_men", sum(men.values()))
        + _el("total_attendance", sum(women.values()) + sum(men.values()))
        + _el("attendance_summary") + _el("topics", " ".join(topics)) + _el("topics_other")
        + "".join(issues) + _el("issue_count", len(issues))
        + _el("referrals", rng.choice([0, 0, 1, 2, 3]))
        + "".join(_el(k, v) for k, v in photos.items())
        + _el("notes", rng.choice(MEETING_NOTES)))
    return _root(form, body, name), len(issues)


def incident_referral(form: ServedForm, forums: list[dict[str, str]], rng: random.Random,
                      photo: str = "") -> tuple[str, int]:
    forum = rng.choice(forums)
    end = _now(rng)
    incident = end - timedelta(hours=rng.randint(2, 24 * 6))
    reference = f"INC-{end:%Y%m%d}-{rng.randint(1000, 9999)}"
    pick = {name: rng.choice(form.choices[name])["name"] for name in (
        "incident_category", "channel", "agency", "urgency", "sex", "age_group",
        "displacement")}
    for name in ("incident_category", "channel", "agency"):
        while pick[name] == "other":
            pick[name] = rng.choice(form.choices[name])["name"]
    consent = rng.random() < 0.7
    follow_up = rng.random() < 0.6
    person = (_el("person_name", rng.choice(PEOPLE)) + _el("person_sex", pick["sex"])
              + _el("person_age_group", pick["age_group"])
              + _el("displacement_status", pick["displacement"])
              + _el("person_phone", f"077{rng.randint(0, 99999999):08d}")) if consent else (
        "<person_name/><person_sex/><person_age_group/><displacement_status/><person_phone/>")
    extra = _el(form.image_fields[0], photo) if photo else ""
    body = (
        _el("start", _stamp(end - timedelta(minutes=rng.randint(5, 30)))) + _el("end", _stamp(end))
        + _el("today", end.date()) + _el("deviceid", f"collect:{rng.getrandbits(64):016x}")
        + _el("reference", reference) + _el("incident_datetime", _stamp(incident))
        + _el("governorate", forum["governorate"]) + _el("district", forum["district"])
        + _el("forum", forum["name"] if rng.random() < 0.7 else "")
        + _el("location", _location(rng) if rng.random() < 0.6 else "")
        + _el("category", pick["incident_category"]) + _el("category_other")
        + _el("channel", pick["channel"]) + _el("channel_other") + _el("consent_note")
        + _el("consent", "yes" if consent else "no") + f"<person>{person}</person>"
        + _el("agency", pick["agency"]) + _el("agency_other") + _el("urgency", pick["urgency"])
        + _el("description", rng.choice(INCIDENTS))
        + _el("follow_up", "yes" if follow_up else "no")
        + _el("follow_up_date", end.date() + timedelta(days=rng.randint(1, 14))
              if follow_up else "")
        + extra)
    return _root(form, body, f"{reference} – {incident:%Y-%m-%d}"), 0


def make_photo(size: int = 200 * 1024) -> bytes:
    """A real JPEG (noise, so it does not compress away) of about `size` bytes."""
    rng = random.Random(7)
    side, quality = 320, 90
    while True:
        image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() >= size * 0.95:
            return out.getvalue()
        side += 32


def unique_photo(base: bytes, tag: str) -> bytes:
    """The same picture with a JPEG comment naming its instance: every photo is a new blob."""
    comment = tag.encode()
    return base[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + base[2:]


@dataclass
class Scenario:
    name: str
    form_id: str
    build: object  # forum_meeting or incident_referral
    photo: bool


SCENARIOS = [
    Scenario("meeting", "forum_meeting", forum_meeting, photo=False),
    Scenario("referral", "incident_referral", incident_referral, photo=True),
    Scenario("meeting+photo", "forum_meeting", forum_meeting, photo=True),
]


def multipart(xml: bytes, files: list[tuple[bytes, bytes, bytes]]) -> bytes:
    """Collect's POST body: the instance (or an envelope) as `xml_submission_file`, then each
    file (name, content type, data) as a part named after the file."""
    parts = [(b"xml_submission_file", b"submission.xml", b"text/xml", xml)]
    parts.extend((name, name, ctype, data) for name, ctype, data in files)
    return b"".join(
        b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"" + name
        + b"\"; filename=\"" + filename + b"\"\r\nContent-Type: " + ctype + b"\r\n\r\n"
        + data + b"\r\n" for name, filename, ctype, data in parts
    ) + b"--" + BOUNDARY.encode() + b"--\r\n"


class Instances:
    """Pre-built instance bodies of a scenario (the phones' CPU is not what is measured);
    `next()` gives one multipart body with a fresh instanceID (and photo)."""

    def __init__(self, scenario: Scenario, form: ServedForm, forums, photo: bytes | None,
                 variants: int = 256):
        rng = random.Random(scenario.name)
        self.photo = photo if scenario.photo and form.image_fields else None
        marker = "@@PHOTO@@" if self.photo else ""
        self.templates = [scenario.build(form, forums, rng, marker) for _ in range(variants)]
        # Without a photo, each body is its multipart bytes around the instanceID, cut once.
        self.cut = [(*self._body(xml.encode()).split(ID_MARK.encode()), repeats)
                    for xml, repeats in self.templates]
        self.lock = threading.Lock()
        self.rng = rng

    @staticmethod
    def _body(xml: bytes, photo: tuple[bytes, bytes] | None = None) -> bytes:
        return multipart(xml, [] if photo is None else [(photo[0], b"image/jpeg", photo[1])])

    def next(self) -> tuple[str, bytes, int]:
        """A body with a fresh instanceID (and a photo of its own)."""
        with self.lock:
            index = self.rng.randrange(len(self.templates))
        instance_id = f"uuid:{uuid.uuid4()}"
        if self.photo is None:
            before, after, repeats = self.cut[index]
            return instance_id, before + instance_id.encode() + after, repeats
        xml, repeats = self.templates[index]
        filename = f"{int(time.time() * 1000)}_{instance_id[5:13]}.jpg"
        xml = xml.replace(ID_MARK, instance_id).replace("@@PHOTO@@", filename)
        return instance_id, self._body(xml.encode(), (
            filename.encode(), unique_photo(self.photo, instance_id))), repeats


# --------------------------------------------------------------------------------------------
# load


HEADERS = {**COLLECT_HEADERS, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


@dataclass
class Acknowledged:
    ids: dict[str, set[str]] = field(default_factory=dict)  # form → acknowledged instanceIDs
    repeats: dict[str, int] = field(default_factory=dict)  # form → repeat rows expected
    photos: dict[str, int] = field(default_factory=dict)  # form → photos expected

    def add(self, form_id: str, instance_id: str, repeats: int, photo: bool) -> None:
        self.ids.setdefault(form_id, set()).add(instance_id)
        self.repeats[form_id] = self.repeats.get(form_id, 0) + repeats
        self.photos[form_id] = self.photos.get(form_id, 0) + int(photo)


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """User + system CPU of each process, in clock ticks."""
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def cpu_seconds(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU spent between two readings; a process that appeared in between counts from zero."""
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / TICK


def postgres_pids(database: str) -> list[int]:
    """The PostgreSQL backends serving `database` (not other users' sessions on the server;
    the shared WAL writer and checkpointer are not counted)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if command.startswith(b"postgres:") and f" {database} ".encode() in command:
                pids.append(int(entry))
    return pids


class MemoryWatch:
    """Samples the server's memory while the load runs: the peak of the Pss and VmRSS sums."""

    def __init__(self, server: Server, every: float = 0.5):
        self.server, self.every = server, every
        self.peak = {"Pss": 0, "VmRSS": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> dict[str, int]:
        now = self.server.memory()
        for key in self.peak:
            self.peak[key] = max(self.peak[key], now[key])
        return now

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def machine_ms() -> float:
    """How long this machine takes, just now, for a fixed piece of Python work (best of three):
    a shared virtual machine's speed drifts, and every CPU figure of a run drifts with it."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        sum(i * i for i in range(200_000))
        best = min(best, time.perf_counter() - start)
    return 1000 * best


def post_load(url: str, scenario: Scenario, instances: Instances, phones: int, seconds: float,
              max_submissions: int, acknowledged: Acknowledged, server: Server,
              database: str | None, client: str = "lean") -> dict:
    """`phones` threads post until `seconds` pass or `max_submissions` (all phones) are sent."""
    sent = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(phones)]
    errors: list[str] = []
    start_line = threading.Barrier(phones + 1)
    ack_lock = threading.Lock()

    def phone(index: int) -> None:
        if client == "requests":
            session = requests.Session()
            session.trust_env = False  # loopback: no proxy, no .netrc to look up per request

            def send(body: bytes) -> tuple[int, bytes]:
                response = session.post(url, data=body, headers=HEADERS, timeout=120)
                return response.status_code, response.content
        else:
            connection = lean_http.Connection(url, HEADERS)
            send = connection.post
        start_line.wait()
        deadline = time.perf_counter() + seconds
        try:
            while time.perf_counter() < deadline and next(sent) < max_submissions:
                instance_id, body, repeats = instances.next()
                start = time.perf_counter()
                try:
                    status, answer = send(body)
                except (OSError, lean_http.HttpError, requests.RequestException) as error:
                    answer, status = repr(error).encode(), 0
                latencies[index].append(time.perf_counter() - start)
                if status == 201:
                    with ack_lock:
                        acknowledged.add(scenario.form_id, instance_id, repeats,
                                         instances.photo is not None)
                else:
                    errors.append(f"HTTP {status}: {answer[:300]!r}")
        finally:
            (session if client == "requests" else connection).close()

    calibration = machine_ms()  # before the phones start: the server is idle
    threads = [threading.Thread(target=phone, args=(i,)) for i in range(phones)]
    for thread in threads:
        thread.start()
    server_cpu = cpu_ticks(server.processes())
    db_cpu = cpu_ticks(postgres_pids(database)) if database else {}
    client_cpu = time.process_time()
    start_line.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    server_cpu = cpu_seconds(server_cpu, cpu_ticks(server.processes()))
    db_cpu = cpu_seconds(db_cpu, cpu_ticks(postgres_pids(database))) if database else 0.0
    client_cpu = time.process_time() - client_cpu
    everything = sorted(x for per_phone in latencies for x in per_phone)
    count = len(everything)
    return {
        "phones": phones, "seconds": elapsed, "submissions": count,
        "rate": count / elapsed, "p50": _percentile(everything, 50),
        "p99": _percentile(everything, 99), "errors": errors,
        "server_ms": 1000 * server_cpu / max(count, 1),
        "db_ms": 1000 * db_cpu / max(count, 1) if database else None,
        "client_ms": 1000 * client_cpu / max(count, 1), "machine_ms": calibration,
    }


# --------------------------------------------------------------------------------------------
# the database: a PostgreSQL database of the run's own; checking what was acknowledged


class PostgresDatabase:
    def __init__(self, admin_url: str):
        self.admin_url = sa.make_url(admin_url)
        self.name = f"muntada_bench_{os.getpid()}"
        self.url = self.admin_url.set(database=self.name).render_as_string(hide_password=False)

    def _run(self, statement: str) -> None:
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(statement))
        finally:
            engine.dispose()

    def create(self) -> None:
        self._run(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        self._run(f"CREATE DATABASE {self.name}")

    def drop(self) -> None:
        self._run(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def verify(url: str, acknowledged: Acknowledged) -> list[str]:
    """Every acknowledged instance stored, current and normalised; return problems found."""
    problems, lines = [], []
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            for form_id, ids in sorted(acknowledged.ids.items()):
                form_pk = c.execute(sa.text("SELECT id FROM forms WHERE xml_form_id = :f"),
                                    {"f": form_id}).scalar_one()
                tables = dict(c.execute(sa.text(
                    "SELECT key, table_name FROM projection_tables WHERE form_id = :f "
                    "AND kind IN ('form', 'repeat')"), {"f": form_pk}).all())
                rows = c.execute(sa.text(f'SELECT count(*) FROM "{tables[""]}"')).scalar_one()
                stored = set(c.execute(sa.text(
                    "SELECT instance_id FROM submissions WHERE form_id = :f AND deleted_at IS NULL "
                    "AND current_def_id IS NOT NULL"), {"f": form_pk}).scalars())
                not_normalised = c.execute(sa.text(
                    "SELECT count(*) FROM submission_defs WHERE form_id = :f "
                    "AND normalised_at IS NULL"), {"f": form_pk}).scalar_one()
                repeat_rows = sum(
                    c.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                    for key, name in tables.items() if key)
                photos = c.execute(sa.text(
                    "SELECT count(*) FROM submission_attachments a JOIN submission_defs d "
                    "ON d.id = a.submission_def_id WHERE d.form_id = :f "
                    "AND a.blob_sha256 IS NOT NULL"), {"f": form_pk}).scalar_one()
                missing = len(ids - stored)
                lines.append(
                    f"  {form_id}: {len(ids)} acknowledged, {len(stored)} stored, {missing} "
                    f"missing; {rows} rows in {tables['']}; {repeat_rows} repeat rows "
                    f"(expected {acknowledged.repeats[form_id]}); {photos} photos held "
                    f"(expected {acknowledged.photos[form_id]}); {not_normalised} not normalised")
                if missing or rows != len(ids) or len(stored) != len(ids) or not_normalised \
                        or repeat_rows != acknowledged.repeats[form_id] \
                        or photos != acknowledged.photos[form_id]:
                    problems.append(form_id)
            failed = c.execute(sa.text(
                "SELECT count(*) FROM submission_defs WHERE normalise_error IS NOT NULL")
            ).scalar_one()
            issues = c.execute(sa.text("SELECT count(*) FROM value_issues")).scalar_one()
            lines.append(f"  submission_defs with normalise_error IS NOT NULL: {failed}; "
                         f"value_issues (values kept only in the raw XML): {issues}")
            if failed or issues:
                problems.append("normalise_error/value_issues")
    finally:
        engine.dispose()
    for line in lines:
        print(line)
    return problems


# --------------------------------------------------------------------------------------------
# one server: a database kind and a number of workers


def bench_server(kind: str, workers: int, args, photo: bytes) -> list[dict]:
    results = []
    postgres = PostgresDatabase(args.postgres_url) if kind == "postgresql" else None
    with tempfile.TemporaryDirectory(prefix="muntada-bench-ingest-") as tmp:
        root = Path(tmp)
        port = _free_port()
        env = server_environment(root, port, workers)
        url = f"sqlite:///{root / 'data' / 'muntada.sqlite'}"
        if postgres is not None:
            postgres.create()
            url = env["DATABASE_URL"] = postgres.url
        server = None
        try:
            _cli(env, "forms", "load-programme")
            created = _cli(env, "app-users", "create", "bench-phone")
            base = re.search(r"^Collect server URL: (\S+)$", created, re.MULTILINE).group(1)
            server = Server(env, port, workers, root / "serve.log")
            started = time.perf_counter()
            server.wait_ready(f"{base}/formList")
            ready = time.perf_counter() - started
            with requests.Session() as session:
                served, forums = fetch_forms(session, base)
            submit = f"{base}/submission?deviceID=collect:bench"
            acknowledged = Acknowledged()
            title = "PostgreSQL" if postgres else "SQLite"
            print(f"## {title}, {workers} gunicorn workers (gthread, 4 threads each), loopback")
            print(f"server answering {ready:.1f} s after start; each run: until {args.seconds:g} s "
                  f"have passed or {args.max_submissions} submissions are sent; load average "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            for scenario in SCENARIOS:
                form = served[scenario.form_id]
                if scenario.photo and not form.image_fields:
                    print(f"note: {scenario.form_id} {form.version} has no image field: "
                          f"'{scenario.name}' is posted without a photo")
            instances = {s.name: Instances(s, served[s.form_id], forums, photo)
                         for s in SCENARIOS if s.name in args.scenarios}
            # warm-up: every worker has parsed each form's structure and opened its connections
            for scenario in SCENARIOS:
                if scenario.name in instances:
                    post_load(submit, scenario, instances[scenario.name], 4, 30, workers * 16,
                              acknowledged, server, None, args.client)
            idle = server.memory()
            print()
            print(f"{'scenario':<14}{'phones':>7}{'subs':>7}{'seconds':>8}{'subs/s':>8}"
                  f"{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'srv CPU':>9}{'db CPU':>8}"
                  f"{'client':>8}{'machine':>9}")
            with MemoryWatch(server) as watch:
                for scenario in SCENARIOS:
                    if scenario.name not in instances:
                        continue
                    for phones in args.phones:
                        r = post_load(submit, scenario, instances[scenario.name], phones,
                                      args.seconds, args.max_submissions, acknowledged, server,
                                      postgres.name if postgres else None, args.client)
                        db_ms = f"{r['db_ms']:>8.2f}" if r["db_ms"] is not None else f"{'-':>8}"
                        print(f"{scenario.name:<14}{phones:>7}{r['submissions']:>7}"
                              f"{r['seconds']:>8.1f}{r['rate']:>8.1f}{r['p50'] * 1000:>8.1f}"
                              f"{r['p99'] * 1000:>8.1f}{len(r['errors']):>7}"
                              f"{r['server_ms']:>9.2f}{db_ms}{r['client_ms']:>8.2f}"
                              f"{r['machine_ms']:>9.1f}", flush=True)
                        for error in r["errors"][:3]:
                            print(f"    {error}")
                        results.append({"database": title, "workers": workers,
                                        "scenario": scenario.name, **r})
                peak = watch.sample()
            print("(srv CPU, db CPU, client: ms of CPU per submission, user + system, of the "
                  "gunicorn processes, of the PostgreSQL backends of the bench database, and of "
                  "this client process; machine: ms this machine took for a fixed piece of "
                  "Python work just before the run, higher when it runs slower)")
            print()
            print(f"server memory over {peak['processes']} processes (master + workers), MiB:")
            print(f"  after warm-up:  VmHWM sum {idle['VmHWM'] / 1024:.1f}, "
                  f"VmRSS sum {idle['VmRSS'] / 1024:.1f}, Pss sum {idle['Pss'] / 1024:.1f}")
            print(f"  after the load: VmHWM sum {peak['VmHWM'] / 1024:.1f} (peak RSS), "
                  f"VmRSS sum {peak['VmRSS'] / 1024:.1f}, Pss sum {peak['Pss'] / 1024:.1f}; "
                  f"peak sampled every 0.5 s: VmRSS sum {watch.peak['VmRSS'] / 1024:.1f}, "
                  f"Pss sum {watch.peak['Pss'] / 1024:.1f}")
            booted = server.log_path.read_text(errors="replace").count("Booting worker")
            if booted != workers:
                print(f"  note: {booted} workers booted for {workers}: some were restarted")
            server.stop()
            server = None
            print("every acknowledged submission, looked up in the database:")
            problems = verify(url, acknowledged)
            print("  OK" if not problems else f"  PROBLEMS: {', '.join(problems)}")
            print()
            for r in results:
                r["verified"] = not problems
        finally:
            if server is not None:
                server.stop()
            if postgres is not None:
                postgres.drop()
    return results


def _revision() -> str:
    """The commit measured, and whether server code differs from it in the working tree."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %cI %s"],
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                                "server", "sync", "forms"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return commit[:100] + (" (with uncommitted changes in server/sync/forms)" if dirty else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"],
                        default=["sqlite", "postgresql"])
    parser.add_argument("--workers", type=int, nargs="+", default=[DEFAULT_WORKERS],
                        help=f"gunicorn workers; several values, several servers "
                             f"[default: {DEFAULT_WORKERS}, MUNTADA_WORKERS' default]")
    parser.add_argument("--phones", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--scenarios", nargs="+", choices=[s.name for s in SCENARIOS],
                        default=[s.name for s in SCENARIOS])
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="time bound of each run [default: 20]")
    parser.add_argument("--max-submissions", type=int, default=3000,
                        help="count bound of each run, all phones together [default: 3000]")
    parser.add_argument("--client", choices=["lean", "requests"], default="lean",
                        help="the phones' HTTP client: raw keep-alive sockets (bench/lean_http.py) "
                             "or requests.Session, as before 2026-11-29 [default: lean]")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL",
                                                                 DEFAULT_POSTGRES),
                        help="a PostgreSQL server where a database may be created and dropped "
                             f"[default: $BENCH_POSTGRES_URL or {DEFAULT_POSTGRES}]")
    args = parser.parse_args()

    print(f"# Muntada ingest benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"server code: {_revision()}")
    print(f"client: {args.client}, one thread per phone, keep-alive")
    photo = make_photo()
    print(f"photo: a {len(photo) / 1024:.0f} KiB JPEG, made unique per submission")
    print()
    results = []
    for kind in args.databases:
        if kind == "postgresql":
            try:
                PostgresDatabase(args.postgres_url)._run("SELECT 1")
            except sa.exc.OperationalError as error:
                print(f"## PostgreSQL skipped: {str(error).splitlines()[0]}\n")
                continue
        for workers in args.workers:
            results.extend(bench_server(kind, workers, args, photo))

    goal = {"SQLite": 500, "PostgreSQL": 300}
    print("## goal: forum meetings without photos, 16 phones: >= 500/s on SQLite, >= 300/s on "
          "PostgreSQL, p99 < 150 ms")
    for r in results:
        if r["scenario"] == "meeting" and r["phones"] == 16:
            met = r["rate"] >= goal[r["database"]] and r["p99"] < 0.150 and not r["errors"]
            print(f"  {r['database']:<11}{r['workers']:>2} workers: {r['rate']:6.1f}/s, "
                  f"p99 {r['p99'] * 1000:6.1f} ms, {len(r['errors'])} errors: "
                  f"{'met' if met else 'MISSED'}")
    if not all(r["verified"] for r in results):
        sys.exit("some acknowledged submissions were not stored or not normalised")


if __name__ == "__main__":
    main()
