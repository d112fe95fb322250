"""Parse XML that may be hostile: forms uploaded by people, instances sent by phones.

lxml is fast, which the submission path needs, but by default it would read a DTD. XForms and
instances never need one, so any document type is refused outright: that removes external entities
(reading a local file) and entity expansion ("billion laughs") in one rule.
"""

from __future__ import annotations

from lxml import etree

XFORMS_NS = "http://www.w3.org/2002/xforms"
XHTML_NS = "http://www.w3.org/1999/xhtml"
JR_NS = "http://openrosa.org/javarosa"
ODK_NS = "http://www.opendatakit.org/xforms"
ORX_NS = "http://openrosa.org/xforms"

# Deep nesting is refused by libxml2 itself (256 levels without huge_tree); that is far deeper
# than any real form or instance.
_PARSER_OPTIONS = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=False,
)


class UnsafeXMLError(ValueError):
    """The document is not well-formed XML, or carries a document type."""


def parse_xml(data: bytes) -> etree._Element:
    """Return the root element of `data`, or raise UnsafeXMLError."""
    if _declares_doctype(data):
        raise UnsafeXMLError("XML with a document type (DOCTYPE or ENTITY) is not accepted.")
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise UnsafeXMLError(f"The XML is not well-formed: {_first_line(error)}") from error
    if root is None:
        raise UnsafeXMLError("The XML document is empty.")
    if root.getroottree().docinfo.doctype:
        raise UnsafeXMLError("XML with a document type (DOCTYPE or ENTITY) is not accepted.")
    return root


def _declares_doctype(data: bytes) -> bool:
    text = data
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        # UTF-16 or UTF-32 hides the markup from a byte search; look at the characters
        for encoding in ("utf-16", "utf-32"):
            try:
                text = data.decode(encoding).encode("utf-8")
                break
            except UnicodeDecodeError:
                continue
    return b"<!DOCTYPE" in text or b"<!ENTITY" in text


def local_name(element: etree._Element) -> str:
    tag = element.tag
    if isinstance(tag, str):  # "{namespace}name" or "name": slicing is 5x cheaper than QName
        return tag[tag.find("}") + 1:]
    return etree.QName(element).localname


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else "syntax error"


def attribute(element: etree._Element, name: str) -> str | None:
    """An attribute by its local name: `version`, or a namespaced `orx:version` when there is no
    plain one. ODK Central matches attributes with their prefixes stripped (`_findAttr` in
    central-backend lib/util/xml.js), so a form or instance declaring `orx:version` is versioned."""
    value = element.get(name)
    if value is None:
        suffix = "}" + name
        for key, candidate in element.attrib.items():
            if key.endswith(suffix):
                return candidate
    return value
