"""SQL of encryption keys, the form versions published with them, their unlocks for a session
and what decrypting each submission version showed."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    DecryptionCheck,
    EncryptionKey,
    Form,
    FormVersion,
    KeyUnlock,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
    User,
)


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


# ------------------------------------------------------------------------------ unlocks

def unlock_by_id(session: Session, unlock_id: int) -> KeyUnlock | None:
    return session.get(KeyUnlock, unlock_id)


def unlocks_of(session: Session, user_id: int, now: datetime) -> Sequence[KeyUnlock]:
    return session.scalars(sa.select(KeyUnlock).where(
        KeyUnlock.user_id == user_id, KeyUnlock.expires_at > now)).all()


def delete_unlocks(session: Session, *, user_id: int | None = None,
                   unlock_ids: Collection[int] = (), before: datetime | None = None) -> int:
    """A user's unlocks (at logout), some by id (locked), or all expired before a moment."""
    conditions = []
    if user_id is not None:
        conditions.append(KeyUnlock.user_id == user_id)
    if unlock_ids:
        conditions.append(KeyUnlock.id.in_(unlock_ids))
    if before is not None:
        conditions.append(KeyUnlock.expires_at <= before)
    if not conditions:
        return 0
    return session.execute(sa.delete(KeyUnlock).where(sa.or_(*conditions))).rowcount or 0


# ------------------------------------------------------------------------------ checks

def checks_of(session: Session, def_ids: Collection[int]) -> dict[int, DecryptionCheck]:
    if not def_ids:
        return {}
    return {c.submission_def_id: c for c in session.scalars(
        sa.select(DecryptionCheck).where(DecryptionCheck.submission_def_id.in_(def_ids)))}


def forget_projected(session: Session, form_id: int) -> None:
    """The form's tables were rebuilt from the raw records: no decrypted row is left in them."""
    session.execute(sa.update(DecryptionCheck).where(
        DecryptionCheck.projected.is_(True),
        DecryptionCheck.submission_def_id.in_(
            sa.select(SubmissionDef.id).where(SubmissionDef.form_id == form_id)))
        .values(projected=False))


def encrypted_current_defs(session: Session, key_id: int, *, form_id: int | None = None,
                           unprojected: bool = False, after_id: int = 0, limit: int = 500
                           ) -> Sequence[SubmissionDef]:
    """Current versions of submissions to versions published with the key, by id, a page at a
    time; `unprojected`: only those whose decrypted rows are not in the tables yet."""
    query = (sa.select(SubmissionDef)
             .join(Submission, Submission.current_def_id == SubmissionDef.id)
             .join(FormVersion, FormVersion.id == SubmissionDef.form_version_id)
             .where(FormVersion.encryption_key_id == key_id, SubmissionDef.id > after_id,
                    Submission.deleted_at.is_(None))
             .order_by(SubmissionDef.id).limit(limit))
    if form_id is not None:
        query = query.where(SubmissionDef.form_id == form_id)
    if unprojected:
        query = query.outerjoin(DecryptionCheck,
                                DecryptionCheck.submission_def_id == SubmissionDef.id).where(
            sa.or_(DecryptionCheck.projected.is_(None), DecryptionCheck.projected.is_(False)))
    return session.scalars(query).all()


def forms_of_key(session: Session, key_id: int) -> Sequence[Form]:
    """The forms with a version published with the key."""
    return session.scalars(sa.select(Form).where(Form.id.in_(
        sa.select(FormVersion.form_id).where(FormVersion.encryption_key_id == key_id)))
        .order_by(Form.xml_form_id)).all()


def count_outcomes(session: Session, form_id: int) -> dict[str, int]:
    """Decryption outcomes of the form's current submission versions, counted."""
    return dict(session.execute(
        sa.select(DecryptionCheck.outcome, sa.func.count())
        .join(Submission, Submission.current_def_id == DecryptionCheck.submission_def_id)
        .where(Submission.form_id == form_id, Submission.deleted_at.is_(None))
        .group_by(DecryptionCheck.outcome)).all())


def encryption_of_submissions(session: Session, submission_ids: Collection[int]
                              ) -> dict[int, tuple[int | None, str | None]]:
    """Of these submissions, those whose current version came encrypted (its envelope named
    `.enc` files): the key of its form version (None: a key this server does not hold) and
    the outcome its decryption showed, if it was ever decrypted. One query for a whole page."""
    if not submission_ids:
        return {}
    sealed = sa.exists().where(SubmissionAttachment.submission_def_id == SubmissionDef.id,
                               SubmissionAttachment.name.like("%.enc"))
    rows = session.execute(
        sa.select(Submission.id, FormVersion.encryption_key_id, DecryptionCheck.outcome)
        .join(SubmissionDef, SubmissionDef.id == Submission.current_def_id)
        .join(FormVersion, FormVersion.id == SubmissionDef.form_version_id)
        .outerjoin(DecryptionCheck, DecryptionCheck.submission_def_id == SubmissionDef.id)
        .where(Submission.id.in_(submission_ids), sealed))
    return {submission_id: (key_id, outcome) for submission_id, key_id, outcome in rows}
