"""The generated parts of README.md: the settings table and the command-line reference, made from
the declarations and from `--help` so they cannot drift. `make docs` rewrites them; a test fails
when the README is stale."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from server.kernel import settings

README = Path(__file__).resolve().parents[3] / "README.md"


def cli_reference() -> str:
    from server.surfaces.cli import main

    lines: list[str] = []

    def walk(command: click.Command, path: list[str], parent: click.Context | None) -> None:
        context = click.Context(command, info_name=path[-1], parent=parent, terminal_width=100,
                                max_content_width=100)
        if isinstance(command, click.Group):
            for name in command.list_commands(context):
                walk(command.get_command(context, name), path + [name], context)
            return
        lines.extend([f"#### `{' '.join(path)}`", "", "```text",
                      command.get_help(context).rstrip(), "```", ""])

    walk(main, ["muntada"], None)
    return "\n".join(lines).rstrip()


SECTIONS = {"settings": settings.markdown_table, "cli": cli_reference}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->).*?(<!-- {name}:end -->)", re.DOTALL)
        text = pattern.sub(lambda m, make=make: f"{m.group(1)}\n{make()}\n{m.group(2)}", text)
    return text


if __name__ == "__main__":
    current = README.read_text(encoding="utf-8")
    if "--check" in sys.argv:
        sys.exit(0 if render(current) == current else "README.md is stale: run `make docs`")
    README.write_text(render(current), encoding="utf-8")
