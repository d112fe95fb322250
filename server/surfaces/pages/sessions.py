"""Signing in and out, changing one's password, choosing the interface language."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, make_response, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user

from server.database import per_request
from server.kernel import i18n, problems
from server.kernel.i18n import _
from server.kernel.problems import Problem
from server.services import audit, key_unlocks, throttle
from server.services.accounts import check_password, login_account, set_password
from server.services.auth import DUMMY_HASH
from server.surfaces.pages import bp


@bp.get("/")
def home():
    return redirect(url_for("pages.forms_index"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", next=local_path(request.args.get("next")))
    db_session = per_request.session()
    identifier = request.form.get("username", "")[:320]
    key, user = login_account(db_session, identifier)
    blocked = throttle.blocked_until(db_session, key)
    if blocked is not None:
        audit.record(db_session, "login.throttled", user=g.get("user"), username=key,
                     address=request.remote_addr)
        db_session.commit()
        message = _("Too many failed logins for this account. Try again after {until}.",
                    until=i18n.datetime_text(blocked, "short"))
        return render_template("login.html", error=message, next=local_path(
            request.form.get("next"))), 429
    password_hash = user.password_hash if user is not None else None
    if not (check_password(password_hash or DUMMY_HASH, request.form.get("password", ""))
            and password_hash):
        throttle.failed(db_session, key)
        audit.record(db_session, "login.failed", user=g.get("user"), username=key,
                     address=request.remote_addr)
        db_session.commit()
        return render_template("login.html", error=_("The user name or password is not correct."),
                               next=local_path(request.form.get("next"))), 401
    throttle.succeeded(db_session, key)
    session.clear()  # nothing from before the login survives it (session fixation)
    login_user(user)
    session.permanent = True
    g.user = user
    audit.record(db_session, "login", user=user, address=request.remote_addr)
    db_session.commit()
    return redirect(local_path(request.form.get("next")) or url_for("pages.home"))


@bp.post("/logout")
def logout():
    db_session = per_request.session()
    user = g.user
    user.session_epoch += 1  # a copied cookie dies with the session, not with the browser
    key_unlocks.lock_all(db_session, user, address=request.remote_addr)
    audit.record(db_session, "logout", user=user, address=request.remote_addr)
    db_session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("pages.login"))


@bp.route("/password", methods=["GET", "POST"])
def change_password():
    if request.method == "GET":
        return render_template("password.html")
    user = g.user
    current, new = request.form.get("current", ""), request.form.get("new", "")
    error = None
    if not check_password(user.password_hash, current):
        error = _("The current password is not correct.")
    elif new != request.form.get("repeat", ""):
        error = _("The two new passwords are not the same.")
    elif len(new) < 10:
        error = _("The new password must have at least 10 characters.")
    if error:
        return render_template("password.html", error=error), 400
    db_session = per_request.session()
    set_password(user, new)
    audit.record(db_session, "password.changed", user=user, address=request.remote_addr)
    db_session.commit()
    login_user(user)  # this browser stays signed in with the new epoch; others are signed out
    return render_template("password.html", done=True)


@bp.post("/language")
def choose_language():
    code = request.form.get("lang", "")
    if code not in i18n.LANGUAGES:
        raise Problem(problems.INVALID_FIELD, field="lang", reason="unknown language")
    if g.get("user") is not None:
        g.user.locale = code
        per_request.session().commit()
    target = local_path(request.form.get("next")) or url_for("pages.home")
    response = make_response(redirect(target))
    response.set_cookie(i18n.COOKIE, code, max_age=365 * 86400, samesite="Lax", httponly=True,
                        secure=request.is_secure)
    return response


def local_path(target: str | None) -> str | None:
    """`target` if it stays on this site: a login link must not send anyone elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return None
    return target
