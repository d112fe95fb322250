"""The database tables, in SQLAlchemy 2.0 style. Every statement that reads or writes them lives in
`server/queries/`; schema changes go through the Alembic migrations in `server/migrations/`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

FORM_STATES = ("open", "closing", "closed")
ROLES = ("administrator", "supervisor", "analyst")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # Named constraints, so migrations can alter them on SQLite and PostgreSQL alike.
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class Blob(Base):
    """A stored file, addressed by its SHA-256; the bytes live in the data folder."""

    __tablename__ = "blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    md5: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Form(Base):
    __tablename__ = "forms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    xml_form_id: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="open")
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("form_versions.id", use_alter=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    current_version: Mapped[FormVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True, lazy="joined")


class FormVersion(Base):
    """One published version of a form: the XForm exactly as phones download it."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    version: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(String(1000))
    xform: Mapped[bytes] = mapped_column(LargeBinary)
    xform_md5: Mapped[str] = mapped_column(String(32))
    xform_sha256: Mapped[str] = mapped_column(String(64))
    source_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), nullable=True)
    source_type: Mapped[str] = mapped_column(String(16))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    form: Mapped[Form] = relationship(foreign_keys=[form_id])
    media: Mapped[list[FormMedia]] = relationship(
        back_populates="form_version", order_by="FormMedia.name", lazy="selectin")


class FormMedia(Base):
    """A media file a form version references; `blob_sha256` is empty until it is uploaded."""

    __tablename__ = "form_media"
    __table_args__ = (UniqueConstraint("form_version_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16))
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    form_version: Mapped[FormVersion] = relationship(back_populates="media")
    blob: Mapped[Blob | None] = relationship(lazy="joined")


class AppUser(Base):
    """An officer's phone: a token in the URL, or a name and password over Digest or Basic."""

    __tablename__ = "app_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    token: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    digest_ha1: Mapped[str | None] = mapped_column(String(32), nullable=True)
    all_forms: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    forms: Mapped[list[Form]] = relationship(secondary="app_user_forms", lazy="selectin")


class AppUserForm(Base):
    __tablename__ = "app_user_forms"
    app_user_id: Mapped[int] = mapped_column(ForeignKey("app_users.id"), primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), primary_key=True)


class User(Base):
    """A web account: administrator, supervisor or analyst."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    digest_ha1: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
