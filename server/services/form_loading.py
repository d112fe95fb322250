"""Loading forms and their media into the server: what the command line and the upload endpoint
both do.

A form id keeps every version ever loaded (phones may still send those). Loading the same id and
version again is harmless when the XForm is identical and refused when it differs, because a
version's meaning must never change under data already collected with it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from hashlib import md5, sha256

from sqlalchemy.orm import Session, object_session

from forms import FormError, FormStructure, compile_form
from server.database import projection
from server.database.models import FORM_STATES, Form, FormMedia, FormVersion, utcnow
from server.database.queries import blobs as blob_queries
from server.database.queries import field_offices as field_office_queries
from server.database.queries import forms as form_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services import access, feedback
from server.services.cases import lists as case_lists

log = logging.getLogger(__name__)


@dataclass
class LoadResult:
    form: Form
    version: FormVersion
    structure: FormStructure
    created: bool  # False when this exact version was already loaded
    warnings: tuple[str, ...] = ()
    media_updated: list[str] = field(default_factory=list)

    @property
    def media_missing(self) -> list[str]:
        return [m.name for m in self.version.media
                if m.blob_sha256 is None and m.type != case_lists.ENTITY_LIST_MEDIA]


def load_form(session: Session, store: BlobStore, source: bytes,
              media: Mapping[str, bytes] | None = None, *, validate: bool = True,
              filename: str | None = None) -> LoadResult:
    """Compile `source`, store it as a new version (or recognise it) and attach `media`.

    `filename` is the uploaded file's name: the form id when the settings sheet has none."""
    try:
        compiled = compile_form(source, validate=validate, filename=filename)
        structure = compiled.structure
    except FormError as error:
        raise Problem(problems.FORM_INVALID, reason=str(error)) from error
    if "/" in structure.form_id:
        # a slash cannot travel in a download address; Collect would list what it cannot fetch
        raise Problem(problems.FORM_INVALID,
                      reason=f"the form id '{structure.form_id}' contains '/'; choose another")
    if any(d.dataset == feedback.LIST_NAME for d in structure.entities):
        # the name of each officer's own list of returned submissions (`services.feedback`)
        raise Problem(problems.FORM_INVALID, reason=(
            f"the entity list name '{feedback.LIST_NAME}' is the server's own; choose another"))
    media = dict(media or {})
    if compiled.itemsets_csv is not None:
        media.setdefault("itemsets.csv", compiled.itemsets_csv)
    _check_media_names(structure, media)

    form = form_queries.get_form(session, structure.form_id)
    if form is None:
        form = Form(xml_form_id=structure.form_id, state="open")
        session.add(form)
        session.flush()
    existing = form_queries.get_version(session, form, structure.version)
    xform_sha256 = sha256(compiled.xform).hexdigest()
    created = existing is None
    if existing is not None and existing.xform_sha256 != xform_sha256:
        raise Problem(problems.FORM_VERSION_CONFLICT, form_id=structure.form_id,
                      version=structure.version)
    if existing is None:
        previous = form.current_version
        source_sha, source_md5, source_size = store.put(source)
        blob_queries.ensure_blob(session, source_sha, source_md5, source_size)
        existing = FormVersion(
            form_id=form.id, version=structure.version, title=structure.title,
            xform=compiled.xform, xform_md5=md5(compiled.xform).hexdigest(),
            xform_sha256=xform_sha256, source_sha256=source_sha,
            source_type=compiled.source_type)
        session.add(existing)
        session.flush()
        _declare_media(session, existing, structure, previous)
        form.current_version = existing
    projection.ensure(session, form, structure)
    case_lists.ensure_lists(session, structure)
    case_lists.mark_list_media(session, structure, existing.media)
    feedback.mark_media(existing.media)
    projection.index_lists(session, form, access.PLACE_FIELDS)
    result = LoadResult(form=form, version=existing, structure=structure, created=created,
                        warnings=compiled.warnings)
    result.media_updated = set_media(session, store, existing, media)
    session.flush()
    if created:  # field offices load it too (set_media logged a change of its media)
        field_office_queries.log_change(session, "form", existing.id)
    return result


def set_media(session: Session, store: BlobStore, version: FormVersion,
              media: Mapping[str, bytes]) -> list[str]:
    """Attach media files to a version; return the names whose content changed.

    Replacing a data file (a new forum in forums.csv) changes its hash in the manifest, and
    Collect downloads it again: no new form version needed.
    """
    by_name = {m.name: m for m in version.media}
    changed = []
    for name, data in sorted(media.items()):
        if name not in by_name:
            raise Problem(problems.MEDIA_NOT_IN_FORM, name=name,
                          expected=", ".join(sorted(by_name)) or "no media files")
        sha, md5_hex, size = store.put(data)
        blob = blob_queries.ensure_blob(session, sha, md5_hex, size)
        if by_name[name].blob_sha256 != sha:
            by_name[name].blob = blob
            by_name[name].updated_at = utcnow()
            changed.append(name)
    session.flush()
    if changed:
        field_office_queries.log_change(session, "form", version.id)
    return changed


def set_state(form: Form, state: str) -> None:
    if state not in FORM_STATES:
        raise Problem(problems.INVALID_FIELD, field="state",
                      reason=f"must be one of {', '.join(FORM_STATES)}")
    if form.state != state and form.current_version_id is not None:
        field_office_queries.log_change(object_session(form), "form", form.current_version_id)
    form.state = state


def _declare_media(session: Session, version: FormVersion, structure: FormStructure,
                   previous: FormVersion | None) -> None:
    # Files with the same name as in the previous version are carried forward, as ODK Central does.
    carried = {m.name: m.blob_sha256 for m in previous.media} if previous else {}
    for media_file in structure.media:
        session.add(FormMedia(form_version_id=version.id, name=media_file.name,
                              type=media_file.type, blob_sha256=carried.get(media_file.name)))
    session.flush()
    session.refresh(version, ["media"])


def _check_media_names(structure: FormStructure, media: Mapping[str, bytes]) -> None:
    expected = {m.name for m in structure.media}
    for name in media:
        if name not in expected:
            raise Problem(problems.MEDIA_NOT_IN_FORM, name=name,
                          expected=", ".join(sorted(expected)) or "no media files")


def index_review_lists(session: Session) -> None:
    """Every form's review-list indexes, made if missing: a database from before they came with
    the form's tables gets them when it is upgraded or served, not on a reader's first list."""
    for form in form_queries.list_forms(session):
        projection.index_lists(session, form, access.PLACE_FIELDS)
