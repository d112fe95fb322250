"""What a phone's or Briefcase's folder holds, ready to send: each filled form (its XML and the
files beside it), and each thing that looks like one but must not be sent, with the reason.

Three layouts are recognised:
- ODK Collect's `instances` folder, copied off a phone: `instances/<name>/<name>.xml` with its
  photos and recordings beside it (or the folder above it, which holds `instances/`), or one such
  instance folder on its own;
- ODK Briefcase's storage: `ODK Briefcase Storage/forms/<form>/instances/<uuid...>/submission.xml`
  with its files, or one such instance folder.
An encrypted form's instance is sent as Collect sends it: the envelope `submission.xml` and the
`.enc` files it names, never the plaintext. Collect's savepoints (`*.save`), temporary (`*.tmp`) and
hidden files are never instances nor attachments. Whether Collect counted an instance finalised is
kept in its database beside `instances/` (`metadata/instances.db`); when the copy includes it,
drafts are skipped, and without it every saved instance is sent.

Reading is pure (no network, no server): the same folder read twice gives the same instances and
the same fingerprints (SHA-256 of the XML and of every file), which is how a push knows what a
server already accepted.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sync.attachments import unsafe_name
from sync.encryption import envelope_files, is_envelope
from sync.instance import InstanceError, read_identity

BRIEFCASE_STORAGE = "ODK Briefcase Storage"
ENVELOPE = "submission.xml"  # Briefcase's instance file, and Collect's encrypted envelope
NOT_INSTANCE_FILES = (".save", ".tmp")
# Collect's statuses for an instance not (yet) finalised: the old "incomplete" and the drafts of
# Collect 2023.2 on ("valid"/"invalid": saved, not finalised; "newEdit": an edit being made).
DRAFT_STATUSES = {"incomplete", "valid", "invalid", "newEdit"}
_HASH_CHUNK = 1024 * 1024


class NotAnInstanceFolder(ValueError):
    """The folder holds nothing Collect or Briefcase wrote."""


@dataclass(frozen=True)
class MediaFile:
    name: str
    path: Path
    size: int


@dataclass(frozen=True)
class FolderInstance:
    name: str  # where it is, relative to the folder pushed, for people to find it
    xml_path: Path
    xml_size: int
    media: tuple[MediaFile, ...]
    form_id: str
    version: str
    instance_id: str
    deprecated_id: str | None
    encrypted: bool

    def xml(self) -> bytes:
        return self.xml_path.read_bytes()


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass
class FolderContents:
    layout: str  # said in the summary: which layout the folder was read as
    instances: list[FolderInstance] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def read_folder(folder: Path) -> FolderContents:
    """Every instance under `folder`, in the order to send them (an edit after what it edits)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotAnInstanceFolder(f"{folder} is not a folder.")
    if (folder / BRIEFCASE_STORAGE).is_dir():
        return read_folder(folder / BRIEFCASE_STORAGE)
    if _instance_file(folder) is not None:
        layout = "Briefcase instance" if (folder / ENVELOPE).is_file() and not \
            (folder / f"{folder.name}.xml").is_file() else "Collect instance"
        contents = FolderContents(layout)
        statuses = _collect_statuses(folder.parent)
        _add(contents, folder, folder.name, statuses.get(folder.name))
        return contents
    if (folder / "forms").is_dir():
        contents = FolderContents("Briefcase storage")
        for form in _subfolders(folder / "forms"):
            for instance in _subfolders(form / "instances"):
                _add(contents, instance, f"forms/{form.name}/instances/{instance.name}", None)
        return _ordered(contents)
    if (folder / "instances").is_dir():  # the Collect folder above instances/
        return read_folder(folder / "instances")
    statuses = _collect_statuses(folder)
    contents = FolderContents("Collect instances folder")
    for sub in _subfolders(folder):
        _add(contents, sub, sub.name, statuses.get(sub.name))
    if contents.instances and all(i.xml_path.name == ENVELOPE and not i.encrypted
                                  for i in contents.instances):
        contents.layout = "Briefcase instances folder"  # forms/<form>/instances
    if not contents.instances and not contents.skipped:
        raise NotAnInstanceFolder(
            f"{folder} holds no instances: point at Collect's instances folder "
            f"(instances/<name>/<name>.xml), one such folder, or a Briefcase storage folder "
            f"({BRIEFCASE_STORAGE}/forms/<form>/instances/<uuid>/{ENVELOPE}).")
    return _ordered(contents)


