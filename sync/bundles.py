"""A field office's changes on a USB stick, when there is no link at all: a zip of the items
(`manifest.json`), the files they need (`blobs/<sha256>`) and the office's Ed25519 signature of
the manifest (`signature`). The manifest names every file by its SHA-256 and size, so the
signature covers the files too; reading checks all of it before anything is applied, and refuses
anything else a zip may hold (other names, paths, sizes that lie).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sync.field_sync import PROTOCOL, is_sha256

FORMAT = "muntada-field-office-bundle"
MANIFEST, SIGNATURE, BLOBS = "manifest.json", "signature", "blobs/"
MAX_MANIFEST = 512 * 1024 * 1024  # items' XML: far more than any office gathers offline
CHUNK = 1 << 16


class BundleInvalid(ValueError):
    """Why a bundle is refused (nothing of it applied)."""


def new_private_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes_raw()


def public_key_of(private_key: bytes) -> str:
    return Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw).hex()


def is_public_key(text) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except (ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class Bundle:
    manifest: dict
    sha256: str  # of the manifest: the bundle's content
    path: Path

    @property
    def bundle_id(self) -> str:
        return self.manifest["bundle_id"]

    @property
    def office(self) -> str:
        return self.manifest["office"]

    @property
    def items(self) -> list:
        return self.manifest["items"]

    def blobs(self) -> Iterator[tuple[str, BinaryIO]]:
        """Each file, opened (checked against its name when the bundle was read)."""
        with zipfile.ZipFile(self.path) as archive:
            for sha in self.manifest["blobs"]:
                with archive.open(BLOBS + sha) as file:
                    yield sha, file


def write(path: Path, *, office: str, items: list[dict], blobs: dict[str, Path],
          private_key: bytes, last_seq: int | None = None) -> dict:
    """Write the bundle at `path` (beside, then renamed: a stick pulled out mid-write leaves no
    bundle that looks whole); return its manifest."""
    seqs = [item["seq"] for item in items]
    manifest = {"format": FORMAT, "protocol": PROTOCOL, "bundle_id": str(uuid.uuid4()),
                "office": office, "first_seq": min(seqs, default=0),
                "last_seq": max(seqs, default=0) if last_seq is None else last_seq,
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "items": items,
                "blobs": {sha: file.stat().st_size for sha, file in sorted(blobs.items())}}
    data = json.dumps(manifest, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(data).hex()
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w") as archive:
        archive.writestr(MANIFEST, data, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr(SIGNATURE, signature)
        for sha, file in sorted(blobs.items()):  # photos: stored as they are
            archive.write(file, BLOBS + sha, compress_type=zipfile.ZIP_STORED)
    with open(tmp, "rb+") as out:
        os.fsync(out.fileno())
    tmp.replace(path)
    return manifest


def read(path: Path, public_key_of_office: Callable[[str], str | None]) -> Bundle:
    """The bundle at `path`, every part checked: its layout, the signature of the office it
    names (by the key `public_key_of_office` gives), every file's size and SHA-256."""
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as error:
        raise BundleInvalid(f"it is not a bundle file ({error})") from error
    with archive:
        names = archive.namelist()
        if len(names) != len(set(names)):
            raise BundleInvalid("it names a file twice")
        for name in names:
            if name not in (MANIFEST, SIGNATURE) and not (
                    name.startswith(BLOBS) and is_sha256(name[len(BLOBS):])):
                raise BundleInvalid(f"it holds a file a bundle never holds ({name[:80]!r})")
        if MANIFEST not in names or SIGNATURE not in names:
            raise BundleInvalid("its manifest or its signature is missing")
        if archive.getinfo(MANIFEST).file_size > MAX_MANIFEST:
            raise BundleInvalid("its manifest is too large")
        data = _read_at_most(archive, MANIFEST, MAX_MANIFEST)
        signature = _read_at_most(archive, SIGNATURE, 256)
        try:
            manifest = json.loads(data)
        except ValueError as error:
            raise BundleInvalid("its manifest is not JSON") from error
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BundleInvalid("its manifest is not a field office's")
        if manifest.get("protocol") != PROTOCOL:
            raise BundleInvalid(f"it was written by another version of field-office sync "
                                f"({manifest.get('protocol')}, this server {PROTOCOL})")
        key = public_key_of_office(str(manifest.get("office")))
        if key is None:
            raise BundleInvalid(f"no field office named {manifest.get('office')!r} has joined "
                                f"with a signing key")
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(key)).verify(
                bytes.fromhex(signature.decode("ascii")), data)
        except (InvalidSignature, ValueError, UnicodeDecodeError) as error:
            raise BundleInvalid("its signature does not verify: it was changed after the "
                                "office wrote it, or another office wrote it") from error
        declared = manifest.get("blobs")
        if not isinstance(declared, dict) or not isinstance(manifest.get("items"), list) \
                or not isinstance(manifest.get("bundle_id"), str):
            raise BundleInvalid("its manifest lacks items, files or an id")
        held = {name[len(BLOBS):] for name in names if name.startswith(BLOBS)}
        if held != set(declared):
            raise BundleInvalid("its files are not those its manifest names")
        for sha, size in declared.items():
            _check_blob(archive, sha, size)
    return Bundle(manifest, hashlib.sha256(data).hexdigest(), Path(path))


def _read_at_most(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    with archive.open(name) as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise BundleInvalid(f"its {name} is too large")
    return data


def _check_blob(archive: zipfile.ZipFile, sha: str, size) -> None:
    if not isinstance(size, int) or archive.getinfo(BLOBS + sha).file_size != size:
        raise BundleInvalid(f"the file {sha[:12]}… is not the size its manifest says")
    digest, seen = hashlib.sha256(), 0
    try:
        with archive.open(BLOBS + sha) as file:
            while chunk := file.read(CHUNK):
                seen += len(chunk)
                if seen > size:
                    break
                digest.update(chunk)
    except (zipfile.BadZipFile, OSError) as error:  # a CRC that fails: bytes changed
        raise BundleInvalid(f"the file {sha[:12]}… is damaged ({error})") from error
    if seen != size or digest.hexdigest() != sha:
        raise BundleInvalid(f"the file {sha[:12]}… does not have the SHA-256 it is named by")
