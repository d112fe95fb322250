"""The README's settings table and command reference are generated; they must be current."""

from __future__ import annotations

import importlib
import pkgutil

import click

from server.surfaces import cli
from server.surfaces.cli import readme


def test_the_readme_is_current():
    current = readme.README.read_text(encoding="utf-8")
    assert readme.render(current) == current, "README.md is stale: run `make docs`"


def test_every_command_is_documented():
    for command in ("muntada serve", "muntada forms add", "muntada forms list",
                    "muntada app-users create", "muntada app-users revoke", "muntada users create"):
        assert f"#### `{command}`" in readme.cli_reference()


def test_every_command_a_module_declares_is_one_of_muntadas():
    """The command line imports a group's module only when it is asked for that group: a
    command missing from its list would be in no `--help` and no README."""
    reachable = set()

    def walk(command: click.Command, parent: click.Context | None) -> None:
        reachable.add(id(command))
        if isinstance(command, click.Group):
            context = click.Context(command, parent=parent)
            for name in command.list_commands(context):
                walk(command.get_command(context, name), context)

    walk(cli.main, None)
    declared = {f"{module.name}.{name}" for module in pkgutil.iter_modules(cli.__path__)
                for name, value in vars(importlib.import_module(
                    f"{cli.__name__}.{module.name}")).items()
                if isinstance(value, click.Command) and id(value) not in reachable}
    assert declared == set()
