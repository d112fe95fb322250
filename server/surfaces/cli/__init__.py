"""The `muntada` command line, for operators and for our own checks. The README's command
reference is generated from `--help`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.orm import Session

from server.app import create_app
from server.database import migrate, per_request, projection
from server.database.models import FORM_STATES, ROLES
from server.database.queries import accounts as account_queries
from server.database.queries import forms as form_queries
from server.database.queries import submissions as submission_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services import access, api_tokens, collect_settings, deletion, normalising
from server.services.accounts import (
    active_app_user,
    create_app_user,
    create_user,
    normalise_name,
    revoke_app_user,
)
from server.services.form_loading import index_review_lists, load_form, set_media, set_state
from server.services.programme import PROGRAMME_FORMS


@contextmanager
def _database() -> Iterator[tuple[Flask, Session]]:
    """The app (its settings and files) and a unit of work that writes on its database, migrated
    first; problems become clean exits."""
    app = create_app()
    units = per_request.of(app)
    try:
        migrate.upgrade(units.engine)
        with units.writing() as session:
            yield app, session
    except Problem as problem:
        raise click.ClickException(problem.message) from problem
    finally:
        units.dispose()


@click.group(help="Muntada: forms and submissions of the community policing forums.")
def main() -> None:
    pass


@main.command(help="Serve the app with gunicorn (several worker processes).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 lets phones on the network reach it.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", type=int, default=None,
              help="Worker processes [default: MUNTADA_WORKERS]")
def serve(host: str, port: int, workers: int | None) -> None:
    from server.app.wsgi_server import run

    with _database() as (app, session):
        index_review_lists(session)
        workers = workers or app.config["WORKERS"]
        trust_proxy = app.config["TRUST_PROXY"]
    click.echo(f"Muntada serving on http://{host}:{port} with {workers} workers "
               f"(data in {app.config['DATA_DIR']}).")
    click.echo("Phones: `muntada app-users show NAME` prints the address and QR code for Collect.")
    run(host=host, port=port, workers=workers, trust_proxy=trust_proxy)


@main.group(help="The database.")
def db_group() -> None:
    pass


main.add_command(db_group, "db")


@db_group.command("upgrade", help="Create or migrate the database schema to the latest version.")
def db_upgrade() -> None:
    with _database() as (app, session):
        index_review_lists(session)
        click.echo(f"Database at the latest schema: {_safe_url(app.config['DATABASE_URL'])}")


@main.group(help="Forms and their media files.")
def forms() -> None:
    pass


@forms.command("add", help="Load an XLSForm (.xlsx, .xls, .csv, .md) or XForm with its media.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--media", "media_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A media file the form references (repeat for several).")
@click.option("--validate/--no-validate", default=None,
              help="Check with ODK Validate [default: MUNTADA_VALIDATE_FORMS].")
def forms_add(file: Path, media_files: tuple[Path, ...], validate: bool | None) -> None:
    with _database() as (app, session):
        _add(app, session, file, media_files, validate)


@forms.command("load-programme",
               help="Load the programme's three forms (forum meeting, incident referral, "
                    "training attendance) with their media.")
def forms_load_programme() -> None:
    with _database() as (app, session):
        for form in PROGRAMME_FORMS:
            _add(app, session, form.source, form.media, None)


def _add(app: Flask, session: Session, file: Path, media_files, validate: bool | None) -> None:
    validate = app.config["VALIDATE_FORMS"] if validate is None else validate
    result = load_form(session, app.extensions["blobs"], file.read_bytes(),
                       {m.name: m.read_bytes() for m in media_files}, validate=validate,
                       filename=file.name)
    session.commit()
    status = "loaded" if result.created else "already loaded"
    click.echo(f"{result.form.xml_form_id}\t{result.version.version}\t{status}")
    for warning in result.warnings:
        click.echo(f"  warning: {warning}", err=True)
    if result.media_updated:
        click.echo(f"  media updated: {', '.join(result.media_updated)}")
    if result.media_missing:
        click.echo(f"  media still missing: {', '.join(result.media_missing)}", err=True)


@forms.command("list", help="List forms with their current version, state and media.")
def forms_list() -> None:
    with _database() as (_app, session):
        click.echo("form id\tversion\tstate\ttitle\tmedia")
        for form in form_queries.list_forms(session):
            version = form.current_version
            media = ", ".join(m.name + ("" if m.blob_sha256 else " (missing)")
                              for m in version.media)
            click.echo(f"{form.xml_form_id}\t{version.version}\t{form.state}\t{version.title}"
                       f"\t{media or '-'}")


@forms.command("state", help="Open, close or set closing a form: open (listed, accepting), "
                             "closing (not listed, accepting), closed (not listed, refusing).")
@click.argument("form_id")
@click.argument("state", type=click.Choice(FORM_STATES))
def forms_state(form_id: str, state: str) -> None:
    with _database() as (_app, session):
        form = _form(session, form_id)
        set_state(form, state)
        session.commit()
        click.echo(f"{form_id}\t{state}")


@forms.command("media", help="Replace media files of a form's current version (a new forum in "
                             "forums.csv needs no new form version).")
@click.argument("form_id")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def forms_media(form_id: str, files: tuple[Path, ...]) -> None:
    with _database() as (app, session):
        form = _form(session, form_id)
        changed = set_media(session, app.extensions["blobs"], form.current_version,
                            {f.name: f.read_bytes() for f in files})
        session.commit()
        click.echo(f"updated: {', '.join(changed) or 'nothing (same content)'}")


def _form(session: Session, form_id: str):
    form = form_queries.get_form(session, form_id)
    if form is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=form_id)
    return form


@main.group("app-users", help="Officers' phones: tokens, passwords and QR codes for Collect.")
def app_users() -> None:
    pass


@app_users.command("create", help="Create an app user and show how Collect connects.")
@click.argument("name")
@click.option("--form", "form_ids", multiple=True,
              help="A form this phone may fill (repeat for several; default: every form).")
@click.option("--password", is_flag=True,
              help="Also set a password (asked twice) for Digest or Basic login in Collect.")
@click.option("--if-missing", is_flag=True, help="Do nothing but show it if it exists.")
def app_users_create(name: str, form_ids: tuple[str, ...], password: bool,
                     if_missing: bool) -> None:
    with _database() as (app, session):
        existing = account_queries.app_user_by_name(session, normalise_name(name))
        if existing is None or not if_missing:
            secret = click.prompt("Password", hide_input=True, confirmation_prompt=True) \
                if password else None
            existing = create_app_user(session, name, form_ids=form_ids, password=secret)
            session.commit()
        _show(app, existing)


@app_users.command("show", help="Show an app user's Collect address and settings QR code.")
@click.argument("name")
def app_users_show(name: str) -> None:
    with _database() as (app, session):
        app_user = active_app_user(session, name)
        _show(app, app_user)


@app_users.command("qr", help="Write an app user's settings QR code as a PNG file.")
@click.argument("name")
@click.argument("png", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def app_users_qr(name: str, png: Path) -> None:
    with _database() as (app, session):
        app_user = active_app_user(session, name)
        png.write_bytes(collect_settings.qr_png(
            collect_settings.payload_for(app.config["PUBLIC_URL"], app_user.token)))
        click.echo(f"QR code for {app_user.name} written to {png}")


@app_users.command("list", help="List app users and the forms they may fill.")
def app_users_list() -> None:
    with _database() as (_app, session):
        for user in account_queries.list_app_users(session):
            forms_text = "every form" if user.all_forms else \
                ", ".join(f.xml_form_id for f in user.forms)
            state = "revoked" if user.revoked_at else "active"
            click.echo(f"{user.name}\t{state}\t{forms_text}")


@app_users.command("revoke", help="Revoke an app user: its phone can no longer connect.")
@click.argument("name")
def app_users_revoke(name: str) -> None:
    with _database() as (_app, session):
        app_user = revoke_app_user(session, name)
        session.commit()
        click.echo(f"{app_user.name}\trevoked")


@main.command(help="Rebuild the relational tables of a form (or of every form) from the raw "
                   "submissions; picks up submissions whose normalising failed.")
@click.argument("form_id", required=False)
def renormalise(form_id: str | None) -> None:
    with _database() as (_app, session):
        targets = [_form(session, form_id)] if form_id else form_queries.list_forms(session)
        for form in targets:
            done, failed = normalising.renormalise(session, form)
            # a database from before the lists' indexes were made with the tables gets them
            projection.index_lists(session, form, access.PLACE_FIELDS)
            session.commit()
            click.echo(f"{form.xml_form_id}\t{done} rebuilt\t{failed} failed")


@main.command("failures", help="List submissions whose relational rows could not be written; "
                               "their raw record is kept.")
@click.argument("form_id", required=False)
def failures(form_id: str | None) -> None:
    with _database() as (_app, session):
        form = _form(session, form_id) if form_id else None
        rows = submission_queries.failed_normalisations(session, form)
        for definition in rows:
            click.echo(f"{definition.instance_id}\t{definition.normalise_error}")
        click.echo(f"{len(rows)} failed", err=True)


@main.group(help="Submissions: purge those deleted long enough ago.")
def submissions() -> None:
    pass


@submissions.command("purge", help="Remove for good the submissions deleted more than DAYS "
                                   "days ago, with their files; each keeps a tombstone so a "
                                   "phone sending it again is still refused.")
@click.option("--days", type=click.IntRange(min=0), default=deletion.KEEP_DAYS,
              show_default=True, help="Purge what was deleted more than this many days ago.")
def submissions_purge(days: int) -> None:
    with _database() as (app, session):
        purged, files = deletion.purge(session, days=days)
        session.commit()
        deletion.remove_files(app.extensions["blobs"], files, app.config["DATA_DIR"])
        for instance_id in purged:
            click.echo(f"{instance_id}\tpurged")
        click.echo(f"{len(purged)} purged, {len(files)} files removed", err=True)


@main.group(help="Web users: administrators, supervisors and analysts.")
def users() -> None:
    pass


@users.command("create", help="Create a web user; the password is asked twice (or read from "
                              "standard input with --password-stdin).")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--email", help="E-mail address; the user may sign in with it too.")
@click.option("--personal-data", is_flag=True,
              help="May see fields marked personal (names, phone numbers).")
@click.option("--governorate", "governorates", multiple=True,
              help="Limit to this governorate's submissions (repeatable).")
@click.option("--forum", "forums", multiple=True,
              help="Limit to this forum's submissions (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(username: str, role: str, email: str | None, personal_data: bool,
                 governorates: tuple[str, ...], forums: tuple[str, ...],
                 password_stdin: bool) -> None:
    password = sys.stdin.readline().rstrip("\n") if password_stdin else \
        click.prompt("Password", hide_input=True, confirmation_prompt=True)
    scopes = [("governorate", g) for g in governorates] + [("forum", f) for f in forums]
    with _database() as (_app, session):
        user = create_user(session, username, password, role, email=email,
                           personal_data=personal_data, scopes=scopes)
        session.commit()
        click.echo(f"{user.username}\t{user.role}")


@main.group("api-tokens", help="Keys for scripts to the API, which takes no password "
                                "(Authorization: Bearer).")
def api_tokens_group() -> None:
    pass


@api_tokens_group.command("create", help="Create a token for a web user who may download data; "
                                         "it is printed once and only its hash is kept.")
@click.argument("username")
@click.argument("name")
def api_tokens_create(username: str, name: str) -> None:
    with _database() as (_app, session):
        user = _web_user(session, username)
        if not access.can(user, "data.download"):
            raise click.ClickException(f"{user.username} is a {user.role}: only analysts and "
                                       "administrators download data.")
        _token, secret = api_tokens.create(session, user, name)
        session.commit()
        click.echo(secret)


@api_tokens_group.command("list", help="List API tokens (never their secrets).")
@click.argument("username", required=False)
def api_tokens_list(username: str | None) -> None:
    from server.database.queries import accounts as account_queries

    with _database() as (_app, session):
        user = _web_user(session, username) if username else None
        for token, owner in account_queries.tokens_of(session, user):
            state = "revoked" if token.revoked_at else "active"
            used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at \
                else "never used"
            click.echo(f"{owner}\t{token.name}\t{state}\t{used}")


@api_tokens_group.command("revoke", help="Revoke a user's API token: scripts using it stop at "
                                         "once.")
@click.argument("username")
@click.argument("name")
def api_tokens_revoke(username: str, name: str) -> None:
    with _database() as (_app, session):
        if api_tokens.revoke(session, _web_user(session, username), name) is None:
            raise click.ClickException(f"{username} has no active token named '{name}'.")
        session.commit()
        click.echo(f"Revoked {name}.")


def _web_user(session: Session, username: str):
    user = account_queries.user_by_username(session, normalise_name(username))
    if user is None:
        raise click.ClickException(f"There is no active web user named '{username}'.")
    return user


def _show(app: Flask, app_user) -> None:
    url = collect_settings.server_url(app.config["PUBLIC_URL"], app_user.token)
    click.echo(f"App user: {app_user.name}")
    click.echo(f"Collect server URL: {url}")
    click.echo("In ODK Collect: Add project → Configure with QR code → scan this code:")
    click.echo(collect_settings.qr_terminal(
        collect_settings.payload_for(app.config["PUBLIC_URL"], app_user.token)))
    click.echo("Or: Add project → Manually → paste the server URL above.")
    if "127.0.0.1" in url or "localhost" in url:
        click.echo("A phone cannot reach 127.0.0.1: serve with --host 0.0.0.0 and set "
                   "MUNTADA_PUBLIC_URL=http://<this computer's address>:5000 first.")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
