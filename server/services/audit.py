"""The audit log: who logged in, who saw whose personal data, who changed what, every download.

Events are written in the caller's transaction, so a change and its record commit together;
a failed login commits its record on its own (the request changes nothing else). The caller
says who acted and from which address (none off the web: the command line, a sweep).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy.orm import Session

from server.database.models import AuditEvent, User

log = logging.getLogger("muntada.audit")

ACTIONS = (
    "login", "login.failed", "login.throttled", "logout", "password.changed",
    "user.created", "user.changed",
    "submission.personal_viewed", "submission.reviewed", "submission.commented",
    "submission.deleted", "submission.restored", "submission.purged",
    "attachment.downloaded", "export.downloaded", "api.data_read",
    "api.cases_read", "case.deleted",
    # a download refused because its owner lost a right the file used; such a file deleted by
    # the sweep before anyone asked for it
    "export.refused", "export.withdrawn",
    "case.resolved",  # a supervisor settled a case's conflict
    # headquarters registered a field office; an office joined; a bundle was imported
    "field_office.registered", "field_office.joined", "field_office.bundle_imported",
    # a key holder made a key pair; a form version was published with a key's public half
    "key.created", "form.encrypted",
    # a key unlocked for a session (or a wrong passphrase given), locked again; submissions read
    # decrypted (a page, an export) and written decrypted into the tables
    "key.unlocked", "key.unlock_failed", "key.locked", "submission.decrypted",
    "form.decrypted_rows",
)


def record(session: Session, action: str, *, user: User | None, address: str | None,
           username: str | None = None, form_id: int | None = None,
           submission_id: int | None = None, **details: Any) -> AuditEvent:
    """`user` acted (or, when None, whoever `username` names), from `address`."""
    if action not in ACTIONS:
        raise KeyError(action)
    event = AuditEvent(
        user_id=user.id if user is not None else None,
        username=user.username if user is not None else username,
        action=action, form_id=form_id, submission_id=submission_id,
        details=json.dumps(details, ensure_ascii=False, default=str, sort_keys=True),
        remote_addr=address)
    session.add(event)
    log.info("%s by %s%s%s", action, event.username or "-",
             f" submission {submission_id}" if submission_id else "",
             f" {event.details}" if details else "")
    return event
