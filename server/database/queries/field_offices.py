"""SQL of field offices and their sync with headquarters: the peers, the append-only log of
changes and its sequencer, what an item is read from, refusals, review conflicts and bundles."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    AppUser,
    AppUserForm,
    AppUserPlace,
    CaseEvent,
    Entity,
    EntityActionRecord,
    EntityList,
    Form,
    FormMedia,
    FormVersion,
    ReviewComment,
    Submission,
    SubmissionAttachment,
    SubmissionDef,
    SyncBundle,
    SyncConflict,
    SyncLog,
    SyncPeer,
    SyncRefusal,
    User,
    utcnow,
)

_log = SyncLog.__table__

# The submission path writes with Core statements on any writer (see queries.arrivals): every
# value a parameter, none named like a column it sets.
_LOG = sa.insert(_log).values(kind=sa.bindparam("log_kind"), ref=sa.bindparam("log_ref"),
                              peer_id=sa.bindparam("log_peer", type_=sa.Integer),
                              created_at=sa.bindparam("log_at"))


def log_change(writer, kind: str, ref: str | int, peer_id: int | None = None,
               at: datetime | None = None) -> None:
    """A change, logged in its own transaction, not yet numbered (`number_changes`)."""
    writer.execute(_LOG, {"log_kind": kind, "log_ref": str(ref), "log_peer": peer_id,
                          "log_at": at or utcnow()})


def number_changes(session: Session, *, postgresql: bool) -> int:
    """Number the committed changes that have none yet, in the order they were logged, and
    return the last number. Under a lock: two readers never hand out one number twice."""
    if postgresql:
        session.execute(sa.text("SELECT pg_advisory_xact_lock(7164421)"))
    last = session.scalar(sa.select(sa.func.coalesce(sa.func.max(SyncLog.seq), 0))) or 0
    ids = session.scalars(sa.select(SyncLog.id).where(SyncLog.seq.is_(None))
                          .order_by(SyncLog.id)).all()
    if ids:
        session.connection().execute(
            sa.update(_log).where(_log.c.id == sa.bindparam("log_id"))
            .values(seq=sa.bindparam("log_seq")),
            [{"log_id": i, "log_seq": last + n} for n, i in enumerate(ids, 1)])
        last += len(ids)
    return last


def last_seq(session: Session) -> int:
    return session.scalar(sa.select(sa.func.coalesce(sa.func.max(SyncLog.seq), 0))) or 0


def changes_after(session: Session, after: int, kinds: Collection[str], *,
                  not_from: int | None, limit: int) -> Sequence[sa.Row]:
    """Numbered changes after `after`, of those kinds, except those that came from `not_from`
    (never sent back where they came from)."""
    query = sa.select(SyncLog.seq, SyncLog.kind, SyncLog.ref).where(
        SyncLog.seq > after, SyncLog.kind.in_(kinds))
    if not_from is not None:
        query = query.where(sa.or_(SyncLog.peer_id.is_(None), SyncLog.peer_id != not_from))
    return session.execute(query.order_by(SyncLog.seq).limit(limit)).all()


def count_after(session: Session, after: int, kinds: Collection[str], *,
                not_from: int | None) -> int:
    query = sa.select(sa.func.count()).select_from(_log).where(
        _log.c.seq > after, _log.c.kind.in_(kinds))
    if not_from is not None:
        query = query.where(sa.or_(_log.c.peer_id.is_(None), _log.c.peer_id != not_from))
    return session.scalar(query) or 0


def count_unnumbered(session: Session, kinds: Collection[str], *,
                     not_from: int | None) -> int:
    """Changes committed since the log was last numbered (`count_after` cannot see them)."""
    query = sa.select(sa.func.count()).select_from(_log).where(
        _log.c.seq.is_(None), _log.c.kind.in_(kinds))
    if not_from is not None:
        query = query.where(sa.or_(_log.c.peer_id.is_(None), _log.c.peer_id != not_from))
    return session.scalar(query) or 0


# Peers -----------------------------------------------------------------------------------------

def peer_by_token(session: Session, token_sha256: str) -> SyncPeer | None:
    return session.scalar(sa.select(SyncPeer).where(SyncPeer.token_sha256 == token_sha256,
                                                    SyncPeer.revoked_at.is_(None)))


def peer_by_name(session: Session, name: str) -> SyncPeer | None:
    return session.scalar(sa.select(SyncPeer).where(SyncPeer.name == name))


def headquarters(session: Session) -> SyncPeer | None:
    return session.scalar(sa.select(SyncPeer).where(SyncPeer.role == "headquarters",
                                                    SyncPeer.revoked_at.is_(None)))


def offices(session: Session) -> Sequence[SyncPeer]:
    return session.scalars(sa.select(SyncPeer).where(SyncPeer.role == "office")
                           .order_by(SyncPeer.name)).all()


def lock_peer(session: Session, peer_id: int) -> SyncPeer:
    """The peer's row, locked: one sync of an office at a time moves its cursors."""
    return session.scalars(sa.select(SyncPeer).where(SyncPeer.id == peer_id)
                           .with_for_update().execution_options(populate_existing=True)).one()


