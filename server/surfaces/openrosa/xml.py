"""The XML documents of the OpenRosa protocol, built with lxml so every value is escaped."""

from __future__ import annotations

from functools import lru_cache

from lxml import etree
from lxml.builder import ElementMaker

RESPONSE_NS = "http://openrosa.org/http/response"
FORM_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"


def _serialise(element: etree._Element) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")


@lru_cache(maxsize=256)  # most answers are one of a few sentences: built once each
def openrosa_response(message: str, *, nature: str = "") -> bytes:
    E = ElementMaker(namespace=RESPONSE_NS, nsmap={None: RESPONSE_NS})
    message_element = E.message(message, nature=nature) if nature else E.message(message)
    return _serialise(E.OpenRosaResponse(message_element, items="0"))


def form_list(entries: list[dict[str, str | None]]) -> bytes:
    """entries: formID, name, version, hash, downloadUrl and, when the form has media,
    manifestUrl."""
    E = ElementMaker(namespace=FORM_LIST_NS, nsmap={None: FORM_LIST_NS})
    xforms = E.xforms()
    for entry in entries:
        xform = E.xform()
        for key in ("formID", "name", "version", "hash", "descriptionText", "downloadUrl",
                    "manifestUrl"):
            value = entry.get(key)
            if value is not None:
                xform.append(getattr(E, key)(value))
        xforms.append(xform)
    return _serialise(xforms)


def manifest(files: list[dict[str, str]]) -> bytes:
    E = ElementMaker(namespace=MANIFEST_NS, nsmap={None: MANIFEST_NS})
    def media_file(f: dict[str, str]) -> etree._Element:
        element = E.mediaFile(E.filename(f["filename"]), E.hash(f["hash"]),
                              E.downloadUrl(f["downloadUrl"]))
        if f.get("integrityUrl"):  # an entity list (Collect reads the type and this URL)
            element.set("type", f["type"])
            element.append(E.integrityUrl(f["integrityUrl"]))
        return element
    return _serialise(E.manifest(*(media_file(f) for f in files)))


def entity_states(states: list[tuple[str, bool]]) -> bytes:
    """The integrity answer: which of the phone's cases are gone (Collect parses `deleted`
    strictly: exactly true or false)."""
    E = ElementMaker()
    return _serialise(E.data(E.entities(*(
        E.entity(E.deleted("true" if deleted else "false"), id=uuid)
        for uuid, deleted in states))))
