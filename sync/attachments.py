"""Which files an instance references, so the server keeps those and nothing else."""

from __future__ import annotations

from lxml import etree

from forms import FormStructure
from forms.xml import local_name


def expected_attachments(structure: FormStructure, root: etree._Element) -> list[str]:
    """File names in the instance's binary answers (photos, audio...), in document order.

    An encrypted submission names its files in `media/file` and `encryptedXmlFile` instead.
    """
    binary = {f.path for f in structure.values if f.type == "binary"}
    names: list[str] = []

    def walk(element: etree._Element, prefix: str) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            path = f"{prefix}/{local_name(child)}"
            if len(child):
                walk(child, path)
            elif (path in binary or path in ("/media/file", "/encryptedXmlFile")) \
                    and (child.text or "").strip():
                name = child.text.strip()
                if name not in names:
                    names.append(name)

    walk(root, "")
    return names
