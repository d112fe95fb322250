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
from typing import BinaryIO

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import db, problems, projection
from server.models import AppUser, Form, FormVersion, Submission, SubmissionDef, utcnow
from server.normalising import normalise_submission, structure_of
from server.problems import Problem
from server.queries import blobs as blob_queries
from server.queries import forms as form_queries
from server.queries import projection as projection_queries
from server.queries import submissions as queries
from server.storage import BlobStore
from sync.arrival import Held, Outcome, decide
from sync.attachments import expected_attachments
from sync.instance import InstanceError, InstanceIdentity, read_identity
from sync.normalise import Rows, normalise

log = logging.getLogger(__name__)
MAX_ATTACHMENT_NAME = 255  # Android's own limit for a file name
ATTEMPTS = 5  # phones racing with the same instance: the loser re-reads and finds the winner


@dataclass
class Upload:
    xml: bytes
    files: Mapping[str, BinaryIO]
    app_user: AppUser
    device_id: str | None = None
    user_agent: str | None = None


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
    form, version = _form_and_version(session, identity, upload.app_user)
    structure, plan = structure_of(version)
    expected = expected_attachments(structure, root)
    too_long = [name for name in expected if len(name) > MAX_ATTACHMENT_NAME]
    if too_long:
        raise Problem(problems.SUBMISSION_INVALID, reason=(
            f"an attachment name is longer than {MAX_ATTACHMENT_NAME} characters"))
    ignored = sorted(set(upload.files) - set(expected))
    if ignored:
        log.info("submission %s: ignored files the form does not reference: %s",
                 identity.instance_id, ", ".join(n[:80] for n in ignored))
    # A new instance's rows are known before any lock is taken (an edit's key is the first
    # version's, found under the lock).
    rows = None if identity.is_edit else _rows(plan, root, identity)
    projection.load(session, form)  # the form's tables, cached per worker
    # End the reading transaction (nothing written; loaded objects stay loaded) so the database
    # is free while files are written.
    session.commit()
    # Files reach the disk before any row that names them is committed.
    stored = {name: store.put_stream(_chunks(upload.files[name]))
              for name in expected if name in upload.files}
    for attempt in range(ATTEMPTS):
        try:
            receipt = _apply(session, form, version, identity, root, expected, stored, upload,
                             rows)
            session.commit()
            return receipt
        except IntegrityError:
            session.rollback()  # another request stored the same instance first: look again
            if attempt == ATTEMPTS - 1:
                raise
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def _form_and_version(session: Session, identity: InstanceIdentity, app_user: AppUser):
    form = form_queries.get_form(session, identity.form_id)
    if form is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=identity.form_id)
    if not (app_user.all_forms or any(f.id == form.id for f in app_user.forms)):
        raise Problem(problems.FORM_NOT_ALLOWED, form_id=identity.form_id)
    version = form_queries.get_version(session, form, identity.version)
    if version is None:
        raise Problem(problems.FORM_VERSION_UNKNOWN, form_id=identity.form_id,
                      version=identity.version)
    if form.state == "closed":
        raise Problem(problems.FORM_CLOSED, form_id=identity.form_id)
    return form, version


def _apply(session: Session, form: Form, version: FormVersion, identity: InstanceIdentity,
           root, expected: list[str], stored: dict[str, tuple[str, str, int]],
           upload: Upload, rows: Rows | None) -> Receipt:
    db.begin_write(session)
    same = queries.get_def(session, form, identity.instance_id)
    deprecated = queries.get_def(session, form, identity.deprecated_id) \
        if identity.is_edit else None
    outcome = decide(identity, _held(session, same), _held(session, deprecated))
    for sha, md5, size in stored.values():
        blob_queries.ensure_blob(session, sha, md5, size)

    if outcome is Outcome.NEW:
        submission = Submission(form_id=form.id, instance_id=identity.instance_id,
                                submitter_id=upload.app_user.id, device_id=upload.device_id)
        session.add(submission)
        session.flush()
        definition = _new_def(session, form, submission, version, identity, upload,
                              expected, stored, carried={})
        submission.current_def_id = definition.id
        session.flush()
        normalise_submission(session, form, submission, definition, version, root, first=True,
                             submitter=upload.app_user.name, rows=rows)
    elif outcome is Outcome.RETRY:
        submission, definition = queries.get_submission(session, same.submission_id), same
        _add_missing_attachments(session, form, submission, definition, stored)
    elif outcome is Outcome.EDIT:
        submission = queries.get_submission(session, deprecated.submission_id)
        carried = {a.name: a.blob_sha256 for a in deprecated.attachments}
        definition = _new_def(session, form, submission, version, identity, upload,
                              expected, stored, carried=carried)
        if not queries.set_current_def(session, submission, deprecated.id, definition.id):
            raise Problem(problems.EDIT_STALE)
        session.refresh(submission)
        normalise_submission(session, form, submission, definition, version, root)
    else:
        raise _refusal(outcome, identity)
    return Receipt(outcome, submission.id, submission.instance_id,
                   definition.attachments_present, definition.attachments_expected)


def _rows(plan, root, identity: InstanceIdentity) -> Rows | None:
    try:
        return normalise(plan, root, identity.instance_id)
    except Exception:  # never refuse data for it: normalise_submission records the failure
        log.exception("reading the rows of %s failed", identity.instance_id)
        return None


def _held(session: Session, definition: SubmissionDef | None) -> Held | None:
    if definition is None:
        return None
    submission = queries.get_submission(session, definition.submission_id)
    return Held(sha256=definition.xml_sha256,
                is_current=submission.current_def_id == definition.id,
                deleted=submission.deleted_at is not None)


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
        queries.add_attachment(session, definition, name, position, blobs[name])
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
        projection_queries.update_root(
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
