"""What one worker process keeps in memory never outlives a change made through another: a revoked
token, a closed form, a new version. Two apps on one database stand for two gunicorn workers."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from server.app import create_app
from server.database import per_request
from server.database.models import Submission
from tests.support.meeting import FORM_ID, meeting, meeting_form
from tests.support.phone import Phone, flask_transport


@pytest.fixture
def other_worker(app):
    other = create_app({key: app.config[key] for key in (
        "TESTING", "DATA_DIR", "DATABASE_URL", "SECRET_KEY", "VALIDATE_FORMS", "PUBLIC_URL")})
    yield other
    per_request.of(other).engine.dispose()


@pytest.fixture
def form(load):
    return load(meeting_form())


def stored(session) -> int:
    session.rollback()
    return session.scalar(sa.select(sa.func.count()).select_from(Submission))


def same_phone_on(app, phone: Phone) -> Phone:
    return Phone(flask_transport(app.test_client()), phone.server_url)


def test_a_token_revoked_through_another_worker_is_refused_at_once(
        form, phone, admin, other_worker, session):
    assert phone.submit(meeting()).status == 201  # this worker now knows the token
    other_admin = type(admin)(other_worker.test_client(), "admin", admin.token)
    assert other_admin.delete("/api/v1/app-users/officer").status_code == 200

    reply = phone.submit(meeting())
    assert reply.status == 403 and b"QR code" in reply.body
    assert stored(session) == 1
    assert phone.submit(meeting()).status == 403  # and it stays refused
    assert phone.get("formList").status == 403


def test_a_form_closed_through_another_worker_refuses_at_once(
        form, phone, admin, other_worker, session):
    assert phone.submit(meeting()).status == 201
    other_admin = type(admin)(other_worker.test_client(), "admin", admin.token)
    assert other_admin.patch(f"/api/v1/forms/{FORM_ID}", json={"state": "closed"}
                             ).status_code == 200

    assert phone.submit(meeting()).status == 409
    assert stored(session) == 1


def test_a_version_published_through_another_worker_is_taken_at_once(
        load, phone, other_worker, session):
    load(meeting_form("1"))
    assert phone.submit(meeting(version="1")).status == 201
    with other_worker.app_context():
        from server.services.form_loading import load_form

        other_session = per_request.of(other_worker).session(writing=True)
        load_form(other_session, other_worker.extensions["blobs"],
                  meeting_form("2", extra_rows="| | text | notes | Notes |"), None,
                  validate=False)
        other_session.commit()
        other_session.close()

    assert phone.submit(meeting(version="2", extra="<notes>ok</notes>")).status == 201
    session.rollback()
    (table,) = session.execute(sa.text(
        "SELECT table_name FROM projection_tables WHERE key = ''")).scalars()
    notes = session.execute(sa.text(f'SELECT notes FROM "{table}" WHERE notes IS NOT NULL')
                            ).scalars().all()
    assert notes == ["ok"]
