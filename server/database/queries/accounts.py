"""App users (officers' phones) and web users."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.database.models import AppUser, User


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
