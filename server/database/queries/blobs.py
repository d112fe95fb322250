"""SQL of stored files' rows: made once per content, deleted when nothing names them."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import (
    Blob,
    FormMedia,
    FormVersion,
    SubmissionAttachment,
)


def blob_in_use(session: Session, sha256: str) -> bool:
    """Whether any attachment, form media or form source still names this file."""
    for column in (SubmissionAttachment.blob_sha256, FormMedia.blob_sha256,
                   FormVersion.source_sha256):
        if session.scalar(sa.select(sa.literal(1)).where(column == sha256).limit(1)):
            return True
    return False


def delete_blob_row(session: Session, sha256: str) -> None:
    session.execute(sa.delete(Blob).where(Blob.sha256 == sha256))


def ensure_blob(session: Session, sha256: str, md5: str, size: int) -> Blob:
    blob = session.get(Blob, sha256)
    if blob is None:
        blob = Blob(sha256=sha256, md5=md5, size=size)
        session.add(blob)
    return blob


def small_blobs(session: Session, batch: int = 1000):
    """(sha256, bytes) of every file whose bytes its row keeps (`BlobStore.put_small`), a batch
    at a time from a server-side cursor."""
    result = session.connection().execute(
        sa.select(Blob.sha256, Blob.content).where(Blob.content.is_not(None))
        .execution_options(stream_results=True, yield_per=batch))
    for rows in result.partitions():
        yield from rows
