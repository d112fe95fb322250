"""The `muntada` command line, for operators and for our own checks: a module per group of commands.
The README's command reference is generated from `--help`."""

from __future__ import annotations

import click

from server.surfaces.cli import (
    cases,
    field_office,
    forms,
    people,
    phones,
    push,
    serving,
    submissions,
)


@click.group(help="Muntada: forms and submissions of the community policing forums.")
def main() -> None:
    pass


main.add_command(serving.serve)
main.add_command(serving.db_group, "db")
main.add_command(forms.forms)
main.add_command(phones.app_users)
main.add_command(submissions.renormalise)
main.add_command(cases.cases)
main.add_command(field_office.field_office)
main.add_command(submissions.failures)
main.add_command(submissions.submissions)
main.add_command(people.users)
main.add_command(people.api_tokens_group)
main.add_command(push.push)
