"""Serving the app, and the database's schema."""

from __future__ import annotations

import subprocess
import sys

import click

from server.services.form_loading import index_review_lists
from server.surfaces.cli.common import opened, safe_url


@click.command(help="Serve the app with gunicorn (several worker processes).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 lets phones on the network reach it.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", type=int, default=None,
              help="Worker processes [default: MUNTADA_WORKERS]")
def serve(host: str, port: int, workers: int | None) -> None:
    from server.app.wsgi_server import run
    from server.services.blob_recovery import restore_small_files

    with opened() as (server, session):
        index_review_lists(session)
        restored = restore_small_files(session, server.blobs)
        session.rollback()
        workers = workers or server.config["WORKERS"]
        trust_proxy = server.config["TRUST_PROXY"]
    if restored:
        click.echo(f"Restored {restored} stored files a crash had lost, from the database.")
    click.echo(f"Muntada serving on http://{host}:{port} with {workers} workers "
               f"(data in {server.config['DATA_DIR']}).")
    click.echo("Phones: `muntada app-users show NAME` prints the address and QR code for Collect.")
    loop = _sync_loop(server.config["SYNC_EVERY"])
    try:
        run(host=host, port=port, workers=workers, trust_proxy=trust_proxy)
    finally:
        if loop is not None:
            loop.terminate()
            try:
                loop.wait(10)
            except subprocess.TimeoutExpired:
                loop.kill()


def _sync_loop(every: float) -> subprocess.Popen | None:
    """A field office's sync with headquarters, in a process of its own beside the server's
    (`muntada field-office run`; it waits quietly until the office has joined)."""
    if every <= 0:
        return None
    return subprocess.Popen([sys.executable, "-c", "from server.surfaces.cli import main; main()",
                             "field-office", "run", "--every", str(every)],
                            stdin=subprocess.DEVNULL)


@click.group(help="The database.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Create or migrate the database schema to the latest version.")
def db_upgrade() -> None:
    with opened() as (server, session):
        index_review_lists(session)
        click.echo(f"Database at the latest schema: {safe_url(server.config['DATABASE_URL'])}")
