"""Taking a submission in: nothing an officer sends is lost or counted twice.

Every attachment is written and flushed to disk, and the raw XML committed with it, before the
phone is told 201; the relational rows are written in the same commit when they can be, and a
failure to normalise is recorded without refusing the data. What an arrival means is decided by
`sync.arrival`; the database's unique constraints back that decision when phones race.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import BinaryIO, Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from server import database
from server.database import projection
from server.database.models import Form, FormVersion, Submission, SubmissionDef, utcnow
from server.database.queries import arrivals as arrival_queries
from server.database.queries import form_tables as table_queries
from server.database.queries import submissions as submission_queries
from server.database.sqlite.driver import Lane, Reader
from server.kernel import problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services.normalising import normalise_submission, structure_by_hash
from sync.arrival import Held, Outcome, decide
from sync.attachments import expected_attachments, unsafe_name
from sync.instance import InstanceError, InstanceIdentity, read_identity, stated_device_id
from sync.normalise import Rows, normalise

log = logging.getLogger(__name__)
MAX_ATTACHMENT_NAME = 255  # Android's own limit for a file name
# PostgreSQL writes a new submission of up to this many rows in one statement (a statement
# takes at most 65,535 parameters; a big one gains nothing from it)
AT_ONCE_ROWS = 50
ATTEMPTS = 5  # phones racing with the same instance: the loser re-reads and finds the winner


class Sender(Protocol):
    id: int
    name: str


@dataclass
class Upload:
    xml: bytes
    files: Mapping[str, BinaryIO]
    app_user: Sender
    device_id: str | None = None
    user_agent: str | None = None
    token: str | None = None  # the URL's token, checked again in the submission's transaction


@dataclass(frozen=True)
class Receipt:
    outcome: Outcome
    submission_id: int
    instance_id: str
    attachments_present: int
    attachments_expected: int


def receive(session: Session, store: BlobStore, upload: Upload) -> Receipt:
    try:
        identity, root = read_identity(upload.xml)
    except InstanceError as error:
        raise Problem(problems.SUBMISSION_INVALID, reason=str(error)) from error
    target, structure, plan = _read_target(session, identity, upload)
    expected = expected_attachments(structure, root)
    too_long = [name for name in expected if len(name) > MAX_ATTACHMENT_NAME]
    if too_long:
        raise Problem(problems.SUBMISSION_INVALID, reason=(
            f"an attachment name is longer than {MAX_ATTACHMENT_NAME} characters"))
    # Names are refused whether the XML or a part carries them, before any file is written.
    for name in (*expected, *upload.files):
        if reason := unsafe_name(name):
            raise Problem(problems.ATTACHMENT_NAME_UNSAFE, reason=reason)
    if upload.device_id is None:  # Collect puts it in the URL; other clients in the instance
        upload.device_id = (stated_device_id(identity, root, structure) or "")[:255] or None
    ignored = sorted(set(upload.files) - set(expected))
    if ignored:
        log.info("submission %s: ignored files the form does not reference: %s",
                 identity.instance_id, ", ".join(n[:80] for n in ignored))
    # A new instance's rows are known before any lock is taken (an edit's key is the first
    # version's, found under the lock).
    rows = None if identity.is_edit else _rows(plan, root, identity)
    tables = projection.load_revision(session, target.form_id, target.projection_revision)
    files = [name for name in expected if name in upload.files]
    database.end_read(session)  # the tables' mapping, if this worker had to read it
    # Files reach the disk before any row that names them is committed.
    stored = {name: store.put_stream(_chunks(upload.files[name])) for name in files}
    failure = None
    committer = database.group_commit()
    for attempt in range(ATTEMPTS):
        try:
            if attempt == 0 and target.held_id is None and not identity.is_edit \
                    and committer is not None:
                # SQLite, the common case: with the other threads' new submissions, one fsync.
                # An item that fails is undone alone and comes back here, as it would alone.
                return committer.run(lambda connection: _apply_new(
                    connection, target, plan, tables, identity, root, expected, stored,
                    upload, rows))
            database.begin_write(session)
            # The first attempt trusts the read above when it found nothing: if another request
            # stores the same instance meanwhile, the unique constraints refuse this one.
            nothing_held = attempt == 0 and target.held_id is None
            if nothing_held and failure is None and not identity.is_edit and not expected \
                    and rows is not None and not rows.issues and database.is_postgresql(session) \
                    and sum(map(len, rows.tables.values())) <= AT_ONCE_ROWS:
                return _insert_new_at_once(session, target, tables, identity, upload, rows)
            receipt = _apply(session, target, plan, tables, identity, root, expected, stored,
                             upload, rows, failure, nothing_held)
            session.commit()
            return receipt
        except _RowsFailed as failed:
            # Rare, so no savepoint on every submission: undo it all, store it without rows.
            session.rollback()
            failure = failed.reason
        except IntegrityError:
            session.rollback()  # another request stored the same instance first: look again
            if attempt == ATTEMPTS - 1:
                raise
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


class _RowsFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _read_target(session: Session, identity: InstanceIdentity, upload: Upload):
    """Where the submission goes, read outside any transaction: nothing is held while files
    are written, and on PostgreSQL no BEGIN and COMMIT for it."""
    for attempt in range(2):
        try:
            with database.autocommit(session) as connection:
                target = _target(connection, identity, upload)
                structure, plan = structure_by_hash(target.xform_sha256, partial(
                    arrival_queries.xform, connection, target.version_id))
            return target, structure, plan
        except DBAPIError as error:
            # The database ended the pool's connections (it restarted) and SQLAlchemy has let
            # go of them: nothing is written yet, so read again on a new one, once.
            if attempt or not error.connection_invalidated:
                raise
    raise AssertionError("unreachable")


def _target(connection: Connection | Reader, identity: InstanceIdentity, upload: Upload):
    target = arrival_queries.target(connection, upload.app_user.id, upload.token,
                                    identity.form_id, identity.version, identity.instance_id)
    if target is None:  # revoked since the request began (perhaps through another worker)
        raise Problem(problems.TOKEN_INVALID)
    if target.form_id is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=identity.form_id)
    if not target.allowed:
        raise Problem(problems.FORM_NOT_ALLOWED, form_id=identity.form_id)
    if target.version_id is None:
        raise Problem(problems.FORM_VERSION_UNKNOWN, form_id=identity.form_id,
                      version=identity.version)
    if target.state == "closed":
        raise Problem(problems.FORM_CLOSED, form_id=identity.form_id)
    return target


def _apply(session: Session, target, plan, tables: projection.Projection,
           identity: InstanceIdentity, root, expected: list[str],
           stored: dict[str, tuple[str, str, int]], upload: Upload, rows: Rows | None,
           failure: str | None, nothing_held: bool) -> Receipt:
    connection = session.connection()
    if nothing_held and not identity.is_edit:
        same = deprecated = None
        outcome = Outcome.NEW
    else:
        same = arrival_queries.held(connection, target.form_id, identity.instance_id)
        deprecated = arrival_queries.held(connection, target.form_id, identity.deprecated_id) \
            if identity.is_edit else None
        outcome = decide(identity, _held(same), _held(deprecated))
    now = utcnow()
    arrival_queries.ensure_blobs(connection, list(stored.values()), now)
    if outcome is Outcome.NEW:
        return _insert_new(connection, target, plan, tables, identity, root, expected, stored,
                           upload, rows, failure, now)
    if outcome not in (Outcome.RETRY, Outcome.EDIT):
        raise _refusal(outcome, identity)
    # Retries and edits are rare: the ORM's objects keep their rules readable.
    form = session.get(Form, target.form_id)
    if outcome is Outcome.RETRY:
        definition = session.get(SubmissionDef, same.id)
        submission = submission_queries.get_submission(session, same.submission_id)
        _add_missing_attachments(session, form, submission, definition, stored)
    else:
        version = session.get(FormVersion, target.version_id)
        deprecated_def = session.get(SubmissionDef, deprecated.id)
        submission = submission_queries.get_submission(session, deprecated.submission_id)
        carried = {a.name: a.blob_sha256 for a in deprecated_def.attachments}
        definition = _new_def(session, form, submission, version, identity, upload,
                              expected, stored, carried=carried)
        if not submission_queries.set_current_def(session, submission, deprecated.id, definition.id):
            raise Problem(problems.EDIT_STALE)
        session.refresh(submission)
        normalise_submission(session, form, submission, definition, version, root)
    return Receipt(outcome, submission.id, submission.instance_id,
                   definition.attachments_present, definition.attachments_expected)


def _apply_new(connection: Lane, target, plan, tables: projection.Projection,
               identity: InstanceIdentity, root, expected: list[str],
               stored: dict[str, tuple[str, str, int]], upload: Upload,
               rows: Rows | None) -> Receipt:
    now = utcnow()
    arrival_queries.ensure_blobs(connection, list(stored.values()), now)
    return _insert_new(connection, target, plan, tables, identity, root, expected, stored,
                       upload, rows, None, now)


def _insert_new(connection: Connection | Lane, target, plan, tables: projection.Projection,
                identity: InstanceIdentity, root, expected: list[str],
                stored: dict[str, tuple[str, str, int]], upload: Upload, rows: Rows | None,
                failure: str | None, now: datetime) -> Receipt:
    """A new instance: its submission, its first version, its files and its rows (unless they
    failed on an earlier attempt: `failure` says why, kept where people see it)."""
    submission_id = arrival_queries.insert_submission(connection, {
        "form_id": target.form_id, "instance_id": identity.instance_id,
        "review_state": "received", "submitter_id": upload.app_user.id,
        "device_id": upload.device_id, "created_at": now, "updated_at": now})
    blobs = {name: stored[name][0] if name in stored else None for name in expected}
    present = sum(1 for sha in blobs.values() if sha)
    def_id = arrival_queries.insert_def(connection, {
        "submission_id": submission_id, "form_id": target.form_id,
        "form_version_id": target.version_id, "instance_id": identity.instance_id,
        "deprecated_id": None, "xml": upload.xml, "xml_sha256": identity.sha256,
        "submitter_id": upload.app_user.id, "device_id": upload.device_id,
        "user_agent": (upload.user_agent or "")[:255] or None,
        "attachments_expected": len(expected), "attachments_present": present,
        "created_at": now, "normalised_at": None if failure else now,
        "normalise_error": failure})
    arrival_queries.insert_attachments(connection, [
        {"submission_def_id": def_id, "name": name, "position": position, "blob_sha256": sha}
        for position, (name, sha) in enumerate(blobs.items(), start=1)])
    arrival_queries.set_current_def(connection, submission_id, def_id)
    if failure is None:
        try:
            if rows is None:  # reading them failed before: again, to record why
                rows = normalise(plan, root, identity.instance_id)
            projection.write(connection, tables, submission_id, rows, replace=False,
                             system=_system(target, identity, upload, now, present,
                                            len(expected)))
            arrival_queries.insert_value_issues(connection, [
                {"submission_def_id": def_id, "row_key": i.key, "path": i.path, "raw": i.raw,
                 "reason": i.reason} for i in rows.issues])
        except Exception as error:  # the raw record is never refused for its rows
            log.exception("normalising submission %s of form %s failed", identity.instance_id,
                          identity.form_id)
            raise _RowsFailed(f"{type(error).__name__}: {error}"[:2000]) from error
    return Receipt(Outcome.NEW, submission_id, identity.instance_id, present, len(expected))


def _insert_new_at_once(session: Session, target, tables: projection.Projection,
                        identity: InstanceIdentity, upload: Upload, rows: Rows) -> Receipt:
    """PostgreSQL, a new instance without files: all its rows in one statement."""
    now = utcnow()
    collector = arrival_queries.Collector()
    try:
        projection.write(collector, tables, None, rows, replace=False,
                         system=_system(target, identity, upload, now, 0, 0))
    except Exception as error:  # the raw record is never refused for its rows
        log.exception("normalising submission %s of form %s failed", identity.instance_id,
                      identity.form_id)
        raise _RowsFailed(f"{type(error).__name__}: {error}"[:2000]) from error
    try:
        with database.autocommit(session) as connection:
            submission_id, _def_id = arrival_queries.insert_new_at_once(connection, {
                "form_id": target.form_id, "instance_id": identity.instance_id,
                "review_state": "received", "submitter_id": upload.app_user.id,
                "device_id": upload.device_id, "created_at": now, "updated_at": now,
            }, {
                "form_id": target.form_id, "form_version_id": target.version_id,
                "instance_id": identity.instance_id, "xml": upload.xml,
                "xml_sha256": identity.sha256, "submitter_id": upload.app_user.id,
                "device_id": upload.device_id,
                "user_agent": (upload.user_agent or "")[:255] or None,
                "attachments_expected": 0, "attachments_present": 0, "created_at": now,
                "normalised_at": now,
            }, collector.inserts)
    except IntegrityError as error:
        if arrival_queries.is_arrival_conflict(error):
            raise  # another request stored the same instance first: look again
        log.exception("writing the rows of %s failed", identity.instance_id)
        raise _RowsFailed(f"{type(error).__name__}: {error}"[:2000]) from error
    except DataError as error:  # a value its table refused, not the record
        log.exception("writing the rows of %s failed", identity.instance_id)
        raise _RowsFailed(f"{type(error).__name__}: {error}"[:2000]) from error
    return Receipt(Outcome.NEW, submission_id, identity.instance_id, 0, 0)


def _system(target, identity: InstanceIdentity, upload: Upload, now: datetime, present: int,
            expected: int) -> dict:
    """The form row's `_` columns for a new submission."""
    return {"_instance_id": identity.instance_id, "_submitted_at": now, "_updated_at": now,
            "_submitter": target.submitter, "_device_id": upload.device_id,
            "_form_version": target.version, "_review_state": "received",
            "_attachments_present": present, "_attachments_expected": expected, "_edits": 0}


