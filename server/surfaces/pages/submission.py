"""One submission: its answers laid out as the form, photos and files, the map, the system facts,
the history of versions with their differences, the review thread and the review actions.

Reading personal fields and downloading files are written to the audit log. A submission the
phone encrypted reads the same once a key holder unlocked its key (`sealed`), each decryption
audited; otherwise the page says why it cannot be read, and everything else on it still works.
"""

from __future__ import annotations

import io

from flask import current_app, g, redirect, render_template, request, send_file, url_for

from server import database
from server.database import per_request
from server.database.queries import accounts as account_queries
from server.database.queries import field_offices as field_office_queries
from server.database.queries import reviews as review_queries
from server.database.queries import submissions as submission_queries
from server.kernel import i18n, problems
from server.kernel.problems import Problem
from server.services import access, answers, audit, reviewing, thumbnails
from server.services.cases import reading as case_reading
from server.services.normalising import structure_of
from server.surfaces.pages import bp, require, sealed
from sync.encryption import EncryptionError

ROUTE = "/forms/<xml_form_id>/submissions/<path:instance_id>"


def _layout(view: reviewing.FormView, reading: sealed.Reading, personal_ok: bool) -> list:
    """The answers as the form lays them out; none when the version cannot be read here."""
    if reading.root is None:
        return []
    definition = reading.definition
    structure = structure_of(definition.form_version)[0]
    return answers.layout(
        structure, reading.root, code=i18n.current().code, personal_ok=personal_ok,
        files=view.files(current_app.extensions["blobs"], definition.form_version),
        attachments=reading.attachments)


def _record_decrypted(view: reviewing.FormView, submission, purpose: str,
                      readings: list[sealed.Reading]) -> None:
    """One event per page that decrypted: which versions, with which key, and what it showed."""
    opened = [r for r in readings if r.state == sealed.OPENED]
    if opened:
        _record_after_reading(
            view, "submission.decrypted", submission, purpose=purpose,
            key=opened[-1].key_name, versions=[r.definition.instance_id for r in opened],
            outcomes=[r.outcome for r in opened])


def _record_after_reading(view: reviewing.FormView, action: str, submission, **details) -> None:
    """Write an audit event from a page that only read: a short write of its own."""
    database.write_after_reading(view.session)
    audit.record(view.session, action, user=view.user, address=request.remote_addr,
                 form_id=view.form.id, submission_id=submission.id,
                 instance_id=submission.instance_id, **details)
    view.session.commit()


@bp.get(ROUTE)
@require("submissions.read")
def submission(xml_form_id: str, instance_id: str):
    view = reviewing.form_view(per_request.session(), xml_form_id, g.user)
    found, row = view.find(instance_id)
    return _render(view, found, row)


def _render(view: reviewing.FormView, found, row, *, stale: reviewing.Stale | None = None,
            draft: str = ""):
    """The submission's page; with `stale`, a review refused because the phone edited it after
    the reviewer opened the page: what changed since the version read, and their comment kept."""
    personal_ok = access.sees_personal_data(g.user)
    definition = found.current_def
    reading = sealed.read(definition)
    nodes = _layout(view, reading, personal_ok)
    versions = submission_queries.definitions(view.session, found)
    names = account_queries.app_user_names(
        view.session, {found.submitter_id} | {d.submitter_id for d in versions})
    read = next((d for d in versions if stale and d.instance_id == stale.shown), None)
    earlier = sealed.read(read, whole=False) if read is not None else None
    # two versions compare only when both read: a locked one would show every answer changed
    changes = _changes(view, earlier, reading, personal_ok) \
        if earlier is not None and _both_read(earlier, reading) else None
    html = render_template(
        "submission.html", form=view.form, submission=found, row=row, definition=definition,
        nodes=nodes, point=answers.first_geopoint(nodes), versions=versions, names=names,
        comments=review_queries.comments(view.session, found),
        sync_conflicts=field_office_queries.open_conflicts(view.session, submission_id=found.id),
        actions=reviewing.REVIEW_ACTIONS, masked=answers.MASK, stale=stale, read=read,
        changes=changes, draft=draft, reading=reading, may_unlock=sealed.may_unlock(),
        cases=case_reading.CaseReader(view.session, g.user).cases_of_submission(found.id)
        if access.can(g.user, "submissions.review") else [])
    viewed = [a.path for a in answers.flatten(nodes).values()
              if a.personal and not a.masked and a.raw]
    viewed += [path for path in _personal_in(changes or []) if path not in viewed]
    _record_decrypted(view, found, "page", [r for r in (earlier, reading) if r is not None])
    if personal_ok and viewed:
        _record_after_reading(view, "submission.personal_viewed", found, fields=viewed)
    return html


