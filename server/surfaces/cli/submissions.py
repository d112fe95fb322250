"""Rebuilding the relational tables, listing failures, purging deleted submissions."""

from __future__ import annotations

import click

from server.database import projection
from server.database.queries import forms as form_queries
from server.database.queries import submissions as submission_queries
from server.services import access, deletion, feedback, normalising
from server.services.cases import rebuilding as case_rebuilding
from server.surfaces.cli.common import form_named, opened


@click.command(help="Rebuild the relational tables of a form (or of every form) from the raw "
                   "submissions, then every case; picks up submissions whose normalising "
                   "failed.")
@click.argument("form_id", required=False)
def renormalise(form_id: str | None) -> None:
    with opened() as (_server, session):
        targets = [form_named(session, form_id)] if form_id else form_queries.list_forms(session)
        for form in targets:
            done, failed = normalising.renormalise(session, form)
            # a database from before the lists' indexes were made with the tables gets them
            projection.index_lists(session, form, access.PLACE_FIELDS)
            session.commit()
            click.echo(f"{form.xml_form_id}\t{done} rebuilt\t{failed} failed")
        # cases are made from several forms' submissions: rebuilt whole, after them
        versions = case_rebuilding.rebuild(session)
        session.commit()
        click.echo(f"cases\t{versions} submission versions read")
        # the officers' answers stay in their threads; one missing (none should be) is added
        added = feedback.rebuild_answers(session)
        session.commit()
        click.echo(f"answers\t{added} added to their threads")


@click.command("failures", help="List submissions whose relational rows could not be written; "
                               "their raw record is kept.")
@click.argument("form_id", required=False)
def failures(form_id: str | None) -> None:
    with opened() as (_server, session):
        form = form_named(session, form_id) if form_id else None
        rows = submission_queries.failed_normalisations(session, form)
        for definition in rows:
            click.echo(f"{definition.instance_id}\t{definition.normalise_error}")
        click.echo(f"{len(rows)} failed", err=True)


@click.group(help="Submissions: purge those deleted long enough ago.")
def submissions() -> None:
    pass


@submissions.command("purge", help="Remove for good the submissions deleted more than DAYS "
                                   "days ago, with their files; each keeps a tombstone so a "
                                   "phone sending it again is still refused.")
@click.option("--days", type=click.IntRange(min=0), default=deletion.KEEP_DAYS,
              show_default=True, help="Purge what was deleted more than this many days ago.")
def submissions_purge(days: int) -> None:
    with opened() as (server, session):
        purged, files = deletion.purge(session, days=days)
        session.commit()
        deletion.remove_files(server.blobs, files, server.config["DATA_DIR"])
        for instance_id in purged:
            click.echo(f"{instance_id}\tpurged")
        click.echo(f"{len(purged)} purged, {len(files)} files removed", err=True)
