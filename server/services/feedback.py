"""Review feedback that reaches the officer's phone, and the officer's answer that comes back.

When a supervisor marks a submission "has issues" or "rejected" (always with a comment), it
joins the list `feedback` of the app user who sent it: the attachment `feedback.csv` of the form
`my_returned_forms`, listed in its manifest as an entity list (ODK Entities), so that stock
Collect keeps it as a secondary instance and asks the integrity endpoint which entries left
(approved, corrected by an edit, deleted). Each phone receives only its own submissions; the
hash is the MD5 of the very bytes that phone gets.

Each entry's `name` is a UUID made from the submission's form and first instanceID, the same on
every server and after every rebuild; its `__version` is the number of its supervisors' comments,
which grows whenever its state or comment changes. The officer's answer (a `my_returned_forms`
submission naming the entry) joins the submission's thread as the officer's comment, once:
the comment names the answer's own submission, which is unique.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree
from sqlalchemy.orm import Session

from forms.xml import parse_xml
from server.database import projection
from server.database.queries import feedback as feedback_queries
from server.database.queries import forms as form_queries
from server.kernel.i18n import LOCAL_TIME
from server.services.cases.lists import ENTITY_LIST_MEDIA

log = logging.getLogger(__name__)

LIST_NAME = "feedback"
MEDIA_NAME = f"{LIST_NAME}.csv"
ANSWER_FORM = "my_returned_forms"
RETURNED_STATES = ("hasIssues", "rejected")
COLUMNS = ("name", "label", "__version", "form", "date", "forum", "state", "comment")
# the answer form's fields: the entry picked, and the officer's words
PICKED, ANSWER = "returned", "answer"
MAX_ANSWER = 10_000  # characters of an answer kept in the thread (the submission keeps it all)
# The namespace of the entries' names: fixed for good, so a name never changes.
_NAMESPACE = uuid.UUID("6d1c3f0e-6b53-4f0a-9a57-2f0c1f6c9e41")


@dataclass(frozen=True)
class Entry:
    """One returned submission as the officer's phone lists it."""

    submission_id: int
    name: str
    label: str
    version: int
    form: str
    date: str
    forum: str
    state: str
    comment: str

    def cells(self) -> list[str]:
        return [self.name, self.label, str(self.version), self.form, self.date, self.forum,
                self.state, self.comment]


@dataclass(frozen=True)
class ListFile:
    body: bytes
    md5: str  # hex


@dataclass(frozen=True)
class Answer:
    """What a `my_returned_forms` submission says: the entry picked and the officer's words."""

    picked: str
    body: str


def entry_name(xml_form_id: str, instance_id: str) -> str:
    """The entry's stable UUID: one per submission (its form and first instanceID)."""
    return str(uuid.uuid5(_NAMESPACE, f"{xml_form_id}\n{instance_id}"))


def mark_media(media: list) -> None:
    """A form's `feedback.csv` is the server's list, made for each phone (a file an
    administrator uploads under the name is served instead, as uploaded)."""
    for media_file in media:
        if media_file.name == MEDIA_NAME:
            media_file.type = ENTITY_LIST_MEDIA


# -- the list, as a phone receives it ------------------------------------------------------------

def entries(session: Session, app_user_id: int) -> list[Entry]:
    """The app user's submissions returned with a comment, oldest first."""
    # an answer returned in its turn is not fed back: the thread of its submission holds it
    rows = [r for r in feedback_queries.returned(session, app_user_id, RETURNED_STATES)
            if r.comment and r.xml_form_id != ANSWER_FORM]
    forums = _forums(session, rows)
    found = []
    for row in rows:
        day = _local_date(row.created_at)
        forum = forums.get(row.id) or ""
        found.append(Entry(
            submission_id=row.id, name=entry_name(row.xml_form_id, row.instance_id),
            label=" · ".join(part for part in (row.title, day, forum) if part),
            version=row.reviews, form=row.title, date=day, forum=forum,
            state=row.review_state, comment=row.comment))
    return found


