"""Forms and their media files."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.orm import Session

from server.database.models import FORM_STATES
from server.database.queries import forms as form_queries
from server.services.form_loading import load_form, set_media, set_state
from server.services.programme import PROGRAMME_FORMS
from server.surfaces.cli.common import Server, form_named, opened


@click.group(help="Forms and their media files.")
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
    with opened() as (server, session):
        _add(server, session, file, media_files, validate)


@forms.command("load-programme",
               help="Load the programme's forms (forum meeting, incident referral, referral "
                    "follow-up, training attendance, my returned forms) with their media.")
def forms_load_programme() -> None:
    with opened() as (server, session):
        for form in PROGRAMME_FORMS:
            _add(server, session, form.source, form.media, None)


def _add(server: Server, session: Session, file: Path, media_files, validate: bool | None) -> None:
    validate = server.config["VALIDATE_FORMS"] if validate is None else validate
    result = load_form(session, server.blobs, file.read_bytes(),
                       {m.name: m.read_bytes() for m in media_files}, validate=validate,
                       filename=file.name)
    session.commit()
    status = "loaded" if result.created else "already loaded"
    click.echo(f"{result.form.xml_form_id}\t{result.version.version}\t{status}")
    for warning in result.warnings:
        click.echo(f"  warning: {warning}", err=True)
    if result.created and result.version.encryption_key_id is None:
        from server.database.queries import keys as key_queries

        key = key_queries.last_key_of(session, result.form.id)
        if key is not None:
            click.echo(f"  warning: this version is not encrypted, while an earlier one was "
                       f"(key {key.name}): phones send its submissions in plain text. Run "
                       f"`muntada forms encrypt {result.form.xml_form_id} --key {key.name}`.",
                       err=True)
    if result.media_updated:
        click.echo(f"  media updated: {', '.join(result.media_updated)}")
    if result.media_missing:
        click.echo(f"  media still missing: {', '.join(result.media_missing)}", err=True)


@forms.command("list", help="List forms with their current version, state and media.")
def forms_list() -> None:
    with opened() as (_server, session):
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
    with opened() as (_server, session):
        form = form_named(session, form_id)
        set_state(form, state)
        session.commit()
        click.echo(f"{form_id}\t{state}")


@forms.command("media", help="Replace media files of a form's current version (a new forum in "
                             "forums.csv needs no new form version).")
@click.argument("form_id")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def forms_media(form_id: str, files: tuple[Path, ...]) -> None:
    with opened() as (server, session):
        form = form_named(session, form_id)
        changed = set_media(session, server.blobs, form.current_version,
                            {f.name: f.read_bytes() for f in files})
        session.commit()
        click.echo(f"updated: {', '.join(changed) or 'nothing (same content)'}")


@forms.command("encrypt", help="Publish a new version of a form whose submissions phones "
                               "encrypt with a key's public half (see `muntada keys`); the "
                               "version is the form's own with the key's name after it.")
@click.argument("form_id")
@click.option("--key", "key_name", required=True, help="The key's name.")
@click.option("--validate/--no-validate", default=None,
              help="Check with ODK Validate [default: MUNTADA_VALIDATE_FORMS].")
@click.option("--decrypted-rows/--ciphertext-only", default=None,
              help="Whether a key holder's decryption at headquarters also writes the "
                   "submissions' rows into the form's tables (for filters, scopes and plain "
                   "SQL), or leaves the tables with ciphertext only (decrypted only in pages "
                   "and exports) [default: unchanged; ciphertext only for a new form].")
def forms_encrypt(form_id: str, key_name: str, validate: bool | None,
                  decrypted_rows: bool | None) -> None:
    from server.services import decryption, form_encryption, keys

    with opened() as (server, session):
        form = form_named(session, form_id)
        result = form_encryption.publish_encrypted(
            session, server.blobs, form, keys.key_named(session, key_name),
            validate=server.config["VALIDATE_FORMS"] if validate is None else validate)
        if decrypted_rows is not None:
            decryption.set_decrypted_rows(session, form, decrypted_rows)
        session.commit()
        click.echo(f"{result.form.xml_form_id}\t{result.version.version}\tencrypted")
        for warning in result.warnings:
            click.echo(f"  warning: {warning}", err=True)


@forms.command("decrypted-rows", help="Whether a key holder's decryption at headquarters writes "
                                      "an encrypted form's rows into its tables (on) or leaves "
                                      "them ciphertext only (off: the tables are rebuilt at "
                                      "once, without the decrypted rows).")
@click.argument("form_id")
@click.argument("setting", type=click.Choice(["on", "off"]))
def forms_decrypted_rows(form_id: str, setting: str) -> None:
    from server.services import decryption

    with opened() as (_server, session):
        form = form_named(session, form_id)
        decryption.set_decrypted_rows(session, form, setting == "on")
        session.commit()
        click.echo(f"{form_id}\tdecrypted rows {setting}")
