"""Reading the audit log, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import AuditEvent


def events(session: Session, *, action: str | None = None, username: str | None = None,
           submission_id: int | None = None, since: datetime | None = None,
           until: datetime | None = None, before_id: int | None = None, limit: int = 100
           ) -> Sequence[AuditEvent]:
    query = sa.select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if username:
        query = query.where(AuditEvent.username == username)
    if submission_id is not None:
        query = query.where(AuditEvent.submission_id == submission_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)).all()
