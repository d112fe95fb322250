"""The keys of encrypted forms (see `server.services.keys`): the public half, given to forms, and
the private half sealed with a passphrase nobody here stores."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
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
