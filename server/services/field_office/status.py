"""Where each link stands, for the page of field offices and `muntada field-office status`:
last contact, what waits on each side, what was refused, review conflicts, the last error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import SyncPeer, SyncRefusal
from server.database.queries import field_offices as field_office_queries
from server.services.field_office import feed
from sync import field_sync


@dataclass
class Link:
    peer: SyncPeer
    waiting_here: int  # changes this server holds that the other side has not applied
    waiting_there: int  # the other side's changes not applied here (as of the last contact)
    refusals: int
    recent_refusals: list[SyncRefusal]
    conflicts: int

    @property
    def name(self) -> str:
        return self.peer.own_name or self.peer.name if self.peer.role == "headquarters" \
            else self.peer.name

    @property
    def places(self) -> list[tuple[str, str]]:
        return [tuple(p) for p in json.loads(self.peer.places or "[]")]

    @property
    def last_contact_at(self) -> datetime | None:
        return self.peer.last_contact_at

    def as_json(self) -> dict:
        return {"name": self.name, "role": self.peer.role, "url": self.peer.url,
                "places": [list(p) for p in self.places],
                "last_contact_at": _iso(self.peer.last_contact_at),
                "joined": bool(self.peer.public_key) if self.peer.role == "office" else True,
                "waiting_here": self.waiting_here, "waiting_there": self.waiting_there,
                "up_seq": self.peer.up_seq, "down_seq": self.peer.down_seq,
                "refusals": self.refusals, "conflicts": self.conflicts,
                "last_error": self.peer.last_error,
                "last_error_at": _iso(self.peer.last_error_at)}

    def lines(self) -> list[str]:
        if self.peer.role == "office":
            head = f"field office {self.name}"
            waits = (f"{self.waiting_here} changes waiting to go down, up to "
                     f"{self.waiting_there} to come up")
        else:
            head = f"this office ({self.name}) with headquarters {self.peer.url}"
            waits = (f"{self.waiting_here} changes waiting to go up, up to "
                     f"{self.waiting_there} to come down")
        contact = _iso(self.peer.last_contact_at) or "never"
        out = [head, f"last contact {contact}", waits, f"sent up to change {self.peer.up_seq}",
               f"received up to change {self.peer.down_seq}"]
        if self.refusals:
            out.append(f"{self.refusals} refused")
        if self.conflicts:
            out.append(f"{self.conflicts} review conflicts")
        if self.peer.last_error:
            out.append(f"last error: {self.peer.last_error}")
        return out


def links(session: Session) -> list[Link]:
    peers = list(field_office_queries.offices(session))
    hq = field_office_queries.headquarters(session)
    if hq is not None:
        peers.append(hq)
    found = []
    for peer in peers:
        if peer.role == "office":
            here = feed.waiting(session, peer, peer.down_seq)
            there = max(0, peer.their_seq - peer.up_seq)
        else:
            here = feed.waiting(session, peer, peer.up_seq)
            there = max(0, peer.their_seq - peer.down_seq)
        # what changed here since the other side last called has no number yet: it waits too
        here += field_office_queries.count_unnumbered(
            session, field_sync.UP if peer.role == "headquarters" else field_sync.DOWN,
            not_from=peer.id)
        found.append(Link(peer, here, there,
                          field_office_queries.count_refusals(session, peer.id),
                          list(field_office_queries.refusals(session, peer.id, 5)),
                          len(field_office_queries.open_conflicts(session, peer.id))))
    return found


def conflicted(session: Session, link: Link) -> list[sa.Row]:
    """The submissions of the link's open review conflicts (form, instanceID, since when), for
    the page to link to each."""
    return list(field_office_queries.conflicted_submissions(session, link.peer.id))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None
