"""The data folder and everything in it (the SQLite database and its -wal and -shm, stored files,
thumbnails, exports, the secret key) are the server's user's alone, whatever the umask the
service was started with: 0700 for folders, 0600 for files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from server.app import create_app
from server.database import migrate, per_request
from server.database.models import ExportJob
from server.services import thumbnails
from server.services.accounts import create_user
from server.services.exports import Options, jobs
from server.services.form_loading import load_form
from tests.support.programme_meetings import jpeg
from tests.support.xlsforms import xlsform

FORM = xlsform("""
    | | type | name | label |
    | | text | note | Note |
""", form_id="note", version="1")


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def not_private(root: Path) -> dict[str, str]:
    return {name: oct(mode) for name, mode in modes(root).items()
            if mode != (0o700 if (root / name).is_dir() else 0o600)}


@pytest.fixture
def use(database):
    """use(data_dir): an app of the server's own, no secret key given, SQLite (if so) in the
    data folder; its engine disposed at the end."""
    made = []

    def _use(data_dir: Path):
        app = create_app({"DATA_DIR": str(data_dir), "VALIDATE_FORMS": False,
                          "DATABASE_URL": None if database.startswith("sqlite") else database})
        made.append(app)
        migrate.upgrade(per_request.of(app).engine)
        return app
    yield _use
    for app in made:
        per_request.of(app).engine.dispose()


def test_everything_the_server_writes_is_private(database, tmp_path, umask, use):
    data_dir = tmp_path / "data"
    app = use(data_dir)
    blobs = app.extensions["blobs"]
    session = per_request.of(app).session(writing=True)
    try:
        loaded = load_form(session, blobs, FORM, {}, validate=False)
        analyst = create_user(session, "analyst", "long enough password", "analyst")
        session.execute(text("SELECT 1"))
        session.commit()
        photo = blobs.put(jpeg())[0]
        assert thumbnails.thumbnail(str(data_dir), photo, blobs.path(photo)) is not None
        workshop = jobs.Workshop(per_request.of(app), app.config["DATA_DIR"], app.config["SECRET_KEY"], blobs)
        job = jobs.start(workshop, session, analyst, loaded.form, Options(format="csv"))
        jobs.wait(job.id)
        session.expire_all()
        assert session.get(ExportJob, job.id).state == "done"
    finally:
        session.close()

    names = set(modes(data_dir))
    assert {"secret_key", "blobs", "thumbnails", "exports"} <= names
    assert any(n.startswith("exports/") for n in names)
    if database.startswith("sqlite"):
        assert {"muntada.sqlite", "muntada.sqlite-wal", "muntada.sqlite-shm"} <= names
    assert not_private(data_dir) == {}


def test_what_an_older_version_left_open_is_closed_at_start(tmp_path, umask, use):
    data_dir = tmp_path / "data"
    app = use(data_dir)
    jobs.folder(app.config["DATA_DIR"])
    app.extensions["blobs"].put(b"forums")
    per_request.of(app).engine.dispose()
    opened = ["secret_key", "exports", "blobs"] + [
        n for n in modes(data_dir) if n.startswith("muntada.sqlite")]
    data_dir.chmod(0o755)
    for name in opened:
        (data_dir / name).chmod(0o755 if (data_dir / name).is_dir() else 0o644)

    app = use(data_dir)
    jobs.folder(app.config["DATA_DIR"])
    assert {name: oct(mode) for name, mode in modes(data_dir).items()
            if name in (".", *opened)} == {
        name: oct(0o700 if (data_dir / name).is_dir() else 0o600) for name in (".", *opened)}
