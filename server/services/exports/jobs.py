"""Exports built in the background: the page asks for one, a thread of the worker writes it into
the data folder while its ExportJob row counts rows done out of the total, and the page polls
that row until the file can be downloaded, by its owner only, and only while the owner still has
the rights it was written with (`server.services.exports.rights`)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from server import database
from server.database.models import ExportJob, Form, User, utcnow
from server.database.queries import accounts as account_queries
from server.database.queries import export_jobs as job_queries
from server.database.queries import forms as form_queries
from server.kernel import private, problems
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services import audit
from server.services.exports import FORMATS, Options, Prepared, prepare, rights, write

log = logging.getLogger(__name__)
_threads: dict[int, threading.Thread] = {}
_PROGRESS_EVERY = 5000
# A job still queued or running this long after it was asked for lost its worker (a restart, a
# crash): the largest exports take minutes.
INTERRUPTED_AFTER = timedelta(hours=1)
# Finished files are personal data at rest: kept long enough to download, then deleted.
KEEP_FILES = timedelta(days=7)


@dataclass(frozen=True)
class Workshop:
    """What export jobs need of the app they run in: its database (a job's thread opens its
    own units of work), its data folder, the key pseudonyms are made with, its blob store."""

    database: database.Database
    data_dir: str
    secret_key: str
    blobs: BlobStore

    @property
    def folder(self) -> Path:
        return folder(self.data_dir)


def folder(data_dir: str) -> Path:
    return private.folder(Path(data_dir) / "exports")


def start(workshop: Workshop, session, user: User, form: Form, options: Options) -> ExportJob:
    """Record the job, commit it, and write it in a thread of this worker."""
    job = ExportJob(user_id=user.id, form_id=form.id, format=options.format,
                    options=json.dumps(options.as_dict(), ensure_ascii=False))
    session.add(job)
    session.commit()
    thread = threading.Thread(target=run, args=(workshop, job.id), name=f"export-{job.id}",
                              daemon=True)
    _threads[job.id] = thread
    thread.start()
    return job


def wait(job_id: int, timeout: float = 60) -> None:
    """Until a job's thread has finished (tests and the command line)."""
    thread = _threads.get(job_id)
    if thread is not None:
        thread.join(timeout)
        _threads.pop(job_id, None)


def run(workshop: Workshop, job_id: int) -> None:
    database = workshop.database
    with database.reading() as reader:
        target: Path | None = None
        try:
            job = reader.get(ExportJob, job_id)
            user, form = reader.get(User, job.user_id), reader.get(Form, job.form_id)
            prepared = prepare(reader, form, user, Options.from_dict(json.loads(job.options)),
                               secret_key=workshop.secret_key, blobs=workshop.blobs)
            _update(database, job_id, state="running", total=prepared.count(reader),
                    rights=made_with(prepared).dumps())
            name = f"{job_id}-{secrets.token_hex(8)}{FORMATS[job.format]}"
            target = workshop.folder / f".{name}"
            last = [0]

            def progress(done: int) -> None:
                if done - last[0] >= _PROGRESS_EVERY:
                    last[0] = done
                    _update(database, job_id, done=done)
            written = write(reader, prepared, target, progress)
            os.replace(target, workshop.folder / name)
            _update(database, job_id, state="done", file_name=name, finished_at=utcnow(),
                    done=sum(v for k, v in written.items() if k != "media"))
        except Exception as error:
            log.exception("export %s failed", job_id)
            if target is not None:
                target.unlink(missing_ok=True)
            _update(database, job_id, state="failed", finished_at=utcnow(),
                    error=f"{type(error).__name__}"[:200])


def made_with(prepared: Prepared) -> rights.Rights:
    """The rights an export uses: its owner's as it is prepared; the personal-data permission
    only if the file shows personal answers."""
    return rights.of(prepared.user, personal_used=prepared.personal_used)


