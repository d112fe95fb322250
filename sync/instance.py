"""Who a submitted instance is: its form, version and identity, read from the XML itself.

The form is named by the root's `id` and `version` attributes (or a namespaced `orx:version`),
never by the root's tag (real submissions often carry another tag, sometimes in a namespace).
The identity is `meta/instanceID`; without one, as ODK Central does (`Submission.fromXml` in
central-backend lib/model/frames/submission.js), an `instanceID` element directly under the root,
then the root's `instanceID` attribute (where ODK Aggregate and Briefcase put it, and onadata's
exports); old clients send none of these, so one is derived from the content's hash, and an
identical retry is still recognised as the same instance.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from lxml import etree

from forms import FormStructure
from forms.xml import UnsafeXMLError, attribute, local_name, parse_xml

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
    device_id: str | None = None  # meta/deviceID, when the instance states it

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
    instance_id, deprecated_id, device_id, top_level_id = _ids(root)
    instance_id = instance_id or top_level_id or _text(root.get("instanceID"))
    for name, value in (("instanceID", instance_id), ("deprecatedID", deprecated_id),
                        ("form id", form_id)):
        if value is not None and len(value) > MAX_ID_LENGTH:
            raise InstanceError(f"The {name} is longer than {MAX_ID_LENGTH} characters.")
    return InstanceIdentity(
        form_id=form_id,
        version=(attribute(root, "version") or "").strip(),
        instance_id=instance_id or f"sha256:{sha256}",
        deprecated_id=deprecated_id,
        root_name=local_name(root),
        sha256=sha256,
        has_instance_id=instance_id is not None,
        device_id=device_id,
    ), root


def stated_device_id(identity: InstanceIdentity, root: etree._Element,
                     structure: FormStructure) -> str | None:
    """The phone's device ID as the instance states it, for a request whose URL has none:
    meta/deviceID, else the answer of the form's `deviceid` field."""
    if identity.device_id or structure.device_id_path is None:
        return identity.device_id
    element: etree._Element | None = root
    for name in structure.device_id_path[1:].split("/"):
        element = next((c for c in element if isinstance(c.tag, str) and local_name(c) == name),
                       None)
        if element is None:
            return None
    return _text(element.text)


def _ids(root: etree._Element) -> tuple[str | None, str | None, str | None, str | None]:
    """meta/instanceID, meta/deprecatedID and meta/deviceID of the first meta group, and an
    instanceID element directly under the root, in one pass over the root's children."""
    instance_id = deprecated_id = device = top_level = None
    seen_meta = False
    # meta may sit in the OpenRosa namespace (orx:meta) or in none; match by local names only
    # (the suffix tests first: they skip the other answers without slicing their tags).
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if not seen_meta and tag.endswith("meta") and local_name(child) == "meta":
            seen_meta = True
            for item in child:
                if isinstance(item.tag, str):
                    name = local_name(item)
                    if name == "instanceID":
                        instance_id = instance_id or _text(item.text)
                    elif name == "deprecatedID":
                        deprecated_id = deprecated_id or _text(item.text)
                    elif name == "deviceID":
                        device = device or _text(item.text)
            if instance_id is not None:
                break
        elif tag.endswith("instanceID") and local_name(child) == "instanceID":
            top_level = top_level or _text(child.text)
    return instance_id, deprecated_id, device, top_level


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None
