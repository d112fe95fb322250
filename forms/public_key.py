"""An XForm published encrypted: the public key of a key the server holds put on its model's
`<submission>` (`base64RsaPublicKey`, where pyxform writes the XLSForm's `public_key` setting),
under a version of its own, as ODK Central does for a project's managed key
(central-backend `lib/data/schema.js:injectPublicKey`, `Form.withManagedKey`).

The version is the form's own with the key's name after it: a phone sees a new version in the
form list and asks for it, and every envelope it then sends names the version, hence the key.
"""

from __future__ import annotations

import re

from lxml import etree

from forms.errors import FormError
from forms.xml import XFORMS_NS, XHTML_NS, UnsafeXMLError, parse_xml

ATTRIBUTE = "base64RsaPublicKey"
_SUFFIX = re.compile(r"\[encrypted:[^\[\]]*\]$")
_XF, _H = f"{{{XFORMS_NS}}}", f"{{{XHTML_NS}}}"


def encrypted_version(version: str, key_name: str) -> str:
    """`2026120301` with key `referrals` → `2026120301[encrypted:referrals]`; a version already
    published with another key loses that key's name first."""
    return f"{_SUFFIX.sub('', version)}[encrypted:{key_name}]"


def public_key_of(xform: bytes) -> str | None:
    submission = _model(parse_xml(xform)).find(f"{_XF}submission")
    return submission.get(ATTRIBUTE) if submission is not None else None


def with_public_key(xform: bytes, public_key: str, version: str) -> bytes:
    """`xform` carrying `public_key` (base64 DER, as `sync.keys.public_key_setting` gives it) and
    numbered `version`; everything else as it was."""
    try:
        html = parse_xml(xform)
    except UnsafeXMLError as error:
        raise FormError(str(error)) from error
    model = _model(html)
    submission = model.find(f"{_XF}submission")
    if submission is None:
        # first in the model, where pyxform puts it
        submission = etree.Element(f"{_XF}submission")
        model.insert(0, submission)
    submission.set(ATTRIBUTE, public_key)
    primary = next((i for i in model.findall(f"{_XF}instance") if i.get("id") is None), None)
    root = next((e for e in primary if isinstance(e.tag, str)), None) \
        if primary is not None else None
    if root is None:
        raise FormError("The XForm has no primary instance with a root element.")
    namespaced = [name for name in root.attrib if name.endswith("}version")]
    root.set(namespaced[0] if namespaced and "version" not in root.attrib else "version", version)
    return etree.tostring(html.getroottree(), xml_declaration=True, encoding="utf-8")


def _model(html: etree._Element) -> etree._Element:
    model = html.find(f"{_H}head/{_XF}model")
    if model is None:
        raise FormError("This is not an XForm: it has no h:head/model.")
    return model
