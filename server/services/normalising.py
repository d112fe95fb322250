"""From the raw record to the relational rows, for one submission or a whole form.

A failure here never loses data: the raw XML is already stored and stays acknowledged; the error
is recorded on the version and `muntada renormalise` picks it up later.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from lxml import etree
from sqlalchemy.orm import Session

from forms import FormStructure, read_structure
from forms.xml import parse_xml
from server.database import projection
from server.database.models import Form, FormVersion, Submission, SubmissionDef, utcnow
from server.database.queries import accounts as account_queries
from server.database.queries import form_tables as table_queries
from server.database.queries import forms as form_queries
from server.database.queries import submissions as submission_queries
from sync import tables
from sync.normalise import Rows, normalise

log = logging.getLogger(__name__)
_STRUCTURES: OrderedDict[str, tuple[FormStructure, tables.Plan]] = OrderedDict()


def structure_of(version: FormVersion) -> tuple[FormStructure, tables.Plan]:
    """A version's structure and table plan, read once per worker (keyed by the XForm's hash)."""
    return structure_by_hash(version.xform_sha256, lambda: version.xform)


def structure_by_hash(xform_sha256: str, xform: Callable[[], bytes]
                      ) -> tuple[FormStructure, tables.Plan]:
    """The same, with the XForm read (by `xform()`) only when this worker has not parsed it."""
    cached = _STRUCTURES.get(xform_sha256)
    if cached is None:
        structure = read_structure(xform())
        cached = (structure, tables.plan(structure))
        _STRUCTURES[xform_sha256] = cached
        if len(_STRUCTURES) > 64:
            _STRUCTURES.popitem(last=False)
    return cached


def normalise_submission(session: Session, form: Form, submission: Submission,
                         definition: SubmissionDef, version: FormVersion | None = None,
                         root: etree._Element | None = None, *, first: bool = False,
                         submitter: str | None = None, rows: Rows | None = None) -> bool:
    """Write the rows of `definition` (the current version); record a failure instead of raising.

    `first`: a brand-new submission, which has no rows or issues to replace yet.
    """
    try:
        with session.begin_nested():
            if rows is None:
                _structure, plan = structure_of(version or definition.form_version)
                rows = normalise(plan, root if root is not None else parse_xml(definition.xml),
                                 submission.instance_id)
            if submitter is None:
                submitter = account_queries.app_user_name(session, submission.submitter_id)
            system = projection.system_values(
                submission, definition, submitter=submitter,
                edits=0 if first else submission_queries.count_defs(session, submission) - 1)
            session.flush()  # the rows go through the session's connection, past its unit of work
            projection.write(session.connection(), projection.load(session, form), submission.id,
                             rows, system, replace=not first)
            submission_queries.replace_value_issues(session, definition, rows.issues,
                                                    replace=not first)
            if definition.normalised_at is None or definition.normalise_error is not None:
                definition.normalised_at = utcnow()
                definition.normalise_error = None
        return True
    except Exception as error:  # the raw record is safe; keep the reason where people see it
        log.exception("normalising submission %s of form %s failed", submission.instance_id,
                      form.xml_form_id)
        definition.normalised_at = None
        definition.normalise_error = f"{type(error).__name__}: {error}"[:2000]
        return False


def renormalise(session: Session, form: Form, *, batch: int = 500) -> tuple[int, int]:
    """Rebuild a form's tables from the raw records; return (rows rebuilt, failures)."""
    for version in form_queries.list_versions(session, form):
        projection.ensure(session, form, structure_of(version)[0])
    table_queries.delete_all_rows(session, projection.load(session, form).tables.values())
    done = failed = 0
    after = 0
    while page := submission_queries.current_defs(session, form, after_id=after, limit=batch):
        for submission, definition in page:
            if normalise_submission(session, form, submission, definition):
                done += 1
            else:
                failed += 1
            after = submission.id
        session.flush()
    return done, failed
