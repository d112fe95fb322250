"""The keys of encrypted forms."""

from __future__ import annotations

import click

from server.services import keys
from server.surfaces.cli.common import opened, web_user_named
from sync.keys import MIN_PASSPHRASE

LOST_PASSPHRASE = (
    "The passphrase is not stored anywhere. Without it, nobody can ever read the submissions "
    "encrypted for this key: not you, not an administrator, not the developers. Keep it where "
    "the programme keeps its most important secrets, known to more than one key holder.")


@click.group(help="The keys of encrypted forms: phones encrypt each submission with a key's "
                  "public half; only its passphrase opens the private half.")
def keys_group() -> None:
    pass


@keys_group.command("create", help="Make a key pair; its private half is stored only sealed "
                                   "with a passphrase, asked twice. A lost passphrase means "
                                   "that the submissions encrypted for the key cannot be read "
                                   "by anyone, ever.")
@click.argument("name")
@click.option("--holder", required=True,
              help="The key holder (a web user) who chooses the passphrase.")
@click.option("--hint", help="A reminder of the passphrase, shown to whoever unlocks the key "
                             "(never the passphrase itself).")
def keys_create(name: str, holder: str, hint: str | None) -> None:
    click.echo(LOST_PASSPHRASE, err=True)
    passphrase = click.prompt(f"Passphrase (at least {MIN_PASSPHRASE} characters)",
                              hide_input=True, confirmation_prompt=True, err=True)
    with opened() as (_server, session):
        key = keys.create_key(session, name, passphrase, holder=web_user_named(session, holder),
                              hint=hint)
        session.commit()
        click.echo(f"{key.name}\t{keys.fingerprint(key)}")


@keys_group.command("list", help="List keys: name, SHA-256 of the public key, who made it and "
                                 "when, the hint.")
def keys_list() -> None:
    with opened() as (_server, session):
        for key, holder in keys.list_keys(session):
            click.echo(f"{key.name}\t{keys.fingerprint(key)}\t{holder}\t"
                       f"{key.created_at.isoformat(timespec='seconds')}\t{key.hint or '-'}")


@keys_group.command("decrypt", help="Headquarters: decrypt into the tables every submission "
                                    "encrypted for the key, of the forms whose decrypted rows "
                                    "are on (`muntada forms encrypt --decrypted-rows`), with "
                                    "their signatures checked; the passphrase is asked, and the "
                                    "key is open only while the command runs. The Keys page "
                                    "does the same when a key holder unlocks the key.")
@click.argument("name")
@click.option("--holder", required=True, help="The key holder (a web user) who decrypts.")
def keys_decrypt(name: str, holder: str) -> None:
    from server.kernel.problems import Problem
    from server.services import decryption, key_unlocks

    passphrase = click.prompt("Passphrase", hide_input=True, err=True)
    with opened() as (server, session):
        key, user = keys.key_named(session, name), web_user_named(session, holder)
        try:
            private_key = key_unlocks.open_key(session, key, passphrase, user)
        except Problem:
            session.commit()  # a wrong passphrase stays counted and audited
            raise
        done = decryption.decrypt_into_tables(session, server.blobs, key, private_key, user)
        session.commit()
        click.echo(f"{key.name}	{done.written} decrypted into the tables	"
                   f"{done.flagged} could not be read")