def _rows(plan, root, identity: InstanceIdentity) -> Rows | None:
    try:
        return normalise(plan, root, identity.instance_id)
    except Exception:  # never refuse data for it: normalise_submission records the failure
        log.exception("reading the rows of %s failed", identity.instance_id)
        return None


def _held(row) -> Held | None:
    if row is None:
        return None
    return Held(sha256=row.xml_sha256, is_current=bool(row.is_current),
                deleted=bool(row.deleted))


def _new_def(session: Session, form: Form, submission: Submission, version: FormVersion,
             identity: InstanceIdentity, upload: Upload, expected: list[str],
             stored: dict[str, tuple[str, str, int]], *, carried: dict[str, str | None]
             ) -> SubmissionDef:
    blobs = {name: stored[name][0] if name in stored else carried.get(name)
             for name in expected}
    definition = SubmissionDef(
        submission_id=submission.id, form_id=form.id, form_version_id=version.id,
        instance_id=identity.instance_id, deprecated_id=identity.deprecated_id,
        xml=upload.xml, xml_sha256=identity.sha256, submitter_id=upload.app_user.id,
        device_id=upload.device_id, user_agent=(upload.user_agent or "")[:255] or None,
        attachments_expected=len(expected),
        attachments_present=sum(1 for sha in blobs.values() if sha),
        normalised_at=utcnow())  # corrected by normalise_submission if the rows fail
    session.add(definition)
    session.flush()  # the unique (form, instanceID) constraint speaks here when phones race
    for position, name in enumerate(expected, start=1):
        submission_queries.add_attachment(session, definition, name, position, blobs[name])
    session.flush()
    return definition


