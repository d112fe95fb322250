"""Web users and their API tokens."""

from __future__ import annotations

import sys

import click

from server.database.models import ROLES
from server.services import access, api_tokens, keys
from server.services.accounts import (
    create_user,
)
from server.surfaces.cli.common import opened, web_user_named


@click.group(help="Web users: administrators, supervisors and analysts.")
def users() -> None:
    pass


@users.command("create", help="Create a web user; the password is asked twice (or read from "
                              "standard input with --password-stdin).")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--email", help="E-mail address; the user may sign in with it too.")
@click.option("--personal-data", is_flag=True,
              help="May see fields marked personal (names, phone numbers).")
@click.option("--key-holder", is_flag=True,
              help="May make the keys of encrypted forms (and unlock them).")
@click.option("--governorate", "governorates", multiple=True,
              help="Limit to this governorate's submissions (repeatable).")
@click.option("--forum", "forums", multiple=True,
              help="Limit to this forum's submissions (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(username: str, role: str, email: str | None, personal_data: bool,
                 key_holder: bool, governorates: tuple[str, ...], forums: tuple[str, ...],
                 password_stdin: bool) -> None:
    password = sys.stdin.readline().rstrip("\n") if password_stdin else \
        click.prompt("Password", hide_input=True, confirmation_prompt=True)
    scopes = [("governorate", g) for g in governorates] + [("forum", f) for f in forums]
    with opened() as (_server, session):
        user = create_user(session, username, password, role, email=email,
                           personal_data=personal_data, scopes=scopes)
        if key_holder:
            keys.set_key_holder(session, user, True)
        session.commit()
        click.echo(f"{user.username}\t{user.role}")


@users.command("grant-keys", help="Make a web user a key holder: they may make the keys of "
                                  "encrypted forms (and unlock them).")
@click.argument("username")
def users_grant_keys(username: str) -> None:
    _set_key_holder(username, True)


@users.command("revoke-keys", help="A web user is no longer a key holder (a passphrase they know "
                                   "still opens its key: make a new key if that matters).")
@click.argument("username")
def users_revoke_keys(username: str) -> None:
    _set_key_holder(username, False)


def _set_key_holder(username: str, holds: bool) -> None:
    with opened() as (_server, session):
        user = web_user_named(session, username)
        keys.set_key_holder(session, user, holds)
        session.commit()
        click.echo(f"{user.username}\t{'key holder' if holds else 'not a key holder'}")


@click.group("api-tokens", help="Keys for scripts to the API, which takes no password "
                                "(Authorization: Bearer).")
def api_tokens_group() -> None:
    pass


@api_tokens_group.command("create", help="Create a token for a web user who may download data; "
                                         "it is printed once and only its hash is kept.")
@click.argument("username")
@click.argument("name")
def api_tokens_create(username: str, name: str) -> None:
    with opened() as (_server, session):
        user = web_user_named(session, username)
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

    with opened() as (_server, session):
        user = web_user_named(session, username) if username else None
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
    with opened() as (_server, session):
        if api_tokens.revoke(session, web_user_named(session, username), name) is None:
            raise click.ClickException(f"{username} has no active token named '{name}'.")
        session.commit()
        click.echo(f"Revoked {name}.")
