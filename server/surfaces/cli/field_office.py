"""Field offices: headquarters registers them and imports their bundles; an office's server joins
its headquarters, syncs (on demand, or on its own in a loop) and writes bundles for a USB stick."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from server.kernel.problems import Problem
from server.services.field_office import registry, status, syncing
from server.services.field_office.client import LinkDown
from server.surfaces.cli.common import Server, migrated, opened


@click.group("field-office", help="Field offices' own servers and their sync with headquarters.")
def field_office() -> None:
    pass


@field_office.command("register", help="Headquarters: register a field office and print the "
                      "token its server joins with (shown once).")
@click.argument("name")
@click.option("--governorate", "governorates", multiple=True,
              help="A governorate the office works in (repeatable).")
@click.option("--forum", "forums", multiple=True, help="A forum the office works in "
              "(repeatable).")
def register(name: str, governorates: tuple[str, ...], forums: tuple[str, ...]) -> None:
    places = [("governorate", g) for g in governorates] + [("forum", f) for f in forums]
    with opened() as (server, session):
        peer, token = registry.register(session, name, places)
        url = server.config["PUBLIC_URL"]
    click.echo(f"Field office '{peer.name}' registered. On its server, run:")
    click.echo(f"  muntada field-office join {url} {token}")
    click.echo("The token is shown once; registering the office again gives a new one.")


@field_office.command("join", help="A field office's server: join headquarters at URL with the "
                      "TOKEN it gave, then sync once.")
@click.argument("url")
@click.argument("token")
def join(url: str, token: str) -> None:
    with migrated() as server:
        work = _syncing(server)
        try:
            greeting = work.join(url, token)
        except LinkDown as error:
            raise click.ClickException(f"Headquarters could not be reached: {error}") from error
        places = ", ".join(f"{kind} {value}" for kind, value in greeting.get("places", []))
        click.echo(f"Joined headquarters at {url} as '{greeting.get('office')}' ({places}).")
        _sync_once(work)


@field_office.command("sync", help="A field office's server: sync with headquarters now, both "
                      "ways, with a progress bar.")
def sync() -> None:
    with migrated() as server:
        _sync_once(_syncing(server))


@field_office.command("run", help="A field office's server: sync on its own, every --every "
                      "seconds, retrying with backoff while the link is down (muntada serve "
                      "starts it on a joined office).")
@click.option("--every", default=60.0, show_default=True, type=float,
              help="Seconds between syncs while the link is up.")
def run(every: float) -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with migrated() as server:
        syncing.loop(_syncing(server), stop, every=every)


@field_office.command("status", help="Where the sync stands: each field office (headquarters) "
                      "or this office's headquarters.")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
def status_command(as_json: bool) -> None:
    with opened() as (_server, session):
        links = status.links(session)
    if as_json:
        click.echo(json.dumps([link.as_json() for link in links], indent=2, ensure_ascii=False))
        return
    if not links:
        click.echo("No field office is registered, and this server has joined no headquarters.")
    for link in links:
        click.echo("; ".join(link.lines()))


@field_office.command("bundle", help="A field office's server with no link: write its changes "
                      "since --since (by default what headquarters last confirmed) to FILE, "
                      "signed, for headquarters to import.")
@click.option("--since", type=int, default=None,
              help="The change number to start after (muntada field-office status shows it).")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def bundle(since: int | None, file: Path) -> None:
    # here, not at the top: bundles apply what they carry, and applying imports what every
    # kind of change needs, which a sync with nothing new should not wait for
    from server.services.field_office import bundling

    with opened() as (server, session):
        written = bundling.write(session, server.blobs, server.config["DATA_DIR"],
                                 file, since)
    click.echo(f"Wrote {written.path}: {written.items} changes ({written.first_seq} to "
               f"{written.last_seq}) and {written.files} files. At headquarters: "
               f"muntada field-office import {written.path.name}")


@field_office.command("import", help="Headquarters: apply a bundle a field office wrote.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_bundle(file: Path) -> None:
    from server.services.field_office import bundling

    with opened() as (server, session):
        bundle_, done = bundling.import_(session, server.blobs, file)
    click.echo(f"Imported bundle {bundle_.bundle_id} from '{bundle_.office}': {done.applied} "
               f"applied, {done.held} already here, {len(done.refused)} refused.")
    for seq, reason in done.refused:
        click.echo(f"  refused: change {seq}: {reason}")


def _syncing(server: Server) -> syncing.Syncing:
    """The sync opens its own units of work on the server's database."""
    return syncing.Syncing(server.database, server.blobs, server.config["DATA_DIR"],
                           _Bars().progress, timeout=server.config["SYNC_TIMEOUT"])


def _sync_once(work: syncing.Syncing) -> None:
    try:
        report = work.sync()
    except LinkDown as error:
        raise click.ClickException(f"Headquarters could not be reached: {error}. What was "
                                   f"sent is kept; sync again when the link is back.") from error
    except Problem as problem:
        raise click.ClickException(problem.message) from problem
    for line in report.lines():
        click.echo(line)


class _Bars:
    """One progress bar per stage, on the terminal only (stderr; none when it is not one)."""

    LABELS = {"up": "changes up", "files up": "files up (bytes)", "down": "changes down",
              "files down": "files down (bytes)"}

    def __init__(self):
        self.bars: dict[str, object] = {}
        self.shown = sys.stderr.isatty()

    def progress(self, stage: str, done: int, total: int) -> None:
        if not self.shown:
            return
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = click.progressbar(length=max(total, 1), file=sys.stderr,
                                                       label=self.LABELS.get(stage, stage))
            bar.__enter__()
        bar.length = max(bar.length, total, done)
        bar.update(done - bar.pos)
        if total and done >= total:
            bar.render_finish()
