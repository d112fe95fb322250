"""What the commands share: this server (its settings, database and stored files) and a writing
unit of work on its database, and finding what an operator names."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import click
from sqlalchemy.orm import Session

from server.database import Database, migrate
from server.database.queries import accounts as account_queries
from server.database.queries import forms as form_queries
from server.kernel import private, problems, settings
from server.kernel.problems import Problem
from server.kernel.storage import BlobStore
from server.services.accounts import (
    normalise_name,
)


@dataclass
class Server:
    """This server as a command works on it: what the app factory sets up before the web's
    parts (a command answers no request; Flask and the surfaces were most of a short
    command's time)."""

    config: dict[str, Any]
    database: Database
    blobs: BlobStore


@contextmanager
def migrated() -> Iterator[Server]:
    """This server, its database migrated first; problems become clean exits."""
    config = settings.load()
    logging.basicConfig(level=config["LOG_LEVEL"])
    logging.getLogger("alembic").setLevel(logging.WARNING)
    private.folder(config["DATA_DIR"])  # the database, submissions, exports, the key
    server = Server(config, Database(config["DATABASE_URL"]),
                    BlobStore(f"{config['DATA_DIR']}/blobs"))
    try:
        migrate.upgrade(server.database.engine)
        yield server
    except Problem as problem:
        raise click.ClickException(problem.message) from problem
    finally:
        server.database.dispose()


@contextmanager
def opened() -> Iterator[tuple[Server, Session]]:
    """This server, migrated, and a unit of work that writes on its database."""
    with migrated() as server, server.database.writing() as session:
        yield server, session


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
