"""Every route of the app, asked by every kind of caller: the server decides, not the page.

The table below must name every route; a new route without its line fails the test, so nobody
adds a page or an API call without saying who may use it.
"""

from __future__ import annotations

import base64
import uuid

import pytest
import sqlalchemy as sa

from server.database.models import AppUser, ExportJob
from server.services.accounts import create_app_user, create_user
from tests.conftest import api_token
from tests.support.cases import entity
from tests.support.incidents import incident_referral
from tests.support.instances import new_id
from tests.support.programme_meetings import forum_meeting, jpeg
from tests.support.web import PASSWORD, Browser

# "outsider" is a supervisor of another governorate than the submissions' (Nineveh, not Baghdad).
ROLES = ("anonymous", "administrator", "supervisor", "outsider", "analyst")
ROLE_OF = {"outsider": "supervisor"}
OK, LOGIN, FORBIDDEN, NOT_FOUND, UNAUTHORISED = "ok", "login", "403", "404", "401"


def everyone(outcome):
    return dict.fromkeys(ROLES, outcome)


def signed_in(administrator=OK, supervisor=OK, outsider=None, analyst=OK):
    return {"anonymous": LOGIN, "administrator": administrator, "supervisor": supervisor,
            "outsider": supervisor if outsider is None else outsider, "analyst": analyst}


def api(administrator=OK, supervisor=FORBIDDEN, analyst=FORBIDDEN):
    return {"anonymous": UNAUTHORISED, "administrator": administrator, "supervisor": supervisor,
            "outsider": supervisor, "analyst": analyst}


ADMIN_PAGE = signed_in(supervisor=FORBIDDEN, analyst=FORBIDDEN)
DATA_PAGE = signed_in(supervisor=FORBIDDEN)
KEY_HOLDERS_PAGE = signed_in(administrator=FORBIDDEN, supervisor=FORBIDDEN, analyst=FORBIDDEN)
# an export job belongs to the analyst who asked for it: nobody else finds it
OWN_JOB = signed_in(administrator=NOT_FOUND, supervisor=FORBIDDEN)
DATA_API = api(analyst=OK)
OWN_API_JOB = api(administrator=NOT_FOUND, analyst=OK)  # the analyst's job, as on the page
ADMIN_API = api()
# one submission, from Baghdad: its supervisor reads and reviews it, Nineveh's finds nothing
READ_SUBMISSION = signed_in(outsider=NOT_FOUND)
REVIEW_SUBMISSION = signed_in(outsider=NOT_FOUND, analyst=FORBIDDEN)
# OpenRosa with a password is for app users (phones), never for web accounts.
PHONES_ONLY = everyone(UNAUTHORISED)
# The token in the path is the phone's credential, whoever holds it.
TOKEN = everyone(OK)

