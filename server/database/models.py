"""The database tables, in SQLAlchemy 2.0 style. Every statement that reads or writes them lives in
`server/database/queries/`; schema changes go through the Alembic migrations in
`server/database/migrations/`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

FORM_STATES = ("open", "closing", "closed")
REVIEW_STATES = ("received", "edited", "hasIssues", "approved", "rejected")
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
    # a small file's bytes too, committed with its submission (BlobStore.put_small)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Form(Base):
    __tablename__ = "forms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    xml_form_id: Mapped[str] = mapped_column(String(255), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="open")
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("form_versions.id", use_alter=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # new and random whenever its tables gain a table or column: workers rebuild their copies
    projection_revision: Mapped[str] = mapped_column(String(32), default="")
    decrypted_rows: Mapped[bool] = mapped_column(Boolean, default=False)  # see services.decryption

    current_version: Mapped[FormVersion | None] = relationship(
        foreign_keys=[current_version_id], post_update=True)


class FormVersion(Base):
    """One published version of a form: the XForm exactly as phones download it."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    version: Mapped[str] = mapped_column(String(255), default="")
    title: Mapped[str] = mapped_column(String(1000))
    # deferred: the XForm is read when served or parsed, not with every lookup of its version
    xform: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    xform_md5: Mapped[str] = mapped_column(String(32))
    xform_sha256: Mapped[str] = mapped_column(String(64))
    source_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), nullable=True)
    source_type: Mapped[str] = mapped_column(String(16))
    # the key whose public half the XForm carries (`muntada forms encrypt`); None: plain text
    encryption_key_id: Mapped[int | None] = mapped_column(ForeignKey("encryption_keys.id"))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    form: Mapped[Form] = relationship(foreign_keys=[form_id])
    media: Mapped[list[FormMedia]] = relationship(
        back_populates="form_version", order_by="FormMedia.name")


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
    """An officer's phone: a token in the URL, or a name and password over Digest or Basic
    (the only accounts with a Digest HA1: Collect on plain HTTP can do nothing else)."""

    __tablename__ = "app_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    token: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    digest_ha1: Mapped[str | None] = mapped_column(String(32), nullable=True)
    all_forms: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # an app user headquarters sent down (a field office's server), or one a field office's
    # submissions named (headquarters): which server it belongs to
    peer_id: Mapped[int | None] = mapped_column(ForeignKey("sync_peers.id"), nullable=True)

    forms: Mapped[list[Form]] = relationship(secondary="app_user_forms")
    places: Mapped[list[AppUserPlace]] = relationship(
        cascade="all, delete-orphan", order_by="(AppUserPlace.kind, AppUserPlace.value)")


class AppUserForm(Base):
    __tablename__ = "app_user_forms"
    app_user_id: Mapped[int] = mapped_column(ForeignKey("app_users.id"), primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), primary_key=True)


