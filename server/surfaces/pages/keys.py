"""`/keys`: a key holder's keys. Each can be unlocked for this session with its passphrase (and
locked again); the forms published with it are listed, with how many of their submissions did
not decrypt cleanly. Unlocking puts the decrypted rows of forms whose `decrypted_rows` is on
into the tables (`server.services.decryption`), and so does the button that decrypts what came
since.

The cookie carries each unlock's token (`server.services.key_unlocks`): `unlocked_keys` reads
them for the submission page and the downloads page.
"""

from __future__ import annotations

from flask import current_app, g, redirect, render_template, request, session, url_for

from server.database import per_request
from server.database.queries import field_offices as field_office_queries
from server.database.queries import keys as key_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import access, decryption, key_unlocks, keys
from server.surfaces.pages import bp, require

_COOKIE_FIELD = "keys"  # {key id: unlock token}


def unlocked_keys() -> dict[int, key_unlocks.Unlocked]:
    """The keys this session has unlocked and that are still open, by key id; forgets the rest."""
    tokens = session.get(_COOKIE_FIELD) or {}
    if not tokens or g.get("user") is None or not access.holds_keys(g.user):
        return {}
    open_keys = {}
    for token in tokens.values():
        unlocked = key_unlocks.opened(per_request.session(), g.user, str(token))
        if unlocked is not None:
            open_keys[unlocked.key_id] = unlocked
    if len(open_keys) != len(tokens):
        session[_COOKIE_FIELD] = {str(k): tokens[str(k)] for k in open_keys if str(k) in tokens}
    return open_keys


def _key_holder() -> None:
    if not access.holds_keys(g.user):
        raise Problem(problems.NOT_KEY_HOLDER, username=g.user.username)


@bp.get("/keys")
@require("submissions.read")
def keys_page():
    _key_holder()
    return _render()


@bp.post("/keys/<name>/unlock")
@require("submissions.read")
def unlock_key(name: str):
    _key_holder()
    db_session = per_request.session()
    key = keys.key_named(db_session, name)
    try:
        _row, token = key_unlocks.unlock(
            db_session, key, request.form.get("passphrase", ""), g.user,
            minutes=current_app.config["KEY_UNLOCK_MINUTES"], address=request.remote_addr)
    except key_unlocks.WrongPassphrase as wrong:
        db_session.commit()  # the failure counted and audited even though nothing opened
        return _render(error=wrong.message, failed=name), wrong.status
    tokens = dict(session.get(_COOKIE_FIELD) or {})
    tokens[str(key.id)] = token
    session[_COOKIE_FIELD] = tokens
    opened = key_unlocks.opened(db_session, g.user, token)
    projected = decryption.decrypt_into_tables(
        db_session, current_app.extensions["blobs"], key, opened.private_key, g.user,
        address=request.remote_addr)
    db_session.commit()
    return _render(unlocked=name, projected=projected)


@bp.post("/keys/<name>/decrypt")
@require("submissions.read")
def decrypt_rows(name: str):
    """Decrypt into the tables what arrived since the key was unlocked (phones send all day)."""
    _key_holder()
    db_session = per_request.session()
    key = keys.key_named(db_session, name)
    unlocked = unlocked_keys().get(key.id)
    if unlocked is None:
        raise Problem(problems.KEY_LOCKED, name=key.name)
    projected = decryption.decrypt_into_tables(
        db_session, current_app.extensions["blobs"], key, unlocked.private_key, g.user,
        address=request.remote_addr)
    db_session.commit()
    return _render(projected=projected, decrypted=name)


@bp.post("/keys/<name>/lock")
@require("submissions.read")
def lock_key(name: str):
    _key_holder()
    db_session = per_request.session()
    key = keys.key_named(db_session, name)
    unlocked = unlocked_keys().get(key.id)
    if unlocked is not None:
        key_unlocks.lock(db_session, g.user, unlocked, address=request.remote_addr)
        db_session.commit()
    tokens = dict(session.get(_COOKIE_FIELD) or {})
    tokens.pop(str(key.id), None)
    session[_COOKIE_FIELD] = tokens
    return redirect(url_for("pages.keys_page"), 303)


def _render(**notice):
    db_session = per_request.session()
    open_keys = unlocked_keys()
    listed = []
    for key, holder in keys.list_keys(db_session):
        forms = [(form, key_queries.count_outcomes(db_session, form.id))
                 for form in key_queries.forms_of_key(db_session, key.id)]
        listed.append((key, holder, keys.fingerprint(key), open_keys.get(key.id), forms))
    return render_template(
        "keys.html", keys=listed, flagged=decryption.FLAGGED,
        field_office=field_office_queries.headquarters(db_session) is not None, **notice)