def list_file(session: Session, app_user_id: int) -> ListFile:
    out = io.StringIO()
    # Values go to the phone as they are: a comment starting with "=" is words there, not a
    # formula (spreadsheets are the exports' business, which neutralise them).
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(entry.cells() for entry in entries(session, app_user_id))
    body = out.getvalue().encode("utf-8")
    return ListFile(body, hashlib.md5(body, usedforsecurity=False).hexdigest())


def integrity(session: Session, app_user_id: int, ids: Sequence[str]) -> list[tuple[str, bool]]:
    """(id, deleted) for each id asked: deleted unless it is in the phone's list now (approved,
    corrected by an edit, deleted, unknown or another officer's all leave alike)."""
    listed = {entry.name for entry in entries(session, app_user_id)}
    return [(raw, raw.strip().lower() not in listed) for raw in ids]


def _forums(session: Session, rows) -> dict[int, str | None]:
    """Each submission's forum, read from its form's table (a form without one: none)."""
    found: dict[int, str | None] = {}
    by_form: dict[tuple[int, str], list[int]] = {}
    for row in rows:
        by_form.setdefault((row.form_id, row.projection_revision), []).append(row.id)
    for (form_id, revision), ids in by_form.items():
        tables = projection.load_revision(session, form_id, revision)
        if not tables.tables:
            continue
        column = projection.place_columns(tables, ("forum",)).get("forum")
        if column is not None:
            found.update(feedback_queries.root_values(session, tables.root, column, ids))
    return found


def _local_date(moment: datetime) -> str:
    if moment.tzinfo is None:  # SQLite returns UTC without its zone
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TIME).date().isoformat()


# -- the officer's answer ------------------------------------------------------------------------

def read_answer(form_id: str, root: etree._Element) -> Answer | None:
    """The answer a submission carries, if it is one (`my_returned_forms`)."""
    if form_id != ANSWER_FORM:
        return None
    # by local name: some clients put the instance in a namespace of their own
    texts = {etree.QName(child).localname: "".join(child.itertext()).strip()
             for child in root if isinstance(child.tag, str)}
    return Answer(picked=texts.get(PICKED, "").lower(),
                  body=texts.get(ANSWER, "")[:MAX_ANSWER])


def record_answer(writer, answer: Answer, answer_submission_id: int, app_user_id: int,
                  at: datetime) -> bool:
    """Add the answer to the thread of the submission it picked, as the officer's comment,
    unless it is there already; in the answer's transaction (`writer`: the submission path's).
    An answer naming no returned submission of this app user's adds nothing (it is kept as a
    submission all the same)."""
    if not answer.body:
        log.info("answer submission %s: no words to add", answer_submission_id)
        return False
    target = next((row for row in feedback_queries.answerable(writer, app_user_id)
                   if entry_name(row.xml_form_id, row.instance_id) == answer.picked), None)
    if target is None:
        log.info("answer submission %s: '%s' is none of app user %s's returned submissions; "
                 "no comment added", answer_submission_id, answer.picked[:80], app_user_id)
        return False
    if feedback_queries.has_answer(writer, answer_submission_id):
        return False
    feedback_queries.insert_answer(writer, {
        "submission_id": target.id, "user_id": None, "app_user_id": app_user_id,
        "answer_submission_id": answer_submission_id, "body": answer.body,
        "review_state": None, "version_id": target.version_id, "created_at": at})
    return True


def rebuild_answers(session: Session, *, batch: int = 500) -> int:
    """Add the answers missing from their threads (none is added twice); return how many."""
    form = form_queries.get_form(session, ANSWER_FORM)
    if form is None:
        return 0
    writer, added, after = session.connection(), 0, 0
    while page := feedback_queries.answers_of_form(session, form.id, after_id=after,
                                                   limit=batch):
        for row in page:
            after = row.id
            if row.submitter_id is None or feedback_queries.has_answer(writer, row.id):
                continue
            answer = read_answer(ANSWER_FORM, parse_xml(row.xml))
            if answer is not None and record_answer(writer, answer, row.id, row.submitter_id,
                                                    row.created_at):
                added += 1
    return added
