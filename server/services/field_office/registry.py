"""Who syncs with whom. Headquarters registers a field office (its name, its places, a token
shown once); the office's server joins with that token, telling headquarters the public key
that signs its bundles. Headquarters keeps only the token's SHA-256; the office keeps the token
(it presents it) and its signing key, in its data folder, readable by it alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session

from server.database.models import SyncPeer, User, utcnow
from server.database.queries import field_offices as field_office_queries
from server.kernel import private, problems
from server.kernel.problems import Problem
from server.services import audit
from server.services.access import SCOPE_KINDS
from server.services.accounts import normalise_name
from sync import bundles, field_sync

KEY_FILE = "field-office.key"


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def register(session: Session, name: str, places: Sequence[tuple[str, str]], *,
             user: User | None = None, address: str | None = None) -> tuple[SyncPeer, str]:
    """Headquarters: a field office and its token (shown once, never stored)."""
    name = normalise_name(name)
    if not name or "@" in name or "/" in name:
        raise Problem(problems.INVALID_FIELD, field="name",
                      reason="it is empty or contains '@' or '/'")
    if field_office_queries.peer_by_name(session, name) is not None:
        raise Problem(problems.FIELD_OFFICE_EXISTS, name=name)
    wanted = sorted({(kind, value.strip()) for kind, value in places if value.strip()})
    if any(kind not in SCOPE_KINDS for kind, _ in wanted) or not wanted:
        raise Problem(problems.INVALID_FIELD, field="place", reason=(
            "a field office has at least one place: a governorate or a forum"))
    token = secrets.token_hex(32)  # never starts with "-", which a command line would misread
    peer = SyncPeer(name=name, role="office", token_sha256=token_sha256(token),
                    places=json.dumps([list(p) for p in wanted], ensure_ascii=False))
    session.add(peer)
    session.flush()
    audit.record(session, "field_office.registered", user=user, address=address, office=name,
                 places=wanted)
    return peer, token


def office_of(session: Session, token: str | None) -> SyncPeer:
    """Headquarters: the office a request's token names, or 401."""
    peer = field_office_queries.peer_by_token(session, token_sha256(token)) if token else None
    if peer is None or peer.role != "office":
        raise Problem(problems.SYNC_TOKEN_INVALID)
    return peer


def hello(peer: SyncPeer, last_seq: int) -> dict:
    """What headquarters tells an office when it calls: who it is to headquarters, and what
    headquarters holds of the exchange, which the office trusts over its own record (a
    headquarters restored from a backup asks for what it lost)."""
    return {"protocol": field_sync.PROTOCOL, "office": peer.name,
            "places": json.loads(peer.places), "up_seq": peer.up_seq,
            "down_seq": peer.down_seq, "last_seq": last_seq}


def accept_key(session: Session, peer: SyncPeer, public_key: str, *,
               address: str | None) -> None:
    """Headquarters: the key that signs the office's bundles, told when it joins."""
    if not bundles.is_public_key(public_key):
        raise Problem(problems.INVALID_FIELD, field="public_key",
                      reason="an Ed25519 public key, 64 hexadecimal digits")
    peer.public_key = public_key
    audit.record(session, "field_office.joined", user=None, address=address,
                 username=peer.name, office=peer.name)


def join(session: Session, url: str, token: str, greeting: dict) -> SyncPeer:
    """The office: its headquarters, as `greeting` (headquarters' `hello`) describes it."""
    if greeting.get("protocol") != field_sync.PROTOCOL:
        raise Problem(problems.SYNC_PROTOCOL, theirs=greeting.get("protocol"),
                      ours=field_sync.PROTOCOL)
    peer = field_office_queries.headquarters(session)
    if peer is None:
        peer = SyncPeer(name="headquarters", role="headquarters", down_seq=0, up_seq=0,
                        their_seq=0)
        session.add(peer)
    peer.url, peer.token, peer.token_sha256 = url.rstrip("/"), token, token_sha256(token)
    peer.own_name = greeting.get("office")
    peer.places = json.dumps(greeting.get("places") or [], ensure_ascii=False)
    peer.up_seq = int(greeting.get("up_seq") or 0)
    peer.down_seq = min(peer.down_seq, int(greeting.get("down_seq") or 0))
    peer.their_seq = int(greeting.get("last_seq") or 0)
    peer.last_contact_at = utcnow()
    peer.last_error = None
    session.flush()
    audit.record(session, "field_office.joined", user=None, address=None,
                 username=greeting.get("office"), office=greeting.get("office"), url=peer.url)
    return peer


def signing_key(data_dir: str | Path) -> bytes:
    """The office's private key for bundles, made the first time (readable by this user only)."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        private.folder(path.parent)
        tmp = path.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        with os.fdopen(private.new_file(tmp), "wb") as out:
            out.write(bundles.new_private_key())
        tmp.replace(path)
    return private.file(path).read_bytes()