class AppUserPlace(Base):
    """A governorate or forum whose cases an app user's phone receives; none means none."""

    __tablename__ = "app_user_places"
    app_user_id: Mapped[int] = mapped_column(ForeignKey("app_users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # governorate or forum
    value: Mapped[str] = mapped_column(String(255), primary_key=True)


class User(Base):
    """A web account: administrator, supervisor or analyst."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    role: Mapped[str] = mapped_column(String(32))
    # Argon2id only: no Digest HA1, which a copied database would give away at MD5 speed
    password_hash: Mapped[str] = mapped_column(String(255))
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)  # fields marked personal
    key_holder: Mapped[bool] = mapped_column(Boolean, default=False)  # creates, unlocks keys
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # bumped at logout and password change: every cookie signed with an older one stops working
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    scopes: Mapped[list[UserScope]] = relationship(lazy="selectin", cascade="all, delete-orphan")

    # what Flask-Login asks of a signed-in user; the epoch in the id ends older sessions
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"


class UserScope(Base):
    """A governorate or forum whose submissions a supervisor sees; none means all of them."""

    __tablename__ = "user_scopes"
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # governorate or forum
    value: Mapped[str] = mapped_column(String(255), primary_key=True)


class LoginThrottle(Base):
    """Failed logins per account (not per address: colleagues share a field office's)."""

    __tablename__ = "login_throttle"
    account: Mapped[str] = mapped_column(String(255), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A script's key to the data API; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEvent(Base):
    """Who did what and when: logins, views of personal data, changes, downloads."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True,
                                                index=True)
    username: Mapped[str | None] = mapped_column(String(255), nullable=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    form_id: Mapped[int | None] = mapped_column(ForeignKey("forms.id"), nullable=True)
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    remote_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)


class Submission(Base):
    """One filled form, through all its versions; `instance_id` is its first instanceID (KEY)."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("form_id", "instance_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    instance_id: Mapped[str] = mapped_column(String(255))
    current_def_id: Mapped[int | None] = mapped_column(
        ForeignKey("submission_defs.id", use_alter=True), nullable=True)
    review_state: Mapped[str] = mapped_column(String(16), default="received")
    # indexed: a phone's feedback list is its own submissions
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("app_users.id"), nullable=True,
                                                     index=True)
    device_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    current_def: Mapped[SubmissionDef | None] = relationship(
        foreign_keys=[current_def_id], post_update=True)


class ReviewComment(Base):
    """A comment on a submission, alone or with a change of review state: a supervisor's, or
    the officer's answer from the phone (`app_user_id`, sent with `my_returned_forms`)."""

    __tablename__ = "review_comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    app_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_users.id"), nullable=True)
    # the answer's own submission (my_returned_forms), so that it is added once
    answer_submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("submissions.id"), nullable=True, unique=True)
    body: Mapped[str] = mapped_column(Text)
    # made on another server (a field office, or headquarters): who, as that server names them
    author: Mapped[str | None] = mapped_column(String(255), nullable=True)
    peer_id: Mapped[int | None] = mapped_column(ForeignKey("sync_peers.id"), nullable=True)
    review_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # the instanceID of the version its writer read (empty for comments older than that)
    version_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User | None] = relationship(lazy="joined")
    app_user: Mapped[AppUser | None] = relationship(lazy="joined")
    peer: Mapped[SyncPeer | None] = relationship(lazy="joined")  # noqa: F821 (its own module)


class ExportJob(Base):
    """An analyst's download being built in the background, then kept for a while."""

    __tablename__ = "export_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    format: Mapped[str] = mapped_column(String(16))
    options: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    state: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    file_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # JSON: the owner's rights the file was written with (server.services.exports.rights); a
    # download is refused once the owner has lost any of them
    rights: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SubmissionDef(Base):
    """One version of an instance exactly as received: the record everything else is built from."""

    __tablename__ = "submission_defs"
    __table_args__ = (UniqueConstraint("form_id", "instance_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"))
    instance_id: Mapped[str] = mapped_column(String(255))
    deprecated_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    xml: Mapped[bytes] = mapped_column(LargeBinary)
    xml_sha256: Mapped[str] = mapped_column(String(64))
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("app_users.id"), nullable=True)
    device_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attachments_expected: Mapped[int] = mapped_column(Integer, default=0)
    attachments_present: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    normalised_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    normalise_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    form_version: Mapped[FormVersion] = relationship()
    attachments: Mapped[list[SubmissionAttachment]] = relationship(
        order_by="SubmissionAttachment.position")