def fingerprint(instance: FolderInstance) -> str:
    """SHA-256 over the XML and every file sent with it (name and content): a changed photo or
    XML is a different thing to send."""
    digest = hashlib.sha256(b"muntada-push-1\n")
    digest.update(file_sha256(instance.xml_path).encode() + b"\n")
    for media in sorted(instance.media, key=lambda m: m.name):
        digest.update(media.name.encode("utf-8") + b"\0" + file_sha256(media.path).encode()
                      + b"\n")
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _add(contents: FolderContents, folder: Path, name: str, status: str | None) -> None:
    found = _read_instance(folder, name, status)
    if isinstance(found, FolderInstance):
        contents.instances.append(found)
    elif isinstance(found, Skipped):
        contents.skipped.append(found)


def _read_instance(folder: Path, name: str, status: str | None
                   ) -> FolderInstance | Skipped | None:
    """The instance in `folder`, why it is not sent, or None when the folder is not one at all."""
    plain = folder / f"{folder.name}.xml"
    envelope = folder / ENVELOPE
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and _is_attachment_name(p.name)]
    if not plain.is_file() and not envelope.is_file():
        if any(p.name.endswith(".save") for p in folder.iterdir()):
            return Skipped(name, "only a savepoint: the form was never saved on the phone")
        return None
    if status in DRAFT_STATUSES:
        return Skipped(name, f"not finalised on the phone (Collect's status: {status}); "
                             f"finalise it in Collect and copy the folder again")
    xml_path = envelope if envelope.is_file() else plain
    try:
        xml = xml_path.read_bytes()
        identity, root = read_identity(xml)
    except (OSError, InstanceError) as error:
        return Skipped(name, f"{xml_path.name} is not a readable instance ({error}); the copy "
                             f"may be cut short: copy it off the phone again")
    encrypted = is_envelope(root)
    if encrypted:
        named = [n for n in envelope_files(root) if unsafe_name(n) is None]
        missing = [n for n in named if not (folder / n).is_file()]
        if missing:
            return Skipped(name, f"encrypted, but {', '.join(missing)} is missing: the encryption "
                                 f"did not finish on the phone; open and finalise it there again")
        media = tuple(MediaFile(n, folder / n, (folder / n).stat().st_size) for n in named)
    else:
        if any(p.name.endswith(".enc") for p in files):
            return Skipped(name, "encrypted files without their envelope (submission.xml): the "
                                 "encryption did not finish on the phone; finalise it there again")
        media = tuple(MediaFile(p.name, p, p.stat().st_size) for p in files
                      if p.name not in (plain.name, envelope.name))
    return FolderInstance(
        name=name, xml_path=xml_path, xml_size=len(xml), media=media,
        form_id=identity.form_id, version=identity.version, instance_id=identity.instance_id,
        deprecated_id=identity.deprecated_id, encrypted=encrypted)


def _is_attachment_name(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(NOT_INSTANCE_FILES)


def _instance_file(folder: Path) -> Path | None:
    for candidate in (folder / f"{folder.name}.xml", folder / ENVELOPE):
        if candidate.is_file():
            return candidate
    return None


def _subfolders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _collect_statuses(instances_folder: Path) -> dict[str, str]:
    """Instance folder name -> Collect's status, from the database Collect keeps beside the
    instances folder when the copy has it; empty when it has not (or it cannot be read)."""
    database = instances_folder.parent / "metadata" / "instances.db"
    if not database.is_file():
        return {}
    try:
        # read-only and immutable: the copy may sit on a read-only card, and is never changed
        with sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro&immutable=1",
                             uri=True) as db:
            rows = db.execute("SELECT instanceFilePath, status FROM instances").fetchall()
    except sqlite3.Error:
        return {}
    statuses = {}
    for path, status in rows:
        if path and status:
            parts = str(path).replace("\\", "/").rstrip("/").split("/")
            if len(parts) >= 2:
                statuses[parts[-2]] = str(status)
    return statuses


def _ordered(contents: FolderContents) -> FolderContents:
    """Originals before their edits (a server refuses an edit of what it does not hold), else
    by name (Collect's folder names carry the time the form was started)."""
    by_id = {i.instance_id: i for i in contents.instances}

    def depth(instance: FolderInstance) -> int:
        seen, steps = set(), 0
        while instance.deprecated_id in by_id and instance.instance_id not in seen:
            seen.add(instance.instance_id)
            instance, steps = by_id[instance.deprecated_id], steps + 1
        return steps

    contents.instances.sort(key=lambda i: (depth(i), i.name))
    contents.skipped.sort(key=lambda s: s.name)
    return contents
