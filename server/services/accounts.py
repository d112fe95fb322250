"""Creating and revoking the accounts that reach the server: app users (officers' phones) and web
users (administrators, supervisors, analysts)."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy.orm import Session, object_session

from server.database.models import ROLES, AppUser, AppUserPlace, User, UserScope, utcnow
from server.database.queries import accounts as account_queries
from server.database.queries import field_offices as field_office_queries
from server.database.queries import forms as form_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.access import SCOPE_KINDS

# Digest authentication hashes the realm into the stored HA1: changing it invalidates passwords.
# Only app users have an HA1 (Collect on plain HTTP can do nothing else); a web user has the
# Argon2id hash alone, and scripts use API tokens: a copied database gives no password away at
# MD5 speed.
REALM = "Muntada"
# Argon2id with OWASP's minimum profile (19 MiB, 2 passes): strong, yet Basic authentication on
# every phone request stays cheap on a 2-core field-office machine.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def normalise_name(name: str) -> str:
    # NFKC first: full-width or compatibility forms of a name are the same name
    return unicodedata.normalize("NFKC", name).strip().casefold()


def canonical_email(email: str) -> str:
    """One spelling per mailbox: case, compatibility forms and a `+tag` make no new account."""
    local, at, domain = normalise_name(email).partition("@")
    return f"{local.split('+', 1)[0]}{at}{domain}"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


def digest_ha1(username: str, password: str) -> str:
    # RFC 2617 needs MD5(user:realm:password) on the server; that is all Digest can offer.
    # App users only (see REALM).
    return hashlib.md5(f"{username}:{REALM}:{password}".encode()).hexdigest()


def create_app_user(session: Session, name: str, *, form_ids: Sequence[str] = (),
                    password: str | None = None,
                    places: Sequence[tuple[str, str]] = ()) -> AppUser:
    """An app user with a fresh token; limited to `form_ids` when given, else every form;
    receiving the cases of `places` (governorates and forums; none: no case)."""
    name = normalise_name(name)
    if not name:
        raise Problem(problems.INVALID_FIELD, field="name", reason="it is empty")
    if account_queries.app_user_by_name(session, name, active=False) is not None:
        raise Problem(problems.APP_USER_EXISTS, name=name)
    forms = list(form_queries.forms_by_ids(session, form_ids))
    unknown = sorted(set(form_ids) - {f.xml_form_id for f in forms})
    if unknown:
        raise Problem(problems.FORM_NOT_FOUND, form_id=", ".join(unknown))
    app_user = AppUser(name=name, token=new_token(), all_forms=not form_ids, forms=forms)
    if password:
        set_app_user_password(app_user, password)
    set_app_user_places(app_user, places)
    session.add(app_user)
    session.flush()
    app_user_changed(app_user)
    return app_user


def app_user_changed(app_user: AppUser) -> None:
    """Logged for the field offices whose phones it may be (headquarters sends it down)."""
    session = object_session(app_user)
    if session is not None and app_user.id is not None:
        field_office_queries.log_change(session, "app_user", app_user.id)


def set_app_user_places(app_user: AppUser, places: Sequence[tuple[str, str]]) -> None:
    """The governorates and forums whose cases the phone receives (and may update), replacing
    those it had. Its next list download, or integrity check, drops the cases of places removed:
    the lists are made per request from the places, so nothing made earlier keeps them."""
    wanted = {(kind, value.strip()) for kind, value in places if value.strip()}
    bad = sorted(kind for kind, _ in wanted if kind not in SCOPE_KINDS)
    if bad:
        raise Problem(problems.INVALID_FIELD, field="place",
                      reason=f"must be one of {', '.join(SCOPE_KINDS)}")
    too_long = sorted(value for _, value in wanted if len(value) > 255)
    if too_long:
        raise Problem(problems.INVALID_FIELD, field="place",
                      reason="a place name has at most 255 characters")
    kept = {(p.kind, p.value): p for p in app_user.places}
    app_user.places = [kept.get((kind, value)) or AppUserPlace(kind=kind, value=value)
                       for kind, value in sorted(wanted)]
    app_user_changed(app_user)


def set_app_user_password(app_user: AppUser, password: str) -> None:
    app_user.password_hash = hash_password(password)
    app_user.digest_ha1 = digest_ha1(app_user.name, password)


def active_app_user(session: Session, name: str) -> AppUser:
    app_user = account_queries.app_user_by_name(session, normalise_name(name))
    if app_user is None:
        raise Problem(problems.APP_USER_NOT_FOUND, name=name)
    return app_user


def revoke_app_user(session: Session, name: str) -> AppUser:
    app_user = active_app_user(session, name)
    app_user.token = None
    app_user.password_hash = None
    app_user.digest_ha1 = None
    app_user.revoked_at = utcnow()
    app_user_changed(app_user)
    return app_user


def new_token() -> str:
    return secrets.token_urlsafe(48)  # 64 characters, like ODK Central's app user tokens


def create_user(session: Session, username: str, password: str, role: str, *,
                email: str | None = None, personal_data: bool = False,
                scopes: Sequence[tuple[str, str]] = ()) -> User:
    username = normalise_name(username)
    if role not in ROLES:
        raise Problem(problems.INVALID_FIELD, field="role",
                      reason=f"must be one of {', '.join(ROLES)}")
    if not username or "@" in username:
        raise Problem(problems.INVALID_FIELD, field="username",
                      reason="it is empty or contains @")
    check_new_password(password)
    email = canonical_email(email) if email else None
    if account_queries.user_by_username(session, username, active=False) is not None or (
            email and account_queries.user_by_email(session, email) is not None):
        raise Problem(problems.USER_EXISTS, name=username)
    user = User(username=username, email=email, role=role, personal_data=personal_data,
                password_hash=hash_password(password))
    set_scopes(user, scopes)
    session.add(user)
    session.flush()
    return user


def check_new_password(password: str) -> None:
    if len(password) < 10:
        raise Problem(problems.INVALID_FIELD, field="password",
                      reason="it must have at least 10 characters")


def set_password(user: User, password: str) -> None:
    check_new_password(password)
    user.password_hash = hash_password(password)
    user.session_epoch += 1  # every other browser signed in as this user is signed out


def set_scopes(user: User, scopes: Sequence[tuple[str, str]]) -> None:
    wanted = {(kind, value.strip()) for kind, value in scopes if value.strip()}
    bad = sorted(kind for kind, _ in wanted if kind not in SCOPE_KINDS)
    if bad:
        raise Problem(problems.INVALID_FIELD, field="scope",
                      reason=f"must be one of {', '.join(SCOPE_KINDS)}")
    user.scopes = [UserScope(kind=kind, value=value) for kind, value in sorted(wanted)]


def login_account(session: Session, identifier: str) -> tuple[str, User | None]:
    """The account a login form names, by user name or e-mail, and the key its failed logins
    are counted under: every spelling of one account shares one key."""
    if "@" in identifier:
        email = canonical_email(identifier)
        user = account_queries.user_by_email(session, email)
        return (user.username if user else email), user
    username = normalise_name(identifier)
    return username, account_queries.user_by_username(session, username)
