"""How a submission version reads on the review pages when the phone encrypted it: decrypted
with a key this session unlocked (`keys.unlocked_keys`), or a notice of why not: the key is
locked, or this server holds no key for it (a form that carried a public key of its own, an
envelope from elsewhere). A flagged outcome (a signature that does not verify, a wrong key, a
corrupted or missing file) is shown with whatever did decrypt.

The decrypted instance lives only in this request's memory: the pages lay it out and forget it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, g
from lxml import etree

from forms.xml import parse_xml
from server import database
from server.database import per_request
from server.database.models import SubmissionDef
from server.database.queries import keys as key_queries
from server.services import access, decryption
from server.surfaces.pages.keys import unlocked_keys
from sync.encryption import ENC, is_envelope

PLAIN, OPENED, LOCKED, FOREIGN = "plain", "opened", "locked", "foreign"


@dataclass
class Reading:
    """One version as a page may show it: `root` is the instance to lay out (the raw XML, or
    what decrypted); None when nothing can be read."""

    definition: SubmissionDef
    state: str
    root: etree._Element | None
    key_name: str | None = None
    outcome: str | None = None  # the decryption's (kept from an earlier one when locked)
    detail: str = ""
    opened: decryption.Opened | None = None

    @property
    def encrypted(self) -> bool:
        return self.state != PLAIN

    @property
    def flagged(self) -> bool:
        return self.outcome in decryption.FLAGGED

    @property
    def attachments(self) -> dict[str, str | None]:
        """The version's files by the names its answers give: a decrypted instance names
        `photo.jpg`, which arrived as `photo.jpg.enc`."""
        files = {a.name: a.blob_sha256 for a in self.definition.attachments}
        if self.state != OPENED:
            return files
        return {name.removesuffix(ENC): sha256 for name, sha256 in files.items()
                if name.endswith(ENC)}


def read(definition: SubmissionDef, *, whole: bool = True) -> Reading:
    """The version read as this request's user may read it. Decrypting keeps its outcome
    (a short write, so this request stops only reading here)."""
    root = parse_xml(definition.xml)
    if not is_envelope(root):
        return Reading(definition, PLAIN, root)
    key_id = definition.form_version.encryption_key_id
    if key_id is None:  # received for a form with a public key of its own
        return Reading(definition, FOREIGN, None)
    session = per_request.session()
    unlocked = _open_keys().get(key_id)
    if unlocked is None:
        key = key_queries.key_by_id(session, key_id)
        check = key_queries.checks_of(session, [definition.id]).get(definition.id)
        return Reading(definition, LOCKED, None, key.name if key is not None else None,
                       check.outcome if check is not None else None,
                       check.detail if check is not None else "")
    database.write_after_reading(session)
    opened = decryption.open_definition(session, current_app.extensions["blobs"], definition,
                                        unlocked.private_key, whole=whole)
    return Reading(definition, OPENED, parse_xml(opened.xml) if opened.readable else None,
                   unlocked.key_name, opened.outcome, opened.detail, opened)


def may_unlock() -> bool:
    """Whether the reader could unlock a key (the notice then points at the Keys page)."""
    return access.holds_keys(g.user)


def _open_keys() -> dict:
    """This request's unlocked keys, read once however many versions it reads."""
    if "open_keys" not in g:
        g.open_keys = unlocked_keys()
    return g.open_keys
