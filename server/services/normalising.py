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
from server.database.queries import arrivals as arrival_queries
from server.database.queries import form_tables as table_queries
from server.database.queries import forms as form_queries
from server.database.queries import keys as key_queries
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


class RowsFailed(Exception):
    """A version's rows could not be read or written; `reason` says why, to keep on it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    @classmethod
    def because(cls, error: Exception) -> RowsFailed:
        if isinstance(error, RowsFailed):
            return error
        return cls(f"{type(error).__name__}: {error}"[:2000])


def rows_of(plan: tables.Plan, root: etree._Element, key: str) -> Rows:
    """The rows of a version, read from its XML; `key` is its submission's (the instanceID of
    its first version). RowsFailed if they cannot be read."""
    try:
        return normalise(plan, root, key)
    except Exception as error:
        log.exception("reading the rows of %s failed", key)
        raise RowsFailed.because(error) from error


def write_rows(connection, tables: projection.Projection, submission_id: int | None,
               def_id: int | None, rows: Rows, system: dict, *, replace: bool) -> None:
    """Write the rows of version `def_id` and its value issues, replacing the submission's
    earlier ones if `replace`; `system` holds the form row's `_` columns. `connection`: a
    Connection in a transaction, the group commit's lane, or a collector of INSERTs (then with
    no ids: see `arrival_queries.insert_new_at_once`). RowsFailed if they cannot be written."""
    try:
        if replace:
            arrival_queries.delete_rows(connection, tables.tables.values(), submission_id)
            arrival_queries.delete_value_issues(connection, def_id)
        projection.write(connection, tables, submission_id, rows, system, replace=False)
        arrival_queries.insert_value_issues(connection, [
            {"submission_def_id": def_id, "row_key": i.key, "path": i.path, "raw": i.raw,
             "reason": i.reason} for i in rows.issues])
    except Exception as error:
        log.exception("writing the rows of submission %s failed", submission_id)
        raise RowsFailed.because(error) from error


def normalise_submission(session: Session, form: Form, submission: Submission,
                         definition: SubmissionDef, *, root: etree._Element | None = None
                         ) -> bool:
    """Write the rows of `definition` (the current version) again; record a failure instead of
    raising. `root`: its instance, when it is not the raw XML (an encrypted one, decrypted)."""
    try:
        with session.begin_nested():
            _structure, plan = structure_of(definition.form_version)
            rows = rows_of(plan, parse_xml(definition.xml) if root is None else root,
                           submission.instance_id)
            system = projection.system_values(
                submission, definition,
                submitter=account_queries.app_user_name(session, submission.submitter_id),
                edits=submission_queries.count_defs(session, submission) - 1)
            session.flush()  # the rows go through the session's connection, past its unit of work
            write_rows(session.connection(), projection.load(session, form), submission.id,
                       definition.id, rows, system, replace=True)
            if definition.normalised_at is None or definition.normalise_error is not None:
                definition.normalised_at = utcnow()
                definition.normalise_error = None
        return True
    except Exception as error:  # the raw record is safe; keep the reason where people see it
        if not isinstance(error, RowsFailed):  # (those are logged where they fail)
            log.exception("normalising submission %s of form %s failed",
                          submission.instance_id, form.xml_form_id)
        definition.normalised_at = None
        definition.normalise_error = RowsFailed.because(error).reason
        return False


def renormalise(session: Session, form: Form, *, batch: int = 500) -> tuple[int, int]:
    """Rebuild a form's tables from the raw records; return (rows rebuilt, failures)."""
    for version in form_queries.list_versions(session, form):
        projection.ensure(session, form, structure_of(version)[0])
    table_queries.delete_all_rows(session, projection.load(session, form).tables.values())
    key_queries.forget_projected(session, form.id)  # decrypted rows are gone with the rest
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
