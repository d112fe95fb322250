"""The submission page: labels and choice labels in each language, masking of personal fields,
photos, files and the map, system facts."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from server.database.models import AuditEvent
from tests.review.conftest import LIST, jpeg


def answer(page: str, path: str) -> str:
    match = re.search(rf'<div class="answer[^"]*" data-path="{re.escape(path)}">(.*?)</div>',
                      page, re.S)
    assert match, path
    return match.group(1)


def fetch(browser, url: str):
    """A file response, read and closed."""
    response = browser.get(url)
    data = response.get_data()
    response.close()
    return response, data


@pytest.mark.parametrize("lang, governorate, topic, label", [
    ("ar", "الأنبار", "الأمن والجريمة", "المحافظة"),
    ("ckb", "ئەنبار", "ئاسایش و تاوان", "پارێزگا"),
    ("en", "Anbar", "Security and crime", "Governorate"),
])
def test_questions_and_choices_in_the_readers_language(send, browser_for, lang, governorate,
                                                       topic, label):
    one = send()
    page = browser_for("administrator").get(f"{LIST}/{one}?lang={lang}").get_data(as_text=True)
    assert label in answer(page, "/governorate") and governorate in answer(page, "/governorate")
    assert f"<li>{topic}</li>" in answer(page, "/topics")  # a select-multiple as a list
    forum = {"ar": "الرمادي – حي الأندلس", "ckb": "ڕومادی – گەڕەکی ئەندەلوس",
             "en": "Ramadi – Al-Andalus"}[lang]
    assert forum in answer(page, "/forum")  # choices from forums.csv
    direction = "ltr" if lang == "en" else "rtl"
    assert f'<html lang="{lang}" dir="{direction}">' in page


def test_groups_are_sections_and_repeats_numbered_blocks(send, browser_for):
    one = send(issues=(("security", "Lights", "high"), ("services", "Water", "low")))
    page = browser_for("administrator").get(f"{LIST}/{one}?lang=en").get_data(as_text=True)
    assert '<section id="answers"' in page
    assert '<section class="group" data-path="/attendance_police">' in page
    assert '<section class="entry" data-path="/issue[2]">' in page
    assert "Water" in answer(page, "/issue[2]/issue_description")
    assert "Low" in answer(page, "/issue[2]/issue_priority")


def test_personal_fields_are_masked_without_the_permission(send, browser_for, session):
    one = send(facilitator="Sergeant Layla Hassan")
    page = browser_for("supervisor", scopes=[("governorate", "anbar")]).get(
        f"{LIST}/{one}").get_data(as_text=True)
    assert '<span class="value masked"' in answer(page, "/facilitator")
    assert "Layla" not in page
    session.rollback()
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "submission.personal_viewed")) == 0


def test_with_the_permission_they_show_and_the_view_is_audited(send, browser_for, session):
    one = send(facilitator="Sergeant Layla Hassan")
    page = browser_for("supervisor", scopes=[("governorate", "anbar")], personal_data=True,
                       username="reader").get(f"{LIST}/{one}").get_data(as_text=True)
    assert "Layla" in answer(page, "/facilitator")
    session.rollback()
    event = session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "submission.personal_viewed"))
    assert event.username == "reader"
    assert "/facilitator" in json.loads(event.details)["fields"]


def test_a_personal_search_is_not_a_way_around_the_mask(send, browser_for):
    send(facilitator="Sergeant Layla Hassan")
    masked = browser_for("supervisor", scopes=[("governorate", "anbar")])
    allowed = browser_for("supervisor", scopes=[("governorate", "anbar")], personal_data=True)
    assert b"data-instance-id" not in masked.get(LIST + "?q=Layla").data
    assert b"data-instance-id" in allowed.get(LIST + "?q=Layla").data


def test_photos_have_thumbnails_and_downloads_are_audited(send, browser_for, session, app):
    photo = jpeg(size=(1200, 900))
    one = send(attachments={"meeting.jpg": photo, "second.jpg": jpeg("blue")},
               photos=("meeting.jpg", "second.jpg"))
    admin = browser_for("administrator", personal_data=True)
    page = admin.get(f"{LIST}/{one}").get_data(as_text=True)
    href = f"{LIST}/{one}/attachments/meeting.jpg"
    assert f'<a href="{href}"><img class="thumbnail" src="{href}?size=thumbnail"' in page

    small, data = fetch(admin, href + "?size=thumbnail")
    assert small.status_code == 200 and small.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(data)).size) <= 320
    assert list((Path(app.config["DATA_DIR"]) / "thumbnails").rglob("*.jpg"))
    full, data = fetch(admin, href)
    assert full.status_code == 200 and data == photo and full.mimetype == "image/jpeg"
    session.rollback()
    event = session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "attachment.downloaded"))
    assert json.loads(event.details)["name"] == "meeting.jpg"


def test_personal_photos_are_not_shown_or_served_without_the_permission(send, browser_for):
    one = send(attachments={"meeting.jpg": jpeg()}, photos=("meeting.jpg",))
    supervisor = browser_for("supervisor", scopes=[("governorate", "anbar")])
    page = supervisor.get(f"{LIST}/{one}").get_data(as_text=True)
    assert "meeting.jpg" not in page
    assert supervisor.get(f"{LIST}/{one}/attachments/meeting.jpg").status_code == 403
    assert supervisor.get(f"{LIST}/{one}/attachments/meeting.jpg?size=thumbnail"
                          ).status_code == 403


def test_unknown_or_missing_files_are_404_and_names_are_not_paths(send, browser_for):
    one = send(attachments={}, photos=("meeting.jpg",))
    admin = browser_for("administrator", personal_data=True)
    page = admin.get(f"{LIST}/{one}?lang=en").get_data(as_text=True)
    assert "not received yet" in answer(page, "/photo_1")
    assert admin.get(f"{LIST}/{one}/attachments/meeting.jpg").status_code == 404
    assert admin.get(f"{LIST}/{one}/attachments/..%2F..%2Fsecret_key").status_code == 404
    assert admin.get(f"{LIST}/{one}/attachments/other.jpg").status_code == 404


def test_a_non_image_file_is_downloaded_not_shown(send, browser_for):
    one = send(attachments={"notes.jpg": b"not really a photo"}, photos=("notes.jpg",))
    admin = browser_for("administrator", personal_data=True)
    response, _data = fetch(admin, f"{LIST}/{one}/attachments/notes.jpg")
    assert response.status_code == 200 and response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert admin.get(f"{LIST}/{one}/attachments/notes.jpg?size=thumbnail").status_code == 404


def test_the_map_is_drawn_from_the_apps_own_files(send, browser_for, client):
    one = send(location="36.3400 43.1300 250 4")
    page = browser_for("administrator").get(f"{LIST}/{one}").get_data(as_text=True)
    assert '<div id="map" data-latitude="36.34" data-longitude="43.13"' in page
    assert "36.340000, 43.130000" in page
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert all(s.startswith(("/", "?", "#")) for s in sources), sources
    for asset in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "vendor/iraq.geojson",
                  "review.js", "review.css"):
        assert fetch(client, f"/static/{asset}")[0].status_code == 200, asset
    outline = json.loads(fetch(client, "/static/vendor/iraq.geojson")[1])
    assert outline["geometry"]["type"] == "MultiPolygon"


def test_system_facts(send, browser_for):
    one = send(attachments={"a.jpg": jpeg()}, photos=("a.jpg", "b.jpg"))
    page = browser_for("administrator").get(f"{LIST}/{one}?lang=en").get_data(as_text=True)
    facts = re.search(r'<dl id="facts".*?</dl>', page, re.S).group(0)
    assert "officer" in facts and "collect:muntada-test" in facts and "2026120201" in facts
    assert "1 of 2 received" in facts and one in facts


def test_a_page_reads_at_phone_width(send, browser_for, client):
    one = send()
    page = browser_for("administrator").get(f"{LIST}/{one}").get_data(as_text=True)
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page
    css = fetch(client, "/static/review.css")[1].decode()
    assert "@media (max-width: 48rem)" in css
    assert not re.search(r"(margin|padding|border)-(left|right)|text-align: (left|right)", css)