# What items are read from ----------------------------------------------------------------------

def submission_versions(session: Session, def_ids: Collection[int]) -> dict[int, sa.Row]:
    """Versions as they travel, by id: their XML, form, sender and times (one query for a
    page of the log, not one per change)."""
    if not def_ids:
        return {}
    rows = session.execute(
        sa.select(SubmissionDef.id, SubmissionDef.xml, SubmissionDef.xml_sha256,
                  SubmissionDef.instance_id, SubmissionDef.device_id, SubmissionDef.user_agent,
                  SubmissionDef.created_at, Form.xml_form_id, FormVersion.version,
                  AppUser.name.label("sender"), AppUser.peer_id.label("sender_peer"),
                  AppUser.id.label("sender_id"),
                  Submission.deleted_at)
        .join(Form, Form.id == SubmissionDef.form_id)
        .join(FormVersion, FormVersion.id == SubmissionDef.form_version_id)
        .join(Submission, Submission.id == SubmissionDef.submission_id)
        .outerjoin(AppUser, AppUser.id == SubmissionDef.submitter_id)
        .where(SubmissionDef.id.in_(sorted(set(def_ids))))).all()
    return {row.id: row for row in rows}


def versions_files(session: Session, def_ids: Collection[int]
                   ) -> dict[int, list[tuple[str, str | None]]]:
    """Each version's files (name, SHA-256 or None while missing), in their order."""
    files: dict[int, list[tuple[str, str | None]]] = {}
    if not def_ids:
        return files
    for def_id, name, sha in session.execute(
            sa.select(SubmissionAttachment.submission_def_id, SubmissionAttachment.name,
                      SubmissionAttachment.blob_sha256)
            .where(SubmissionAttachment.submission_def_id.in_(sorted(set(def_ids))))
            .order_by(SubmissionAttachment.submission_def_id,
                      SubmissionAttachment.position)).all():
        files.setdefault(def_id, []).append((name, sha))
    return files


def attachment_of(session: Session, def_id: int, name: str) -> sa.Row | None:
    return session.execute(
        sa.select(SubmissionAttachment.blob_sha256, SubmissionDef.instance_id,
                  Form.xml_form_id)
        .join(SubmissionDef, SubmissionDef.id == SubmissionAttachment.submission_def_id)
        .join(Form, Form.id == SubmissionDef.form_id)
        .where(SubmissionAttachment.submission_def_id == def_id,
               SubmissionAttachment.name == name)).first()


def comment_for_sync(session: Session, comment_id: int) -> sa.Row | None:
    return session.execute(
        sa.select(ReviewComment, Submission.instance_id, Submission.id.label("submission_id"),
                  Form.xml_form_id, User.username)
        .join(Submission, Submission.id == ReviewComment.submission_id)
        .join(Form, Form.id == Submission.form_id)
        .outerjoin(User, User.id == ReviewComment.user_id)
        .where(ReviewComment.id == comment_id)).first()


def comments_of(session: Session, submission_id: int, *, before: int | None = None
                ) -> Sequence[sa.Row]:
    """A submission's review comments (those before `before`, the ones its author knew of),
    with their authors' names, as reviews are named at both ends; answers from phones are the
    submissions that bring them, not reviews."""
    query = sa.select(ReviewComment, User.username).outerjoin(
        User, User.id == ReviewComment.user_id).where(
        ReviewComment.submission_id == submission_id,
        ReviewComment.answer_submission_id.is_(None))
    if before is not None:
        query = query.where(ReviewComment.id < before)
    return session.execute(query.order_by(ReviewComment.id)).all()


def submission_of(session: Session, xml_form_id: str, instance_id: str) -> Submission | None:
    return session.scalar(sa.select(Submission).join(Form, Form.id == Submission.form_id).where(
        Form.xml_form_id == xml_form_id, Submission.instance_id == instance_id))


def submission_from(session: Session, submission_id: int) -> int | None:
    """The server a submission came from (the one that sent its first version on), if another."""
    first = session.scalar(sa.select(sa.func.min(SubmissionDef.id)).where(
        SubmissionDef.submission_id == submission_id))
    if first is None:
        return None
    return session.scalar(sa.select(SyncLog.peer_id).where(
        SyncLog.kind == "submission", SyncLog.ref == str(first)).limit(1))


def form_version_for_sync(session: Session, version_id: int) -> sa.Row | None:
    return session.execute(
        sa.select(FormVersion.id, FormVersion.version, FormVersion.xform_sha256,
                  FormVersion.source_sha256, Form.xml_form_id, Form.state)
        .join(Form, Form.id == FormVersion.form_id).where(FormVersion.id == version_id)).first()


def media_of(session: Session, version_id: int) -> list[tuple[str, str | None]]:
    return [tuple(r) for r in session.execute(
        sa.select(FormMedia.name, FormMedia.blob_sha256)
        .where(FormMedia.form_version_id == version_id).order_by(FormMedia.name)).all()]


