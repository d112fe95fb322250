"""The keys of encrypted forms and their holders (forms are published with one in
`server.services.form_encryption`).

A key holder makes a key pair with a passphrase of their choosing: the public half goes into the
forms published with it (phones encrypt every finalised referral with it), the private half is
stored only sealed (`sync.keys`: Argon2id and AES-256-GCM). The passphrase is never stored,
logged, audited nor put in a message: without it nobody, not even an administrator, can read
what was encrypted for that key. Unlocking a key for a session:
`server.services.key_unlocks`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Sequence

from sqlalchemy.orm import Session

from server.database.models import EncryptionKey, User
from server.database.queries import keys as key_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import access, audit
from sync import keys as key_pairs

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def create_key(session: Session, name: str, passphrase: str, *, holder: User,
               hint: str | None = None, address: str | None = None,
               cost: key_pairs.Argon2idCost = key_pairs.DEFAULT_COST) -> EncryptionKey:
    """A new key pair named `name`, sealed with `passphrase`, made by the key holder `holder`."""
    if not access.holds_keys(holder):
        raise Problem(problems.NOT_KEY_HOLDER, username=holder.username)
    name = name.strip()
    if not _NAME.fullmatch(name):
        # it ends the version of the forms published with it
        raise Problem(problems.INVALID_FIELD, field="name", reason=(
            "use up to 64 lower-case letters, digits, '.', '-' or '_', starting with a letter "
            "or digit"))
    if key_queries.key_by_name(session, name) is not None:
        raise Problem(problems.KEY_EXISTS, name=name)
    hint = (hint or "").strip() or None
    if hint is not None and len(hint) > 1000:
        raise Problem(problems.INVALID_FIELD, field="hint", reason="at most 1000 characters")
    try:
        pair = key_pairs.create_key_pair(passphrase, cost=cost)
    except key_pairs.PassphraseTooShort:
        raise Problem(problems.KEY_PASSPHRASE_TOO_SHORT,
                      minimum=key_pairs.MIN_PASSPHRASE) from None
    key = EncryptionKey(name=name, public_key=pair.public_key, sealed=pair.sealed.decode(),
                        hint=hint, created_by=holder.id)
    session.add(key)
    session.flush()
    audit.record(session, "key.created", user=holder, address=address, key=name,
                 fingerprint=fingerprint(key))
    return key


def fingerprint(key: EncryptionKey) -> str:
    """SHA-256 of the public key's DER, to tell keys apart without printing them whole."""
    return hashlib.sha256(base64.b64decode(key.public_key)).hexdigest()


def list_keys(session: Session) -> Sequence[tuple[EncryptionKey, str]]:
    """Every key and the user name of the key holder who made it."""
    return key_queries.list_keys(session)


def key_named(session: Session, name: str) -> EncryptionKey:
    key = key_queries.key_by_name(session, name.strip())
    if key is None:
        raise Problem(problems.KEY_NOT_FOUND, name=name)
    return key


def set_key_holder(session: Session, user: User, holds: bool, *, by: User | None = None,
                   address: str | None = None) -> None:
    """Granted (or taken) per user by an administrator, like seeing personal data."""
    before = bool(user.key_holder)
    user.key_holder = holds
    if not holds:  # what they had unlocked closes with the permission
        key_queries.delete_unlocks(session, user_id=user.id)
    audit.record(session, "user.changed", user=by, username=None if by else "cli",
                 address=address, changed_user=user.username,
                 before={"key_holder": before}, after={"key_holder": holds})
