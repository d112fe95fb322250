"""SQL of encryption keys and the form versions published with them."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import EncryptionKey, FormVersion, User


def key_by_name(session: Session, name: str) -> EncryptionKey | None:
    return session.scalar(sa.select(EncryptionKey).where(EncryptionKey.name == name))


def key_by_id(session: Session, key_id: int) -> EncryptionKey | None:
    return session.get(EncryptionKey, key_id)


def list_keys(session: Session) -> Sequence[tuple[EncryptionKey, str]]:
    """Every key with the user name of the key holder who made it, by name."""
    return session.execute(
        sa.select(EncryptionKey, User.username).join(User, User.id == EncryptionKey.created_by)
        .order_by(EncryptionKey.name)).all()


def last_key_of(session: Session, form_id: int) -> EncryptionKey | None:
    """The key of the form's newest version published with one, if any."""
    return session.scalar(
        sa.select(EncryptionKey)
        .join(FormVersion, FormVersion.encryption_key_id == EncryptionKey.id)
        .where(FormVersion.form_id == form_id).order_by(FormVersion.id.desc()).limit(1))
