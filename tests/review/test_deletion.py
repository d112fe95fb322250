"""Deleting, restoring and purging submissions; a purged one stays refused."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from server.database.models import AuditEvent, Blob, ReviewComment, Submission, SubmissionAttachment
from server.surfaces.cli import main
from tests.review.conftest import LIST, forum_meeting, jpeg, listed
from tests.support.instances import new_id


def actions(session) -> list[str]:
    session.rollback()
    return list(session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.action.like("submission.%")).order_by(AuditEvent.id)))


def test_a_deleted_submission_leaves_the_list_and_can_be_restored(send, browser_for, session):
    keep, gone = send(), send()
    admin = browser_for("administrator")
    assert admin.post(f"{LIST}/{gone}/delete", {"comment": "typed twice"}).status_code == 303
    assert listed(admin.get(LIST)) == [keep]
    assert admin.get(f"{LIST}/{gone}").status_code == 404
    deleted = admin.get("/forms/forum_meeting/deleted?lang=en").get_data(as_text=True)
    assert f'data-instance-id="{gone}"' in deleted
    assert re.search(r'class="days-left">30<', deleted)

    assert admin.post(f"{LIST}/{gone}/restore").status_code == 303
    assert set(listed(admin.get(LIST))) == {keep, gone}
    assert admin.get(f"{LIST}/{gone}").status_code == 200
    assert actions(session) == ["submission.deleted", "submission.restored"]


def test_a_phone_resending_a_deleted_submission_is_refused(send, phone, browser_for):
    gone = send()
    browser_for("administrator").post(f"{LIST}/{gone}/delete")
    assert phone.submit(forum_meeting(instance_id=gone)).status == 409


def test_restoring_after_30_days_is_refused(send, browser_for, backdate, session):
    gone = send()
    admin = browser_for("administrator")
    admin.post(f"{LIST}/{gone}/delete")
    backdate(gone, deleted_days=31)
    assert admin.post(f"{LIST}/{gone}/restore").status_code == 409


@pytest.fixture
def purgeable(send, browser_for, backdate, session):
    """Two submissions deleted 31 days ago: one with its own photo, one sharing a photo with a
    live submission."""
    shared, own = jpeg("green"), jpeg("red")
    live = send(attachments={"a.jpg": shared}, photos=("a.jpg",))
    first = send(attachments={"b.jpg": own}, photos=("b.jpg",))
    second = send(attachments={"c.jpg": shared}, photos=("c.jpg",))
    admin = browser_for("administrator")
    admin.post(f"{LIST}/{first}/comments", {"comment": "looks like a test"})
    for instance_id in (first, second):
        admin.post(f"{LIST}/{instance_id}/delete")
        backdate(instance_id, deleted_days=31)
    return {"live": live, "first": first, "second": second, "admin": admin}


def blob_count(session) -> int:
    session.rollback()
    return session.scalar(sa.select(sa.func.count()).select_from(Blob))


def test_opening_the_deleted_list_purges_and_keeps_shared_files(purgeable, session, app,
                                                                phone):
    store = app.extensions["blobs"]
    before = blob_count(session)
    admin = purgeable["admin"]
    page = admin.get("/forms/forum_meeting/deleted").get_data(as_text=True)
    assert purgeable["first"] not in page and purgeable["second"] not in page
    assert blob_count(session) == before - 1  # only the photo no one else uses
    shas = set(session.scalars(sa.select(SubmissionAttachment.blob_sha256)))
    assert len(shas) == 1 and store.path(shas.pop()).exists()
    assert session.scalar(sa.select(sa.func.count()).select_from(ReviewComment)) == 0
    assert actions(session).count("submission.purged") == 2
    # the tombstone: still refused after the purge, even as an edit
    assert phone.submit(forum_meeting(instance_id=purgeable["first"])).status == 409
    assert phone.submit(forum_meeting(instance_id=new_id(),
                                      deprecated_id=purgeable["first"])).status == 409
    assert admin.post(f"{LIST}/{purgeable['first']}/restore").status_code == 404


def test_the_purge_command(purgeable, database, tmp_path, monkeypatch, session, app):
    monkeypatch.setenv("MUNTADA_DATA_DIR", app.config["DATA_DIR"])
    monkeypatch.setenv("DATABASE_URL", database)
    runner = CliRunner()
    result = runner.invoke(main, ["submissions", "purge", "--days", "40"],
                           catch_exceptions=False)
    assert result.exit_code == 0 and result.stdout == ""
    result = runner.invoke(main, ["submissions", "purge"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(result.stdout.split()) == sorted(
        [purgeable["first"], "purged", purgeable["second"], "purged"])
    session.rollback()
    kept = session.scalar(sa.select(Submission).where(
        Submission.instance_id == purgeable["first"]))
    assert kept.deleted_at is not None and kept.current_def_id is None
    assert actions(session).count("submission.purged") == 2


def test_the_days_left_to_restore_count_up_to_the_last():
    from datetime import timedelta

    from server.database.models import Submission, utcnow
    from server.services.deletion import days_left

    now = utcnow()
    for deleted_ago, left in ((timedelta(0), 30), (timedelta(days=29, hours=12), 1),
                              (timedelta(days=30), 0), (timedelta(days=45), 0)):
        assert days_left(Submission(deleted_at=now - deleted_ago), now) == left, deleted_ago
