"""What the commands share: the app and a writing unit of work on its database, and finding what an
operator names."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask
from sqlalchemy.orm import Session

from server.app import create_app
from server.database import migrate, per_request
from server.database.queries import accounts as account_queries
from server.database.queries import forms as form_queries
from server.kernel import problems
from server.kernel.problems import Problem
from server.services.accounts import (
    normalise_name,
)


@contextmanager
def opened() -> Iterator[tuple[Flask, Session]]:
    """The app (its settings and files) and a unit of work that writes on its database, migrated
    first; problems become clean exits."""
    app = create_app()
    units = per_request.of(app)
    try:
        migrate.upgrade(units.engine)
        with units.writing() as session:
            yield app, session
    except Problem as problem:
        raise click.ClickException(problem.message) from problem
    finally:
        units.dispose()


def form_named(session: Session, form_id: str):
    form = form_queries.get_form(session, form_id)
    if form is None:
        raise Problem(problems.FORM_NOT_FOUND, form_id=form_id)
    return form


def web_user_named(session: Session, username: str):
    user = account_queries.user_by_username(session, normalise_name(username))
    if user is None:
        raise click.ClickException(f"There is no active web user named '{username}'.")
    return user


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
