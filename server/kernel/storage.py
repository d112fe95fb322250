"""Files kept by content: media of forms now, attachments of submissions later.

A file is named by its SHA-256 under the data folder, never by the name a user or a phone gave it,
so no name can reach outside the folder. It is written to a temporary file, flushed to disk and
renamed into place before its row is committed: a crash leaves at worst an unreferenced file.

A small file (`SMALL`: an encrypted submission's XML, a few KiB) is not flushed on its own: its
bytes go into its row too, committed with the submission that brought it, and `restore` writes
it again, flushed, should a power cut have lost the file (`muntada serve` checks at start).
"""

from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from server.kernel import private

CHUNK = 1 << 16
SMALL = 64 * 1024  # bytes: kept in the database as well, rather than flushed on their own


class BlobStore:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        if self.root.is_dir():
            private.folder(self.root)  # one an older version made with the umask's mode

    def path(self, sha256: str) -> Path:
        if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> tuple[str, str, int]:
        """Store bytes durably; return (sha256, md5, size)."""
        return self.put_stream(iter((data,)))

    def put_stream(self, chunks: Iterator[bytes]) -> tuple[str, str, int]:
        sha256, md5, size = hashlib.sha256(), hashlib.md5(), 0
        private.folders(self.root)
        # mkstemp makes the file 0600 whatever the umask; renaming keeps the mode
        handle, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as file:
                for chunk in chunks:
                    sha256.update(chunk)
                    md5.update(chunk)
                    size += len(chunk)
                    file.write(chunk)
                file.flush()
                os.fsync(file.fileno())
            final = self.path(sha256.hexdigest())
            private.folders(final.parent)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha256.hexdigest(), md5.hexdigest(), size

    def put_small(self, data: bytes) -> tuple[str, str, int]:
        """Store a small file without flushing it: the caller commits its bytes with its row
        (`Blob.content`), and `restore` brings it back from there. A file already held is left
        as it is: it is flushed already, and replacing it would undo that."""
        if len(data) > SMALL:
            raise ValueError(f"{len(data)} bytes is not a small file")
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path(sha256)
        if not _holds(final, len(data)):
            private.folders(final.parent)
            handle, tmp = tempfile.mkstemp(dir=final.parent, prefix=".incoming-")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(data)
                os.replace(tmp, final)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return sha256, hashlib.md5(data, usedforsecurity=False).hexdigest(), len(data)

    def restore(self, sha256: str, data: bytes) -> bool:
        """Write a small file again, flushed, from the bytes its row kept, unless the file holds
        them already; True when it had to."""
        final = self.path(sha256)
        if _holds(final, len(data)):
            with open(final, "rb") as file:
                if hashlib.file_digest(file, "sha256").hexdigest() == sha256:
                    return False
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"the row of {sha256[:12]}… does not hold its bytes")
        self.put(data)
        return True

    def adopt(self, path: Path, sha256: str) -> bool:
        """Take a file already written and flushed elsewhere on this file system (a transfer's
        partial file) into the store by renaming it, if its bytes are `sha256`: not written a
        second time. False, and the file left where it is, when they are not."""
        with open(path, "rb") as file:
            if hashlib.file_digest(file, "sha256").hexdigest() != sha256:
                return False
        private.file(path)  # 0600 whatever mode it was made with, before it is in the store
        final = self.path(sha256)
        private.folders(final.parent)
        try:
            os.replace(path, final)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            with open(path, "rb") as file:  # the store is on another disk: copied there
                self.put_stream(iter(lambda: file.read(CHUNK), b""))
            return True
        _fsync_dir(final.parent)
        return True

    def describe(self, sha256: str) -> tuple[str, str, int]:
        """(sha256, md5, size) of a file already held, read back (nothing written): the SHA-256
        is checked, so a damaged file is never described as what it was."""
        digest, md5, size = hashlib.sha256(), hashlib.md5(), 0
        with open(self.path(sha256), "rb") as file:
            while chunk := file.read(CHUNK):
                digest.update(chunk)
                md5.update(chunk)
                size += len(chunk)
        if digest.hexdigest() != sha256:
            raise OSError(f"the stored file {sha256[:12]}… is damaged")
        return sha256, md5.hexdigest(), size

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()


def _holds(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def _fsync_dir(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
