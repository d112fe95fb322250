"""The one write path of a submission: what its arrival means, decided by `sync.arrival.decide`
from what is held, then written with SQLAlchemy Core statements
(`server.database.queries.arrivals`).

The writer is how it is written, never what: a Connection in the session's transaction (either
database), the group commit's `Lane` on SQLite (the same statements, straight on the driver, in a
savepoint of a batch), or on PostgreSQL a `OneStatement` (a new submission with all its files,
its rows and all, in one statement that is its own transaction).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from lxml import etree
from sqlalchemy import Connection, Row
from sqlalchemy.exc import DataError, IntegrityError

from server import database
from server.database import projection
from server.database.models import utcnow
from server.database.queries import arrivals as arrival_queries
from server.database.queries import field_offices as field_office_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import feedback
from server.services.access import Scope
from server.services.cases import applying as case_applying
from server.services.normalising import RowsFailed, rows_of, write_rows
from sync.arrival import Held, Outcome, decide
from sync.entities import EntityAction, EntityDataError
from sync.instance import InstanceIdentity
from sync.normalise import Rows
from sync.tables import Plan

if TYPE_CHECKING:
    from server.services.receiving import Upload

log = logging.getLogger(__name__)
# PostgreSQL writes a new submission of up to this many rows in one statement (a statement
# takes at most 65,535 parameters; a big one gains nothing from it)
AT_ONCE_ROWS = 50
AT_ONCE_FILES = 20


@dataclass(frozen=True)
class Receipt:
    outcome: Outcome
    submission_id: int
    instance_id: str
    attachments_present: int
    attachments_expected: int


@dataclass(frozen=True)
class Arrival:
    """A submission ready to be written: read, checked, and its files on disk."""

    identity: InstanceIdentity
    root: etree._Element
    upload: Upload
    target: Row  # who sends, to which form and version, what is held (`arrivals.target`)
    plan: Plan
    tables: projection.Projection
    expected: list[str]  # the attachments its XML names
    stored: dict[str, tuple[str, str, int]]  # those it brought: name: (sha256, md5, size)
    rows: Rows | None  # a new instance's rows (an edit's are read under the lock)
    # the cases it creates or updates (ODK Entities), or why they cannot be read
    entities: tuple[EntityAction, ...] = ()
    entity_error: EntityDataError | None = None
    places: Scope | None = None  # the sender's places, when the form feeds cases
    answer: feedback.Answer | None = None  # an officer's answer to a supervisor's comment
    small: Mapping[str, bytes] = field(default_factory=dict)  # sha256: a small file's bytes

    @property
    def feeds_cases(self) -> bool:
        return bool(self.entities) or self.entity_error is not None


@dataclass(frozen=True)
class OneStatement:
    """PostgreSQL: a connection in autocommit mode, for a new submission written at once (a
    first attempt that `fits_one_statement`: nothing is read on it, and decide() says NEW)."""

    connection: Connection


Writer = database.Statements | OneStatement


def fits_one_statement(arrival: Arrival, failure: str | None) -> bool:
    """Whether a new instance can be written by a `OneStatement`: its files all brought with it
    (an encrypted referral's `submission.xml.enc`, photos sent whole), its rows read and without
    issues, and not too many of either."""
    rows = arrival.rows
    return failure is None and len(arrival.expected) <= AT_ONCE_FILES \
        and all(name in arrival.stored for name in arrival.expected) and rows is not None \
        and not arrival.feeds_cases and arrival.answer is None and not rows.issues \
        and sum(map(len, rows.tables.values())) <= AT_ONCE_ROWS


def arrive(writer: Writer, arrival: Arrival, failure: str | None, *, first: bool) -> Receipt:
    """Decide what the arrival means and write it, in the writer's transaction (committed by
    the caller). `first`: the first attempt, which decides on the read before any lock when it
    found nothing under the instanceID; `failure`: why the rows could not be had (on this
    attempt or an earlier one), to store the submission without them.
    Raises a Problem for an arrival refused, RowsFailed when its rows fail (the caller undoes
    the attempt and tries again with the failure), IntegrityError when another request stored
    the same instance first (the caller tries again, and reads what it stored)."""
    identity, form_id = arrival.identity, arrival.target.form_id
    same = None if first and arrival.target.held_id is None \
        else arrival_queries.held(writer, form_id, identity.instance_id)
    deprecated = arrival_queries.held(writer, form_id, identity.deprecated_id) \
        if identity.is_edit else None
    outcome = decide(identity, _holding(same), _holding(deprecated))
    if outcome is Outcome.NEW:
        return _new(writer, arrival, failure)
    if outcome is Outcome.RETRY:
        return _retry(writer, arrival, same)
    if outcome is Outcome.EDIT:
        return _edit(writer, arrival, deprecated, failure)
    raise _refusal(outcome, identity)


def _now(arrival: Arrival) -> datetime:
    """When it arrived: now, or when a field office took it (it keeps its time at headquarters)."""
    return arrival.upload.received_at or utcnow()


def _new(writer: Writer, arrival: Arrival, failure: str | None) -> Receipt:
    """A new instance: its submission, its first version, its files and its rows."""
    now = _now(arrival)
    if isinstance(writer, OneStatement):
        return _new_at_once(writer.connection, arrival, now)
    identity, target, upload = arrival.identity, arrival.target, arrival.upload
    arrival_queries.ensure_blobs(writer, list(arrival.stored.values()), now,
                                 contents=arrival.small)
    submission_id = arrival_queries.insert_submission(writer, {
        "form_id": target.form_id, "instance_id": identity.instance_id,
        "review_state": "received", "submitter_id": upload.app_user.id,
        "device_id": upload.device_id, "created_at": now, "updated_at": now})
    def_id, present = _insert_version(writer, arrival, submission_id, {}, failure, now)
    arrival_queries.set_current_def(writer, submission_id, def_id)
    if failure is None:
        write_rows(writer, arrival.tables, submission_id, def_id, arrival.rows, _system(
            arrival, now, present, submitted_at=now, submitter=target.submitter,
            review_state="received", edits=0), replace=False)
    _apply_cases(writer, arrival, submission_id, def_id, now)
    if arrival.answer is not None:  # joins the thread in the answer's transaction
        feedback.record_answer(writer, arrival.answer, submission_id, upload.app_user.id, now)
    return Receipt(Outcome.NEW, submission_id, identity.instance_id, present,
                   len(arrival.expected))


def _new_at_once(connection: Connection, arrival: Arrival, now: datetime) -> Receipt:
    """PostgreSQL, a new instance with all its files: it, its files and its rows in one
    statement."""
    identity, target, upload = arrival.identity, arrival.target, arrival.upload
    present = len(arrival.expected)
    files = [{"name": name, "position": position, "sha256": sha256, "md5": md5, "size": size,
              "content": _base64(arrival.small.get(sha256))}
             for position, name in enumerate(arrival.expected, start=1)
             for sha256, md5, size in [arrival.stored[name]]]
    collector = arrival_queries.Collector()
    write_rows(collector, arrival.tables, None, None, arrival.rows, _system(
        arrival, now, present, submitted_at=now, submitter=target.submitter,
        review_state="received", edits=0), replace=False)
    try:
        submission_id, _def_id = arrival_queries.insert_new_at_once(connection, {
            "form_id": target.form_id, "instance_id": identity.instance_id,
            "review_state": "received", "submitter_id": upload.app_user.id,
            "device_id": upload.device_id, "created_at": now, "updated_at": now,
        }, _version(arrival, present, None, now), collector.inserts, peer_id=upload.peer_id,
            files=files)
    except (IntegrityError, DataError) as error:
        if isinstance(error, IntegrityError) and arrival_queries.is_arrival_conflict(error):
            raise  # another request stored the same instance first: look again
        # a value one of its tables refused, not the record
        log.exception("writing the rows of %s failed", identity.instance_id)
        raise RowsFailed.because(error) from error
    return Receipt(Outcome.NEW, submission_id, identity.instance_id, present, present)


def _base64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _retry(writer: Writer, arrival: Arrival, same: Row) -> Receipt:
    """The same XML again, or the next part of a split upload: keep the files not yet held."""
    now = utcnow()
    arrival_queries.ensure_blobs(writer, list(arrival.stored.values()), now,
                                 contents=arrival.small)
    present, changed = same.attachments_present, False
    for name, (sha256, _md5, _size) in arrival.stored.items():
        held = arrival_queries.attachment(writer, same.id, name)
        if held is None:
            continue
        if held.blob_sha256 is None:
            arrival_queries.set_attachment_blob(writer, same.id, name, sha256)
            field_office_queries.log_change(writer, "attachment", f"{same.id}/{name}",
                                            arrival.upload.peer_id, now)
            changed = True
        elif held.blob_sha256 != sha256:
            raise Problem(problems.ATTACHMENT_CONFLICT, name=name)
    if changed:
        present = arrival_queries.recount_attachments(writer, same.submission_id, same.id, now)
        if same.is_current:
            arrival_queries.set_root_attachments(writer, arrival.tables.root,
                                                 same.submission_id, present)
    return Receipt(Outcome.RETRY, same.submission_id, same.key, present,
                   same.attachments_expected)


def _edit(writer: Writer, arrival: Arrival, deprecated: Row, failure: str | None) -> Receipt:
    """A new version of the submission it deprecates, which keeps the files not sent again."""
    now = _now(arrival)
    arrival_queries.ensure_blobs(writer, list(arrival.stored.values()), now,
                                 contents=arrival.small)
    carried = {}
    for name in arrival.expected:
        if name not in arrival.stored:
            held = arrival_queries.attachment(writer, deprecated.id, name)
            carried[name] = held.blob_sha256 if held is not None else None
    submission_id = deprecated.submission_id
    def_id, present = _insert_version(writer, arrival, submission_id, carried, failure, now)
    if not arrival_queries.move_to_edit(writer, submission_id, deprecated.id, def_id):
        raise Problem(problems.EDIT_STALE)
    if failure is None:
        rows = rows_of(arrival.plan, arrival.root, deprecated.key)
        edits = arrival_queries.count_versions(writer, submission_id) - 1
        write_rows(writer, arrival.tables, submission_id, def_id, rows, _system(
            arrival, now, present, submitted_at=deprecated.submitted_at,
            submitter=deprecated.submitter, review_state="edited", edits=edits), replace=True)
    _apply_cases(writer, arrival, submission_id, def_id, now)
    return Receipt(Outcome.EDIT, submission_id, deprecated.key, present, len(arrival.expected))


def _apply_cases(writer: Writer, arrival: Arrival, submission_id: int, def_id: int,
                 now: datetime) -> None:
    """The version's entity actions, applied in its transaction (refusals are recorded on it;
    the submission is kept whatever its cases come to)."""
    if arrival.feeds_cases:
        case_applying.apply(writer, arrival.entities, case_applying.Source(
            submission_id, def_id, arrival.upload.app_user.id, now, arrival.places),
            arrival.entity_error)


def _insert_version(writer: Writer, arrival: Arrival, submission_id: int,
                    carried: dict[str, str | None], failure: str | None, now: datetime
                    ) -> tuple[int, int]:
    """The arrival as a version of its submission, with its files (those it brought, else
    those `carried` from the version it replaces); returns its id and the files present.
    The unique (form, instanceID) constraint speaks here when phones race."""
    blobs = {name: arrival.stored[name][0] if name in arrival.stored else carried.get(name)
             for name in arrival.expected}
    present = sum(1 for sha256 in blobs.values() if sha256)
    def_id = arrival_queries.insert_def(writer, {
        "submission_id": submission_id, **_version(arrival, present, failure, now)})
    field_office_queries.log_change(writer, "submission", def_id, arrival.upload.peer_id, now)
    arrival_queries.insert_attachments(writer, [
        {"submission_def_id": def_id, "name": name, "position": position, "blob_sha256": sha}
        for position, (name, sha) in enumerate(blobs.items(), start=1)])
    return def_id, present


def _version(arrival: Arrival, present: int, failure: str | None, now: datetime) -> dict:
    """A version's columns (but its submission's id); `failure` kept where people see it."""
    identity, upload = arrival.identity, arrival.upload
    return {
        "form_id": arrival.target.form_id, "form_version_id": arrival.target.version_id,
        "instance_id": identity.instance_id, "deprecated_id": identity.deprecated_id,
        "xml": upload.xml, "xml_sha256": identity.sha256, "submitter_id": upload.app_user.id,
        "device_id": upload.device_id, "user_agent": (upload.user_agent or "")[:255] or None,
        "attachments_expected": len(arrival.expected), "attachments_present": present,
        "created_at": now, "normalised_at": None if failure else now,
        "normalise_error": failure}


def _system(arrival: Arrival, now: datetime, present: int, *, submitted_at: datetime,
            submitter: str | None, review_state: str, edits: int) -> dict:
    """The form row's `_` columns for the arrival, its submission's current version."""
    return {"_instance_id": arrival.identity.instance_id, "_submitted_at": submitted_at,
            "_updated_at": now, "_submitter": submitter,
            "_device_id": arrival.upload.device_id, "_form_version": arrival.target.version,
            "_review_state": review_state, "_attachments_present": present,
            "_attachments_expected": len(arrival.expected), "_edits": edits}


def _holding(row: Row | None) -> Held | None:
    if row is None:
        return None
    return Held(sha256=row.xml_sha256, is_current=bool(row.is_current),
                deleted=bool(row.deleted))


def _refusal(outcome: Outcome, identity: InstanceIdentity) -> Problem:
    if outcome is Outcome.CONFLICT:
        return Problem(problems.SUBMISSION_CONFLICT, instance_id=identity.instance_id)
    if outcome is Outcome.EDIT_UNKNOWN:
        return Problem(problems.EDIT_TARGET_UNKNOWN, deprecated_id=identity.deprecated_id)
    if outcome is Outcome.EDIT_STALE:
        return Problem(problems.EDIT_STALE)
    return Problem(problems.SUBMISSION_DELETED)
