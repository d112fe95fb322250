"""Reading encrypted submissions with a key a key holder unlocked (`server.services.key_unlocks`).

What is decrypted exists only where a key holder put it: the page they read, the export they
run, and, where the form's `decrypted_rows` setting says so, the form's relational tables at
headquarters (projected like any submission, so that filters, scopes and exports work on them;
`muntada renormalise` rebuilds the tables from the raw records, ciphertext, and leaves them
without those rows until a key holder decrypts again). The raw records stay as received.

Each submission version's outcome is kept (`DecryptionCheck`, never any plaintext): pages flag a
signature that does not verify, a wrong key, a missing or corrupted file; an export reads the XML
alone (one RSA operation) and takes the signature's verdict from the first whole check.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.orm import Session

from forms.xml import parse_xml
from server.database.models import (
    DecryptionCheck,
    EncryptionKey,
    Form,
    SubmissionDef,
    User,
    utcnow,
)
from server.database.queries import keys as key_queries
from server.database.queries import submissions as submission_queries
from server.kernel.storage import BlobStore
from server.services import audit, normalising
from sync.encryption import (
    ENC,
    EncryptionError,
    EnvelopeInvalid,
    FileCorrupted,
    OpenedSubmission,
    Signature,
    WrongKey,
    read_envelope,
)

# What a check can show; the first two need every file decrypted
VALID, INVALID, UNCHECKED = Signature.VALID.value, Signature.INVALID.value, "unchecked"
WRONG_KEY, CORRUPTED, MISSING, UNREADABLE = "wrong_key", "corrupted", "missing", "unreadable"
FLAGGED = frozenset({INVALID, WRONG_KEY, CORRUPTED, MISSING, UNREADABLE})
_CHUNK = 64 * 1024


@dataclass
class Opened:
    """One submission version opened with a key: its XML when it decrypted, the outcome."""

    definition: SubmissionDef
    outcome: str
    detail: str = ""
    xml: bytes | None = None
    files: dict[str, str | None] = field(default_factory=dict)  # `.enc` name -> blob
    submission: OpenedSubmission | None = None

    @property
    def readable(self) -> bool:
        return self.xml is not None

    def media(self, blobs: BlobStore, name: str) -> bytes:
        """A file of the submission decrypted, by its plain name (`photo.jpg`), into memory:
        it leaves only as a response to the key holder, never to disk."""
        sha256 = self.files.get(name + ENC)
        if self.submission is None or not sha256:
            raise FileNotFoundError(name)
        return b"".join(self.submission.decrypt_chunks(name + ENC, _chunks(blobs, sha256)))


def is_encrypted(definition: SubmissionDef) -> bool:
    return definition.form_version.encryption_key_id is not None


def open_definition(session: Session, blobs: BlobStore, definition: SubmissionDef,
                    private_key: rsa.RSAPrivateKey, *, whole: bool = True) -> Opened:
    """Decrypt the version's XML; with `whole`, its files too, as far as to check the signature
    (once: a verdict already kept is reused). The outcome is kept; nothing raises."""
    files = {a.name: a.blob_sha256 for a in definition.attachments}
    opened = Opened(definition, UNCHECKED, files=files)
    try:
        envelope = read_envelope(definition.xml)
        if not files.get(envelope.xml_file):
            _fail(opened, MISSING, f"{envelope.xml_file} was not received")
        else:
            opened.submission = OpenedSubmission(envelope, private_key)
            xml = opened.submission.decrypt(envelope.xml_file,
                                            blobs.read(files[envelope.xml_file]))
            parse_xml(xml)  # hostile input like any other: refused here, not on a page
            opened.xml = xml
    except EnvelopeInvalid as error:
        _fail(opened, UNREADABLE, str(error))
    except WrongKey as error:
        _fail(opened, WRONG_KEY, str(error))
    except FileCorrupted as error:
        _fail(opened, CORRUPTED, str(error))
    except (EncryptionError, ValueError) as error:  # the decrypted XML did not parse
        _fail(opened, CORRUPTED, f"the decrypted XML does not read: {error}")
    check = key_queries.checks_of(session, [definition.id]).get(definition.id)
    if opened.readable:
        if check is not None and check.outcome in (VALID, INVALID, MISSING, CORRUPTED):
            opened.outcome, opened.detail = check.outcome, check.detail
        elif whole:
            _check_files(opened, blobs)
    _keep(session, opened, check)
    return opened


def _check_files(opened: Opened, blobs: BlobStore) -> None:
    envelope = opened.submission.envelope
    for name in envelope.media:
        sha256 = opened.files.get(name)
        if not sha256:
            _fail(opened, MISSING, f"{name} was not received")
            return
        try:
            for _plain in opened.submission.decrypt_chunks(name, _chunks(blobs, sha256)):
                pass  # only its MD5, for the signature
        except FileCorrupted as error:
            _fail(opened, CORRUPTED, str(error))
            return
    opened.outcome = opened.submission.signature().value
    opened.detail = "" if opened.outcome == VALID else (
        "the signature does not match what was received: a file or the envelope changed since "
        "the phone encrypted it")


def _fail(opened: Opened, outcome: str, detail: str) -> None:
    opened.outcome, opened.detail = outcome, detail[:2000]


def _keep(session: Session, opened: Opened, check: DecryptionCheck | None) -> None:
    key_id = opened.definition.form_version.encryption_key_id
    if check is None:
        check = DecryptionCheck(submission_def_id=opened.definition.id, projected=False)
        session.add(check)
    check.key_id, check.outcome, check.detail = key_id, opened.outcome, opened.detail
    check.checked_at = utcnow()


def _chunks(blobs: BlobStore, sha256: str) -> Iterator[bytes]:
    with blobs.open(sha256) as file:
        while chunk := file.read(_CHUNK):
            yield chunk


def outcomes(session: Session, definitions: Sequence[SubmissionDef]) -> dict[int, str]:
    """The kept outcome of each encrypted version (by version id); never decrypted yet: none."""
    return {def_id: check.outcome for def_id, check in key_queries.checks_of(
        session, [d.id for d in definitions]).items()}


# ------------------------------------------------------------------------------ into the tables

def set_decrypted_rows(session: Session, form: Form, on: bool, *, user: User | None = None,
                       address: str | None = None) -> None:
    """The form's setting. Turned off, the tables are rebuilt from the raw records at once, so
    no decrypted row stays in them."""
    if bool(form.decrypted_rows) == on:
        return
    form.decrypted_rows = on
    if not on:
        normalising.renormalise(session, form)
    audit.record(session, "form.decrypted_rows", user=user, username=None if user else "cli",
                 address=address, form_id=form.id, setting="on" if on else "off")


@dataclass
class Projected:
    written: int = 0
    flagged: int = 0


def decrypt_into_tables(session: Session, blobs: BlobStore, key: EncryptionKey,
                        private_key: rsa.RSAPrivateKey, user: User, *,
                        address: str | None = None, batch: int = 200) -> Projected:
    """Headquarters, forms whose `decrypted_rows` is on: every current submission version of
    the key's forms not yet in the tables, decrypted whole (its signature checked) and written
    as rows like any submission. Audited per form, with the submissions decrypted."""
    done = Projected()
    for form in key_queries.forms_of_key(session, key.id):
        if not form.decrypted_rows:
            continue
        ids: list[int] = []
        after = 0
        while page := key_queries.encrypted_current_defs(session, key.id, form_id=form.id,
                                                         unprojected=True, after_id=after,
                                                         limit=batch):
            for definition in page:
                after = definition.id
                if _project(session, blobs, form, definition, private_key):
                    done.written += 1
                    ids.append(definition.submission_id)
                else:
                    done.flagged += 1
            session.flush()
        if ids:
            audit.record(session, "form.decrypted_rows", user=user, address=address,
                         form_id=form.id, key=key.name, submissions=len(ids),
                         submission_ids=ids)
    return done


def _project(session: Session, blobs: BlobStore, form: Form, definition: SubmissionDef,
             private_key: rsa.RSAPrivateKey) -> bool:
    opened = open_definition(session, blobs, definition, private_key, whole=True)
    if not opened.readable:
        return False
    submission = submission_queries.by_id(session, definition.submission_id)
    if not normalising.normalise_submission(session, form, submission, definition,
                                            root=parse_xml(opened.xml)):
        return False
    session.flush()
    key_queries.checks_of(session, [definition.id])[definition.id].projected = True
    return True
