from __future__ import annotations

from sqlalchemy.orm import Session

from server.database.models import Blob


def ensure_blob(session: Session, sha256: str, md5: str, size: int) -> Blob:
    blob = session.get(Blob, sha256)
    if blob is None:
        blob = Blob(sha256=sha256, md5=md5, size=size)
        session.add(blob)
    return blob
