"""Folders and files only the server's own user can open, whatever the process's umask.

The data folder holds the SQLite database, every submission with its photos (personal data),
exports and the secret key. A service started with umask 0o022 (or 0o000) would otherwise make
all of it readable by every account of the machine: so everything there is made here, 0700 for
folders and 0600 for files, and what an older version left open is closed again at start.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# SQLite's files beside a database: it gives them the database's own mode when it makes them.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")

log = logging.getLogger(__name__)


def folders(path: str | os.PathLike[str]) -> Path:
    """`path` and the missing folders above it, each made 0700; existing ones left as they are
    (cheap enough for every stored file)."""
    target = path = Path(path)
    missing = []
    while not path.is_dir():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, FOLDER_MODE)  # the umask can only take bits away
        except FileExistsError:
            pass
    return target


def folder(path: str | os.PathLike[str]) -> Path:
    """`path` as a folder only this user opens: made if missing, set to 0700 if it was not."""
    path = folders(path)
    _set_mode(path, FOLDER_MODE)
    return path


def file(path: str | os.PathLike[str]) -> Path:
    """`path` as a file only this user opens: made empty if missing, set to 0600 if it was not.
    Writing into it later with open(..., "w") keeps the mode."""
    path = Path(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(descriptor).st_mode & 0o777 != FILE_MODE:
            os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)
    return path


def new_file(path: str | os.PathLike[str]) -> int:
    """A descriptor on a new file `path` only this user opens; FileExistsError if it exists."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)
    return descriptor


def sqlite_database(path: str | os.PathLike[str]) -> None:
    """A SQLite database file made 0600 before SQLite opens it, so that its -wal and -shm, which
    SQLite makes with the database's mode, are 0600 too; those of an older version closed."""
    path = Path(path)
    folders(path.parent)
    file(path)
    for companion in [path.with_name(path.name + suffix) for suffix in SQLITE_COMPANIONS] + [
            path.with_suffix(".writers")]:  # our writers' lock file (database.sqlite.writers)
        if companion.exists():
            _set_mode(companion, FILE_MODE)


def _set_mode(path: Path, mode: int) -> None:
    if path.stat().st_mode & 0o777 == mode:
        return
    try:
        os.chmod(path, mode)
    except PermissionError:  # another user's folder we were given: say so, do not refuse to run
        log.warning("%s is not private (mode %o) and belongs to another user", path,
                    path.stat().st_mode & 0o777)
