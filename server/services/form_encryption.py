"""Publishing a form encrypted: a new version whose XForm carries a key's public half, so that
phones encrypt every finalised submission of it (`forms.public_key` does the XML)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from forms import FormError
from forms.public_key import encrypted_version, public_key_of, with_public_key
from server.database.models import EncryptionKey, Form, User
from server.kernel import problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services import audit
from server.services.form_loading import LoadResult, load_form


def publish_encrypted(session: Session, store: BlobStore, form: Form, key: EncryptionKey, *,
                      validate: bool = True, by: User | None = None,
                      address: str | None = None) -> LoadResult:
    """A new version of `form`: its current XForm carrying `key`'s public half, numbered after
    the key, recorded with it, and current. Its media files are carried forward. A version
    published with another key is re-keyed from its own XForm; a form that came with a public
    key of its own is refused (this server could never read what phones send for it)."""
    current = form.current_version
    if current.encryption_key_id == key.id:
        raise Problem(problems.FORM_ALREADY_ENCRYPTED, form_id=form.xml_form_id, name=key.name,
                      version=current.version)
    if current.encryption_key_id is None and public_key_of(current.xform):
        raise Problem(problems.FORM_HAS_OWN_KEY, form_id=form.xml_form_id)
    version = encrypted_version(current.version, key.name)
    try:
        xform = with_public_key(current.xform, key.public_key, version)
    except FormError as error:
        raise Problem(problems.FORM_INVALID, reason=str(error)) from error
    result = load_form(session, store, xform, validate=validate,
                       filename=f"{form.xml_form_id}.xml")
    result.version.encryption_key_id = key.id
    form.current_version = result.version  # also when this version was published before
    session.flush()
    audit.record(session, "form.encrypted", user=by, username=None if by else "cli",
                 address=address, form_id=form.id, version=version, key=key.name)
    return result
