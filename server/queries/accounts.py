"""App users (officers' phones) and web users."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import AppUser, User


def app_user_by_name(session: Session, name: str, *, active: bool = True) -> AppUser | None:
    query = select(AppUser).where(AppUser.name == name)
    if active:
        query = query.where(AppUser.revoked_at.is_(None))
    return session.scalar(query)


def list_app_users(session: Session) -> Sequence[AppUser]:
    return session.scalars(select(AppUser).order_by(AppUser.name)).all()


def user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(
        User.username == username, User.disabled_at.is_(None)))
