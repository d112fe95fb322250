"""The downloads page: an analyst asks for an export, watches its progress and downloads it;
nobody else can."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import sqlalchemy as sa
from openpyxl import load_workbook

from server.database.models import AuditEvent, ExportJob, utcnow
from server.services.exports import jobs
from tests.exports.conftest import FORM_ID


def ask(browser, **fields):
    response = browser.post("/downloads", {"form": FORM_ID, "format": "xlsx", "language": "en",
                                           "group_paths": "yes", **fields})
    assert response.status_code == 302, response.get_data(as_text=True)
    job_id = int(re.search(r"/downloads/(\d+)$", response.headers["Location"]).group(1))
    jobs.wait(job_id)
    return job_id


def test_an_analyst_prepares_watches_and_downloads_an_export(form, send, browser_for, session):
    key = send(governorate="erbil")
    send(governorate="baghdad")
    browser = browser_for("analyst")

    page = browser.get("/downloads")
    assert page.status_code == 200 and FORM_ID in page.get_data(as_text=True)
    job_id = ask(browser, governorate="erbil", values="labels", headers="labels")

    progress = browser.get(f"/downloads/{job_id}")
    assert progress.status_code == 200
    assert "downloads.js" in progress.get_data(as_text=True)
    assert "<script>" not in progress.get_data(as_text=True)  # no inline script
    status = browser.get(f"/downloads/{job_id}/status").get_json()
    assert (status["state"], status["done"], status["total"]) == ("done", 2, 2)
    download = browser.get(status["file"])
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment;")
    data = download.data
    download.close()
    book = load_workbook(io.BytesIO(data))
    rows = list(book[FORM_ID].iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][rows[0].index("KEY")] == key
    assert rows[1][rows[0].index("Governorate")] == "Erbil"
    session.rollback()
    assert session.scalar(sa.select(AuditEvent.action).where(
        AuditEvent.action == "export.downloaded")) == "export.downloaded"


def test_an_export_is_its_owners_alone(form, send, browser_for):
    send()
    owner, other = browser_for("analyst"), browser_for("analyst")
    job_id = ask(owner, format="csv")

    assert other.get(f"/downloads/{job_id}/file").status_code == 404
    assert other.get(f"/downloads/{job_id}/status").status_code == 404
    mine = owner.get(f"/downloads/{job_id}/file")
    mine.close()
    assert mine.status_code == 200


def test_supervisors_have_no_downloads(browser_for):
    supervisor = browser_for("supervisor")
    assert supervisor.get("/downloads").status_code == 403
    assert "/downloads" not in supervisor.get("/forms").get_data(as_text=True)


def test_a_bad_filter_is_said_at_once(form, browser_for):
    browser = browser_for("analyst")
    response = browser.post("/downloads", {"form": FORM_ID, "format": "csv",
                                           "where": "nothing=1"})
    assert response.status_code == 400 and "400.20" in response.get_data(as_text=True)


def test_the_page_speaks_arabic_and_kurdish(form, browser_for):
    browser = browser_for("analyst")
    assert "التنزيلات" in browser.get("/downloads?lang=ar").get_data(as_text=True)
    assert "داگرتنەکان" in browser.get("/downloads?lang=ckb").get_data(as_text=True)


def test_old_files_are_deleted_and_jobs_whose_worker_died_are_failed(app, form, send, browser_for,
                                                                     session):
    send()
    analyst = browser_for("analyst")
    finished = ask(analyst, format="csv")
    stuck = ExportJob(user_id=session.get(ExportJob, finished).user_id,
                      form_id=session.get(ExportJob, finished).form_id, format="csv",
                      state="running", created_at=utcnow() - timedelta(hours=2))
    session.add(stuck)
    session.execute(sa.update(ExportJob).where(ExportJob.id == finished).values(
        finished_at=utcnow() - timedelta(days=8)))
    session.commit()
    kept = jobs.folder(app.config["DATA_DIR"]) / session.get(ExportJob, finished).file_name
    assert kept.is_file()

    assert analyst.get("/downloads").status_code == 200

    session.expire_all()
    session.rollback()
    assert session.get(ExportJob, stuck.id).state == "failed"
    assert session.get(ExportJob, finished).state == "expired" and not kept.exists()
    assert analyst.get(f"/downloads/{finished}/file").status_code == 409
