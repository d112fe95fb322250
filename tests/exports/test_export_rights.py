"""A finished export follows its owner's current rights: a file written with a role, places or
the personal-data permission its owner has since lost is refused (and deleted), on the page and
through the API; one written with fewer rights than the owner has now is still theirs."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from server.database.models import AuditEvent, ExportJob, User, utcnow
from server.services.accounts import set_scopes
from server.services.exports import jobs
from tests.exports.conftest import FORM_ID
from tests.exports.test_downloads_page import ask
from tests.support.instances import instance
from tests.support.xlsforms import xlsform

REFUSED = {"ar": "لم يعد حسابك يملكها", "ckb": "ئەژمێرەکەت چیتر نییەتی",
           "en": "rights your account no longer has"}


def change(session, username: str, **rights) -> None:
    """What an administrator does on the Users page, straight to the database."""
    session.rollback()
    user = session.scalar(sa.select(User).where(User.username == username))
    scopes = rights.pop("scopes", None)
    if scopes is not None:
        set_scopes(user, scopes)
    for name, value in rights.items():
        setattr(user, name, value)
    session.commit()


def kept_file(app, session, job_id: int):
    session.rollback()
    job = session.get(ExportJob, job_id)
    return job, (jobs.folder(app.config["DATA_DIR"]) / job.file_name if job.file_name else None)


def refusals(session, action: str = "export.refused") -> list[dict]:
    session.rollback()
    return [json.loads(e.details) for e in session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


@pytest.mark.parametrize("lang", ["ar", "ckb", "en"])
def test_a_file_with_personal_data_is_refused_once_the_permission_is_removed(
        app, form, send, browser_for, session, lang):
    send(person_name="Ali Hassan")
    analyst = browser_for("analyst", username="layla", personal_data=True)
    analyst.post("/language", {"lang": lang, "next": "/downloads"})
    job_id = ask(analyst, format="csv")
    job, path = kept_file(app, session, job_id)
    assert json.loads(job.rights)["personal_data"] is True and path.is_file()

    change(session, "layla", personal_data=False)
    response = analyst.get(f"/downloads/{job_id}/file")
    assert response.status_code == 403 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "403.21" in page and REFUSED[lang] in page
    assert "Ali Hassan" not in page
    job, _path = kept_file(app, session, job_id)
    assert (job.state, job.file_name) == ("withdrawn", None) and not path.exists()
    [event] = refusals(session)
    assert (event["job"], event["lost"], event["via"]) == (job_id, ["personal_data"], "page")
    # and it stays refused, for the same reason: nothing is left to hand over
    again = analyst.get(f"/downloads/{job_id}/file")
    assert again.status_code == 403 and REFUSED[lang] in again.get_data(as_text=True)


def test_a_form_without_personal_fields_uses_no_personal_data_permission(app, load, phone,
                                                                         browser_for, session):
    plain = load(xlsform("""
        | | type | name | label |
        | | select_one governorate | governorate | Governorate |
        | | integer | women | Women |
    """, form_id="plain", choices="""
        | | list_name | name | label |
        | | governorate | baghdad | Baghdad |
    """)).form
    reply = phone.submit(instance("plain", plain.current_version.version,
                                  "<governorate>baghdad</governorate><women>2</women>"))
    assert reply.status == 201, reply.body
    analyst = browser_for("analyst", username="dina", personal_data=True)
    job_id = ask(analyst, form="plain", format="csv")
    assert json.loads(kept_file(app, session, job_id)[0].rights)["personal_data"] is False

    change(session, "dina", personal_data=False)
    response = analyst.get(f"/downloads/{job_id}/file")
    response.close()
    assert response.status_code == 200


def test_a_file_is_refused_once_the_owners_places_are_narrowed(app, form, send, browser_for,
                                                               session):
    send(governorate="erbil")
    send(governorate="baghdad")
    analyst = browser_for("analyst", username="omar")  # no places: every place
    job_id = ask(analyst, format="xlsx")
    path = kept_file(app, session, job_id)[1]

    change(session, "omar", scopes=[("governorate", "baghdad")])
    assert analyst.get(f"/downloads/{job_id}/file").status_code == 403
    assert not path.exists()
    assert refusals(session)[0]["lost"] == ["places"]


def test_a_file_is_refused_once_the_owner_may_no_longer_download(app, form, send, browser_for,
                                                                 session):
    send()
    analyst = browser_for("analyst", username="sara")
    job_id = ask(analyst, format="geojson")
    path = kept_file(app, session, job_id)[1]

    change(session, "sara", role="supervisor")
    response = analyst.get(f"/downloads/{job_id}/file")
    assert response.status_code == 403 and "403.21" in response.get_data(as_text=True)
    assert not path.exists()
    assert "downloads" in refusals(session)[0]["lost"]  # (and places: a supervisor has none)


def test_a_file_made_with_fewer_rights_than_now_still_downloads(app, form, send, browser_for,
                                                                session):
    send(governorate="erbil")
    analyst = browser_for("analyst", username="huda", scopes=[("governorate", "erbil")])
    job_id = ask(analyst, format="csv")

    change(session, "huda", personal_data=True, scopes=[("governorate", "erbil"),
                                                        ("governorate", "baghdad")])
    response = analyst.get(f"/downloads/{job_id}/file")
    response.close()
    assert response.status_code == 200
    change(session, "huda", role="administrator", scopes=[])
    response = analyst.get(f"/downloads/{job_id}/file")
    response.close()
    assert response.status_code == 200
    assert refusals(session) == []


def test_a_disabled_owners_files_are_deleted_by_the_next_visit(app, form, send, browser_for,
                                                               session):
    send()
    owner = browser_for("analyst", username="karim")
    job_id = ask(owner, format="csv")
    path = kept_file(app, session, job_id)[1]

    change(session, "karim", disabled_at=utcnow())
    assert browser_for("analyst").get("/downloads").status_code == 200  # anyone's visit
    job, _path = kept_file(app, session, job_id)
    assert job.state == "withdrawn" and not path.exists()
    session.rollback()
    event = session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "export.withdrawn"))
    assert event.username == "karim" and json.loads(event.details)["lost"] == ["disabled"]


def test_a_file_written_before_rights_were_recorded_needs_every_right(app, form, send,
                                                                      browser_for, session):
    send()
    analyst = browser_for("analyst", username="nour")
    job_id = ask(analyst, format="csv")
    session.execute(sa.update(ExportJob).where(ExportJob.id == job_id).values(rights=None))
    session.commit()
    assert analyst.get(f"/downloads/{job_id}/file").status_code == 403
    assert refusals(session)[0]["lost"] == ["personal_data"]


def test_the_api_refuses_an_export_whose_owner_lost_a_right_while_it_was_written(
        app, form, send, make_analyst, session, monkeypatch):
    from server.surfaces.api import data

    send(person_name="Ali Hassan")
    analyst = make_analyst("rana", personal_data=True)
    real_write = data.write

    def write_then_revoke(*args, **kwargs):
        written = real_write(*args, **kwargs)
        change(session, "rana", personal_data=False)  # meanwhile, an administrator
        return written
    monkeypatch.setattr(data, "write", write_then_revoke)

    response = analyst.get(f"/api/v1/forms/{FORM_ID}/export.csv.zip")
    assert response.status_code == 403 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == "403.21" and body["details"]["lost"] == "personal_data"
    assert b"Ali Hassan" not in response.data
    assert [p.name for p in jobs.folder(app.config["DATA_DIR"]).iterdir()] == []  # nothing left behind
    [event] = refusals(session)
    assert (event["lost"], event["via"]) == (["personal_data"], "api")
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "export.downloaded")) == 0

    monkeypatch.setattr(data, "write", real_write)  # a new export, made with what they have
    [row] = analyst.csv_zip()[f"{FORM_ID}.csv"]
    assert row["person_name"].startswith("P-")


def test_taking_a_right_away_on_the_users_page_deletes_the_files_it_made(app, form, send,
                                                                        browser_for, session):
    send()
    analyst = browser_for("analyst", username="zaid", personal_data=True)
    job_id = ask(analyst, format="xlsx")
    path = kept_file(app, session, job_id)[1]
    user_id = session.scalar(sa.select(User.id).where(User.username == "zaid"))

    admin = browser_for("administrator")
    admin.get(f"/users/{user_id}")
    response = admin.post(f"/users/{user_id}", {"role": "analyst"})  # personal data unticked
    assert response.status_code == 302
    assert not path.exists() and kept_file(app, session, job_id)[0].state == "withdrawn"
    [event] = refusals(session, "export.withdrawn")
    assert event["lost"] == ["personal_data"]