def _add_missing_attachments(session: Session, form: Form, submission: Submission,
                             definition: SubmissionDef,
                             stored: dict[str, tuple[str, str, int]]) -> None:
    """A retry, or the next part of a split upload: keep the files not yet held."""
    changed = False
    for attachment in definition.attachments:
        if attachment.name not in stored:
            continue
        sha = stored[attachment.name][0]
        if attachment.blob_sha256 is None:
            attachment.blob_sha256 = sha
            changed = True
        elif attachment.blob_sha256 != sha:
            raise Problem(problems.ATTACHMENT_CONFLICT, name=attachment.name)
    if not changed:
        return
    definition.attachments_present = sum(1 for a in definition.attachments if a.blob_sha256)
    submission.updated_at = utcnow()
    session.flush()
    if submission.current_def_id == definition.id:
        table_queries.update_root(
            session, projection.load(session, form).root, submission.id,
            {"_attachments_present": definition.attachments_present})


def _refusal(outcome: Outcome, identity: InstanceIdentity) -> Problem:
    if outcome is Outcome.CONFLICT:
        return Problem(problems.SUBMISSION_CONFLICT, instance_id=identity.instance_id)
    if outcome is Outcome.EDIT_UNKNOWN:
        return Problem(problems.EDIT_TARGET_UNKNOWN, deprecated_id=identity.deprecated_id)
    if outcome is Outcome.EDIT_STALE:
        return Problem(problems.EDIT_STALE)
    return Problem(problems.SUBMISSION_DELETED)


def _chunks(file: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    while chunk := file.read(size):
        yield chunk
