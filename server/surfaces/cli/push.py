"""`muntada push FOLDER URL`: send what a phone or ODK Briefcase holds to an OpenRosa server."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from server.kernel import problems
from server.kernel.problems import Problem
from server.services import push_state, pushing
from sync.instance_folders import FolderInstance, NotAnInstanceFolder, read_folder


@click.command(help="Send the filled forms in a phone's or Briefcase's FOLDER (Collect's "
                    "instances folder copied off a phone, one instance folder, or an ODK "
                    "Briefcase Storage folder) to the OpenRosa server at URL (ours: "
                    "http://host:port/collect/key/<token>, or /collect with --user; ODK "
                    "Central: https://host/v1/key/<token>/projects/<id>, or /v1/projects/<id> "
                    "with --user). What a server accepted is remembered: running it again sends "
                    "only what is new, and an interrupted run goes on where it stopped. Exits "
                    "non-zero when anything was refused or not sent.")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("url")
@click.option("--user", help="Log in with this user name (Digest; Basic only over https).")
@click.option("--password", help="The password for --user (asked when not given).")
@click.option("--state", "state_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, show_default=False,
              help="The file remembering what each server accepted [default: "
                   "$XDG_STATE_HOME/muntada/push-state.json, else "
                   "~/.local/state/muntada/push-state.json].")
@click.option("--timeout", default=60.0, show_default=True,
              help="Seconds any one wait on the server may last (a slow link is fine while "
                   "it moves).")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(0, 20),
              help="Tries again after a connection error or a busy server, waiting 1, 2, "
                   "4 ... seconds.")
@click.option("--parallel", default=4, show_default=True, type=click.IntRange(1, 16),
              help="Instances sent at once (1 sends one after the other, as Collect does).")
def push(folder: Path, url: str, user: str | None, password: str | None,
         state_path: Path | None, timeout: float, retries: int, parallel: int) -> None:
    try:
        contents = read_folder(folder)
    except NotAnInstanceFolder as error:
        raise click.ClickException(
            Problem(problems.PUSH_FOLDER_UNKNOWN, folder=str(folder), reason=str(error)).message
        ) from error
    if user is not None and password is None:
        password = click.prompt(f"Password for {user}", hide_input=True, err=True)
    try:
        target = pushing.target_for(url, user, password)
        client = pushing.Client(target, timeout=timeout, retries=retries)
        try:
            with push_state.PushState(state_path or push_state.default_path()) as state, \
                    _progress(len(contents.instances)) as advance:
                summary = pushing.push(contents, client, state, parallel=parallel,
                                       progress=advance)
        except pushing.Unreachable as error:
            raise Problem(problems.PUSH_UNREACHABLE, url=target.server,
                          reason=error.reason) from error
        finally:
            client.close()
    except Problem as problem:
        raise click.ClickException(problem.message) from problem
    for line in summary_lines(summary, folder, len(contents.instances)):
        click.echo(line)
    if not summary.ok:
        sys.exit(1)


@contextmanager
def _progress(length: int) -> Iterator[Callable[[FolderInstance], None]]:
    """A progress bar on the terminal; nothing at all when stderr is a file or a pipe (click
    would still print its label there)."""
    if not sys.stderr.isatty():
        yield lambda _instance: None
        return
    with click.progressbar(length=length, label="Sending", file=sys.stderr, show_pos=True,
                           item_show_func=lambda i: i.name if i else None) as bar:
        yield lambda instance: bar.update(1, instance)


def summary_lines(summary: pushing.Summary, folder: Path, total: int) -> list[str]:
    lines = [f"{total} instances in {folder} ({summary.layout}) for {summary.server}:",
             f"  accepted      {len(summary.accepted)}"
             + (f" ({summary.split} sent in parts)" if summary.split else ""),
             f"  already held  {len(summary.held) + len(summary.sent_before)}"
             + (f" ({len(summary.sent_before)} known from an earlier run, not sent again)"
                if summary.sent_before else ""),
             f"  refused       {len(summary.refused)}",
             f"  skipped       {len(summary.skipped)}",
             f"  failed        {len(summary.failed) + len(summary.not_attempted)}"
             + (f" ({len(summary.not_attempted)} not tried)" if summary.not_attempted else "")]
    lines += [f"refused\t{name}\t{reason}" for name, reason in summary.refused]
    lines += [f"skipped\t{name}\t{reason}" for name, reason in summary.skipped]
    lines += [f"failed\t{name}\t{reason}" for name, reason in summary.failed]
    if summary.stopped:
        lines.append(f"Stopped: the server could not be reached ({summary.stopped}). Run the "
                     f"same command again when the link is back; it goes on from here.")
    return lines
