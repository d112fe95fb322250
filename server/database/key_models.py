"""The keys of encrypted forms (see `server.services.keys`): the public half, given to forms, and
the private half sealed with a passphrase nobody here stores."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.database.models import Base, utcnow


class EncryptionKey(Base):
    """An RSA key pair forms are published with: phones encrypt with `public_key`; `sealed` (the
    JSON of `sync.keys.seal`) opens only with the passphrase its key holder chose."""

    __tablename__ = "encryption_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    public_key: Mapped[str] = mapped_column(Text)  # the XLSForm `public_key` setting
    sealed: Mapped[str] = mapped_column(Text)
    # shown to whoever unlocks it; never the passphrase itself
    hint: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # the key holder who chose the passphrase
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class KeyUnlock(Base):
    """A key a key holder unlocked for their browser session: the private key encrypted
    (AES-256-GCM) under a secret that only their session cookie holds, so neither this row, a
    copy of the database nor the cookie alone can open it. Deleted when locked, on logout, and
    when it expires."""

    __tablename__ = "key_unlocks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("encryption_keys.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    wrapped: Mapped[str] = mapped_column(Text)  # base64 of nonce and ciphertext
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class DecryptionCheck(Base):
    """What decrypting a submission version with its key showed, kept so that pages flag it and
    an export need not check the signature again (that takes the photos decrypted too).
    Never any plaintext."""

    __tablename__ = "decryption_checks"
    submission_def_id: Mapped[int] = mapped_column(ForeignKey("submission_defs.id"),
                                                   primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("encryption_keys.id"))
    # valid, invalid (signature), unchecked (the XML read, the files not yet), wrong_key,
    # corrupted, missing (a file), unreadable (the envelope itself)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    # whether its decrypted rows are in the form's tables (the form's decrypted_rows setting)
    projected: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
