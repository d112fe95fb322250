"""Administrators manage web users; nobody raises their own rights; the audit log tells."""

from __future__ import annotations

import re

import sqlalchemy as sa

from server.database.models import AuditEvent, User
from tests.support.web import Browser


def test_an_administrator_creates_a_scoped_supervisor_who_can_sign_in(app, browser_for, session):
    admin = browser_for("administrator", username="chief")
    admin.get("/users/new")

    response = admin.post("/users/new", {
        "username": "Layla", "email": "layla@example.org", "role": "supervisor",
        "scope_governorate": "baghdad\nnineveh", "scope_forum": "", "password": ""})

    assert response.status_code == 200
    password = re.search(r'class="secret">([^<]+)<', response.get_data(as_text=True)).group(1)
    session.rollback()
    layla = session.scalar(sa.select(User).where(User.username == "layla"))
    assert layla.role == "supervisor" and not layla.personal_data
    assert sorted((s.kind, s.value) for s in layla.scopes) == [
        ("governorate", "baghdad"), ("governorate", "nineveh")]
    assert Browser(app).sign_in("layla@example.org", password).status_code == 302
    event = session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "user.created")).one()
    assert event.username == "chief" and '"changed_user": "layla"' in event.details


def test_an_administrator_grants_personal_data_and_the_change_is_audited(browser_for, make_user,
                                                                         session):
    layla = make_user("layla", "supervisor")
    admin = browser_for("administrator")

    admin.post(f"/users/{layla.id}", {"role": "supervisor", "personal_data": "on",
                                      "scope_governorate": "basra"})

    session.rollback()
    session.refresh(layla)
    assert layla.personal_data and [(s.kind, s.value) for s in layla.scopes] == [
        ("governorate", "basra")]
    details = session.scalars(sa.select(AuditEvent.details).where(
        AuditEvent.action == "user.changed")).one()
    assert '"personal_data": false' in details and '"personal_data": true' in details


def test_an_administrator_makes_an_analyst_a_key_holder_on_the_page(browser_for, make_user,
                                                                     session):
    """Holding the keys of encrypted forms is granted per user, like personal data."""
    nour = make_user("nour", "analyst")
    admin = browser_for("administrator")
    assert 'name="key_holder"' in admin.get(f"/users/{nour.id}").get_data(as_text=True)

    admin.post(f"/users/{nour.id}", {"role": "analyst", "key_holder": "on"})

    session.rollback()
    session.refresh(nour)
    assert nour.key_holder and not nour.personal_data
    details = session.scalars(sa.select(AuditEvent.details).where(
        AuditEvent.action == "user.changed")).one()
    assert '"key_holder": false' in details and '"key_holder": true' in details
    # and taken away again by leaving the box empty
    admin.post(f"/users/{nour.id}", {"role": "analyst"})
    session.rollback()
    session.refresh(nour)
    assert not nour.key_holder


def test_nobody_makes_themselves_a_key_holder(browser_for, session):
    admin = browser_for("administrator", username="chief")
    chief = session.scalar(sa.select(User).where(User.username == "chief"))

    response = admin.post(f"/users/{chief.id}", {"role": "administrator", "key_holder": "on"})

    assert response.status_code == 403
    session.rollback()
    session.refresh(chief)
    assert not chief.key_holder


def test_nobody_raises_their_own_rights(browser_for, session):
    admin = browser_for("administrator", username="chief")
    chief = session.scalar(sa.select(User).where(User.username == "chief"))

    response = admin.post(f"/users/{chief.id}", {"role": "administrator", "personal_data": "on"})

    assert response.status_code == 403 and "403.5" in response.get_data(as_text=True)
    session.rollback()
    session.refresh(chief)
    assert not chief.personal_data


def test_a_supervisor_cannot_touch_users_even_their_own(browser_for, session):
    supervisor = browser_for("supervisor", username="layla")
    layla = session.scalar(sa.select(User).where(User.username == "layla"))

    assert supervisor.get("/users").status_code == 403
    raised = supervisor.post(f"/users/{layla.id}", {"role": "administrator"})

    assert raised.status_code == 403
    session.rollback()
    session.refresh(layla)
    assert layla.role == "supervisor"


def test_a_second_account_with_the_same_name_or_mailbox_is_refused(browser_for, make_user):
    make_user("layla", "supervisor", email="layla@example.org")
    admin = browser_for("administrator")
    for username, email in (("LAYLA", ""), ("someone", "Layla+2@example.org")):
        response = admin.post("/users/new", {"username": username, "email": email,
                                             "role": "analyst", "password": "x" * 12})
        assert response.status_code == 409, (username, email)


def test_the_audit_log_is_filtered_by_action_user_and_day(app, browser_for, make_user):
    make_user("layla", "supervisor")
    Browser(app).sign_in("layla", "wrong password")
    Browser(app).sign_in("layla")
    admin = browser_for("administrator", username="chief")

    def rows(query: str) -> str:
        page = admin.get(f"/audit{query}").get_data(as_text=True)
        return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]

    everything, failures = rows(""), rows("?action=login.failed")
    laylas, future = rows("?user=layla"), rows("?from=2999-01-01")

    assert everything.count("<tr>") == 3  # layla failed, layla signed in, chief signed in
    assert failures.count("<code>login.failed</code>") == 1 and "chief" not in failures
    assert laylas.count("<tr>") == 2
    assert "<code>login" not in future


def test_only_administrators_read_the_audit_log(browser_for):
    assert browser_for("supervisor").get("/audit").status_code == 403
    assert browser_for("analyst").get("/audit").status_code == 403
