"""SQL of the review feedback phones receive: an officer's returned submissions with their
supervisors' latest comment, and the officers' answers joining those comments.

The statements the submission path runs (an answer arriving) are built once, with every value a
parameter, so that they run on a Connection and on SQLite's lane alike (see `queries.arrivals`).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from server.database.models import Form, FormVersion, ReviewComment, Submission, SubmissionDef

_subs, _forms, _versions = Submission.__table__, Form.__table__, FormVersion.__table__
_comments, _defs = ReviewComment.__table__, SubmissionDef.__table__

# a supervisor's comment: written by a web user (an officer's answer has an app user instead)
_by_supervisor = sa.and_(_comments.c.submission_id == _subs.c.id,
                         _comments.c.user_id.is_not(None))


def returned(session: Session, app_user_id: int, states: Sequence[str]) -> list[sa.Row]:
    """The app user's live submissions whose review state is one of `states`, oldest first,
    each with its form, its supervisors' number of comments (with or without a state) and the
    latest of them that has words."""
    reviews = sa.select(sa.func.count()).select_from(_comments).where(
        _by_supervisor).scalar_subquery()
    latest = (sa.select(_comments.c.body).where(_by_supervisor, _comments.c.body != "")
              .order_by(_comments.c.id.desc()).limit(1).scalar_subquery())
    return list(session.execute(
        sa.select(_subs.c.id, _subs.c.form_id, _subs.c.instance_id, _subs.c.created_at,
                  _subs.c.review_state, _forms.c.xml_form_id, _forms.c.projection_revision,
                  _versions.c.title, reviews.label("reviews"), latest.label("comment"))
        .join(_forms, _forms.c.id == _subs.c.form_id)
        .join(_versions, _versions.c.id == _forms.c.current_version_id)
        .where(_subs.c.submitter_id == app_user_id, _subs.c.deleted_at.is_(None),
               _subs.c.current_def_id.is_not(None), _subs.c.review_state.in_(list(states)))
        .order_by(_subs.c.id)))


def root_values(session: Session, root: sa.Table, column: sa.Column,
                submission_ids: Sequence[int]) -> dict[int, str | None]:
    """A column of a form's root rows (the forum), by submission."""
    if not submission_ids:
        return {}
    return dict(session.execute(sa.select(root.c._submission_id, column).where(
        root.c._submission_id.in_(sorted(set(submission_ids))))).all())


# -- an answer arriving (the submission path) ----------------------------------------------------

# What an officer may answer: their own live submissions a supervisor has commented on.
_ANSWERABLE = (
    sa.select(_subs.c.id, _subs.c.instance_id, _forms.c.xml_form_id,
              _defs.c.instance_id.label("version_id"))
    .join(_forms, _forms.c.id == _subs.c.form_id)
    .join(_defs, _defs.c.id == _subs.c.current_def_id)
    .where(_subs.c.submitter_id == sa.bindparam("app_user_id"), _subs.c.deleted_at.is_(None),
           sa.exists().where(_by_supervisor))
    .order_by(_subs.c.id))
_ANSWER_OF = sa.select(_comments.c.id).where(
    _comments.c.answer_submission_id == sa.bindparam("answer_id"))
_INSERT_ANSWER = sa.insert(_comments).returning(_comments.c.id)


def answerable(connection, app_user_id: int) -> list[sa.Row]:
    return list(connection.execute(_ANSWERABLE, {"app_user_id": app_user_id}))


def has_answer(connection, answer_submission_id: int) -> bool:
    return connection.execute(_ANSWER_OF, {"answer_id": answer_submission_id}
                              ).first() is not None


def insert_answer(connection, values: dict) -> int:
    """The unique answer_submission_id speaks here if one answer were added twice."""
    return connection.execute(_INSERT_ANSWER, values).scalar_one()


# -- rebuilding the answers (renormalise) --------------------------------------------------------

def answers_of_form(session: Session, form_id: int, *, after_id: int, limit: int
                    ) -> list[sa.Row]:
    """A page of the form's live submissions, each with its current version's XML and sender."""
    return list(session.execute(
        sa.select(_subs.c.id, _subs.c.submitter_id, _defs.c.xml, _defs.c.created_at)
        .join(_defs, _defs.c.id == _subs.c.current_def_id)
        .where(_subs.c.form_id == form_id, _subs.c.deleted_at.is_(None), _subs.c.id > after_id)
        .order_by(_subs.c.id).limit(limit)))
