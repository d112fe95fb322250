"""Which files an instance references, so the server keeps those and nothing else."""

from __future__ import annotations

import re

from lxml import etree

from forms import FormStructure
from forms.xml import local_name
from sync.encryption import envelope_files, is_envelope

# ODK Collect names the files it sends after the moment they were made (`1764662400000.jpg`),
# never with any of these: a path separator or `..` (a path out of a folder), a control or
# bidirectional-override character (a name that reads as another), or what Windows refuses in
# a file name. The first match says which. The last two are sets of a regular expression, which
# the CSV zip's names use too (server.services.exports.csv_zip).
CONTROL_CHARACTERS = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
WINDOWS_REFUSES = r'"<>:|?*'
_UNSAFE = re.compile(rf'(?P<separator>[/\\])|(?P<dots>\.\.)'
                     rf'|(?P<control>[{CONTROL_CHARACTERS}])|(?P<windows>[{WINDOWS_REFUSES}])')
_UNSAFE_REASONS = {"separator": "a path separator (/ or \\)", "dots": "'..'",
                   "control": "a control character", "windows": 'one of " < > : | ? *'}
_PATHS: dict[int, tuple[FormStructure, frozenset[str], frozenset[str]]] = {}


def _file_paths(structure: FormStructure) -> tuple[frozenset[str], frozenset[str]]:
    """The paths that may name a file, and the groups that lead to them (computed once)."""
    cached = _PATHS.get(id(structure))
    if cached is None or cached[0] is not structure:
        leaves = frozenset({f.path for f in structure.values if f.type == "binary"})
        groups = frozenset(leaf[:i] for leaf in leaves for i in range(1, len(leaf))
                           if leaf[i] == "/")
        if len(_PATHS) > 64:
            _PATHS.clear()
        cached = _PATHS[id(structure)] = (structure, leaves, groups)
    return cached[1], cached[2]


def expected_attachments(structure: FormStructure, root: etree._Element) -> list[str]:
    """File names in the instance's binary answers (photos, audio...), in document order.

    An encrypted submission names its files in `media/file` and `encryptedXmlFile` instead.
    """
    if is_envelope(root):
        return envelope_files(root)
    leaves, groups = _file_paths(structure)
    names: list[str] = []

    def walk(element: etree._Element, prefix: str) -> None:
        for child in element:
            if not isinstance(child.tag, str):
                continue
            path = f"{prefix}/{local_name(child)}"
            if len(child):
                if path in groups:  # no file field below any other group
                    walk(child, path)
            elif path in leaves and (child.text or "").strip():
                name = child.text.strip()
                if name not in names:
                    names.append(name)

    walk(root, "")
    return names


def unsafe_name(name: str) -> str | None:
    """What makes `name` unfit to be an attachment's name, or None when it is fit."""
    match = _UNSAFE.search(name)
    return _UNSAFE_REASONS[match.lastgroup] if match else None
