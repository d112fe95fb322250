"""Administrators manage web users: role, places in scope, the personal-data permission."""

from __future__ import annotations

import secrets

from flask import g, redirect, render_template, request, url_for

from server.database import per_request
from server.database.models import ROLES, utcnow
from server.database.queries import accounts as account_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import access, audit
from server.services.accounts import create_user, set_password, set_scopes
from server.services.exports import jobs
from server.surfaces.pages import bp, require
from server.surfaces.pages.downloads import workshop


@bp.get("/users")
@require("users.manage")
def users_index():
    return render_template("users.html", users=account_queries.list_users(per_request.session()))


@bp.route("/users/new", methods=["GET", "POST"])
@require("users.manage")
def new_user():
    if request.method == "GET":
        return render_template("user_form.html", user=None, roles=ROLES)
    db_session = per_request.session()
    password = request.form.get("password") or secrets.token_urlsafe(12)
    user = create_user(db_session, request.form.get("username", ""), password,
                       request.form.get("role", ""), email=request.form.get("email") or None,
                       personal_data=request.form.get("personal_data") == "on",
                       scopes=_scopes_from_form())
    user.key_holder = request.form.get("key_holder") == "on"
    audit.record(db_session, "user.created", user=g.user, address=request.remote_addr,
                 changed_user=user.username, role=user.role, personal_data=user.personal_data,
                 key_holder=user.key_holder, scopes=_scope_text(user))
    db_session.commit()
    return render_template("user_created.html", user=user,
                           password=None if request.form.get("password") else password)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require("users.manage")
def edit_user(user_id: int):
    db_session = per_request.session()
    user = account_queries.user_by_id(db_session, user_id, active=False)
    if user is None:
        raise Problem(problems.NOT_FOUND)
    if request.method == "GET":
        return render_template("user_form.html", user=user, roles=ROLES)
    role = request.form.get("role", user.role)
    personal = request.form.get("personal_data") == "on"
    holds_keys = request.form.get("key_holder") == "on"
    disabled = request.form.get("disabled") == "on"
    if role not in ROLES:
        raise Problem(problems.INVALID_FIELD, field="role", reason="unknown role")
    if user.id == g.user.id and (role != user.role or personal != user.personal_data
                                 or holds_keys != bool(user.key_holder) or disabled):
        # nobody raises (or lowers) their own rights: another administrator must
        raise Problem(problems.OWN_RIGHTS)
    before = {"role": user.role, "personal_data": user.personal_data,
              "key_holder": bool(user.key_holder), "scopes": _scope_text(user),
              "disabled": user.disabled_at is not None}
    user.role, user.personal_data, user.key_holder = role, personal, holds_keys
    set_scopes(user, _scopes_from_form())
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
        user.session_epoch += 1
    elif not disabled:
        user.disabled_at = None
    if request.form.get("password"):
        set_password(user, request.form["password"])
    after = {"role": user.role, "personal_data": user.personal_data,
             "key_holder": user.key_holder, "scopes": _scope_text(user),
             "disabled": user.disabled_at is not None}
    audit.record(db_session, "user.changed", user=g.user, address=request.remote_addr,
                 changed_user=user.username,
                 before=before, after=after, password_reset=bool(request.form.get("password")))
    db_session.commit()
    # export files written with rights just taken away are deleted now, not left for days
    jobs.sweep(workshop(), db_session, address=request.remote_addr)
    return redirect(url_for("pages.users_index"))


def _scopes_from_form() -> list[tuple[str, str]]:
    return [(kind, value) for kind in access.SCOPE_KINDS
            for value in request.form.get(f"scope_{kind}", "").replace(",", "\n").splitlines()]


def _scope_text(user) -> str:
    return ", ".join(f"{s.kind}:{s.value}" for s in user.scopes)