def refuse_if_lost(workshop: Workshop, job: ExportJob, owner: User, *, via: str,
                   address: str | None) -> None:
    """A finished file whose owner has lost a right it was written with is deleted, the refusal
    audited, and 403.21 raised; one made with fewer rights than the owner has now is fine. A file
    withdrawn before is refused again with the same reason."""
    if job.state == "withdrawn":
        raise Problem(problems.EXPORT_RIGHTS_LOST, job_id=job.id)
    if job.state != "done":
        return
    lost = rights.lost(job.rights, owner)
    if not lost:
        return
    with workshop.database.writing() as writer:
        _withdraw(workshop, writer, job, lost)
        audit.record(writer, "export.refused", user=owner, address=address, form_id=job.form_id,
                     job=job.id, format=job.format, lost=lost, via=via)
    raise Problem(problems.EXPORT_RIGHTS_LOST, job_id=job.id, lost=", ".join(lost))


def owner_now(database: database.Database, user_id: int) -> User:
    """The user as the database holds them now, not as this request's session first read them
    (rights may have changed while a file was written)."""
    with database.reading() as reader:
        return account_queries.user_by_id(reader, user_id, active=False)


def _withdraw(workshop: Workshop, session, job: ExportJob, lost: list[str]) -> None:
    if job.file_name:
        (workshop.folder / job.file_name).unlink(missing_ok=True)
    log.warning("export %s deleted: its owner lost %s", job.id, ", ".join(lost))
    job_queries.update_job(session, job.id, state="withdrawn", file_name=None)


def sweep(workshop: Workshop, session, *, address: str | None) -> None:
    """Mark jobs whose worker died as failed, delete files kept longer than KEEP_FILES and
    files whose owners have lost a right they were written with: in `session`, which has read
    and now writes (`address`: whose visit runs the sweep)."""
    now = utcnow()

    def due():
        return job_queries.jobs_to_sweep(session, started_before=now - INTERRUPTED_AFTER,
                                     finished_before=now - KEEP_FILES)

    def orphaned():
        return [(job, owner, lost) for job, owner in job_queries.finished_jobs_with_owners(session)
                if (lost := rights.lost(job.rights, owner))]
    if not due() and not orphaned():
        return
    database.write_after_reading(session)  # for these few changes only
    for job, owner, lost in orphaned():
        _withdraw(workshop, session, job, lost)
        # the owner's event (whoever's visit ran the sweep): their file, their rights
        audit.record(session, "export.withdrawn", user=owner, address=address,
                     form_id=job.form_id, job=job.id, format=job.format, lost=lost)
    for job in due():
        if job.state in ("queued", "running"):
            log.warning("export %s was interrupted (its worker stopped)", job.id)
            job_queries.update_job(session, job.id, state="failed", error="interrupted",
                               finished_at=now)
        else:
            if job.file_name:
                (workshop.folder / job.file_name).unlink(missing_ok=True)
            job_queries.update_job(session, job.id, state="expired", file_name=None)
    session.commit()


def hand_over(workshop: Workshop, job: ExportJob, owner: User, *, via: str,
              address: str | None, state_label: Callable[[str], str] = str
              ) -> tuple[Path, str]:
    """A finished job's file for its owner (the page's or the API's): checked against the
    owner's rights now, its download audited. Returns its path and the name to give it."""
    refuse_if_lost(workshop, job, owner, via=via, address=address)
    path = path_of(workshop, job)
    if path is None:
        raise Problem(problems.EXPORT_NOT_READY, job_id=job.id, state=state_label(job.state))
    with workshop.database.writing() as writer:
        form = form_queries.form_by_id(writer, job.form_id)
        audit.record(writer, "export.downloaded", user=owner, address=address,
                     form_id=job.form_id, format=job.format, job=job.id, rows=job.done, via=via)
    stamp = job.created_at.strftime("%Y%m%d-%H%M%S")
    return path, f"{form.xml_form_id}-{stamp}{FORMATS[job.format]}"


def path_of(workshop: Workshop, job: ExportJob) -> Path | None:
    if job.state != "done" or not job.file_name:
        return None
    path = workshop.folder / job.file_name
    return path if path.is_file() else None


def _update(database: database.Database, job_id: int, **values) -> None:
    with database.writing() as writer:
        job_queries.update_job(writer, job_id, **values)