@bp.post(ROUTE + "/review")
@require("submissions.review")
def review_submission(xml_form_id: str, instance_id: str):
    view = reviewing.form_view(per_request.session(), xml_form_id, g.user)
    found, _row = view.find(instance_id)
    comment = request.form.get("comment", "")
    stale = reviewing.review(view, [(found, _shown(found))], request.form.get("state", ""),
                             comment, address=request.remote_addr)
    if stale:  # nothing was written: say so, with what changed
        view.session.rollback()
        found, row = view.find(instance_id)
        return _render(view, found, row, stale=stale[0], draft=comment), 409
    view.session.commit()
    return redirect(_page(xml_form_id, instance_id), 303)


@bp.post(ROUTE + "/comments")
@require("submissions.review")
def comment_submission(xml_form_id: str, instance_id: str):
    view = reviewing.form_view(per_request.session(), xml_form_id, g.user)
    found, _row = view.find(instance_id)
    reviewing.comment(view, found, request.form.get("comment", ""), _shown(found),
                      address=request.remote_addr)
    view.session.commit()
    return redirect(_page(xml_form_id, instance_id) + "#comments", 303)


def _shown(found) -> str:
    """The version the form was drawn with; a form that names none (drawn before versions were
    sent with reviews) is taken as made on the first, so it holds only while nobody edited."""
    return request.form.get("version", "").strip() or found.instance_id


@bp.get(ROUTE + "/attachments/<name>")
@require("submissions.read")
def attachment(xml_form_id: str, instance_id: str, name: str):
    view = reviewing.form_view(per_request.session(), xml_form_id, g.user)
    found, _row = view.find(instance_id)
    definition = found.current_def
    reading = sealed.read(definition, whole=False)  # the page checked the signature
    if reading.state == sealed.LOCKED:
        raise Problem(problems.KEY_LOCKED, name=reading.key_name)
    if reading.state == sealed.FOREIGN:
        raise Problem(problems.KEY_NOT_HELD)
    if reading.encrypted and reading.root is None:
        _record_decrypted(view, found, "attachment", [reading])
        raise Problem(problems.ATTACHMENT_NOT_DECRYPTED, name=name, key=reading.key_name,
                      outcome=reading.outcome)
    nodes = _layout(view, reading, access.sees_personal_data(g.user))
    answer = next((a for a in answers.flatten(nodes).values()
                   if a.field.type == "binary" and (a.file == name or a.raw == name)), None)
    if answer is None:
        raise Problem(problems.ATTACHMENT_NOT_FOUND, name=name)
    if answer.masked:
        raise Problem(problems.PERSONAL_DATA_FORBIDDEN)
    if not answer.file_sha256:
        raise Problem(problems.ATTACHMENT_NOT_FOUND, name=name)
    if reading.state == sealed.OPENED:
        return _decrypted_file(view, found, reading, answer, name)
    store = current_app.extensions["blobs"]
    source = store.path(answer.file_sha256)
    if request.args.get("size") == "thumbnail":
        small = thumbnails.thumbnail(current_app.config["DATA_DIR"], answer.file_sha256, source)
        if small is None:
            raise Problem(problems.ATTACHMENT_NOT_FOUND, name=name)
        return send_file(small, mimetype="image/jpeg", max_age=0)
    with source.open("rb") as file:
        image_type = thumbnails.image_type(file)
    response = _file_response(send_file(
        source, mimetype=image_type or "application/octet-stream",
        as_attachment=image_type is None, download_name=name, max_age=0), image_type)
    _record_after_reading(view, "attachment.downloaded", found, name=name,
                          sha256=answer.file_sha256)
    return response


