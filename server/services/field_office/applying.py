"""Applying what the other side sent, in the order of its log, each item in its own transaction
and with the rules its kind has here: a submission version goes through the one write path of
phones' submissions (`receiving.receive`), so a retry is recognised and nothing is doubled; a
review that its author made without seeing one made here is kept as a conflict, not applied
over it. An item that cannot be applied is recorded as refused, with why, and passed.

Files come first: an item whose files are not all held stops the batch (the sender sends them,
then the items again); the cursor moves only past items applied or refused.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from server import database
from server.database import projection
from server.database.models import (
    AppUser,
    ReviewComment,
    SyncConflict,
    SyncPeer,
    SyncRefusal,
    utcnow,
)
from server.database.queries import accounts as account_queries
from server.database.queries import field_offices as field_office_queries
from server.database.queries import form_tables as table_queries
from server.database.queries import forms as form_queries
from server.database.queries import reviews as review_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services import accounts, form_loading, receiving
from server.services.cases import deleting, resolving
from server.services.field_office import feed
from sync import field_sync
from sync.arrival import Outcome as Arrival
from sync.field_sync import Item, ReviewOutcome

log = logging.getLogger(__name__)
TOGETHER = 100  # relayed submissions applied in one transaction (SQLite's write lock held as long)


@dataclass
class Applied:
    """What a batch came to: the cursor now, and what stopped it, if anything."""

    cursor: int
    applied: int = 0
    held: int = 0  # already here (a retry, or sent under two numbers)
    refused: list[tuple[int, str]] = field(default_factory=list)
    conflicts: int = 0
    missing: list[str] = field(default_factory=list)  # files to send before the next items


def apply(session: Session, store: BlobStore, peer_id: int, items: list[Item], *,
          through: int | None = None) -> Applied:
    """Apply `items` (from the peer `peer_id`), those after its cursor, in order; once all
    are, the cursor moves to `through` (the sender's changes up to there that were not for
    this server)."""
    peer = _peer(session, peer_id)
    cursor = peer.up_seq if peer.role == "office" else peer.down_seq
    done, failure = Applied(cursor), None
    context = _Context(session, store, peer_id)
    try:
        waiting = [i for i in sorted(items, key=lambda i: i.seq) if i.seq > done.cursor]
        at = alone_until = 0
        while at < len(waiting):
            item = waiting[at]
            missing = [sha for sha in item.blobs if not store.path(sha).is_file()]
            if missing:
                done.missing = missing
                break
            run = _submissions_from(waiting, at, store) if at >= alone_until else []
            if len(run) > 1:
                if _apply_together(context, run, done):
                    at += len(run)
                    continue
                alone_until = at + len(run)  # the run again, each alone
            try:
                outcome = _APPLY[item.kind](context, item)
            except Problem as problem:
                session.rollback()
                _refuse(session, peer_id, item, problem.message)
                done.refused.append((item.seq, problem.message))
            else:
                _count(done, outcome)
            done.cursor = item.seq
            at += 1
        else:
            if through is not None:
                done.cursor = max(done.cursor, through)
        if done.refused:
            failure = f"refused: {len(done.refused)}; the latest: {done.refused[-1][1]}"
    except Exception as error:
        failure = f"applying change {item.seq} ({item.kind}) failed: {type(error).__name__}"
        raise
    finally:
        session.rollback()
        _move_cursor(session, peer_id, done.cursor, failure)
    return done


def _count(done: Applied, outcome: str) -> None:
    if outcome == "held":
        done.held += 1
    else:
        done.applied += 1
        done.conflicts += outcome == "conflict"


def _submissions_from(waiting: list[Item], at: int, store: BlobStore) -> list[Item]:
    """The submissions that follow one another from `at`, their files all here, up to TOGETHER."""
    run = []
    for item in waiting[at:at + TOGETHER]:
        if item.kind != "submission" or not all(store.path(s).is_file() for s in item.blobs):
            break
        run.append(item)
    return run


def _apply_together(ctx: _Context, run: list[Item], done: Applied) -> bool:
    """Relayed submissions in one transaction: one commit, not one each (on PostgreSQL each
    commit waits for the disk). Whether they were: if any fails (refused, its rows refused by
    the database, raced by a phone), nothing of the run is kept and each is applied alone."""
    session, uploads, outcomes = ctx.session, [], []
    try:
        for item in run:
            uploads.append(_upload_of(ctx, item))  # a new sender is committed first
        database.write_after_reading(session)
        for upload in uploads:
            receipt = receiving.receive_within(session, ctx.store, upload)
            outcomes.append(_outcome(receipt, upload.held_files))
        session.commit()
    except Exception as error:  # noqa: BLE001  (each alone says what it was, or raises it)
        session.rollback()
        log.info("sync: %s submissions from peer %s to be applied one by one (%s)", len(run),
                 ctx.peer_id, type(error).__name__)
        return False
    finally:
        for upload in uploads:
            _close(upload)
    for outcome in outcomes:
        _count(done, outcome)
    done.cursor = run[-1].seq
    return True


def _peer(session: Session, peer_id: int) -> SyncPeer:
    peer = session.get(SyncPeer, peer_id)
    if peer is None:
        raise Problem(problems.SYNC_TOKEN_INVALID)
    return peer


def _move_cursor(session: Session, peer_id: int, cursor: int, failure: str | None) -> None:
    """The cursor past what was applied or refused; and, when something was refused or failed,
    why (the page of field offices shows it)."""
    database.write_after_reading(session)
    peer = field_office_queries.lock_peer(session, peer_id)
    if failure is not None:
        peer.last_error, peer.last_error_at = failure, utcnow()
    if peer.role == "office":
        peer.up_seq = max(peer.up_seq, cursor)
    else:
        peer.down_seq = max(peer.down_seq, cursor)
    peer.last_contact_at = utcnow()
    session.commit()


def _refuse(session: Session, peer_id: int, item: Item, reason: str) -> None:
    log.warning("sync item %s (%s) from peer %s refused: %s", item.seq, item.kind, peer_id,
                reason)
    database.write_after_reading(session)
    session.add(SyncRefusal(peer_id=peer_id, seq=item.seq, kind=item.kind,
                            item_sha256=item.sha256, reason=reason))
    session.commit()


@dataclass
class _Context:
    """What the items of one batch are applied with; the senders they name, once found here,
    are remembered for the batch (a batch of an office's submissions names a few officers)."""

    session: Session
    store: BlobStore
    peer_id: int
    senders: dict[tuple[str | None, bool], _Sender] = field(default_factory=dict)

    @property
    def peer(self) -> SyncPeer:
        return _peer(self.session, self.peer_id)


# Up: what headquarters applies -----------------------------------------------------------------

def _submission(ctx: _Context, item: Item) -> str:
    upload = _upload_of(ctx, item)
    try:
        receipt = receiving.receive(ctx.session, ctx.store, upload)
    finally:
        _close(upload)
    return _outcome(receipt, upload.held_files)


def _upload_of(ctx: _Context, item: Item) -> receiving.Upload:
    """A relayed submission as the one write path takes it, its files (all here) opened."""
    body = item.body
    try:
        xml = base64.b64decode(body["xml"], validate=True)
        received_at = field_sync.parse_timestamp(body["received_at"])
        files = {name: sha for name, sha in body["files"].items() if sha}
        places = [(str(k), str(v)) for k, v in body.get("sender_places") or []]
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise Problem(problems.SYNC_ITEM_INVALID, reason=str(error)) from error
    sender = _sender(ctx, body.get("sender"), bool(body.get("sender_from_headquarters")))
    return receiving.Upload(
        xml=xml, files={name: ctx.store.open(sha) for name, sha in files.items()},
        app_user=sender, device_id=body.get("device_id"), user_agent=body.get("user_agent"),
        peer_id=ctx.peer_id, received_at=received_at, sender_places=places, held_files=files)


def _close(upload: receiving.Upload) -> None:
    for file in upload.files.values():
        file.close()


def _outcome(receipt: receiving.Receipt, files) -> str:
    if receipt.outcome is Arrival.RETRY and len(files) <= receipt.attachments_present:
        return "held"
    return "applied"


def _attachment(ctx: _Context, item: Item) -> str:
    """A file that reached the office after its version: the version again, with it."""
    body = item.body
    version = field_office_queries.version_named(ctx.session, body["form"], body["instance_id"])
    if version is None:
        raise Problem(problems.SUBMISSION_NOT_FOUND)
    with ctx.store.open(body["sha256"]) as file:
        receipt = receiving.receive(ctx.session, ctx.store, receiving.Upload(
            xml=version.xml, files={body["name"]: file},
            app_user=_Sender(version.submitter_id, ""), peer_id=ctx.peer_id,
            received_at=version.created_at))
    return "applied" if receipt.outcome is Arrival.RETRY else "held"


@dataclass(frozen=True)
class _Sender:
    id: int
    name: str


def _sender(ctx: _Context, name: str | None, from_headquarters: bool) -> _Sender:
    """Who sent it, as headquarters knows them: an app user headquarters gave the office is the
    same app user here; one the office made itself is `name@office`, without token or password
    (it cannot sign in here), made the first time it is named."""
    known = ctx.senders.get((name, from_headquarters))
    if known is not None:
        return known
    peer = ctx.peer
    if name and from_headquarters:
        found = account_queries.app_user_by_name(ctx.session, name, active=False)
        if found is not None:
            sender = ctx.senders[(name, from_headquarters)] = _Sender(found.id, found.name)
            return sender
    own = field_sync.office_name_of(name or "unknown", peer.name)
    found = account_queries.app_user_by_name(ctx.session, own, active=False)
    if found is None:
        database.write_after_reading(ctx.session)
        found = AppUser(name=own, token=None, all_forms=True, peer_id=peer.id)
        ctx.session.add(found)
        ctx.session.commit()
    sender = ctx.senders[(name, from_headquarters)] = _Sender(found.id, found.name)
    ctx.session.rollback()  # receive() reads outside any transaction
    return sender


# Both ways: reviews ----------------------------------------------------------------------------

def _review(ctx: _Context, item: Item) -> str:
    body, session = item.body, ctx.session
    try:
        key, state, text = body["key"], body["review_state"], body["body"]
        created_at = field_sync.parse_timestamp(body["created_at"])
        seen = list(body["seen"])
        author = str(body["author"])
    except (KeyError, ValueError, TypeError) as error:
        raise Problem(problems.SYNC_ITEM_INVALID, reason=str(error)) from error
    if key != field_sync.review_key(body["instance_id"], created_at, author, state, text):
        raise Problem(problems.SYNC_ITEM_INVALID, reason="the review's key does not match it")
    database.write_after_reading(session)
    submission = field_office_queries.submission_of(session, body["form"], body["instance_id"])
    if submission is None:
        raise Problem(problems.SUBMISSION_NOT_FOUND)
    held = field_office_queries.comments_of(session, submission.id)
    keys = {feed.review_key_of(submission.instance_id, c.ReviewComment, c.username): c
            for c in held}
    states = [k for k, c in keys.items() if c.ReviewComment.review_state is not None]
    outcome = field_sync.decide_review(key, state, seen, keys, states)
    if outcome is ReviewOutcome.HELD:
        session.rollback()
        return "held"
    comment = ReviewComment(submission_id=submission.id, user_id=None, author=author,
                            peer_id=ctx.peer_id, body=text, review_state=state,
                            version_id=body.get("version_id"), created_at=created_at)
    session.add(comment)
    session.flush()
    field_office_queries.log_change(session, "review", comment.id, ctx.peer_id, created_at)
    if outcome is ReviewOutcome.APPLY:
        review_queries.set_review_state(session, [submission.id], state, created_at)
        form = form_queries.form_by_id(session, submission.form_id)
        tables = projection.load(session, form)
        if tables.tables:
            table_queries.update_root_state(session, tables.root, [submission.id], state)
        field_office_queries.resolve_conflicts(session, submission.id, utcnow())
    elif outcome is ReviewOutcome.CONFLICT:
        unseen = [c for k, c in keys.items() if k in set(states) - set(seen)]
        session.add(SyncConflict(submission_id=submission.id, peer_id=ctx.peer_id,
                                 here_comment_id=unseen[-1].ReviewComment.id,
                                 there_comment_id=comment.id))
    session.commit()
    return "conflict" if outcome is ReviewOutcome.CONFLICT else "applied"


# Down: what an office applies ------------------------------------------------------------------

def _form(ctx: _Context, item: Item) -> str:
    body, session, store = item.body, ctx.session, ctx.store
    database.write_after_reading(session)
    form = form_queries.get_form(session, body["form"])
    version = form_queries.get_version(session, form, body["version"]) if form else None
    media = {name: store.read(sha) for name, sha in body["media"].items() if sha}
    changed = False
    if version is None:
        if not body.get("source"):
            raise Problem(problems.SYNC_ITEM_INVALID, reason="a form without its source")
        result = form_loading.load_form(session, store, store.read(body["source"]), media,
                                        validate=False)  # headquarters validated it
        form, changed = result.form, True
    else:
        declared = {m.name for m in version.media}
        changed = bool(form_loading.set_media(
            session, store, version, {n: d for n, d in media.items() if n in declared}))
    if form.state != body["state"]:
        form_loading.set_state(form, body["state"])
        changed = True
    session.commit()
    return "applied" if changed else "held"


def _app_user(ctx: _Context, item: Item) -> str:
    body, session = item.body, ctx.session
    database.write_after_reading(session)
    existing = account_queries.app_user_by_name(session, body["name"], active=False)
    if existing is not None and existing.peer_id != ctx.peer_id:
        raise Problem(problems.APP_USER_EXISTS, name=body["name"])
    if body.get("gone"):
        if existing is None or existing.revoked_at is not None:
            session.rollback()
            return "held"
        existing.token = existing.password_hash = existing.digest_ha1 = None
        existing.revoked_at = utcnow()
        session.commit()
        return "applied"
    if existing is None:
        existing = AppUser(name=body["name"], peer_id=ctx.peer_id)
        session.add(existing)
    existing.token = body.get("token")
    existing.password_hash = body.get("password_hash")
    existing.digest_ha1 = body.get("digest_ha1")
    existing.all_forms = bool(body.get("all_forms", True))
    existing.forms = list(form_queries.forms_by_ids(session, body.get("forms") or []))
    existing.revoked_at = None
    session.flush()
    accounts.set_app_user_places(existing, [tuple(p) for p in body.get("places") or []])
    session.commit()
    return "applied"


def _case_event(ctx: _Context, item: Item) -> str:
    """A supervisor's act on a case at the other end: a resolution made again here with the
    values they chose, a deletion done here too."""
    body, session = item.body, ctx.session
    try:
        kind, uuid, list_name = body["kind"], str(body["uuid"]), str(body["list"])
        at = field_sync.parse_timestamp(body["at"])
        values = json.dumps(body["body"], ensure_ascii=False)
    except (KeyError, ValueError, TypeError) as error:
        raise Problem(problems.SYNC_ITEM_INVALID, reason=str(error)) from error
    database.write_after_reading(session)
    if field_office_queries.case_event_held(session, kind, uuid, values):
        session.rollback()
        return "held"
    writer = session.connection()
    if kind == "delete":
        deleting.delete(writer, list_name, uuid, None, at, peer_id=ctx.peer_id)
    elif kind == "resolve":
        resolving.resolve_as_told(writer, uuid, values, at, peer_id=ctx.peer_id)
    else:
        raise Problem(problems.SYNC_ITEM_INVALID, reason=f"a case event of kind {kind!r}")
    session.commit()
    return "applied"


_APPLY = {"submission": _submission, "attachment": _attachment, "review": _review,
          "form": _form, "app_user": _app_user, "case_event": _case_event}
