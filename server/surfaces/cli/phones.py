"""Officers' phones: app users, their tokens, passwords and QR codes for Collect."""

from __future__ import annotations

from pathlib import Path

import click

from server.database.queries import accounts as account_queries
from server.services import collect_settings
from server.services.accounts import (
    active_app_user,
    create_app_user,
    normalise_name,
    revoke_app_user,
    set_app_user_places,
)
from server.surfaces.cli.common import Server, opened


@click.group("app-users", help="Officers' phones: tokens, passwords and QR codes for Collect.")
def app_users() -> None:
    pass


@app_users.command("create", help="Create an app user and show how Collect connects.")
@click.argument("name")
@click.option("--form", "form_ids", multiple=True,
              help="A form this phone may fill (repeat for several; default: every form).")
@click.option("--password", is_flag=True,
              help="Also set a password (asked twice) for Digest or Basic login in Collect.")
@click.option("--governorate", "governorates", multiple=True,
              help="Receive and update this governorate's cases (repeatable).")
@click.option("--forum", "forums", multiple=True,
              help="Receive and update this forum's cases (repeatable).")
@click.option("--if-missing", is_flag=True, help="Do nothing but show it if it exists.")
def app_users_create(name: str, form_ids: tuple[str, ...], password: bool,
                     governorates: tuple[str, ...], forums: tuple[str, ...],
                     if_missing: bool) -> None:
    with opened() as (server, session):
        existing = account_queries.app_user_by_name(session, normalise_name(name))
        if existing is None or not if_missing:
            secret = click.prompt("Password", hide_input=True, confirmation_prompt=True) \
                if password else None
            existing = create_app_user(session, name, form_ids=form_ids, password=secret,
                                       places=_places(governorates, forums))
            session.commit()
        _show(server, existing)


@app_users.command("show", help="Show an app user's Collect address and settings QR code.")
@click.argument("name")
def app_users_show(name: str) -> None:
    with opened() as (server, session):
        app_user = active_app_user(session, name)
        _show(server, app_user)


@app_users.command("qr", help="Write an app user's settings QR code as a PNG file.")
@click.argument("name")
@click.argument("png", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def app_users_qr(name: str, png: Path) -> None:
    with opened() as (server, session):
        app_user = active_app_user(session, name)
        png.write_bytes(collect_settings.qr_png(
            collect_settings.payload_for(server.config["PUBLIC_URL"], app_user.token)))
        click.echo(f"QR code for {app_user.name} written to {png}")


@app_users.command("list", help="List app users and the forms they may fill.")
def app_users_list() -> None:
    with opened() as (_server, session):
        for user in account_queries.list_app_users(session):
            forms_text = "every form" if user.all_forms else \
                ", ".join(f.xml_form_id for f in user.forms)
            state = "revoked" if user.revoked_at else "active"
            click.echo(f"{user.name}\t{state}\t{forms_text}\t{_places_text(user)}")


@app_users.command("places", help="Set the governorates and forums whose cases a phone "
                   "receives and may update (replacing its places; none given: no case).")
@click.argument("name")
@click.option("--governorate", "governorates", multiple=True, help="A governorate (repeatable).")
@click.option("--forum", "forums", multiple=True, help="A forum (repeatable).")
def app_users_places(name: str, governorates: tuple[str, ...], forums: tuple[str, ...]) -> None:
    with opened() as (_server, session):
        app_user = active_app_user(session, name)
        set_app_user_places(app_user, _places(governorates, forums))
        session.commit()
        click.echo(f"{app_user.name}\t{_places_text(app_user)}")


@app_users.command("revoke", help="Revoke an app user: its phone can no longer connect.")
@click.argument("name")
def app_users_revoke(name: str) -> None:
    with opened() as (_server, session):
        app_user = revoke_app_user(session, name)
        session.commit()
        click.echo(f"{app_user.name}\trevoked")


def _places(governorates, forums) -> list[tuple[str, str]]:
    return [("governorate", g) for g in governorates] + [("forum", f) for f in forums]


def _places_text(app_user) -> str:
    return ", ".join(f"{p.kind} {p.value}" for p in app_user.places) or "no place"


def _show(server: Server, app_user) -> None:
    url = collect_settings.server_url(server.config["PUBLIC_URL"], app_user.token)
    click.echo(f"App user: {app_user.name}")
    click.echo(f"Cases of: {_places_text(app_user)}")
    click.echo(f"Collect server URL: {url}")
    click.echo("In ODK Collect: Add project → Configure with QR code → scan this code:")
    click.echo(collect_settings.qr_terminal(
        collect_settings.payload_for(server.config["PUBLIC_URL"], app_user.token)))
    click.echo("Or: Add project → Manually → paste the server URL above.")
    if "127.0.0.1" in url or "localhost" in url:
        click.echo("A phone cannot reach 127.0.0.1: serve with --host 0.0.0.0 and set "
                   "MUNTADA_PUBLIC_URL=http://<this computer's address>:5000 first.")