EXPECTED: dict[tuple[str, str], dict[str, str]] = {
    ("pages.home", "GET"): signed_in(),
    ("pages.login", "GET"): everyone(OK),
    ("pages.login", "POST"): everyone(UNAUTHORISED),  # the walk's password is wrong
    ("pages.logout", "POST"): everyone(LOGIN),  # signed out, or never signed in
    ("pages.change_password", "GET"): signed_in(),
    ("pages.change_password", "POST"): signed_in(),
    ("pages.choose_language", "POST"): everyone(OK),
    ("pages.forms_index", "GET"): signed_in(),
    ("pages.users_index", "GET"): ADMIN_PAGE,
    ("pages.new_user", "GET"): ADMIN_PAGE,
    ("pages.new_user", "POST"): ADMIN_PAGE,
    ("pages.edit_user", "GET"): ADMIN_PAGE,
    ("pages.edit_user", "POST"): ADMIN_PAGE,
    ("pages.audit_log", "GET"): ADMIN_PAGE,
    ("pages.app_user_qr", "GET"): ADMIN_PAGE,
    ("pages.field_offices", "GET"): ADMIN_PAGE,
    # a body without the office's name: refused (400), nothing registered
    ("pages.register_field_office", "POST"): ADMIN_PAGE,
    # none of these users holds keys: the Keys page and its buttons are refused to them all
    **dict.fromkeys((("pages.keys_page", "GET"), ("pages.unlock_key", "POST"),
                     ("pages.decrypt_rows", "POST"), ("pages.lock_key", "POST")),
                    KEY_HOLDERS_PAGE),
    # everyone signed in reads the indicators of their own places
    ("pages.indicators_page", "GET"): signed_in(),
    ("pages.indicators_workbook", "GET"): signed_in(),
    ("pages.indicator_submissions", "GET"): signed_in(),
    ("static", "GET"): everyone(OK),
    ("pages.submissions", "GET"): signed_in(),  # Nineveh's supervisor: an empty list
    ("pages.submission", "GET"): READ_SUBMISSION,
    ("pages.diff", "GET"): READ_SUBMISSION,
    # the photo is personal: the analyst has no personal-data permission
    ("pages.attachment", "GET"): signed_in(outsider=NOT_FOUND, analyst=FORBIDDEN),
    ("pages.review_submission", "POST"): REVIEW_SUBMISSION,
    ("pages.comment_submission", "POST"): REVIEW_SUBMISSION,
    ("pages.bulk_review", "POST"): signed_in(analyst=FORBIDDEN),
    # a Baghdad case: reviewers of Baghdad read it and may resolve it (an empty form: 400)
    ("pages.cases", "GET"): signed_in(analyst=FORBIDDEN),  # Nineveh's supervisor: empty
    ("pages.case", "GET"): REVIEW_SUBMISSION,
    ("pages.resolve_case", "POST"): REVIEW_SUBMISSION,
    ("pages.delete_submission", "POST"): ADMIN_PAGE,
    ("pages.restore_submission", "POST"): ADMIN_PAGE,
    ("pages.deleted_submissions", "GET"): ADMIN_PAGE,
    ("pages.downloads", "GET"): DATA_PAGE,
    ("pages.start_download", "POST"): DATA_PAGE,
    ("pages.download_job", "GET"): OWN_JOB,
    ("pages.download_status", "GET"): OWN_JOB,
    # the job is still queued: its owner is told so (409), others find nothing
    ("pages.download_file", "GET"): OWN_JOB,
    ("api.data_forms", "GET"): DATA_API,
    ("api.structure", "GET"): DATA_API,
    ("api.rows", "GET"): DATA_API,
    ("api.export", "GET"): DATA_API,
    ("api.lists", "GET"): DATA_API,
    ("api.entities", "GET"): DATA_API,
    # no such case: not found for those who may read cases, refused to the others
    ("api.entity_history", "GET"): api(administrator=NOT_FOUND, analyst=NOT_FOUND),
    ("api.delete_entity", "DELETE"): api(administrator=NOT_FOUND),
    ("api.start_export_job", "POST"): DATA_API,  # an unknown format: refused, no job started
    ("api.export_job", "GET"): OWN_API_JOB,
    ("api.export_job_file", "GET"): OWN_API_JOB,  # still queued: its owner is told so (409)
    ("api.openapi", "GET"): everyone(OK),
    ("api.list_forms", "GET"): ADMIN_API,
    ("api.upload_form", "POST"): ADMIN_API,
    ("api.get_form", "GET"): ADMIN_API,
    ("api.patch_form", "PATCH"): ADMIN_API,
    ("api.put_media", "PUT"): ADMIN_API,
    ("api.list_app_users", "GET"): ADMIN_API,
    ("api.create", "POST"): ADMIN_API,
    ("api.revoke", "DELETE"): ADMIN_API,
    ("api.set_places", "PUT"): ADMIN_API,
    ("api.qr_code", "GET"): ADMIN_API,
    **{(f"collect.{name}", method): PHONES_ONLY for name, method in (
        ("form_list", "GET"), ("form_download", "GET"), ("media_file", "GET"),
        ("manifest", "GET"), ("submission", "POST"), ("submission_preflight", "HEAD"),
        ("list_integrity", "GET"))},
    **{(f"collect_key.{name}", method): TOKEN for name, method in (
        ("form_list", "GET"), ("form_download", "GET"), ("media_file", "GET"),
        ("manifest", "GET"), ("submission_preflight", "HEAD"), ("list_integrity", "GET"))},
    # a body-less POST is a bad submission (400) for whoever holds the token
    ("collect_key.submission", "POST"): TOKEN,
    # field offices' servers only, by the token headquarters gave each: no person's credential
    **{(f"peers.{name}", method): everyone(UNAUTHORISED) for name, method in (
        ("hello", "GET"), ("key", "POST"), ("changes_down", "GET"), ("changes_up", "POST"),
        ("blob_state", "HEAD"), ("blob_upload", "PUT"), ("blob_download", "GET"))},
}
# Path values other than the world's defaults.
OVERRIDES = {"revoke": {"name": "spare"}, "list_integrity": {"name": "cases"},
             "entities": {"name": "cases"},
             **dict.fromkeys(("entity_history", "delete_entity"), {
                 "name": "cases", "uuid": "0b5a6c2e-0000-4000-8000-000000000000"}), "media_file": {"name": "forums.csv"},
             "put_media": {"name": "forums.csv"}, "indicator_submissions": {
                 "indicator_id": "meetings_held"}, "attachment": {"name": "meeting.jpg"},
             "delete_submission": {"instance_id": "spare"},
             "restore_submission": {"instance_id": "spare"},
             **dict.fromkeys(("blob_state", "blob_upload", "blob_download"),
                             {"sha256": "0" * 64})}
# Form bodies that pass the permission gate and then fail validation (nothing changes).
POST_BODIES = {"pages.start_download": {"form": "forum_meeting", "format": "no such format"}}
# Routes that end the caller's session or change shared data go last, in this order.
LAST = [("pages.delete_submission", "POST"), ("pages.restore_submission", "POST"),
        ("api.revoke", "DELETE"), ("pages.logout", "POST")]


