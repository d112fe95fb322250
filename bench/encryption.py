"""Decrypting ODK-encrypted submissions (sync.encryption), the pure part: no server, no database.

    .venv/bin/python bench/encryption.py                  # 2,000 forum meetings, a photo each
    .venv/bin/python bench/encryption.py --submissions 5000 --processes 1 2

(a) one RSA-2048 private operation (OAEP SHA-256 decrypt): the key unwrap, and the same again
    for the signature; and the public operation a phone does, for comparison;
(b) an export's decryption: N envelopes of forum meetings with one photo each (made with
    tests.support.collect_encryption, as Collect makes them), each envelope read and its XML
    decrypted with the photo left encrypted (one RSA operation per submission), in 1 and more
    processes; then whole submissions, a 300 KiB photo each, with the signature checked (two
    RSA operations and the photo's AES), as a first review or the headquarters' projection;
(c) a large photo decrypted in 64 KiB chunks, MB/s;
(d) unsealing the private key with the default Argon2id cost (sync.keys).

It prints figures and asserts nothing about time. The load average is printed at the start and
the end: the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cryptography  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from sync.encryption import (  # noqa: E402
    OAEP,
    OpenedSubmission,
    decrypt_submission,
    read_envelope,
    unwrap_key,
)
from sync.keys import DEFAULT_COST, seal, unseal  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--processes", type=int, nargs="*", default=[2])
    parser.add_argument("--rsa-repeat", type=int, default=500)
    parser.add_argument("--whole", type=int, default=200,
                        help="submissions decrypted whole, photo and signature included")
    parser.add_argument("--photo-kib", type=int, default=300,
                        help="their photo's size (a 1280-pixel JPEG is 200-400 KiB)")
    parser.add_argument("--photo-megabytes", type=int, default=20, help="for (c)")
    args = parser.parse_args()
    print(f"# bench/encryption.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"cryptography {cryptography.__version__}; load average at the start "
          f"{os.getloadavg()[0]:.2f}")
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    photo = jpeg("red", (1280, 960))
    start = time.perf_counter()
    submissions = make_submissions(private_key.public_key(), args.submissions, photo)
    print(f"(made {len(submissions):,} envelopes, photo {len(photo):,} bytes, XML "
          f"{len(forum_meeting(photos=('x.jpg',))):,} bytes, in "
          f"{time.perf_counter() - start:.1f} s)")
    bench_rsa(private_key, read_envelope(submissions[0][0]), args.rsa_repeat)
    whole = make_submissions(private_key.public_key(), args.whole,
                             os.urandom(args.photo_kib * 1024))
    bench_export(private_key, submissions, args.processes, whole)
    bench_stream(private_key, args.photo_megabytes)
    bench_unseal(private_key)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
