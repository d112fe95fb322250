"""Keys unlocked for a key holder's session: the passphrase opens the sealed key once, and the
private key is then kept encrypted (AES-256-GCM) under a random secret that only the holder's
session cookie carries. The database row alone (or a copy, or a backup) opens nothing; the
cookie alone opens nothing; together, in a request, they give the private key to that request's
memory, and every worker of the server can serve the holder (gunicorn runs several).

An unlock ends when its holder locks it, logs out, or after KEY_UNLOCK_MINUTES from unlocking
(not from the last use: a session left open does not keep a key open). Unlocking, a wrong
passphrase and locking are audited; the passphrase never is, nor the secret. Wrong passphrases
slow the key down as failed logins slow an account (`server.services.throttle`).

A field office's server never unlocks a key: it holds ciphertext only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from server.database.models import EncryptionKey, KeyUnlock, User, utcnow
from server.database.queries import field_offices as field_office_queries
from server.database.queries import keys as key_queries
from server.kernel import i18n, problems
from server.kernel.problems import Problem
from server.services import access, audit, throttle
from sync import keys as key_pairs

_SECRET = 32
_NONCE = 12
# Private keys this worker already opened, by unlock id, with the SHA-256 of the secret that
# opened them: parsing an RSA key each request costs more than the request's own work.
_OPENED: dict[int, tuple[bytes, rsa.RSAPrivateKey]] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Unlocked:
    """A key open for this request: what decrypting needs, and until when it may."""

    unlock_id: int
    key_id: int
    key_name: str
    private_key: rsa.RSAPrivateKey
    expires_at: datetime


def unlock(session: Session, key: EncryptionKey, passphrase: str, user: User, *,
           minutes: float, address: str | None = None) -> tuple[KeyUnlock, str]:
    """Open the key with its passphrase for `user`'s session: the unlock and the token (unlock
    id and secret) for the session cookie. A wrong passphrase is audited and counted: the caller
    commits before showing the error, so that neither is rolled back with the request."""
    private_key = open_key(session, key, passphrase, user, address=address)
    now = utcnow()
    row = KeyUnlock(key_id=key.id, user_id=user.id, wrapped="",
                    created_at=now, expires_at=now + timedelta(minutes=minutes))
    session.add(row)
    session.flush()
    secret = os.urandom(_SECRET)
    nonce = os.urandom(_NONCE)
    plain = private_key.private_bytes(serialization.Encoding.DER,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    row.wrapped = base64.b64encode(
        nonce + AESGCM(secret).encrypt(nonce, plain, _associated(row))).decode()
    with _LOCK:
        _OPENED[row.id] = (hashlib.sha256(secret).digest(), private_key)
    audit.record(session, "key.unlocked", user=user, address=address, key=key.name,
                 expires_at=row.expires_at.isoformat(timespec="seconds"))
    return row, f"{row.id}.{base64.urlsafe_b64encode(secret).decode()}"


def open_key(session: Session, key: EncryptionKey, passphrase: str, user: User, *,
             address: str | None = None) -> rsa.RSAPrivateKey:
    """The private key, for this process's memory only (a command's run, or an unlock): only
    for a key holder, never on a field office, slowed down after wrong passphrases."""
    if field_office_queries.headquarters(session) is not None:
        raise Problem(problems.KEY_UNLOCK_AT_FIELD_OFFICE)
    if not access.holds_keys(user):
        raise Problem(problems.NOT_KEY_HOLDER, username=user.username)
    account = _throttle_account(key)
    blocked = throttle.blocked_until(session, account)
    if blocked is not None:
        raise Problem(problems.KEY_UNLOCK_THROTTLED, name=key.name,
                      until=i18n.datetime_text(blocked, "short"))
    try:
        private_key = key_pairs.unseal(key.sealed.encode(), passphrase)
    except key_pairs.WrongPassphrase:
        throttle.failed(session, account)
        audit.record(session, "key.unlock_failed", user=user, address=address, key=key.name)
        raise WrongPassphrase(key.name) from None
    throttle.succeeded(session, account)
    return private_key


class WrongPassphrase(Problem):
    def __init__(self, name: str):
        super().__init__(problems.KEY_PASSPHRASE_WRONG, name=name)


def opened(session: Session, user: User, token: str) -> Unlocked | None:
    """The key a session's token opens, if it is still unlocked for this user; None otherwise
    (locked elsewhere, expired, another user's, or a token that was tampered with)."""
    unlock_id, secret = _read_token(token)
    if unlock_id is None:
        return None
    row = key_queries.unlock_by_id(session, unlock_id)
    if row is None or row.user_id != user.id or _aware(row.expires_at) <= utcnow():
        _forget(unlock_id)
        return None
    digest = hashlib.sha256(secret).digest()
    with _LOCK:
        cached = _OPENED.get(unlock_id)
    if cached is not None and hmac.compare_digest(cached[0], digest):
        private_key = cached[1]
    else:
        private_key = _open(row, secret)
        if private_key is None:
            return None
        with _LOCK:
            _OPENED[unlock_id] = (digest, private_key)
    key = key_queries.key_by_id(session, row.key_id)
    return Unlocked(unlock_id, row.key_id, key.name, private_key, _aware(row.expires_at))


def lock(session: Session, user: User, unlocked: Unlocked, *,
         address: str | None = None) -> None:
    key_queries.delete_unlocks(session, unlock_ids=[unlocked.unlock_id])
    _forget(unlocked.unlock_id)
    audit.record(session, "key.locked", user=user, address=address, key=unlocked.key_name,
                 reason="locked")


def lock_all(session: Session, user: User, *, address: str | None = None) -> None:
    """At logout (and a password change): every key the user had unlocked."""
    rows = key_queries.unlocks_of(session, user.id, utcnow())
    for row in rows:
        _forget(row.id)
        key = key_queries.key_by_id(session, row.key_id)
        audit.record(session, "key.locked", user=user, address=address, key=key.name,
                     reason="logout")
    key_queries.delete_unlocks(session, user_id=user.id)


def purge_expired(session: Session) -> int:
    """Delete the rows of unlocks that expired: their ciphertext serves nobody any more."""
    return key_queries.delete_unlocks(session, before=utcnow())


def _open(row: KeyUnlock, secret: bytes) -> rsa.RSAPrivateKey | None:
    try:
        data = base64.b64decode(row.wrapped, validate=True)
        plain = AESGCM(secret).decrypt(data[:_NONCE], data[_NONCE:], _associated(row))
        private_key = serialization.load_der_private_key(plain, password=None)
    except (InvalidTag, ValueError, binascii.Error):
        return None
    return private_key if isinstance(private_key, rsa.RSAPrivateKey) else None


def _associated(row: KeyUnlock) -> bytes:
    """Binds the ciphertext to its row: moved to another user or key, it does not open."""
    return f"muntada-key-unlock:{row.id}:{row.key_id}:{row.user_id}".encode()


def _read_token(token: str) -> tuple[int | None, bytes]:
    number, _, secret = (token or "").partition(".")
    try:
        raw = base64.urlsafe_b64decode(secret.encode())
    except (ValueError, binascii.Error):
        return None, b""
    if not number.isdigit() or len(raw) != _SECRET:
        return None, b""
    return int(number), raw


def _forget(unlock_id: int) -> None:
    with _LOCK:
        _OPENED.pop(unlock_id, None)


def _throttle_account(key: EncryptionKey) -> str:
    # per key, not per user: whoever guesses, the key slows down
    return f"key:{key.name}"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)
