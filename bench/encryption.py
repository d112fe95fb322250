"""Encrypted submissions: decrypting them (sync.encryption, no server), and receiving them.

    .venv/bin/python bench/encryption.py                  # (a)-(d), then (e) on SQLite
    .venv/bin/python bench/encryption.py --parts abcd --submissions 5000 --processes 1 2
    .venv/bin/python bench/encryption.py --parts e --postgres-url postgresql+psycopg://...

(a) one RSA-2048 private operation (OAEP SHA-256 decrypt): the key unwrap, and the same again
    for the signature; and the public operation a phone does, for comparison;
(b) an export's decryption: N envelopes of forum meetings with one photo each (made with
    tests.support.collect_encryption, as Collect makes them), each envelope read and its XML
    decrypted with the photo left encrypted (one RSA operation per submission), in 1 and more
    processes; then whole submissions, a 300 KiB photo each, with the signature checked (two
    RSA operations and the photo's AES), as a first review or the headquarters' projection;
(c) a large photo decrypted in 64 KiB chunks, MB/s;
(d) unsealing the private key with the default Argon2id cost (sync.keys);
(e) receiving: a real `muntada serve` on loopback (bench/ingest.py's), SQLite in a temporary
    data folder, and PostgreSQL in a database of its own when --postgres-url or
    $BENCH_POSTGRES_URL names a server; the programme loaded, a key made and incident_referral
    published encrypted with it, all with the command line. 16 phones post plain referrals to
    the plain version, then the same referrals as Collect encrypts them (envelope and
    submission.xml.enc, all made before the clock starts) to the encrypted version, in
    alternating runs; the ratio of the two rates. Every acknowledged submission is then looked
    up in the database, each envelope and file as sent.

It prints figures and asserts nothing about time, but exits non-zero when (e) finds an
acknowledged submission missing or different. The load average is printed at the start and the
end: the machine may be shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cryptography  # noqa: E402
import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from bench.forms import Server, _cli, _free_port, server_environment  # noqa: E402
from bench.ingest import (  # noqa: E402
    DEFAULT_WORKERS,
    ID_MARK,
    SCENARIOS,
    Acknowledged,
    Instances,
    PostgresDatabase,
    fetch_forms,
    make_photo,
    multipart,
    post_load,
    unique_photo,
)
from sync.encryption import (  # noqa: E402
    OAEP,
    OpenedSubmission,
    decrypt_submission,
    read_envelope,
    unwrap_key,
)
from sync.keys import DEFAULT_COST, load_public_key, seal, unseal  # noqa: E402
from tests.support.collect_encryption import encrypt_instance  # noqa: E402
from tests.support.programme_meetings import forum_meeting, jpeg  # noqa: E402

PASSPHRASE = "bench passphrase, not a secret"
RUNS = 3
_WORKER: dict = {}


def timed(function, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def ms(times: list[float]) -> str:
    return (f"best {min(times) * 1e3:.3f} ms, median {statistics.median(times) * 1e3:.3f} ms, "
            f"mean {statistics.fmean(times) * 1e3:.3f} ms")


def bench_rsa(private_key: rsa.RSAPrivateKey, envelope, repeat: int) -> None:
    print(f"## (a) RSA-2048, {repeat} operations each")
    print(f"- unwrap the AES key (private, OAEP SHA-256): "
          f"{ms(timed(lambda: unwrap_key(envelope, private_key), repeat))}")
    public = private_key.public_key()
    print(f"- wrap a key (public, what the phone does): "
          f"{ms(timed(lambda: public.encrypt(b'k' * 32, OAEP), repeat))}")


def make_submissions(public_key: rsa.RSAPublicKey, count: int, photo: bytes) -> list:
    made = []
    for _ in range(count):
        xml = forum_meeting(photos=("1764662400000.jpg",))
        sent = encrypt_instance(xml, {"1764662400000.jpg": photo}, public_key)
        made.append((sent.envelope, sent.files))
    return made


def _init(private_pem: bytes) -> None:
    _WORKER["key"] = serialization.load_pem_private_key(private_pem, password=None)


def _export(submissions: list) -> int:
    """What an export does per submission: read the envelope, decrypt its XML only (the rows
    an export reads hold the envelope and the XML's ciphertext; the photo stays in storage)."""
    key = _WORKER["key"]
    total = 0
    for envelope_xml, xml_file in submissions:
        envelope = read_envelope(envelope_xml)
        files = {envelope.xml_file: xml_file}
        total += len(decrypt_submission(envelope, key, files, media=False).xml)
    return total


def bench_export(private_key: rsa.RSAPrivateKey, submissions: list,
                 processes: list[int], full: list) -> None:
    n = len(submissions)
    pem = private_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    print(f"## (b) an export's decryption of {n:,} forum meetings, a photo each left encrypted "
          f"(best and median of {RUNS} runs)")
    rows = [(envelope, files["submission.xml.enc"]) for envelope, files in submissions]
    _init(pem)
    runs = timed(lambda: _export(rows), RUNS)
    print(f"- 1 process, in this one: {n / min(runs):,.0f} / {n / statistics.median(runs):,.0f} "
          f"submissions/s")
    for count in processes:
        with ProcessPoolExecutor(count, initializer=_init, initargs=(pem,)) as pool:
            list(pool.map(_export, [rows[:10]] * count))  # started and warm
            size = -(-n // count)
            shares = [rows[i:i + size] for i in range(0, n, size)]
            runs = timed(partial(lambda p, s: list(p.map(_export, s)), pool, shares), RUNS)
        print(f"- {count} worker processes: {n / min(runs):,.0f} / "
              f"{n / statistics.median(runs):,.0f} submissions/s")
    envelopes = [read_envelope(e) for e, _ in submissions]
    parts = {
        "read the envelope": lambda: [read_envelope(e) for e, _ in submissions],
        "unwrap the key (RSA)": lambda: [unwrap_key(e, private_key) for e in envelopes],
    }
    for what, run in parts.items():
        runs = timed(run, RUNS)
        print(f"  - of which {what}: {min(runs) / n * 1e6:,.1f} / "
              f"{statistics.median(runs) / n * 1e6:,.1f} µs a submission")
    photo = len(full[0][1]["1764662400000.jpg.enc"])
    envelopes = [read_envelope(e) for e, _ in full]
    runs = timed(lambda: [decrypt_submission(envelope, private_key, files)
                          for (_, files), envelope in zip(full, envelopes, strict=True)], RUNS)
    print(f"- the whole submission, its {photo / 1024:,.0f} KiB photo and the signature "
          f"(2 RSA operations), 1 process, {len(full):,} submissions: "
          f"{len(full) / min(runs):,.0f} / {len(full) / statistics.median(runs):,.0f} "
          f"submissions/s")


def bench_stream(private_key: rsa.RSAPrivateKey, megabytes: int) -> None:
    photo = os.urandom(megabytes << 20)
    sent = encrypt_instance(forum_meeting(photos=("big.jpg",)), {"big.jpg": photo},
                            private_key.public_key())
    data = sent.files["big.jpg.enc"]
    chunk = 1 << 16
    opened = OpenedSubmission(read_envelope(sent.envelope), private_key)

    def run():
        for _ in opened.decrypt_chunks("big.jpg.enc",
                                       (data[i:i + chunk] for i in range(0, len(data), chunk))):
            pass

    best = min(timed(run, 3))
    print(f"## (c) a {megabytes} MiB photo in 64 KiB chunks: {megabytes / best:,.0f} MiB/s "
          f"(best of 3, {best * 1e3:.0f} ms)")


def bench_unseal(private_key: rsa.RSAPrivateKey) -> None:
    sealed = seal(private_key, PASSPHRASE)
    times = timed(lambda: unseal(sealed, PASSPHRASE), 3)
    print(f"## (d) unsealing the private key, Argon2id t={DEFAULT_COST.time_cost} "
          f"m={DEFAULT_COST.memory_kib // 1024} MiB p={DEFAULT_COST.parallelism}: "
          f"best {min(times):.3f} s, median {statistics.median(times):.3f} s")


# --------------------------------------------------------------------------------------------
# (e) receiving encrypted referrals at a real server

KEY = "bench-referrals"
REFERRAL = next(s for s in SCENARIOS if s.form_id == "incident_referral")


class Envelopes:
    """The referrals of `templates`, each encrypted as Collect encrypts it, all made here, before
    any clock starts (the phone's encryption is not what is measured); `next()` hands them out
    as Instances.next() does."""

    photo = None  # no plain photo travels; Acknowledged counts none

    def __init__(self, templates: Instances, public_key: rsa.RSAPublicKey, count: int):
        self.bodies: list[tuple[str, bytes, int]] = []
        self.sent: dict[str, tuple[str, dict[str, str]]] = {}  # instanceID → SHA-256 of each
        for index in range(count):
            xml, repeats = templates.templates[index % len(templates.templates)]
            instance_id = f"uuid:{uuid.uuid4()}"
            xml = xml.replace(ID_MARK, instance_id)
            media = {}
            if templates.photo is not None:
                name = f"{1764662400000 + index}.jpg"
                xml = xml.replace("@@PHOTO@@", name)
                media[name] = unique_photo(templates.photo, instance_id)
            sealed = encrypt_instance(xml.encode(), media, public_key)
            self.bodies.append((instance_id, multipart(sealed.envelope, [
                (name.encode(), b"application/octet-stream", data)
                for name, data in sealed.files.items()]), repeats))
            self.sent[instance_id] = (hashlib.sha256(sealed.envelope).hexdigest(), {
                name: hashlib.sha256(data).hexdigest() for name, data in sealed.files.items()})
        self._next = iter(self.bodies)
        self._lock = threading.Lock()

    def next(self) -> tuple[str, bytes, int]:
        with self._lock:
            return next(self._next)


def stored_referrals(url: str) -> tuple[dict[str, tuple], dict[str, dict[str, str | None]]]:
    """Each current incident referral by instanceID: (version, xml_sha256, files present,
    expected, normalised, normalise_error); and its files' SHA-256 by name."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(sa.text(
                "SELECT s.instance_id, v.version, d.xml_sha256, d.attachments_present, "
                "d.attachments_expected, d.normalised_at IS NOT NULL, d.normalise_error "
                "FROM submissions s JOIN forms f ON f.id = s.form_id "
                "JOIN submission_defs d ON d.id = s.current_def_id "
                "JOIN form_versions v ON v.id = d.form_version_id "
                "WHERE f.xml_form_id = :f AND s.deleted_at IS NULL"),
                {"f": REFERRAL.form_id}).all()
            files = c.execute(sa.text(
                "SELECT s.instance_id, a.name, a.blob_sha256 FROM submissions s "
                "JOIN forms f ON f.id = s.form_id "
                "JOIN submission_attachments a ON a.submission_def_id = s.current_def_id "
                "WHERE f.xml_form_id = :f"), {"f": REFERRAL.form_id}).all()
    finally:
        engine.dispose()
    by_id: dict[str, dict[str, str | None]] = {}
    for instance_id, name, sha256 in files:
        by_id.setdefault(instance_id, {})[name] = sha256
    return {r[0]: tuple(r[1:]) for r in rows}, by_id


def verify_received(url: str, plain: tuple[str, set[str]],
                    encrypted: tuple[str, set[str], Envelopes]) -> bool:
    """Every acknowledged plain referral stored and normalised under the plain version; every
    acknowledged envelope stored under the encrypted one, envelope and files as sent."""
    stored, files = stored_referrals(url)
    version, ids = plain
    wrong = [i for i in ids if i not in stored or stored[i][0] != version
             or not stored[i][4] or stored[i][5]]
    print(f"  plain: {len(ids):,} acknowledged, {len(ids) - len(wrong):,} stored and normalised "
          f"under {version}, {len(wrong)} missing or not")
    version, ids, envelopes = encrypted
    differ = []
    for instance_id in ids:
        envelope, sent_files = envelopes.sent[instance_id]
        row = stored.get(instance_id)
        if row is None or row[0] != version or row[1] != envelope \
                or row[2:4] != (len(sent_files), len(sent_files)) \
                or files.get(instance_id) != sent_files:
            differ.append(instance_id)
    normalised = sum(1 for i in ids if i in stored and stored[i][3])
    print(f"  encrypted: {len(ids):,} acknowledged, {len(ids) - len(differ):,} stored under "
          f"{version} with the envelope and its "
          f"{len(next(iter(envelopes.sent.values()))[1])} file(s) exactly as sent "
          f"(SHA-256), {len(differ)} missing or different; {normalised:,} marked normalised")
    for instance_id in differ[:3]:
        print(f"    {instance_id}: {stored.get(instance_id)}, files {files.get(instance_id)}")
    return not wrong and not differ


def bench_receive(kind: str, args, photo: bytes) -> bool:
    """(e) on one database; whether every acknowledged submission was found as sent."""
    postgres = PostgresDatabase(args.postgres_url) if kind == "postgresql" else None
    with tempfile.TemporaryDirectory(prefix="muntada-bench-encryption-") as tmp:
        root = Path(tmp)
        port = _free_port()
        env = server_environment(root, port, args.workers)
        url = f"sqlite:///{root / 'data' / 'muntada.sqlite'}"
        if postgres is not None:
            postgres.create()
            url = env["DATABASE_URL"] = postgres.url
        server = None
        try:
            loaded = _cli(env, "forms", "load-programme")
            plain_version = re.search(rf"^{REFERRAL.form_id}\t(\S+)\t", loaded, re.MULTILINE)[1]
            created = _cli(env, "app-users", "create", "bench-phone")
            base = re.search(r"^Collect server URL: (\S+)$", created, re.MULTILINE)[1]
            _cli(env, "users", "create", "bench-key-holder", "--role", "administrator",
                 "--key-holder", "--password-stdin", stdin=f"{PASSPHRASE}\n")
            _cli(env, "keys", "create", KEY, "--holder", "bench-key-holder",
                 stdin=f"{PASSPHRASE}\n{PASSPHRASE}\n")
            encrypted = _cli(env, "forms", "encrypt", REFERRAL.form_id, "--key", KEY)
            encrypted_version = encrypted.split("\t")[1]
            server = Server(env, port, args.workers, root / "serve.log")
            server.wait_ready(f"{base}/formList")
            with requests.Session() as session:
                served, forums = fetch_forms(session, base)
            form = served[REFERRAL.form_id]  # what the form list serves: the encrypted version
            assert form.version == encrypted_version and form.public_key, form.version
            count = args.max_submissions * args.rounds * len(args.phones) + 64
            start = time.perf_counter()
            plain = Instances(REFERRAL, dataclasses.replace(form, version=plain_version,
                                                            public_key=None), forums, photo)
            envelopes = Envelopes(Instances(REFERRAL, form, forums, photo),
                                  load_public_key(form.public_key), count)
            made = time.perf_counter() - start
            kinds = {"plain": (plain, Acknowledged()), "encrypted": (envelopes, Acknowledged())}
            submit = f"{base}/submission?deviceID=collect:bench"
            title = "PostgreSQL" if postgres else "SQLite"
            print(f"## (e) receiving incident referrals, {title}, {args.workers} gunicorn workers, "
                  f"loopback; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"plain version {plain_version}, encrypted {encrypted_version}; "
                  f"{'a photo each' if plain.photo else 'no image field, so no photo'}; "
                  f"{count:,} envelopes made beforehand in {made:.1f} s "
                  f"({len(envelopes.bodies[0][1]):,} bytes a POST, the plain one "
                  f"{len(plain.next()[1]):,}); each run: {args.seconds:g} s or "
                  f"{args.max_submissions:,} submissions")
            for instances, acknowledged in kinds.values():  # warm-up, as bench/ingest.py does
                post_load(submit, REFERRAL, instances, 4, 30, 64, acknowledged, server, None,
                          args.client)
            print(f"{'kind':<10}{'phones':>7}{'subs':>7}{'seconds':>8}{'subs/s':>8}{'p50 ms':>8}"
                  f"{'p99 ms':>8}{'errors':>7}{'srv CPU':>9}{'db CPU':>8}{'client':>8}")
            results: dict[tuple[str, int], list[dict]] = {}
            for phones in args.phones:
                for run in range(args.rounds):  # plain, encrypted, encrypted, plain, ...
                    for name in (["plain", "encrypted"] if run % 2 == 0
                                 else ["encrypted", "plain"]):
                        instances, acknowledged = kinds[name]
                        r = post_load(submit, REFERRAL, instances, phones, args.seconds,
                                      args.max_submissions, acknowledged, server,
                                      postgres.name if postgres else None, args.client)
                        results.setdefault((name, phones), []).append(r)
                        db = f"{r['db_ms']:>8.2f}" if r["db_ms"] is not None else f"{'-':>8}"
                        print(f"{name:<10}{phones:>7}{r['submissions']:>7}{r['seconds']:>8.1f}"
                              f"{r['rate']:>8.1f}{r['p50'] * 1e3:>8.1f}{r['p99'] * 1e3:>8.1f}"
                              f"{len(r['errors']):>7}{r['server_ms']:>9.2f}{db}"
                              f"{r['client_ms']:>8.2f}", flush=True)
                        for error in r["errors"][:3]:
                            print(f"    {error}")
            print("(srv CPU, db CPU, client: ms of CPU per submission of the gunicorn processes, "
                  "of the bench database's PostgreSQL backends, of this client)")
            for phones in args.phones:
                rate = {name: sum(r["submissions"] for r in results[name, phones])
                        / sum(r["seconds"] for r in results[name, phones]) for name in kinds}
                p99 = {name: max(r["p99"] for r in results[name, phones]) for name in kinds}
                ratio = rate["encrypted"] / rate["plain"]
                print(f"{phones} phones, all runs: plain {rate['plain']:.1f}/s, encrypted "
                      f"{rate['encrypted']:.1f}/s: encrypted/plain {ratio:.2f} (worst p99 "
                      f"{p99['plain'] * 1e3:.1f} / {p99['encrypted'] * 1e3:.1f} ms); goal "
                      f"within 20% of plain: {'met' if ratio >= 0.8 else 'MISSED'}")
            server.stop()
            server = None
            print("every acknowledged submission, looked up in the database:")
            ok = verify_received(url, (plain_version, kinds["plain"][1].ids.get(
                REFERRAL.form_id, set())), (encrypted_version, kinds["encrypted"][1].ids.get(
                    REFERRAL.form_id, set()), envelopes))
            print("  OK" if ok else "  PROBLEMS")
            return ok
        finally:
            if server is not None:
                server.stop()
            if postgres is not None:
                postgres.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="abcde",
                        help="which parts to run, e.g. abcd or e [default: abcde]")
    parser.add_argument("--submissions", type=int, default=2000, help="for (b)")
    parser.add_argument("--processes", type=int, nargs="*", default=[2], help="for (b)")
    parser.add_argument("--rsa-repeat", type=int, default=500, help="for (a)")
    parser.add_argument("--whole", type=int, default=200,
                        help="submissions decrypted whole, photo and signature included, in (b)")
    parser.add_argument("--photo-kib", type=int, default=300,
                        help="their photo's size (a 1280-pixel JPEG is 200-400 KiB)")
    parser.add_argument("--photo-megabytes", type=int, default=20, help="for (c)")
    receiving = parser.add_argument_group("(e) receiving")
    receiving.add_argument("--databases", nargs="+", choices=["sqlite", "postgresql"],
                           help="[default: sqlite, and postgresql when a server is named]")
    receiving.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL"),
                           help="a PostgreSQL server where a database may be created and "
                                "dropped, as bench/ingest.py's [default: $BENCH_POSTGRES_URL]")
    receiving.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                           help=f"gunicorn workers [default: {DEFAULT_WORKERS}]")
    receiving.add_argument("--phones", type=int, nargs="+", default=[16])
    receiving.add_argument("--rounds", type=int, default=2,
                           help="runs of each kind, alternating [default: 2]")
    receiving.add_argument("--seconds", type=float, default=10.0,
                           help="time bound of each run [default: 10]")
    receiving.add_argument("--max-submissions", type=int, default=6000,
                           help="count bound of each run, all phones together [default: 6000]")
    receiving.add_argument("--client", choices=["lean", "requests"], default="lean",
                           help="the phones' HTTP client, as bench/ingest.py's [default: lean]")
    args = parser.parse_args()
    if unknown := set(args.parts) - set("abcde"):
        parser.error(f"unknown parts: {''.join(sorted(unknown))}")
    databases = args.databases or ["sqlite", *(["postgresql"] if args.postgres_url else [])]
    if "postgresql" in databases and not args.postgres_url:
        parser.error("postgresql needs --postgres-url or $BENCH_POSTGRES_URL")
    print(f"# bench/encryption.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"cryptography {cryptography.__version__}; load average at the start "
          f"{os.getloadavg()[0]:.2f}")
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if set(args.parts) & set("ab"):
        photo = jpeg("red", (1280, 960))
        start = time.perf_counter()
        submissions = make_submissions(private_key.public_key(), args.submissions, photo)
        print(f"(made {len(submissions):,} envelopes, photo {len(photo):,} bytes, XML "
              f"{len(forum_meeting(photos=('x.jpg',))):,} bytes, in "
              f"{time.perf_counter() - start:.1f} s)")
        if "a" in args.parts:
            bench_rsa(private_key, read_envelope(submissions[0][0]), args.rsa_repeat)
        if "b" in args.parts:
            whole = make_submissions(private_key.public_key(), args.whole,
                                     os.urandom(args.photo_kib * 1024))
            bench_export(private_key, submissions, args.processes, whole)
    if "c" in args.parts:
        bench_stream(private_key, args.photo_megabytes)
    if "d" in args.parts:
        bench_unseal(private_key)
    verified = True
    if "e" in args.parts:
        photo = make_photo()  # bench/ingest.py's, used if the form has an image field
        for kind in databases:
            verified = bench_receive(kind, args, photo) and verified
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if not verified:
        sys.exit("some acknowledged submissions were not stored as sent")


if __name__ == "__main__":
    main()
