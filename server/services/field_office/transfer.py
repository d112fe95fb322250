"""Files between the two servers, in pieces that survive a cut link: what arrived of a file is
kept, flushed, in a partial file named by its SHA-256, and the next attempt sends (or asks for)
only the rest. A file is taken into the store only once it has all its bytes and their SHA-256
is its name; otherwise the partial file is dropped and it is sent again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from server.kernel import private, problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore

CHUNK = 1 << 16


class Partials:
    """The partial files of one peer's transfers."""

    def __init__(self, data_dir: str | os.PathLike[str], peer_name: str):
        self.root = Path(data_dir) / "sync-partial" / hashlib.sha256(
            peer_name.encode("utf-8")).hexdigest()[:16]

    def path(self, sha256: str) -> Path:
        BlobStore(self.root).path(sha256)  # checks it is a SHA-256
        return self.root / sha256

    def held(self, sha256: str) -> int:
        path = self.path(sha256)
        return path.stat().st_size if path.is_file() else 0

    def append(self, sha256: str, offset: int, size: int, chunks: Iterable[bytes]) -> int:
        """Write `chunks` from byte `offset` of a file of `size` bytes; return the bytes held
        (what arrived is kept even when the stream breaks: the next attempt starts there)."""
        held = self.held(sha256)
        if offset != held:
            raise Problem(problems.SYNC_BLOB_OFFSET, offset=offset, held=held)
        private.folders(self.root)
        path = self.path(sha256)
        with open(path, "ab") as out:
            try:
                for chunk in chunks:
                    if held + len(chunk) > size:
                        raise Problem(problems.SYNC_BLOB_MISMATCH)
                    out.write(chunk)
                    held += len(chunk)
            finally:
                out.flush()
                os.fsync(out.fileno())
        return held

    def take(self, store: BlobStore, sha256: str) -> None:
        """The whole file, into the store if its bytes are its name (renamed there: it was
        flushed as it came); else dropped, and 409."""
        path = self.path(sha256)
        try:
            taken = store.adopt(path, sha256)
        finally:
            path.unlink(missing_ok=True)
        if not taken:
            raise Problem(problems.SYNC_BLOB_MISMATCH)