def app_user(session: Session, app_user_id: int) -> AppUser | None:
    return session.get(AppUser, app_user_id)


def app_user_form_ids(session: Session, app_user_id: int) -> list[str]:
    return list(session.scalars(
        sa.select(Form.xml_form_id).join(AppUserForm, AppUserForm.form_id == Form.id)
        .where(AppUserForm.app_user_id == app_user_id).order_by(Form.xml_form_id)).all())


def app_user_places(session: Session, app_user_id: int) -> list[tuple[str, str]]:
    return [tuple(r) for r in session.execute(
        sa.select(AppUserPlace.kind, AppUserPlace.value)
        .where(AppUserPlace.app_user_id == app_user_id)
        .order_by(AppUserPlace.kind, AppUserPlace.value)).all()]


# Refusals, conflicts, bundles ------------------------------------------------------------------

def refusals(session: Session, peer_id: int, limit: int = 50) -> Sequence[SyncRefusal]:
    return session.scalars(sa.select(SyncRefusal).where(SyncRefusal.peer_id == peer_id)
                           .order_by(SyncRefusal.id.desc()).limit(limit)).all()


def count_refusals(session: Session, peer_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(SyncRefusal).where(
        SyncRefusal.peer_id == peer_id)) or 0


def open_conflicts(session: Session, peer_id: int | None = None,
                   submission_id: int | None = None) -> Sequence[SyncConflict]:
    query = sa.select(SyncConflict).where(SyncConflict.resolved_at.is_(None))
    if peer_id is not None:
        query = query.where(SyncConflict.peer_id == peer_id)
    if submission_id is not None:
        query = query.where(SyncConflict.submission_id == submission_id)
    return session.scalars(query.order_by(SyncConflict.id)).all()


def conflicted_submissions(session: Session, peer_id: int) -> Sequence[sa.Row]:
    """The submissions of a peer's open review conflicts, by form and instanceID (as their
    pages are addressed), the oldest conflict first; one line per submission."""
    return session.execute(
        sa.select(Form.xml_form_id, Submission.instance_id,
                  sa.func.min(SyncConflict.created_at).label("since"))
        .join(Submission, Submission.id == SyncConflict.submission_id)
        .join(Form, Form.id == Submission.form_id)
        .where(SyncConflict.peer_id == peer_id, SyncConflict.resolved_at.is_(None))
        .group_by(Form.xml_form_id, Submission.instance_id)
        .order_by(sa.func.min(SyncConflict.id))).all()


def resolve_conflicts(session: Session, submission_id: int, at: datetime) -> None:
    session.execute(sa.update(SyncConflict).where(
        SyncConflict.submission_id == submission_id, SyncConflict.resolved_at.is_(None))
        .values(resolved_at=at))


def bundle(session: Session, bundle_id: str) -> SyncBundle | None:
    return session.get(SyncBundle, bundle_id)


def version_named(session: Session, xml_form_id: str, instance_id: str) -> sa.Row | None:
    """One version of a submission, by its form and its own instanceID."""
    return session.execute(
        sa.select(SubmissionDef.xml, SubmissionDef.submitter_id, SubmissionDef.created_at)
        .join(Form, Form.id == SubmissionDef.form_id)
        .where(Form.xml_form_id == xml_form_id, SubmissionDef.instance_id == instance_id)
    ).first()


def blob_offered_down(session: Session, sha256: str) -> bool:
    """Whether a file goes down to offices: a form's source or one of its media files."""
    return session.scalar(sa.select(sa.or_(
        sa.exists().where(FormVersion.source_sha256 == sha256),
        sa.exists().where(FormMedia.blob_sha256 == sha256)))) or False


def case_places_of_version(session: Session, def_id: int) -> list[tuple[str | None, str | None]]:
    """The places (governorate, forum) of the cases a submission version created or updated."""
    return [tuple(r) for r in session.execute(
        sa.select(Entity.governorate, Entity.forum)
        .join(EntityActionRecord, EntityActionRecord.uuid == Entity.uuid)
        .where(EntityActionRecord.submission_def_id == def_id)).all()]


def case_event(session: Session, event_id: int) -> sa.Row | None:
    """A supervisor's act on a case as it travels: the case's list and places, who acted."""
    return session.execute(
        sa.select(CaseEvent.kind, CaseEvent.uuid, CaseEvent.body, CaseEvent.at,
                  EntityList.name.label("list_name"), Entity.governorate, Entity.forum,
                  User.username)
        .join(Entity, Entity.uuid == CaseEvent.uuid)
        .join(EntityList, EntityList.id == Entity.list_id)
        .outerjoin(User, User.id == CaseEvent.user_id)
        .where(CaseEvent.id == event_id)).first()


def case_event_held(session: Session, kind: str, uuid: str, body: str) -> bool:
    return session.scalar(sa.select(sa.exists().where(
        CaseEvent.kind == kind, CaseEvent.uuid == uuid, CaseEvent.body == body))) or False
