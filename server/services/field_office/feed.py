"""What one side sends the other: its log after a cursor, each change read into an item.

Up (a field office to headquarters): every submission version exactly as received, attachments
that arrived after their version, reviews and comments made at the office. Down (headquarters to
an office): forms with their versions and media, the office's app users, reviews made at
headquarters of the office's submissions. Nothing goes back where it came from.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.orm import Session

from server import database
from server.database.models import SyncPeer
from server.database.queries import field_offices as field_office_queries
from server.services import programme
from sync import field_sync
from sync.field_sync import Item

BATCH = 500  # items in one answer: a few megabytes of XML at most, files apart


@dataclass
class Page:
    items: list[Item]
    last_seq: int  # the sender's last change number: the receiver is done once it gets here
    next_after: int  # where the next page starts

    @property
    def more(self) -> bool:
        return self.next_after < self.last_seq


def number(session: Session) -> int:
    """Number what committed since, so that a cursor reads it; the last number."""
    database.write_after_reading(session)
    last = field_office_queries.number_changes(session, postgresql=database.is_postgresql(session))
    session.commit()
    return last


def page(session: Session, peer: SyncPeer, after: int, *, limit: int = BATCH) -> Page:
    """The changes for `peer` after `after`: up to headquarters when `peer` is headquarters,
    down to an office otherwise."""
    last = number(session)
    kinds = field_sync.UP if peer.role == "headquarters" else field_sync.DOWN
    reader = _Reader(session, peer)
    items: list[Item] = []
    next_after = after
    while len(items) < limit and next_after < last:
        rows = field_office_queries.changes_after(session, next_after, kinds,
                                                  not_from=peer.id, limit=limit - len(items))
        if not rows:
            next_after = last
            break
        reader.read_ahead(rows)
        for row in rows:
            item = reader.item(row.seq, row.kind, row.ref)
            if item is not None:
                items.append(item)
            next_after = row.seq
    return Page(items, last, next_after)


def waiting(session: Session, peer: SyncPeer, after: int) -> int:
    """How many changes for `peer` are after `after` (before they are read into items, some
    of which may turn out not to be the peer's)."""
    kinds = field_sync.UP if peer.role == "headquarters" else field_sync.DOWN
    return field_office_queries.count_after(session, after, kinds, not_from=peer.id)


class _Reader:
    def __init__(self, session: Session, peer: SyncPeer):
        self.session, self.peer = session, peer
        self._read: set[int] = set()
        self._versions: dict[int, object] = {}
        self._files: dict[int, list[tuple[str, str | None]]] = {}
        self._places: dict[int, list[list[str]]] = {}  # a page's senders are a few officers

    def read_ahead(self, rows) -> None:
        """The submission versions of these changes, read at once (a page holds hundreds)."""
        self._read_versions([int(row.ref) for row in rows if row.kind == "submission"])

    def _read_versions(self, def_ids: list[int]) -> None:
        self._read = set(def_ids)
        self._versions = field_office_queries.submission_versions(self.session, def_ids)
        self._files = field_office_queries.versions_files(self.session, def_ids)

    @cached_property
    def office_places(self) -> list[tuple[str, str]]:
        return [tuple(p) for p in json.loads(self.peer.places or "[]")]

    @cached_property
    def forum_governorates(self) -> dict[str, str]:
        return programme.forum_governorates()

    def item(self, seq: int, kind: str, ref: str) -> Item | None:
        """The change as it stands now (a row changed twice is sent as it is, under each of
        its numbers; the receiver recognises the second as held); None when it is not the
        peer's to have, or is gone."""
        return getattr(self, f"_{kind}")(seq, ref)

    def _in_places(self, governorate: str | None, forum: str | None) -> bool:
        return field_sync.case_in_places(self.office_places, governorate, forum,
                                         self.forum_governorates)

    def _submission(self, seq: int, ref: str) -> Item | None:
        if self.peer.role == "office" and not any(
                self._in_places(*place) for place in
                field_office_queries.case_places_of_version(self.session, int(ref))):
            return None  # an office has its own submissions; of others', those of its cases
        if int(ref) not in self._read:
            self._read_versions([int(ref)])
        row = self._versions.get(int(ref))
        if row is None:
            return None
        files = self._files.get(row.id, [])
        body = {"form": row.xml_form_id, "version": row.version,
                "instance_id": row.instance_id,
                "xml": base64.b64encode(row.xml).decode("ascii"), "xml_sha256": row.xml_sha256,
                "sender": row.sender,
                # an app user of headquarters' (on the office, one headquarters sent down)
                "sender_from_headquarters": (row.sender_peer is None)
                if self.peer.role == "office" else (row.sender_peer is not None),
                "sender_places": self._places_of(row.sender_id),
                "device_id": row.device_id, "user_agent": row.user_agent,
                "received_at": field_sync.timestamp(row.created_at),
                "files": {name: sha for name, sha in files}}
        return Item(seq, "submission", body, tuple(sorted({s for _n, s in files if s})))

    def _places_of(self, sender_id: int | None) -> list[list[str]]:
        if sender_id is None:
            return []
        if sender_id not in self._places:
            self._places[sender_id] = [list(p) for p in field_office_queries.app_user_places(
                self.session, sender_id)]
        return self._places[sender_id]

    def _attachment(self, seq: int, ref: str) -> Item | None:
        def_id, name = ref.split("/", 1)
        row = field_office_queries.attachment_of(self.session, int(def_id), name)
        if row is None or row.blob_sha256 is None:
            return None
        return Item(seq, "attachment", {"form": row.xml_form_id, "instance_id": row.instance_id,
                                        "name": name, "sha256": row.blob_sha256},
                    (row.blob_sha256,))

    def _review(self, seq: int, ref: str) -> Item | None:
        found = field_office_queries.comment_for_sync(self.session, int(ref))
        if found is None:
            return None
        comment = found.ReviewComment
        if comment.answer_submission_id is not None:
            return None  # an officer's answer travels as the submission that brings it
        if self.peer.role == "office" and field_office_queries.submission_from(
                self.session, found.submission_id) != self.peer.id:
            return None  # headquarters sends an office the reviews of its own submissions
        earlier = field_office_queries.comments_of(self.session, found.submission_id,
                                                   before=comment.id)
        return Item(seq, "review", {
            "form": found.xml_form_id, "instance_id": found.instance_id,
            "key": review_key_of(found.instance_id, comment, found.username),
            "author": author_of(comment, found.username), "review_state": comment.review_state,
            "body": comment.body, "version_id": comment.version_id,
            "created_at": field_sync.timestamp(comment.created_at),
            "seen": [review_key_of(found.instance_id, c.ReviewComment, c.username)
                     for c in earlier]})

    def _case_event(self, seq: int, ref: str) -> Item | None:
        row = field_office_queries.case_event(self.session, int(ref))
        if row is None or row.kind not in ("resolve", "delete"):
            return None  # a held update forced is each end's own decision, after its own wait
        if self.peer.role == "office" and not self._in_places(row.governorate, row.forum):
            return None
        return Item(seq, "case_event", {
            "kind": row.kind, "uuid": row.uuid, "list": row.list_name,
            "body": json.loads(row.body or "{}"), "at": field_sync.timestamp(row.at),
            "author": row.username or ""})

    def _form(self, seq: int, ref: str) -> Item | None:
        row = field_office_queries.form_version_for_sync(self.session, int(ref))
        if row is None:
            return None
        media = field_office_queries.media_of(self.session, row.id)
        blobs = {sha for _n, sha in media if sha} | ({row.source_sha256} - {None})
        return Item(seq, "form", {
            "form": row.xml_form_id, "version": row.version, "state": row.state,
            "xform_sha256": row.xform_sha256, "source": row.source_sha256,
            "media": {name: sha for name, sha in media}}, tuple(sorted(blobs)))

    def _app_user(self, seq: int, ref: str) -> Item | None:
        app_user = field_office_queries.app_user(self.session, int(ref))
        if app_user is None or app_user.peer_id is not None:
            return None  # one an office's submissions named is that office's own
        places = field_office_queries.app_user_places(self.session, app_user.id)
        if not field_sync.places_cover(self.office_places, places, self.forum_governorates):
            # not the office's (or no longer): it forgets it, if it held it
            return Item(seq, "app_user", {"name": app_user.name, "gone": True})
        return Item(seq, "app_user", {
            "name": app_user.name, "gone": app_user.revoked_at is not None,
            "token": app_user.token, "password_hash": app_user.password_hash,
            "digest_ha1": app_user.digest_ha1, "all_forms": app_user.all_forms,
            "forms": field_office_queries.app_user_form_ids(self.session, app_user.id),
            "places": [list(p) for p in places]})


def author_of(comment, username: str | None) -> str:
    """A review's author as both ends name it: the user who made it where it was made."""
    return comment.author or username or ""


def review_key_of(instance_id: str, comment, username: str | None) -> str:
    return field_sync.review_key(instance_id, comment.created_at, author_of(comment, username),
                                 comment.review_state, comment.body)
