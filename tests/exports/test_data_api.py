"""The data API as an analyst's script uses it: tokens, keyset pages, filters, scope, incremental
pulls, JSON problems, the audit log and the OpenAPI description."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from openapi_spec_validator import validate

from server.database.models import AuditEvent
from server.surfaces.cli import main
from tests.exports.conftest import FORM_ID, Analyst

DATA = f"/api/v1/forms/{FORM_ID}/submissions"


@pytest.fixture
def muntada(database, app, monkeypatch):
    """The command line on this test's database and secret."""
    monkeypatch.setenv("MUNTADA_DATA_DIR", app.config["DATA_DIR"])
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("MUNTADA_SECRET_KEY", app.config["SECRET_KEY"])

    def run(*args: str, expect: int = 0):
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == expect, result.output
        return result.output
    return run


def test_a_script_pulls_every_row_a_page_at_a_time_with_a_token(
        form, send, make_analyst, client, muntada):
    keys = {send() for _ in range(5)}
    make_analyst("analyst")
    token = muntada("api-tokens", "create", "analyst", "nightly-pull").strip()
    script = Analyst(client, "analyst", token=token)

    seen, after, pages = [], None, 0
    while True:
        page = script.page(limit=2, **({"after": after} if after else {}))
        seen += [row["KEY"] for row in page["value"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
        assert page["nextUrl"].endswith(f"after={after.replace(':', '%3A')}")

    assert pages == 3 and sorted(seen) == sorted(keys) and len(seen) == 5
    assert "nightly-pull\tactive" in muntada("api-tokens", "list", "analyst")


def test_pages_default_to_100_and_stop_at_1000(form, send, analyst):
    send()
    assert analyst.page()["count"] == 1
    response = analyst.get(DATA, query_string={"limit": 1001})
    assert response.status_code == 400 and response.get_json()["code"] == "400.5"


def test_repeat_rows_and_typed_json_values(form, send, analyst):
    key = send(issues=(("Lights", "2"),), score="2.25")

    (row,) = analyst.page()["value"]
    (issue,) = analyst.page("issue")["value"]

    assert row["score"] == 2.25 and row["police-women"] == 3
    assert row["reported_at"] == "2026-11-20T07:15:00.000Z" and row["meeting_date"] == "2026-11-20"
    assert issue == {"description": "Lights", "count": 2, "PARENT_KEY": key,
                     "KEY": f"{key}/issue[1]"}
    response = analyst.get(f"{DATA}/nothing")
    assert response.status_code == 400 and response.get_json()["code"] == "400.23"


def test_filters_on_places_dates_states_versions_and_field_values(form, send, review, analyst):
    baghdad = send(governorate="baghdad", women="3")
    erbil = send(governorate="erbil", women="12")
    review(erbil, "approved")

    def keys(**query):
        return {row["KEY"] for row in analyst.page(**query)["value"]}

    assert keys(governorate="erbil") == {erbil}
    assert keys(reviewState="approved") == {erbil}
    assert keys(reviewState=["approved", "received"]) == {baghdad, erbil}
    assert keys(where="police-women>=10") == {erbil}
    assert keys(where=["women<10", "governorate=baghdad"]) == {baghdad}
    assert keys(where="notes~LIGHT") == {baghdad, erbil} and keys(where="notes~dark") == set()
    assert keys(formVersion="2") == set()
    assert keys(submittedFrom="2000-01-01") == {baghdad, erbil}
    assert keys(submittedTo="2000-01-01") == set()
    bad = analyst.get(DATA, query_string={"where": "women>=many"})
    assert bad.status_code == 400 and bad.get_json()["code"] == "400.21"
    unknown = analyst.get(DATA, query_string={"where": "nothing=1"})
    assert unknown.get_json()["code"] == "400.20"


def test_a_field_of_a_repeat_filters_the_submissions_with_a_matching_row(form, send, analyst):
    many = send(issues=(("Lights", "2"), ("Water", "9")))
    few = send(issues=(("Lights", "1"),))
    send(issues=())

    def keys(*where):
        return {row["KEY"] for row in analyst.page(where=list(where))["value"]}

    assert keys("count>=5") == {many}
    assert keys("description=Lights") == {many, few}
    assert keys("description~wat", "count>=2") == {many}
    # filters choose submissions: a repeat's page holds every row of those chosen
    issues = analyst.page("issue", where="count>=5")["value"]
    assert sorted(i["description"] for i in issues) == ["Lights", "Water"]
    assert {i["PARENT_KEY"] for i in issues} == {many}


def test_an_incremental_pull_returns_only_what_changed_since_the_last(
        form, send, review, analyst, session):
    first = send()
    cursor = analyst.page()["cursor"]
    # the cursor is taken a minute early (a transaction still open then must not be missed):
    # move the first pull's rows back in time, as if that minute had passed
    _age(session, minutes=5)
    second = send()
    assert {r["KEY"] for r in analyst.page(since=cursor)["value"]} == {second}
    _age(session, minutes=5)  # now both are older than the cursor...
    review(first, "approved")  # ...and a review brings the first back
    assert {r["KEY"] for r in analyst.page(since=cursor)["value"]} == {first}


def _age(session, minutes: int) -> None:
    from server.database import projection
    from server.database.models import Submission
    from server.database.queries import forms as form_queries

    session.rollback()
    root = projection.load(session, form_queries.get_form(session, FORM_ID)).root
    sqlite = session.get_bind().dialect.name == "sqlite"

    def earlier(column):
        return (sa.func.datetime(column, f"-{minutes} minutes") if sqlite
                else column - sa.text(f"interval '{minutes} minutes'"))
    session.execute(sa.update(root).values(_submitted_at=earlier(root.c._submitted_at),
                                           _updated_at=earlier(root.c._updated_at)))
    session.execute(sa.update(Submission).values(reviewed_at=earlier(Submission.reviewed_at)))
    session.commit()


def test_a_scoped_analyst_sees_only_their_places(form, send, make_analyst):
    send(governorate="baghdad")
    erbil = send(governorate="erbil")
    scoped = make_analyst("erbil-analyst", scopes=[("governorate", "erbil")])

    assert [r["KEY"] for r in scoped.page()["value"]] == [erbil]
    assert [r["KEY"] for r in scoped.csv_zip()[f"{FORM_ID}.csv"]] == [erbil]


def test_who_may_read_and_with_what(form, send, make_analyst, client, muntada):
    send()
    analyst = make_analyst("analyst")
    supervisor = make_analyst("supervisor", role="supervisor")
    make_analyst("admin", role="administrator")

    assert supervisor.get(DATA).status_code == 403
    # analysts list the forms there is data of, but do not manage forms or app users
    assert [f["xmlFormId"] for f in analyst.get("/api/v1/data/forms").get_json()] == [FORM_ID]
    assert analyst.get("/api/v1/forms").status_code == 403
    assert analyst.get("/api/v1/app-users").status_code == 403
    assert analyst.client.patch(f"/api/v1/forms/{FORM_ID}", json={"state": "closed"},
                                headers=analyst.headers,
                                base_url="https://localhost").status_code == 403

    token = muntada("api-tokens", "create", "admin", "script").strip()
    with_token = Analyst(client, "admin", token=token)
    assert with_token.get(DATA).status_code == 200
    # an administrator's token opens the administrators' routes too: the API takes no password
    assert with_token.get("/api/v1/app-users").status_code == 200
    muntada("api-tokens", "revoke", "admin", "script")
    revoked = with_token.get(DATA)
    assert revoked.status_code == 401 and revoked.get_json()["code"] == "401.20"
    assert Analyst(client, "x", token="mnt_forged").get(DATA).status_code == 401
    muntada("api-tokens", "create", "supervisor", "nope", expect=1)


def test_every_read_is_in_the_audit_log(form, send, analyst, session):
    send()
    analyst.page()
    analyst.export("xlsx", governorate="baghdad")

    session.rollback()
    events = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.username, e.action) for e in events] == [
        ("analyst", "api.data_read"), ("analyst", "export.downloaded")]
    assert '"governorates": ["baghdad"]' in events[1].details
    assert '"format": "xlsx"' in events[1].details


def test_the_openapi_description_is_valid_and_public(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    document = response.get_json()
    validate(document)
    parameters = {p["name"] for p in
                  document["paths"]["/forms/{xml_form_id}/submissions"]["get"]["parameters"]}
    assert {"limit", "after", "since", "where", "governorate", "reviewState"} <= parameters
