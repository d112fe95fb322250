"""After a power cut: the small files whose bytes their rows keep (`BlobStore.put_small`, never
flushed on their own) written again where the cut lost them. `muntada serve` runs it before it
takes any request; it reads every such row and file (a few KiB each), and writes none that is
whole."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from server.database.queries import blobs as blob_queries
from server.kernel.storage import BlobStore

log = logging.getLogger(__name__)


def restore_small_files(session: Session, store: BlobStore) -> int:
    """How many files had to be written again."""
    restored = 0
    for sha256, content in blob_queries.small_blobs(session):
        if store.restore(sha256, content):
            restored += 1
            log.warning("restored the stored file %s from its row (lost by a crash)", sha256)
    return restored
