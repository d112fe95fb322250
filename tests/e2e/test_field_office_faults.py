"""A field office's link to headquarters as it is: cut in the middle of a photo, slow as 2G,
silent, and either server killed (`kill -9`) in the middle of a sync. A TCP proxy the test
controls stands between the office and headquarters (the office joined through it). After the
link returns and a sync runs again, headquarters holds exactly what the office holds: every
version's XML and every attachment's SHA-256, every row of the tables, nothing twice."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
import zipfile

import pytest
import sqlalchemy as sa

from server.database.models import Form, FormMedia, FormVersion, SubmissionDef
from tests.e2e.conftest import MUNTADA, REPO
from tests.support import field_office
from tests.support.field_office import nineveh_meeting
from tests.support.instances import new_id
from tests.support.programme_meetings import jpeg
from tests.support.proxy import FaultProxy

pytestmark = pytest.mark.e2e
TIMEOUT = "3"  # seconds of silence before the office gives up a try


@pytest.fixture(scope="module")
def link(programmes, tmp_path_factory):
    root = tmp_path_factory.mktemp("field-office-faults")
    proxy = FaultProxy(0).start()  # aimed at headquarters once its port is known
    try:
        with field_office.pair(root, programmes, join_through=proxy.url,
                               office_env={"MUNTADA_SYNC_TIMEOUT": TIMEOUT},
                               before_join=lambda hq: setattr(
                                   proxy, "target", ("127.0.0.1", hq.port))) as pair:
            yield pair, proxy
    finally:
        proxy.stop()


@pytest.fixture(autouse=True)
def clear_link(link):
    _pair, proxy = link
    proxy.cancel_cut()
    proxy.resume()
    proxy.rate(None)
    yield
    proxy.cancel_cut()
    proxy.resume()
    proxy.rate(None)


def big_photo(seed: str) -> bytes:
    """A photo of a megabyte or so that compresses to nothing smaller (noise)."""
    return jpeg(seed, (1200, 900)) + os.urandom(1_000_000)


def send(pair, count: int, *, photo_bytes: bool = True) -> list[str]:
    phone = field_office.phone_of(pair.office, pair.officer_token)
    ids = []
    for _ in range(count):
        ids.append(new_id())
        files = {"p.jpg": big_photo("red")} if photo_bytes else {}
        reply = phone.submit(nineveh_meeting(instance_id=ids[-1],
                                             photos=("p.jpg",) if photo_bytes else ()), files)
        assert reply.status == 201, reply.body
    return ids


def sync(pair, *, ok: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([*MUNTADA, "field-office", "sync"], env=pair.office.env, cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    if ok:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


def assert_same(pair) -> None:
    here, there = pair.office.holdings(), pair.hq.holdings()
    assert {k: v for k, v in there.items() if k in here} == here
    assert pair.office.keys("f_forum_meeting") <= pair.hq.keys("f_forum_meeting")
    # never twice: one version per instanceID at headquarters (the unique constraint holds it;
    # this says so in the domain's words)
    versions = pair.hq.rows(sa.select(SubmissionDef.instance_id, sa.func.count())
                            .group_by(SubmissionDef.instance_id))
    assert all(n == 1 for _i, n in versions)


def test_a_link_cut_in_the_middle_of_a_photo_resumes_where_it_broke(link):
    pair, proxy = link
    send(pair, 1)
    proxy.cut_after(600_000, direction="up")  # into the photo's megabyte
    failed = sync(pair, ok=False)
    assert failed.returncode != 0 and "could not be reached" in failed.stderr
    # what headquarters had read of the photo is kept, and only the rest is sent again (the
    # cut is a reset: what was still in the kernel's buffers is lost with the connection)
    partials = list((pair.hq.root / "data" / "sync-partial").rglob("*"))
    held = sum(p.stat().st_size for p in partials if p.is_file())
    assert 0 < held < 1_000_000
    before = proxy.bytes_up
    sync(pair)
    assert proxy.bytes_up - before < 1_000_000 - held + 200_000
    assert_same(pair)


def forum_media(pair, site) -> set[str]:
    """The SHA-256 of every forums.csv the forum meeting form's versions hold at `site`."""
    return {sha for (sha,) in site.rows(
        sa.select(FormMedia.blob_sha256).join(FormVersion)
        .join(Form, Form.id == FormVersion.form_id)
        .where(Form.xml_form_id == "forum_meeting", FormMedia.name == "forums.csv"))}