class SubmissionAttachment(Base):
    """A file an instance version references; `blob_sha256` is empty until it arrives."""

    __tablename__ = "submission_attachments"
    submission_def_id: Mapped[int] = mapped_column(ForeignKey("submission_defs.id"),
                                                   primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    blob_sha256: Mapped[str | None] = mapped_column(ForeignKey("blobs.sha256"), nullable=True)


class ProjectionTable(Base):
    """Which SQL table holds a form's rows, its repeats' rows and its select-multiples' values."""

    __tablename__ = "projection_tables"
    __table_args__ = (UniqueConstraint("form_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    key: Mapped[str] = mapped_column(String(1000))  # "" for the form, else the repeat's path
    parent_key: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    table_name: Mapped[str] = mapped_column(String(63), unique=True)


class ProjectionColumn(Base):
    """Which column holds a field's values: the stored mapping from form path to SQL name."""

    __tablename__ = "projection_columns"
    __table_args__ = (
        UniqueConstraint("table_id", "path", "kind", "part", name="uq_projection_columns_field"),
        UniqueConstraint("table_id", "column_name", name="uq_projection_columns_name"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("projection_tables.id"), index=True)
    path: Mapped[str] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(16))
    part: Mapped[str] = mapped_column(String(16), default="")
    column_name: Mapped[str] = mapped_column(String(63))


class ValueIssueRecord(Base):
    """A value kept only in the raw XML: it did not parse as its type, or has no field."""

    __tablename__ = "value_issues"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_def_id: Mapped[int] = mapped_column(ForeignKey("submission_defs.id"), index=True)
    row_key: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(String(1000))
    raw: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


class EntityList(Base):
    """An entity list (ODK Entities' dataset), `cases`: the properties forms save to it."""

    __tablename__ = "entity_lists"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # JSON: [{"name": ..., "kind": ...}] in the order the forms first declared them
    properties: Mapped[str] = mapped_column(Text, default="[]")
    # a new random stamp when the list is rebuilt: delta tokens given before it are unknown
    epoch: Mapped[str] = mapped_column(String(32))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)  # the last change's number
    table_name: Mapped[str | None] = mapped_column(String(63), nullable=True)  # e_cases
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Entity(Base):
    """A case as it stands now: a projection of the submissions (and supervisors' acts) that made
    and changed it, rebuilt by `muntada renormalise`."""

    __tablename__ = "entities"
    __table_args__ = (Index("ix_entities_list_seq", "list_id", "seq"),
                      Index("ix_entities_list_forum", "list_id", "forum"),
                      Index("ix_entities_list_governorate", "list_id", "governorate"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("entity_lists.id"))
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    label: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text, default="{}")  # JSON: property -> value
    conflict: Mapped[str | None] = mapped_column(String(8), nullable=True)  # soft, hard
    # copied from the data, for the per-place lists and the Cases page
    governorate: Mapped[str | None] = mapped_column(String(255), nullable=True)
    forum: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str | None] = mapped_column(String(255), nullable=True)
    follow_up: Mapped[str | None] = mapped_column(String(32), nullable=True)  # ISO date
    seq: Mapped[int] = mapped_column(Integer)  # the list's change number of its last change
    csv_row: Mapped[str] = mapped_column(Text, default="")  # its line in the phones' CSV
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("app_users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class EntityDef(Base):
    """One version of a case, linked to what made it: a submission's version, or a supervisor
    resolving a conflict."""

    __tablename__ = "entity_defs"
    __table_args__ = (UniqueConstraint("entity_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the whole data after it
    data_received: Mapped[str] = mapped_column(Text, default="{}")  # JSON: what was sent
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    branch_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    trunk_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    branch_base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    conflict: Mapped[str | None] = mapped_column(String(8), nullable=True)
    conflicting_properties: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"),
                                                      nullable=True, index=True)
    submission_def_id: Mapped[int | None] = mapped_column(ForeignKey("submission_defs.id"),
                                                          nullable=True)
    app_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_users.id"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EntityActionRecord(Base):
    """What each entity action of a submission's version came to: applied, held (the backlog,
    waiting for its predecessor), or refused, and why. A projection too."""

    __tablename__ = "entity_actions"
    __table_args__ = (UniqueConstraint("submission_def_id", "position"),
                      Index("ix_entity_actions_held", "outcome", "uuid"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_def_id: Mapped[int] = mapped_column(ForeignKey("submission_defs.id"))
    position: Mapped[int] = mapped_column(Integer)  # its place among the instance's entities
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    list_name: Mapped[str] = mapped_column(String(255))
    uuid: Mapped[str] = mapped_column(String(36))
    outcome: Mapped[str] = mapped_column(String(16))  # applied, held, refused
    refusal: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    branch_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(Text, default="{}")  # JSON: what it asked, to decide again
    entity_def_id: Mapped[int | None] = mapped_column(ForeignKey("entity_defs.id"),
                                                      nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CaseEvent(Base):
    """An act on cases that no submission records, kept for good (renormalise replays it after
    the submission version it followed): a held update forced after its time, a supervisor's
    resolution of a conflict."""

    __tablename__ = "case_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # force, refuse, delete, resolve
    uuid: Mapped[str] = mapped_column(String(36), index=True)
    # force: the held action's submission version and position
    submission_def_id: Mapped[int | None] = mapped_column(ForeignKey("submission_defs.id"),
                                                          nullable=True)
    position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    body: Mapped[str] = mapped_column(Text, default="{}")  # JSON: a resolution's values
    after_def_id: Mapped[int] = mapped_column(Integer)  # the last submission version before it
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# Tables in modules of their own (field offices' sync, encryption keys): imported here to register
# them with the metadata that migrations compare, and to keep one place to import models from.
from server.database.field_office_models import (  # noqa: E402, F401
    SyncBundle,
    SyncConflict,
    SyncLog,
    SyncPeer,
    SyncRefusal,
)
from server.database.key_models import DecryptionCheck, EncryptionKey, KeyUnlock  # noqa: E402, F401
