"""The rules of server-to-server sync between a field office and headquarters, without a database
or a network: what travels which way, how an item is named by its content, when a review that
arrives conflicts with one made here, how long to wait after a failure, and which app users are
an office's.

Each side keeps an append-only log of its changes; the other side reads it from its last cursor.
An item is the change as it travels: its kind, its sequence number in the sender's log and a body
of JSON; it is named by the SHA-256 of that body, so an item sent twice is recognised, and every
file it needs is named by its own SHA-256 and sent apart (a cut transfer resumes where it broke).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

# What each side sends. A review travels both ways: a supervisor at the office or at
# headquarters may review the office's submissions.
UP = ("submission", "attachment", "review", "case_event")
# down: the submissions that made or changed a case of the office's places elsewhere (its
# phones follow those cases too), and supervisors' acts on those cases
DOWN = ("form", "app_user", "review", "submission", "case_event")
PROTOCOL = 1  # the version of the exchange; a server speaking another refuses clearly


@dataclass(frozen=True)
class Item:
    seq: int  # in the sender's log
    kind: str
    body: dict
    blobs: tuple[str, ...] = ()  # SHA-256 of every file the receiver needs to apply it

    @property
    def sha256(self) -> str:
        return content_sha256(self.kind, self.body)

    def as_json(self) -> dict:
        return {"seq": self.seq, "kind": self.kind, "sha256": self.sha256, "body": self.body,
                "blobs": list(self.blobs)}


class ItemInvalid(ValueError):
    """An item that does not read as one, or whose content does not match its name."""


def canonical(value) -> bytes:
    """JSON with one spelling for one value: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def content_sha256(kind: str, body: dict) -> str:
    return hashlib.sha256(canonical({"kind": kind, "body": body})).hexdigest()


def read_item(raw, kinds: Collection[str]) -> Item:
    """An item received, checked: a known kind, a body, files named by SHA-256, and the name
    it came with matching its content (a changed byte is refused, not applied)."""
    if not isinstance(raw, dict):
        raise ItemInvalid("an item is a JSON object")
    kind, body, seq = raw.get("kind"), raw.get("body"), raw.get("seq")
    if kind not in kinds:
        raise ItemInvalid(f"an item of kind {kind!r} does not travel this way")
    if not isinstance(body, dict) or not isinstance(seq, int) or isinstance(seq, bool) \
            or seq < 1:
        raise ItemInvalid("an item has a positive 'seq' and an object 'body'")
    blobs = raw.get("blobs", [])
    if not isinstance(blobs, list) or not all(is_sha256(b) for b in blobs):
        raise ItemInvalid("an item's 'blobs' are SHA-256 hex digests")
    item = Item(seq, kind, body, tuple(blobs))
    if raw.get("sha256") != item.sha256:
        raise ItemInvalid(f"item {seq} does not match its SHA-256: changed on the way")
    return item


def is_sha256(value) -> bool:
    return isinstance(value, str) and len(value) == 64 \
        and all(c in "0123456789abcdef" for c in value)


def timestamp(value: datetime) -> str:
    """A time as it travels: UTC, to the microsecond (SQLite hands back times without zone)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def parse_timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ItemInvalid(f"the time {text!r} has no zone")
    return value.astimezone(UTC)


# Reviews ---------------------------------------------------------------------------------------

def review_key(instance_id: str, created_at: datetime, author: str, review_state: str | None,
               body: str) -> str:
    """A review comment's name at both ends: what it says, who said it, when, and on what."""
    return hashlib.sha256(canonical([instance_id, timestamp(created_at), author,
                                     review_state, body])).hexdigest()


class ReviewOutcome(Enum):
    HELD = "held"  # already here: nothing to do
    APPLY = "apply"  # its author had seen every review held here: it is the latest word
    CONFLICT = "conflict"  # a review here its author had not seen: both kept, a supervisor decides
    NOTE = "note"  # a comment without a state: kept, it decides nothing


def decide_review(key: str, review_state: str | None, seen: Iterable[str],
                  held: Iterable[str], held_states: Iterable[str]) -> ReviewOutcome:
    """What a review arriving from the other side means here. `seen`: the reviews of that
    submission its author's server held when it was made; `held`: every review comment held
    here; `held_states`: those of them that set a state."""
    if key in set(held):
        return ReviewOutcome.HELD
    if review_state is None:
        return ReviewOutcome.NOTE
    unseen = set(held_states) - set(seen)
    return ReviewOutcome.CONFLICT if unseen else ReviewOutcome.APPLY


# App users -------------------------------------------------------------------------------------

def places_cover(office: Iterable[tuple[str, str]], app_user: Iterable[tuple[str, str]],
                 forum_governorates: dict[str, str]) -> bool:
    """Whether an app user works within an office's places: tied to at least one place, every
    one of them inside the office's (a governorate; or a forum of one of the office's
    governorates, or named by it). An app user tied to no place is headquarters' alone."""
    office = set(office)
    governorates = {value for kind, value in office if kind == "governorate"}
    forums = {value for kind, value in office if kind == "forum"}
    places = list(app_user)
    if not places:
        return False
    for kind, value in places:
        if kind == "governorate" and value not in governorates:
            return False
        if kind == "forum" and value not in forums \
                and forum_governorates.get(value) not in governorates:
            return False
    return True


def case_in_places(office: Iterable[tuple[str, str]], governorate: str | None,
                   forum: str | None, forum_governorates: dict[str, str]) -> bool:
    """Whether a case (its governorate and forum) is within an office's places."""
    office = set(office)
    governorates = {value for kind, value in office if kind == "governorate"}
    forums = {value for kind, value in office if kind == "forum"}
    return (governorate in governorates) or (forum is not None and (
        forum in forums or forum_governorates.get(forum) in governorates))


def office_name_of(app_user: str, office: str) -> str:
    """The name headquarters gives an app user a field office created on its own server."""
    return f"{app_user}@{office}"


# Retrying --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Backoff:
    """How long the background loop waits after a failed attempt: doubling from `first` up to
    `most`, so a link down for a week costs a few tries an hour, and a link back is used soon."""

    first: float = 5.0
    most: float = 600.0
    factor: float = 2.0

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return min(self.most, self.first * self.factor ** (failures - 1))