@pytest.fixture
def world(app, session, programme, make_phone):
    phone = make_phone("officer")
    create_app_user(session, "spare")
    officer = session.scalar(sa.select(AppUser).where(AppUser.name == "officer"))
    places = {"supervisor": "baghdad", "outsider": "nineveh"}
    users = {role: create_user(session, role, PASSWORD, ROLE_OF.get(role, role),
                               scopes=[("governorate", places[role])] if role in places else (),
                               personal_data=role != "analyst")
             for role in ROLES[1:]}
    session.commit()
    api_tokens = {role: api_token(session, user) for role, user in users.items()}
    sent = []
    for _ in range(2):
        sent.append(new_id())
        reply = phone.submit(forum_meeting(governorate="baghdad", district="baghdad_karkh",
                                           instance_id=sent[-1], photos=("meeting.jpg",)),
                             {"meeting.jpg": jpeg()})
        assert reply.status == 201, reply.body
    case_id = str(uuid.uuid4())
    opening = incident_referral(governorate="baghdad", district="baghdad_karkh").replace(
        b"<meta>", f"<meta>{entity(case_id, create='1', label='INC baghdad')}".encode())
    assert phone.submit(opening).status == 201
    job = ExportJob(user_id=users["analyst"].id, form_id=programme["forum_meeting"].form.id,
                    format="csv")
    session.add(job)
    session.commit()
    values = {"xml_form_id": "forum_meeting", "name": "officer", "token": officer.token,
              "user_id": users["supervisor"].id, "filename": "muntada.css", "job_id": job.id,
              "suffix": "geojson", "table_name": "issue", "instance_id": sent[0],
              "spare_instance_id": sent[1], "api_tokens": api_tokens,
              "case_id": case_id}
    return values


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"OPTIONS"}):
            if method == "HEAD" and "GET" in rule.methods:
                continue
            yield rule, method


def test_every_route_has_its_line_in_the_table(app):
    found = {(rule.endpoint, method) for rule, method in routes(app)}
    assert found - set(EXPECTED) == set(), "routes without a line"
    assert set(EXPECTED) - found == set(), "lines for routes that do not exist"


def test_every_route_answers_each_role_as_the_table_says(app, world):
    mismatches = []
    for role in ROLES:
        caller = Caller(app, role, world["api_tokens"].get(role))
        ordered = sorted(routes(app), key=lambda rm: (
            LAST.index((rm[0].endpoint, rm[1])) if (rm[0].endpoint, rm[1]) in LAST else -1))
        for rule, method in ordered:
            values = dict(world, **OVERRIDES.get(rule.endpoint.split(".")[-1], {}))
            if values.get("instance_id") == "spare":
                values["instance_id"] = world["spare_instance_id"]
            path = rule.build({k: values[k] for k in rule.arguments}, append_unknown=False)[1]
            if rule.endpoint == "pages.diff":  # between a version and itself: nothing changed
                path += f"?from={values['instance_id']}&to={values['instance_id']}"
            if rule.endpoint == "api.start_export_job":
                path += "?format=no-such-format"
            outcome = caller.ask(method, path, rule.endpoint)
            expected = EXPECTED[(rule.endpoint, method)][role]
            if outcome != expected:
                mismatches.append(f"{role:13} {method:6} {path}: {outcome}, expected {expected}")
    assert not mismatches, "\n".join(mismatches)


class Caller:
    """A role as it reaches each surface: a signed-in browser for pages, the account's API token
    for the API, Basic over HTTPS with the account's password for OpenRosa."""

    def __init__(self, app, role: str, api_token: str | None):
        self.role = role
        self.browser = Browser(app, base_url="https://localhost")
        self.client = app.test_client()
        self.headers = {"X-OpenRosa-Version": "1.0"}
        self.api_headers = {}
        if role != "anonymous":
            assert self.browser.sign_in(role).status_code == 302, role
            password = base64.b64encode(f"{role}:{PASSWORD}".encode()).decode()
            self.headers["Authorization"] = f"Basic {password}"
            self.api_headers["Authorization"] = f"Bearer {api_token}"
        else:
            self.browser.get("/login")

    def ask(self, method: str, path: str, endpoint: str) -> str:
        if endpoint.startswith(("api.", "collect", "peers.")):
            headers = self.headers if endpoint.startswith("collect") else self.api_headers
            response = self.client.open(path, method=method, headers=headers,
                                        base_url="https://localhost")
        elif method == "GET":
            response = self.browser.get(path)
        else:
            response = self.browser.post(path, POST_BODIES.get(
                endpoint, {"role": "no such role", "lang": "en"}))
        response.close()  # files (static, media) are streamed
        return outcome_of(response)


def outcome_of(response) -> str:
    if response.status_code in (301, 302, 303) and \
            response.headers.get("Location", "").startswith("/login"):
        return LOGIN
    if response.status_code in (401, 403, 404):
        return str(response.status_code)
    return OK
