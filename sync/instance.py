"""Who a submitted instance is: its form, version and identity, read from the XML itself.

The form is named by the root's `id` and `version` attributes, never by the root's tag (real
submissions often carry another tag, sometimes in a namespace). The identity is `meta/instanceID`;
old clients send none, so one is derived from the content's hash, and an identical retry is still
recognised as the same instance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lxml import etree

from forms.xml import UnsafeXMLError, local_name, parse_xml

MAX_ID_LENGTH = 255  # Collect's IDs are 41 characters; the columns hold 255


class InstanceError(ValueError):
    """The XML cannot be a submission of any form."""


@dataclass(frozen=True)
class InstanceIdentity:
    form_id: str
    version: str
    instance_id: str
    deprecated_id: str | None
    root_name: str
    sha256: str
    has_instance_id: bool  # False when the identity was derived from the content

    @property
    def is_edit(self) -> bool:
        return self.deprecated_id is not None


def read_identity(xml: bytes) -> tuple[InstanceIdentity, etree._Element]:
    """Read an instance's identity; return it with the parsed root for the caller to reuse."""
    try:
        root = parse_xml(xml)
    except UnsafeXMLError as error:
        raise InstanceError(str(error)) from error
    form_id = (root.get("id") or "").strip()
    if not form_id:
        raise InstanceError("The submission does not say which form it belongs to (no id on "
                            "its root element).")
    sha256 = hashlib.sha256(xml).hexdigest()
    instance_id = _meta(root, "instanceID")
    deprecated_id = _meta(root, "deprecatedID")
    for name, value in (("instanceID", instance_id), ("deprecatedID", deprecated_id),
                        ("form id", form_id)):
        if value is not None and len(value) > MAX_ID_LENGTH:
            raise InstanceError(f"The {name} is longer than {MAX_ID_LENGTH} characters.")
    return InstanceIdentity(
        form_id=form_id,
        version=(root.get("version") or "").strip(),
        instance_id=instance_id or f"sha256:{sha256}",
        deprecated_id=deprecated_id,
        root_name=local_name(root),
        sha256=sha256,
        has_instance_id=instance_id is not None,
    ), root


def _meta(root: etree._Element, name: str) -> str | None:
    # meta may sit in the OpenRosa namespace (orx:meta) or in none; match by local names only
    # (the suffix test first: it skips the other answers without slicing their tags).
    for meta in root:
        tag = meta.tag
        if isinstance(tag, str) and tag.endswith("meta") and local_name(meta) == "meta":
            for child in meta:
                if isinstance(child.tag, str) and local_name(child) == name:
                    value = (child.text or "").strip()
                    return value or None
    return None
