"""The store of files by content: a transfer's partial file is taken in by renaming, only when
its bytes are its name, and it is then as private as any stored file."""

from __future__ import annotations

import hashlib
import os
import stat

from server.kernel.storage import BlobStore


def test_a_whole_partial_file_is_renamed_into_the_store_and_made_private(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    partial = tmp_path / "partial"
    data = os.urandom(200_000)
    partial.write_bytes(data)
    partial.chmod(0o644)  # as a umask may have made it
    sha = hashlib.sha256(data).hexdigest()
    assert store.adopt(partial, sha)
    assert not partial.exists()
    assert store.read(sha) == data
    assert stat.S_IMODE(store.path(sha).stat().st_mode) == 0o600
    assert store.describe(sha) == (sha, hashlib.md5(data).hexdigest(), len(data))


def test_a_partial_file_that_is_not_what_its_name_says_stays_out(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    partial = tmp_path / "partial"
    partial.write_bytes(b"half of a photo")
    claimed = hashlib.sha256(b"the whole photo").hexdigest()
    assert not store.adopt(partial, claimed)
    assert partial.exists() and not store.path(claimed).exists()
