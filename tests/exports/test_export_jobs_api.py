"""Exports as background jobs through the API: a script starts one with the export's filters,
polls its state, downloads the file; a job is its owner's alone. And the README's polling script,
run against a live server."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from werkzeug.serving import make_server

from server.database.models import AuditEvent, ExportJob, User
from server.services import api_tokens
from server.services.accounts import create_user
from server.services.exports import jobs
from tests.exports.conftest import FORM_ID, Analyst
from tests.support import web

README = Path(__file__).resolve().parents[2] / "README.md"
START = f"/api/v1/forms/{FORM_ID}/export-jobs"


@pytest.fixture
def script_of(client, session):
    """script_of(username, role="analyst", **options) → an Analyst calling with a bearer token."""
    def _make(username: str = "analyst", role: str = "analyst", **options) -> Analyst:
        user = create_user(session, username, web.PASSWORD, role, **options)
        _token, secret = api_tokens.create(session, user, "script")
        session.commit()
        script = Analyst(client, username, token=secret)
        script.token = secret
        return script
    return _make


def start(script: Analyst, **query):
    return script.client.post(START, query_string=query, headers=script.headers,
                              base_url="https://localhost")


def test_a_script_starts_polls_and_downloads_an_export_job(form, send, script_of, session):
    key = send(governorate="erbil")
    send(governorate="baghdad")
    script = script_of()

    started = start(script, format="xlsx", governorate="erbil", values="labels",
                    language="en")
    assert started.status_code == 202, started.get_data(as_text=True)
    job = started.get_json()
    assert started.headers["Location"] == job["statusUrl"]
    assert (job["xmlFormId"], job["format"], job["fileUrl"]) == (FORM_ID, "xlsx", None)
    assert job["state"] in ("queued", "running", "done")
    jobs.wait(job["id"])

    polled = script.get(job["statusUrl"]).get_json()
    # rows of every table: the meeting and its one issue
    assert (polled["state"], polled["done"], polled["total"]) == ("done", 2, 2)
    download = script.get(polled["fileUrl"])
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    data = download.data
    download.close()
    rows = list(load_workbook(io.BytesIO(data))[FORM_ID].iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][rows[0].index("KEY")] == key
    assert rows[1][rows[0].index("governorate")] == "Erbil"
    session.rollback()
    assert session.scalar(sa.select(AuditEvent.details).where(
        AuditEvent.action == "export.downloaded")).count('"via": "api"') == 1


def test_a_job_is_its_owners_alone(form, send, script_of):
    send()
    owner, other = script_of("owner"), script_of("other")
    job = start(owner).get_json()
    jobs.wait(job["id"])

    for address in (job["statusUrl"], job["statusUrl"] + "/file"):
        refused = other.get(address)
        assert refused.status_code == 404 and refused.get_json()["code"] == "404.20"
    download = owner.get(job["statusUrl"] + "/file")
    download.close()
    assert download.status_code == 200


def test_a_file_not_ready_is_409(form, script_of, session):
    script = script_of()
    user_id = session.scalar(sa.text("SELECT id FROM users WHERE username = 'analyst'"))
    form_id = session.scalar(sa.text(f"SELECT id FROM forms WHERE xml_form_id = '{FORM_ID}'"))
    job = ExportJob(user_id=user_id, form_id=form_id, format="csv")
    session.add(job)
    session.commit()

    status = script.get(f"/api/v1/export-jobs/{job.id}").get_json()
    assert (status["state"], status["fileUrl"]) == ("queued", None)
    refused = script.get(f"/api/v1/export-jobs/{job.id}/file")
    assert refused.status_code == 409 and refused.get_json()["code"] == "409.20"


def test_a_bad_filter_or_format_is_refused_at_once_and_starts_nothing(form, script_of, session):
    script = script_of()
    for query in ({"where": "no_such_column>=1"}, {"format": "pdf"},
                  {"submittedFrom": "yesterday"}):
        refused = start(script, **query)
        assert refused.status_code == 400, query
        assert refused.get_json()["code"].startswith("400.")
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(ExportJob)) == 0


def test_who_may_start_a_job(form, script_of, client):
    assert start(script_of("layla", role="supervisor")).status_code == 403
    anonymous = client.post(START, base_url="https://localhost")
    assert anonymous.status_code == 401


def readme_script() -> str:
    found = re.search(r"```python\n(# export\.py.*?)```", README.read_text(encoding="utf-8"),
                      re.S)
    assert found, "README.md has no polling script (a ```python block starting '# export.py')"
    return found.group(1)


def test_the_readme_polling_script_downloads_an_export(app, form, send, script_of, tmp_path):
    keys = {send(governorate="erbil"), send(governorate="erbil")}
    send(governorate="baghdad")
    token = script_of().token
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        (tmp_path / "export.py").write_text(readme_script(), encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "export.py", FORM_ID, "meetings.zip", "governorate=erbil"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env={"MUNTADA_URL": f"http://127.0.0.1:{server.server_port}",
                 "MUNTADA_TOKEN": token, "PATH": "/usr/bin:/bin"})
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "meetings.zip") as archive:
        rows = archive.read(f"{FORM_ID}.csv").decode("utf-8-sig").splitlines()
    assert len(rows) == 3 and all(any(key in row for row in rows) for key in keys)


def test_a_jobs_file_follows_its_owners_rights_now(app, form, send, script_of, session):
    send(person_name="Ali Hassan")
    script = script_of(personal_data=True)
    job = start(script, format="csv.zip").get_json()
    jobs.wait(job["id"])
    path = jobs.folder(app.config["DATA_DIR"]) / session.get(ExportJob, job["id"]).file_name
    assert path.is_file()

    session.rollback()
    user = session.scalar(sa.select(User).where(User.username == "analyst"))
    user.personal_data = False  # an administrator takes the permission away
    session.commit()
    refused = script.get(f"/api/v1/export-jobs/{job['id']}/file")

    assert refused.status_code == 403 and refused.get_json()["code"] == "403.21"
    assert "Ali Hassan" not in refused.get_data(as_text=True)
    assert not path.exists()
    assert script.get(f"/api/v1/export-jobs/{job['id']}/file").status_code == 403
