"""The app user's QR code page: what an administrator prints or shows to set up a phone."""

from __future__ import annotations

import base64
import io
import re

import zxingcpp
from PIL import Image

from server.services import collect_settings


def test_the_page_shows_the_qr_code_that_sets_up_collect(browser_for, make_phone):
    phone = make_phone("officer-mosul")
    admin = browser_for("administrator")

    response = admin.get("/app-users/officer-mosul")

    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert 'dir="rtl"' in page and "ODK Collect" in page
    png = base64.b64decode(re.search(r'data:image/png;base64,([^"]+)"', page).group(1))
    (barcode,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    url = collect_settings.decode(barcode.text)["general"]["server_url"]
    assert url == "http://localhost" + phone.server_url.split("localhost", 1)[1]


def test_the_page_asks_who_is_there(client, make_phone):
    make_phone("officer-mosul")
    response = client.get("/app-users/officer-mosul")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/app-users/officer-mosul")


def test_only_administrators_see_it(browser_for, make_phone):
    make_phone("officer-mosul")
    assert browser_for("supervisor").get("/app-users/officer-mosul").status_code == 403


def test_an_unknown_app_user_is_an_html_404(browser_for):
    response = browser_for("administrator").get("/app-users/nobody")
    assert response.status_code == 404 and b"nobody" in response.data
