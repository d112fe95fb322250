"""Failed logins slow down an account, not an address: officers and supervisors of one field
office share its public address, and one person mistyping must not lock out the others.

After FREE_FAILURES failures within WINDOW the account refuses every password, right or wrong,
for a delay that doubles with each further failure, up to MAX_DELAY.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from server.database.models import LoginThrottle, utcnow

FREE_FAILURES = 5
WINDOW = timedelta(minutes=15)
FIRST_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=1)


def blocked_until(session: Session, account: str) -> datetime | None:
    entry = session.get(LoginThrottle, account)
    if entry is None or entry.blocked_until is None:
        return None
    until = _aware(entry.blocked_until)
    return until if until > utcnow() else None


def failed(session: Session, account: str) -> datetime | None:
    """Count a failure; the time until which the account is now blocked, if it is."""
    now = utcnow()
    entry = session.get(LoginThrottle, account)
    if entry is None or _aware(entry.first_failure_at) < now - WINDOW:
        if entry is None:
            entry = LoginThrottle(account=account)
            session.add(entry)
        entry.failures, entry.first_failure_at, entry.blocked_until = 0, now, None
    entry.failures += 1
    over = entry.failures - FREE_FAILURES
    if over >= 0:
        entry.blocked_until = now + min(FIRST_DELAY * (2 ** over), MAX_DELAY)
        entry.first_failure_at = now  # the window runs on while failures go on
    session.flush()
    return entry.blocked_until


def succeeded(session: Session, account: str) -> None:
    entry = session.get(LoginThrottle, account)
    if entry is not None:
        session.delete(entry)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=utcnow().tzinfo)
