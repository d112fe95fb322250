"""Taking a submission in: nothing an officer sends is lost or counted twice.

Every attachment is written and flushed to disk, and the raw XML committed with it, before the
phone is told 201; the relational rows are written in the same commit when they can be, and a
failure to normalise is recorded without refusing the data.

`receive` reads where the submission goes outside any transaction, checks it and stores its
files; then it hands the arrival to the one write path (`writing.arrive`), which decides what it
means with `sync.arrival.decide` and writes it. Only *how* it is written depends on the database:
on SQLite the group commit's lane, with the other threads' submissions; on PostgreSQL a new
submission without files in one statement; otherwise, and on every later attempt, the session's
transaction. The database's unique constraints back the decision when phones race.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from itertools import chain
from typing import BinaryIO, Protocol

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from server import database
from server.database import projection
from server.database.queries import accounts as account_queries
from server.database.queries import arrivals as arrival_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.kernel.storage import SMALL, BlobStore
from server.services import feedback
from server.services.cases.applying import places_of
from server.services.normalising import RowsFailed, rows_of, structure_by_hash
from server.services.receiving import writing
from server.services.receiving.writing import Arrival, OneStatement, Receipt
from sync.attachments import expected_attachments, unsafe_name
from sync.entities import EntityDataError, read_entities
from sync.instance import InstanceError, InstanceIdentity, read_identity, stated_device_id

__all__ = ["Receipt", "Upload", "receive", "receive_within"]

log = logging.getLogger(__name__)
MAX_ATTACHMENT_NAME = 255  # Android's own limit for a file name
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
    # sent on by a field office's server (that peer's id): it was taken there, at `received_at`,
    # from a sender who could send then, to a form open then
    peer_id: int | None = None
    received_at: datetime | None = None
    # relayed: the sender's places where it was taken (their cases are those it may update)
    sender_places: list[tuple[str, str]] | None = None
    # relayed: its files are already in the store, by these SHA-256 (not written again)
    held_files: Mapping[str, str] | None = None

    @property
    def relayed(self) -> bool:
        return self.peer_id is not None


def receive(session: Session, store: BlobStore, upload: Upload) -> Receipt:
    arrival, failure = _prepare(session, store, upload)
    committer = database.group_commit_of(session)
    for attempt in range(ATTEMPTS):
        try:
            return _attempt(session, committer, arrival, failure, first=attempt == 0)
        except RowsFailed as failed:
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


def receive_within(session: Session, store: BlobStore, upload: Upload) -> Receipt:
    """A relayed submission written in the session's transaction, which the caller began
    (`database.begin_write`) and commits with others: a field office's page, one commit for
    many. Read and written on that transaction, on the first attempt's terms; nothing is tried
    again here: on any failure the caller undoes the transaction and receives each alone."""
    connection = session.connection()
    arrival, failure = _prepare(session, store, upload, within=connection)
    if arrival.target.held_id is None and database.is_postgresql(session) \
            and writing.fits_one_statement(arrival, failure):
        return writing.arrive(OneStatement(connection), arrival, failure, first=True)
    return writing.arrive(connection, arrival, failure, first=True)


def _attempt(session: Session, committer: database.Batch | None, arrival: Arrival,
             failure: str | None, *, first: bool) -> Receipt:
    """One try at writing the arrival, on the writer that writes it fastest."""
    # The first attempt trusts the read above when it found nothing under the instanceID: if
    # another request stores the same instance meanwhile, the unique constraints refuse this one.
    unheld = first and arrival.target.held_id is None
    if unheld and committer is not None:
        # SQLite, the common case: with the other threads' submissions, one fsync. An item that
        # fails is undone alone and comes back here, as it would alone.
        return committer.run(partial(writing.arrive, arrival=arrival, failure=failure,
                                     first=True))
    if unheld and database.is_postgresql(session) and writing.fits_one_statement(arrival, failure):
        with database.autocommit(session) as connection:
            return writing.arrive(OneStatement(connection), arrival, failure, first=True)
    database.begin_write(session)
    receipt = writing.arrive(session.connection(), arrival, failure, first=first)
    session.commit()
    return receipt


def _prepare(session: Session, store: BlobStore, upload: Upload,
             within: database.Statements | None = None) -> tuple[Arrival, str | None]:
    """The arrival, read, checked and its files stored; and why its rows could not be read, if
    they could not (it is then stored without them). `within`: read in the caller's
    transaction (`receive_within`), else outside any."""
    try:
        identity, root = read_identity(upload.xml)
    except InstanceError as error:
        raise Problem(problems.SUBMISSION_INVALID, reason=str(error)) from error
    target, structure, plan, places = _read_target(session, identity, upload) \
        if within is None else _read_target_on(within, identity, upload)
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
    # A new instance's rows are read before any lock is taken (an edit's key is its first
    # version's, found under the lock).
    rows, failure = None, None
    if not identity.is_edit:
        try:
            rows = rows_of(plan, root, identity.instance_id)
        except RowsFailed as failed:  # never refuse the data for it
            failure = failed.reason
    entities, entity_error = (), None
    if structure.entities:
        try:
            entities = read_entities(structure, root)
        except EntityDataError as error:  # kept with the submission, which is never refused
            entity_error = error
    answer = feedback.read_answer(identity.form_id, root)  # an officer answering feedback
    tables = projection.load_revision(session, target.form_id, target.projection_revision)
    files = [name for name in expected if name in upload.files]
    if within is None:
        database.end_read(session)  # the tables' mapping, if this worker had to read it
    # Files reach the disk before any row that names them is committed; a small one's bytes
    # are committed with the row as well (`BlobStore.put_small`).
    held = upload.held_files or {}
    stored, small = {}, {}
    for name in files:
        if name in held:
            stored[name] = store.describe(held[name])
            continue
        first = upload.files[name].read(SMALL + 1)
        if len(first) <= SMALL:
            stored[name] = store.put_small(first)
            small[stored[name][0]] = first
        else:
            stored[name] = store.put_stream(chain((first,), _chunks(upload.files[name])))
    return Arrival(identity, root, upload, target, plan, tables, expected, stored, rows,
                   entities, entity_error, places, answer, small), failure


def _read_target(session: Session, identity: InstanceIdentity, upload: Upload):
    """Where the submission goes, read outside any transaction: nothing is held while files
    are written, and on PostgreSQL no BEGIN and COMMIT for it."""
    for attempt in range(2):
        try:
            with database.autocommit(session) as connection:
                return _read_target_on(connection, identity, upload)
        except DBAPIError as error:
            # The database ended the pool's connections (it restarted) and SQLAlchemy has let
            # go of them: nothing is written yet, so read again on a new one, once.
            if attempt or not error.connection_invalidated:
                raise
    raise AssertionError("unreachable")


def _read_target_on(connection: database.Statements, identity: InstanceIdentity,
                    upload: Upload):
    target = _target(connection, identity, upload)
    structure, plan = structure_by_hash(target.xform_sha256, partial(
        arrival_queries.xform, connection, target.version_id))
    places = places_of(upload.sender_places if upload.sender_places is not None
                       else account_queries.app_user_places(connection, upload.app_user.id)) \
        if structure.entities else None
    return target, structure, plan, places


def _target(connection: database.Statements, identity: InstanceIdentity, upload: Upload):
    target = arrival_queries.target(connection, upload.app_user.id, upload.token,
                                    identity.form_id, identity.version, identity.instance_id,
                                    relayed=upload.relayed)
    if target is None:  # revoked since the request began (perhaps through another worker)
        raise Problem(problems.TOKEN_INVALID)
    if target.form_id is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=identity.form_id)
    if not target.allowed and not upload.relayed:
        raise Problem(problems.FORM_NOT_ALLOWED, form_id=identity.form_id)
    if target.version_id is None:
        raise Problem(problems.FORM_VERSION_UNKNOWN, form_id=identity.form_id,
                      version=identity.version)
    if target.state == "closed" and not upload.relayed:
        raise Problem(problems.FORM_CLOSED, form_id=identity.form_id)
    return target


def _chunks(file: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    while chunk := file.read(size):
        yield chunk