def _file_response(response, image_type: str | None):
    # A browser shows a photo opened on its own in a page it styles inline (centred, on a dark
    # background): allow that style, and nothing else to run or load.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox" if image_type
        else "default-src 'none'; sandbox")
    return response


def _decrypted_file(view: reviewing.FormView, found, reading: sealed.Reading, answer,
                    name: str):
    """A file of an encrypted submission, decrypted into memory for this response only: its
    thumbnail too is made in memory, never kept in the data folder as plain ones are. Each
    is a decryption, audited (the thumbnail shows the photo as well)."""
    try:
        plain = reading.opened.media(current_app.extensions["blobs"], answer.file)
    except (EncryptionError, FileNotFoundError, OSError) as error:
        raise Problem(problems.ATTACHMENT_NOT_DECRYPTED, name=name, key=reading.key_name,
                      outcome=reading.outcome if reading.flagged else "corrupted") from error
    thumbnail = request.args.get("size") == "thumbnail"
    if thumbnail:
        small = thumbnails.small_copy(io.BytesIO(plain))
        if small is None:
            raise Problem(problems.ATTACHMENT_NOT_FOUND, name=name)
        response = send_file(io.BytesIO(small), mimetype="image/jpeg", max_age=0)
    else:
        image_type = thumbnails.image_type(io.BytesIO(plain))
        response = _file_response(send_file(
            io.BytesIO(plain), mimetype=image_type or "application/octet-stream",
            as_attachment=image_type is None, download_name=name, max_age=0), image_type)
    response.headers["Cache-Control"] = "no-store"  # nor in the browser's cache on disk
    _record_after_reading(view, "attachment.downloaded", found, name=name,
                          sha256=answer.file_sha256, decrypted=True, key=reading.key_name,
                          **({"size": "thumbnail"} if thumbnail else {}))
    return response


@bp.get(ROUTE + "/diff")
@require("submissions.read")
def diff(xml_form_id: str, instance_id: str):
    view = reviewing.form_view(per_request.session(), xml_form_id, g.user)
    found, _row = view.find(instance_id)
    versions = {d.instance_id: d for d in submission_queries.definitions(view.session, found)}
    chosen = []
    for key in ("from", "to"):
        version_id = request.args.get(key, "")
        if version_id not in versions:
            raise Problem(problems.VERSION_NOT_FOUND, instance_id=version_id)
        chosen.append(versions[version_id])
    personal_ok = access.sees_personal_data(g.user)
    readings = [sealed.read(d, whole=False) for d in chosen]
    rows = _changes(view, readings[0], readings[1], personal_ok) \
        if _both_read(*readings) else []
    html = render_template("diff.html", form=view.form, submission=found, rows=rows,
                           old=chosen[0], new=chosen[1], masked=answers.MASK,
                           unread=[r for r in readings if r.root is None],
                           may_unlock=sealed.may_unlock())
    _record_decrypted(view, found, "diff", readings)
    viewed = _personal_in(rows)
    if personal_ok and viewed:
        _record_after_reading(view, "submission.personal_viewed", found, fields=viewed,
                              versions=[chosen[0].instance_id, chosen[1].instance_id])
    return html


def _changes(view: reviewing.FormView, old_version: sealed.Reading,
             new_version: sealed.Reading, personal_ok: bool) -> list:
    """(path, label, before, after) of each answer that differs between two versions."""
    old, new = (answers.flatten(_layout(view, r, personal_ok)) for r in (old_version, new_version))
    rows = []
    for path in list(new) + [p for p in old if p not in new]:
        before, after = old.get(path), new.get(path)
        if (before.raw if before else "") == (after.raw if after else ""):
            continue
        rows.append((path, (after or before).label, before, after))
    return rows


def _both_read(*readings: sealed.Reading) -> bool:
    return all(r.root is not None for r in readings)


def _personal_in(rows: list) -> list[str]:
    """The paths of the changes that show a personal answer unmasked."""
    return [path for path, _label, before, after in rows
            if any(a is not None and a.personal and not a.masked for a in (before, after))]


def _page(xml_form_id: str, instance_id: str) -> str:
    return url_for("pages.submission", xml_form_id=xml_form_id, instance_id=instance_id)
