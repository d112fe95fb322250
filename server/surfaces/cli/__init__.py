"""The `muntada` command line, for operators and for our own checks: a module per group of commands.
The README's command reference is generated from `--help`.

A command's module is imported only when that command runs (or `--help` lists it): each group
needs different parts of the server, and an operator's `muntada field-office sync` should not
wait for what `forms add` or `serve` import."""

from __future__ import annotations

import atexit
import gc
import importlib

import click

# name: "module:attribute" in this package
COMMANDS = {
    "api-tokens": "people:api_tokens_group",
    "app-users": "phones:app_users",
    "cases": "cases:cases",
    "db": "serving:db_group",
    "failures": "submissions:failures",
    "field-office": "field_office:field_office",
    "forms": "forms:forms",
    "keys": "keys:keys_group",
    "push": "push:push",
    "renormalise": "submissions:renormalise",
    "serve": "serving:serve",
    "submissions": "submissions:submissions",
    "users": "people:users",
}


class _Commands(click.Group):
    def invoke(self, ctx: click.Context):
        # What a command built lives until its process ends: frozen at exit, it is not walked
        # by the collections of the interpreter's shutdown, which took longer than a sync with
        # nothing new does. Once however many commands a process runs (the tests run many).
        atexit.unregister(gc.freeze)
        atexit.register(gc.freeze)
        return super().invoke(ctx)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, attribute = where.split(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), attribute)


@click.group(cls=_Commands,
             help="Muntada: forms and submissions of the community policing forums.")
def main() -> None:
    pass
