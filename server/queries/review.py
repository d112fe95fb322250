"""SQL of the review workspace: submissions as a supervisor sees them, within their scope."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session


def state_counts(session: Session, root: sa.Table, where) -> dict[str, int]:
    """How many live submissions of a form are in each review state, among those `where` keeps."""
    rows = session.execute(sa.select(root.c._review_state, sa.func.count())
                           .where(where).group_by(root.c._review_state))
    return {state: count for state, count in rows}
