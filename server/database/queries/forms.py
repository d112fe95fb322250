"""SQL of forms, their versions and their media files."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from server.database.models import (
    AppUser,
    AppUserForm,
    Form,
    FormMedia,
    FormVersion,
)


def get_form(session: Session, xml_form_id: str) -> Form | None:
    return session.scalar(select(Form).where(Form.xml_form_id == xml_form_id))


def form_by_id(session: Session, form_id: int) -> Form | None:
    return session.get(Form, form_id)


def forms_by_ids(session: Session, xml_form_ids: Sequence[str]) -> Sequence[Form]:
    if not xml_form_ids:
        return []
    return session.scalars(select(Form).where(Form.xml_form_id.in_(xml_form_ids))).all()


_WITH_MEDIA = joinedload(Form.current_version).selectinload(FormVersion.media)


def list_forms(session: Session) -> Sequence[Form]:
    return session.scalars(select(Form).options(_WITH_MEDIA).order_by(Form.xml_form_id)
                           ).unique().all()


def forms_for_phone(session: Session, app_user: AppUser, *, states: Sequence[str] = ("open",),
                    xml_form_id: str | None = None) -> Sequence[Form]:
    """Forms an app user may fill, in the given states, ordered by title as Central lists them."""
    query = (select(Form).join(FormVersion, Form.current_version_id == FormVersion.id)
             .options(_WITH_MEDIA).where(Form.state.in_(states)))
    if not app_user.all_forms:
        query = query.where(Form.id.in_(
            select(AppUserForm.form_id).where(AppUserForm.app_user_id == app_user.id)))
    if xml_form_id is not None:
        query = query.where(Form.xml_form_id == xml_form_id)
    return session.scalars(query.order_by(FormVersion.title, Form.xml_form_id)).unique().all()


def get_version(session: Session, form: Form, version: str) -> FormVersion | None:
    return session.scalar(select(FormVersion).where(
        FormVersion.form_id == form.id, FormVersion.version == version))


def list_versions(session: Session, form: Form, *, newest_first: bool = False
                  ) -> Sequence[FormVersion]:
    order = (FormVersion.published_at, FormVersion.id)
    return session.scalars(select(FormVersion).where(FormVersion.form_id == form.id).order_by(
        *((c.desc() for c in order) if newest_first else order))).all()


def get_media(session: Session, version: FormVersion, name: str) -> FormMedia | None:
    return session.scalar(select(FormMedia).where(
        FormMedia.form_version_id == version.id, FormMedia.name == name))


def media_blob(session: Session, version: FormVersion, name: str) -> str | None:
    return session.scalar(select(FormMedia.blob_sha256).where(
        FormMedia.form_version_id == version.id, FormMedia.name == name))


def media_blobs(session: Session, version: FormVersion) -> dict[str, str]:
    return {name: sha for name, sha in session.execute(
        select(FormMedia.name, FormMedia.blob_sha256).where(
            FormMedia.form_version_id == version.id, FormMedia.blob_sha256.is_not(None)))}