def test_a_file_coming_down_cut_half_way_resumes_where_it_broke(link, tmp_path):
    """Headquarters adds forums to the list (forums.csv, a megabyte and more); the office's
    download is cut in the middle and goes on from there (HTTP Range) on the next sync."""
    pair, proxy = link
    listed = (REPO / "forms" / "xlsforms" / "media" / "forums.csv").read_text(encoding="utf-8")
    more = "".join(f"nin_new_{n:05d},{os.urandom(24).hex()},nineveh,mosul,{n},{n},{n}\n"
                   for n in range(16_000))
    csv = tmp_path / "forums.csv"
    csv.write_text(listed + more, encoding="utf-8")
    size = csv.stat().st_size
    assert size > 1_000_000
    pair.hq.cli("forms", "media", "forum_meeting", str(csv))
    proxy.cut_after(size // 2, direction="down")
    failed = sync(pair, ok=False)
    assert failed.returncode != 0 and "could not be reached" in failed.stderr
    partials = list((pair.office.root / "data" / "sync-partial").rglob("*"))
    held = sum(p.stat().st_size for p in partials if p.is_file())
    assert 0 < held < size
    before = proxy.bytes_down
    sync(pair)
    assert proxy.bytes_down - before < size - held + 200_000  # the rest, not the whole again
    assert forum_media(pair, pair.office) == forum_media(pair, pair.hq)
    assert hashlib.sha256(csv.read_bytes()).hexdigest() in forum_media(pair, pair.office)


def test_a_link_as_slow_as_2g_and_a_silent_link_end_in_the_same_place(link):
    pair, proxy = link
    send(pair, 1, photo_bytes=False)
    proxy.rate(6_000)  # bytes a second
    sync(pair)
    proxy.rate(None)
    send(pair, 1, photo_bytes=False)
    proxy.stall()
    stalled = sync(pair, ok=False)
    assert "could not be reached" in stalled.stderr
    proxy.resume()
    sync(pair)
    assert_same(pair)


def sync_under_way(pair, proxy) -> subprocess.Popen:
    """Three photos syncing over a slow link, a megabyte and a half of them already sent."""
    send(pair, 3)
    proxy.rate(400_000)
    start = proxy.bytes_up
    process = subprocess.Popen([*MUNTADA, "field-office", "sync"], env=pair.office.env,
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert proxy.wait_for(lambda p: p.bytes_up - start > 1_500_000, timeout=60)
    return process


def test_the_office_s_sync_killed_mid_transfer_loses_and_doubles_nothing(link):
    pair, proxy = link
    process = sync_under_way(pair, proxy)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=10)
    proxy.rate(None)
    sync(pair)
    assert_same(pair)


def test_headquarters_killed_mid_sync_then_restarted_loses_and_doubles_nothing(link):
    pair, proxy = link
    process = sync_under_way(pair, proxy)
    os.killpg(pair.hq.server.process.pid, signal.SIGKILL)  # master and workers at once
    _out, err = process.communicate(timeout=120)
    assert process.returncode != 0, err
    pair.hq.server.stop()
    proxy.rate(None)
    pair.hq.start()
    sync(pair)
    assert_same(pair)


def test_a_bundle_carries_what_no_link_can_once_and_unchanged(link, tmp_path):
    pair, proxy = link
    ids = send(pair, 2)
    proxy.stall()  # no link at all
    bundle = tmp_path / "qayyarah.zip"
    wrote = pair.office.cli("field-office", "bundle", str(bundle))
    assert "Wrote" in wrote and bundle.is_file()
    proxy.resume()
    # a byte changed in a photo: refused whole, nothing applied
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(tampered, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.startswith("blobs/"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            out.writestr(info, data)
    refused = _cli(pair.hq, "field-office", "import", str(tampered))
    assert refused.returncode == 1 and "cannot be imported" in refused.stderr
    assert not any(k[1] in ids for k in pair.hq.holdings())

    imported = pair.hq.cli("field-office", "import", str(bundle))
    assert "Imported bundle" in imported
    assert_same(pair)
    replayed = _cli(pair.hq, "field-office", "import", str(bundle))
    assert replayed.returncode == 1 and "already imported" in replayed.stderr
    # the link back: nothing left to send
    assert "up: 0 applied" in sync(pair).stdout


def _cli(site, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*MUNTADA, *args], env=site.env, cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_the_loop_beside_muntada_serve_syncs_on_its_own(link):
    """`muntada serve` on a joined office runs the sync loop (here every second)."""
    pair, _proxy = link
    ids = send(pair, 1, photo_bytes=False)
    pair.office.stop()
    pair.office.env["MUNTADA_SYNC_EVERY"] = "1"
    try:
        pair.office.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ("forum_meeting", ids[0]) not in pair.hq.holdings():
            time.sleep(0.5)
        assert ("forum_meeting", ids[0]) in pair.hq.holdings()
    finally:
        pair.office.stop()
        pair.office.env["MUNTADA_SYNC_EVERY"] = "0"
        pair.office.start()


def test_a_bundle_import_killed_half_way_is_imported_again_whole(link, tmp_path):
    """Killed mid-import, the bundle is not a replay: the next import applies the rest."""
    pair, proxy = link
    ids = send(pair, 150, photo_bytes=False)
    proxy.stall()
    bundle = tmp_path / "big.zip"
    pair.office.cli("field-office", "bundle", str(bundle))
    proxy.resume()
    count = sa.select(sa.func.count()).select_from(SubmissionDef).where(
        SubmissionDef.instance_id.in_(ids))
    process = subprocess.Popen([*MUNTADA, "field-office", "import", str(bundle)],
                               env=pair.hq.env, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None \
            and not pair.hq.scalar(count):
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert pair.hq.scalar(count) < len(ids), "the import ended before it could be cut"
    assert "Imported bundle" in pair.hq.cli("field-office", "import", str(bundle))
    assert pair.hq.scalar(count) == len(ids)
    assert_same(pair)
