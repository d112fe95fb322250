"""A small report form with everything an export must handle (places, a group, a geopoint, a
select-multiple, a personal name, a phone number, a repeat, a photo), labelled in Arabic,
Kurdish and English; submissions of it sent by a phone; analysts reading it through the API."""

from __future__ import annotations

import base64
import csv
import io
import zipfile

import pytest

from server.services.accounts import create_user
from tests.conftest import api_token
from tests.support import web
from tests.support.instances import instance, new_id
from tests.support.xlsforms import xlsform

FORM_ID = "report"
NAMESPACE = 'namespaces=muntada="https://muntada.example/xforms"'


def report_form(version: str = "1", extra_rows: str = "") -> bytes:
    return xlsform(f"""
        | | type | name | label::Arabic (ar) | label::Kurdish (ckb) | label::English (en) | bind::muntada:personal |
        | | select_one governorate | governorate | المحافظة | پارێزگا | Governorate | |
        | | text | forum | المنتدى | فۆرەم | Forum | |
        | | date | meeting_date | تاريخ الاجتماع | بەرواری کۆبوونەوە | Meeting date | |
        | | dateTime | reported_at | وقت التبليغ | کاتی ڕاپۆرت | Reported at | |
        | | geopoint | location | الموقع | شوێن | Location | |
        | | begin_group | police | الشرطة | پۆلیس | Police | |
        | | integer | women | النساء | ئافرەتان | Women | |
        | | integer | men | الرجال | پیاوان | Men | |
        | | end_group | | | | | |
        | | decimal | score | النتيجة | ئەنجام | Score | |
        | | select_multiple topic | topics | المواضيع | بابەتەکان | Topics | |
        | | text | person_name | الاسم | ناو | Name | yes |
        | | text | person_phone | رقم الهاتف | ژمارەی تەلەفۆن | Phone number | |
        | | text | notes | ملاحظات | تێبینی | Notes | |
        | | begin_repeat | issue | قضية | کێشە | Issue | |
        | | text | description | الوصف | وەسف | Description | |
        | | integer | count | العدد | ژمارە | Count | |
        | | end_repeat | | | | | |
        | | image | photo | صورة | وێنە | Photo | |
        {extra_rows}
    """, form_id=FORM_ID, version=version, extra_settings=NAMESPACE, choices="""
        | | list_name | name | label::Arabic (ar) | label::Kurdish (ckb) | label::English (en) |
        | | governorate | baghdad | بغداد | بەغدا | Baghdad |
        | | governorate | erbil | أربيل | هەولێر | Erbil |
        | | topic | security | الأمن | ئاسایش | Security |
        | | topic | services | الخدمات | خزمەتگوزاری | Services |
        | | topic | women | النساء | ئافرەتان | Women |
    """)


def report(*, governorate="baghdad", forum="forum-1", meeting_date="2026-11-20",
           reported_at="2026-11-20T10:15:00.000+03:00", location="33.3152 44.3661 34.0 5.0",
           women="3", men="5", score="1.5", topics="security women", person_name="Ali Hassan",
           person_phone="07701234567", notes="Street lights", issues=(("Lights", "2"),),
           photo="", version="1", instance_id=None, extra="") -> tuple[str, bytes]:
    instance_id = instance_id or new_id()
    issue_xml = "".join(f"<issue><description>{d}</description><count>{c}</count></issue>"
                        for d, c in issues)
    body = (f"<governorate>{governorate}</governorate><forum>{forum}</forum>"
            f"<meeting_date>{meeting_date}</meeting_date><reported_at>{reported_at}</reported_at>"
            f"<location>{location}</location><police><women>{women}</women><men>{men}</men>"
            f"</police><score>{score}</score><topics>{topics}</topics>"
            f"<person_name>{person_name}</person_name><person_phone>{person_phone}"
            f"</person_phone><notes>{notes}</notes>{issue_xml}<photo>{photo}</photo>{extra}")
    return instance_id, instance(FORM_ID, version, body, instance_id=instance_id)


@pytest.fixture
def form(load):
    return load(report_form())


@pytest.fixture
def send(phone):
    """send(**answers) → the submission's KEY, after the server took it."""
    def _send(attachments=None, **answers) -> str:
        instance_id, xml = report(**answers)
        reply = phone.submit(xml, attachments)
        assert reply.status == 201, reply.body
        return instance_id
    return _send


class Analyst:
    """A script of an analyst's (or an administrator's) calling the data API with an API token:
    a bearer token, or as the password of Basic over HTTPS (`basic=True`)."""

    def __init__(self, client, username: str, *, token: str, basic: bool = False):
        self.client = client
        self.username = username
        credentials = base64.b64encode(f"{username}:{token}".encode()).decode()
        self.headers = {"Authorization": f"Basic {credentials}" if basic else f"Bearer {token}"}

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers={**self.headers, **kwargs.pop("headers", {})},
                               base_url="https://localhost", **kwargs)

    def export(self, suffix: str = "csv.zip", **query):
        response = self.get(f"/api/v1/forms/{FORM_ID}/export.{suffix}", query_string=query)
        try:
            assert response.status_code == 200, response.get_data(as_text=True)
            return response.data
        finally:
            response.close()  # the file streams until the response is closed

    def csv_zip(self, **query) -> dict[str, list[dict[str, str]]]:
        """Every CSV in the export's zip, read with the csv module."""
        archive = zipfile.ZipFile(io.BytesIO(self.export("csv.zip", **query)))
        return {name: list(csv.DictReader(io.TextIOWrapper(archive.open(name), "utf-8",
                                                           newline="")))
                for name in archive.namelist() if name.endswith(".csv")}

    def page(self, table: str | None = None, **query):
        path = f"/api/v1/forms/{FORM_ID}/submissions" + (f"/{table}" if table else "")
        response = self.get(path, query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()


@pytest.fixture
def make_analyst(client, session):
    """make_analyst(name, role="analyst", scopes=(), personal_data=False) → Analyst."""
    def _make(username: str = "analyst", role: str = "analyst", **options) -> Analyst:
        user = create_user(session, username, web.PASSWORD, role, **options)
        return Analyst(client, username, token=api_token(session, user), basic=True)
    return _make


@pytest.fixture
def analyst(make_analyst) -> Analyst:
    return make_analyst()


@pytest.fixture
def review(app, session):
    """review(key, state): a supervisor's decision, as the review workspace records it."""
    import sqlalchemy as sa

    from server.database import projection
    from server.database.models import Submission
    from server.database.queries import forms as form_queries

    def _review(key: str, state: str) -> None:
        session.rollback()
        form = form_queries.get_form(session, FORM_ID)
        root = projection.load(session, form).root
        session.execute(sa.update(Submission).where(Submission.instance_id == key).values(
            review_state=state, reviewed_at=sa.func.now()))
        session.execute(sa.update(root).where(root.c._key == key).values(_review_state=state))
        session.commit()
    return _review
