"""SQL of accounts: web users, app users (phones) and API tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.database.models import (
    ApiToken,
    AppUser,
    AppUserPlace,
    User,
)

_PLACES = sa.select(AppUserPlace.kind, AppUserPlace.value).where(
    AppUserPlace.app_user_id == sa.bindparam("app_user_id"))


def app_user_places(connection, app_user_id: int) -> list[tuple[str, str]]:
    """(kind, value) of the governorates and forums whose cases the phone receives. A Core
    statement with its values as parameters: it runs on the submission path's writers too."""
    return [(row.kind, row.value)
            for row in connection.execute(_PLACES, {"app_user_id": app_user_id})]


def token_by_hash(session: Session, token_sha256: str) -> tuple[ApiToken, User] | None:
    row = session.execute(sa.select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(
        ApiToken.token_sha256 == token_sha256, ApiToken.revoked_at.is_(None))).first()
    return (row[0], row[1]) if row else None


def tokens_of(session: Session, user: User | None = None) -> Sequence[tuple[ApiToken, str]]:
    query = sa.select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return session.execute(query.order_by(User.username, ApiToken.name)).all()


def token_named(session: Session, user: User, name: str) -> ApiToken | None:
    return session.scalar(sa.select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.name == name, ApiToken.revoked_at.is_(None)))


def mark_token_used(session: Session, token_id: int, moment: datetime) -> None:
    session.execute(sa.update(ApiToken).where(ApiToken.id == token_id)
                    .values(last_used_at=moment))


def app_user_by_name(session: Session, name: str, *, active: bool = True) -> AppUser | None:
    query = select(AppUser).where(AppUser.name == name)
    if active:
        query = query.where(AppUser.revoked_at.is_(None))
    return session.scalar(query)


def list_app_users(session: Session) -> Sequence[AppUser]:
    return session.scalars(select(AppUser).order_by(AppUser.name)).all()


def user_by_username(session: Session, username: str, *, active: bool = True) -> User | None:
    query = select(User).where(User.username == username)
    if active:
        query = query.where(User.disabled_at.is_(None))
    return session.scalar(query)


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email, User.disabled_at.is_(None)))


def user_by_id(session: Session, user_id: int, *, active: bool = True) -> User | None:
    query = select(User).where(User.id == user_id)
    if active:
        query = query.where(User.disabled_at.is_(None))
    return session.scalar(query)


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()


def app_user_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {i: name for i, name in session.execute(
        sa.select(AppUser.id, AppUser.name).where(AppUser.id.in_(ids)))}


def app_user_name(session: Session, app_user_id: int | None) -> str | None:
    if app_user_id is None:
        return None
    return session.scalar(sa.select(AppUser.name).where(AppUser.id == app_user_id))
