"""The tables of field offices' sync with headquarters (see `server.services.field_office`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.database.models import Base, utcnow


class SyncPeer(Base):
    """The other end of a field office's link: at headquarters, each field office registered
    (`role` office); on a field office's server, its headquarters (`role` headquarters).
    The cursors are sequence numbers of each side's `sync_log`."""

    __tablename__ = "sync_peers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # office, headquarters
    # on an office's server: the name headquarters knows the office by
    own_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    url: Mapped[str | None] = mapped_column(String(1000), nullable=True)  # headquarters'
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # the office keeps its token to present it; headquarters only its hash
    token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    places: Mapped[str] = mapped_column(Text, default="[]")  # JSON: [[kind, value], ...]
    # the office's Ed25519 public key (raw, hex), which signs its bundles
    public_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # headquarters' changes the office has applied (both sides record it)
    down_seq: Mapped[int] = mapped_column(Integer, default=0)
    # the office's changes headquarters has applied (both sides record it)
    up_seq: Mapped[int] = mapped_column(Integer, default=0)
    # the other side's last change number when it was last heard from
    their_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_contact_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                             nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SyncLog(Base):
    """The append-only log of what changed here, in the order the other side reads it.
    A row is written in the change's own transaction with no number; the sequencer numbers the
    committed ones under a lock before a feed is read, so a cursor never skips a change that
    committed late (PostgreSQL draws ids before commit, not in commit order)."""

    __tablename__ = "sync_log"
    __table_args__ = (Index("ix_sync_log_kind_ref", "kind", "ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # unique, so indexed: the unnumbered rows (NULL) are found through it on both databases
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    ref: Mapped[str] = mapped_column(String(300))  # the changed row: its id, or id/name
    # the server it came from (never sent back there); None when made here
    peer_id: Mapped[int | None] = mapped_column(ForeignKey("sync_peers.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SyncRefusal(Base):
    """A change from the other side this server could not apply: kept, shown on the field
    offices page, and not asked for again."""

    __tablename__ = "sync_refusals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("sync_peers.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # in the sender's log
    kind: Mapped[str] = mapped_column(String(24))
    item_sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SyncConflict(Base):
    """The same submission reviewed at both ends, neither having seen the other's review:
    both are kept, the state each end had is left, and a supervisor decides."""

    __tablename__ = "sync_conflicts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("sync_peers.id"))
    here_comment_id: Mapped[int] = mapped_column(ForeignKey("review_comments.id"))
    there_comment_id: Mapped[int] = mapped_column(ForeignKey("review_comments.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SyncBundle(Base):
    """A bundle imported from a USB stick: its id, so a replayed bundle is refused."""

    __tablename__ = "sync_bundles"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("sync_peers.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    first_seq: Mapped[int] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer)
    items: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
