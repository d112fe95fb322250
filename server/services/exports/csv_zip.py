"""The CSV zip as ODK Central and Briefcase lay it out: `<form>.csv` for the form and
`<form>-<repeat>.csv` per repeat, joined by KEY / PARENT_KEY; for a form that feeds a case list,
`<list>.csv` and `<list>-versions.csv` (`exports.cases`); our `codebook.csv` and `export.csv`
beside them; the attachments under `media/` when asked for.

Rows stream from a server-side cursor, a batch at a time, through the csv module into the zip
entry: nothing holds a whole table in memory.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import zipfile

from sqlalchemy.orm import Session

from server.database.queries import form_tables as table_queries
from server.services.exports import Prepared, Progress, codebook
from server.services.exports.cells import headers
from sync.attachments import CONTROL_CHARACTERS, WINDOWS_REFUSES

# Deflate level 6 (zlib's default): a quarter smaller than level 1 for about 1 s more CPU
# per 100 MB of text (measured in bench/export.py): downloads go over poor networks.
COMPRESSION = {"compression": zipfile.ZIP_DEFLATED, "compresslevel": 6}
# What Windows refuses in a file name, and control or direction-override characters: replaced
_NOT_IN_NAMES = re.compile(f"[{CONTROL_CHARACTERS}{WINDOWS_REFUSES}]")
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
                      | {f"{device}{n}" for device in ("COM", "LPT") for n in "0123456789¹²³"})


def write(session: Session, prepared: Prepared, target, progress: Progress) -> dict[str, int]:
    written: dict[str, int] = {}
    done = 0
    with zipfile.ZipFile(target, "w", **COMPRESSION) as archive:
        for _layout, table, batches in prepared.parts(session, "csv"):
            count = 0
            with _entry(archive, f"{table.name}.csv") as out:
                writer = csv.writer(out)
                writer.writerow(headers(table, prepared.choices))
                for rows in batches:
                    writer.writerows(rows)
                    count += len(rows)
                    progress(done + count)
            done += count
            written[table.name] = count
            progress(done)
        with _entry(archive, "codebook.csv") as out:
            csv.writer(out).writerows(codebook.rows(prepared))
        with _entry(archive, "export.csv") as out:
            csv.writer(out).writerows(codebook.about(prepared, written))
        if prepared.options.attachments:
            written["media"] = _attachments(session, prepared, archive)
    return written


class _entry:
    """A text file inside the zip, written as it streams (zip64: no size limit)."""

    def __init__(self, archive: zipfile.ZipFile, name: str):
        self.archive, self.name = archive, name

    def __enter__(self) -> io.TextIOWrapper:
        self.raw = self.archive.open(self.name, "w", force_zip64=True)
        self.text = io.TextIOWrapper(self.raw, encoding="utf-8", newline="")
        return self.text

    def __exit__(self, *_exc) -> None:
        self.text.close()


def media_name(name: str) -> str | None:
    """The name of a stored attachment under `media/`, safe to extract anywhere, Windows too:
    its last path part, without a drive, a character Windows refuses, a reserved device name
    (CON, NUL, COM1...) or a trailing dot or space; None when nothing of it is left."""
    name = _NOT_IN_NAMES.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).rstrip(". ")
    if name.split(".", 1)[0].rstrip(" ").upper() in _RESERVED:
        name = f"_{name}"
    return name or None


def _attachments(session: Session, prepared: Prepared, archive: zipfile.ZipFile) -> int:
    """The files named in attachment columns, each once; a personal field's files only for
    readers who may see personal data (their names are pseudonyms otherwise)."""
    layout, count, seen = prepared.layout, 0, set()
    for table in layout.tables:
        for column in table.columns:
            if not column.attachment or (column.personal and
                                         not prepared.choices.reveal_personal):
                continue
            for name, sha256 in table_queries.attachments(session, table.sql, layout.root.sql,
                                                    column.source, prepared.where):
                name = media_name(name)
                if name is None or name in seen:
                    continue
                seen.add(name)
                info = zipfile.ZipInfo(f"media/{name}")
                info.compress_type = zipfile.ZIP_STORED  # photos are compressed already
                with prepared.blobs.open(sha256) as source, \
                        archive.open(info, "w", force_zip64=True) as target:
                    shutil.copyfileobj(source, target, 1 << 20)
                count += 1
    return count
