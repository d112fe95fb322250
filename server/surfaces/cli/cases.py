"""Cases: the offline updates held for their predecessor."""

from __future__ import annotations

import click

from server.database.models import utcnow
from server.services import audit
from server.services.cases import deleting, overdue
from server.surfaces.cli.common import opened


@click.group("cases", help="Referral cases (ODK Entities) made and updated by submissions.")
def cases() -> None:
    pass


@cases.command("release-held", help="Apply, flagged as forced, the offline updates held longer "
                                     "than CASE_HOLD_HOURS for the update made before them on "
                                     "the same phone (run it from cron, e.g. hourly).")
@click.option("--all", "everything", is_flag=True, help="Force every held update, whatever "
                                                        "its age.")
def release_held(everything: bool) -> None:
    with opened() as (server, session):
        hours = 0 if everything else server.config["CASE_HOLD_HOURS"]
        forced = overdue.release_overdue(session.connection(), utcnow(), hours)
        session.commit()
        click.echo(f"{forced} held updates applied")


@cases.command("delete", help="Delete a case (opened by mistake): it leaves the phones at their "
                              "next check; its history and submissions stay.")
@click.argument("uuid")
@click.option("--list", "list_name", default="cases", show_default=True,
              help="The entity list the case is in.")
def delete(uuid: str, list_name: str) -> None:
    with opened() as (_server, session):
        deleted_at = deleting.delete(session.connection(), list_name, uuid, None, utcnow())
        audit.record(session, "case.deleted", user=None, address=None, username="cli",
                     list=list_name, uuid=uuid)
        session.commit()
        click.echo(f"{uuid.strip().lower()}\tdeleted {deleted_at:%Y-%m-%d %H:%M}")
