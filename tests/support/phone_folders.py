"""Folders as ODK Collect and ODK Briefcase leave them, written for tests and benchmarks: Collect's
`instances/<name>/<name>.xml` with its files beside it (and, when asked, the `metadata/instances.db`
Collect keeps next to it), and Briefcase's `ODK Briefcase Storage/forms/<form>/instances/uuid.../
submission.xml`."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from sync.instance import read_identity


@dataclass
class Filled:
    """One filled form: its XML and the files it names."""

    xml: bytes
    files: dict[str, bytes] = field(default_factory=dict)
    status: str = "complete"  # Collect's status, written only when the database is


def collect_instance(instances: Path, name: str, filled: Filled) -> Path:
    folder = instances / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.xml").write_bytes(filled.xml)
    for file_name, data in filled.files.items():
        (folder / file_name).write_bytes(data)
    return folder


def collect_folder(root: Path, filled: dict[str, Filled], *, with_database: bool = False
                   ) -> Path:
    """`root/instances/<name>/...` for each name; returns the instances folder."""
    instances = root / "instances"
    instances.mkdir(parents=True, exist_ok=True)
    for name, one in filled.items():
        collect_instance(instances, name, one)
    if with_database:
        (root / "metadata").mkdir(exist_ok=True)
        with closing(sqlite3.connect(root / "metadata" / "instances.db")) as db:
            db.execute("CREATE TABLE instances (_id INTEGER PRIMARY KEY, displayName TEXT, "
                       "instanceFilePath TEXT, status TEXT)")
            db.executemany(
                "INSERT INTO instances (displayName, instanceFilePath, status) VALUES (?, ?, ?)",
                [(name, f"{name}/{name}.xml", one.status) for name, one in filled.items()])
            db.commit()
    return instances


def briefcase_storage(root: Path, filled: list[tuple[str, Filled]]) -> Path:
    """`root/ODK Briefcase Storage/forms/<form>/instances/uuid<...>/submission.xml` for each
    (form folder name, as Briefcase names it: the form's title; filled form); returns the storage
    folder."""
    storage = root / "ODK Briefcase Storage"
    for form_name, one in filled:
        identity, _ = read_identity(one.xml)
        folder = storage / "forms" / form_name / "instances" / \
            identity.instance_id.replace(":", "")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "submission.xml").write_bytes(one.xml)
        for file_name, data in one.files.items():
            (folder / file_name).write_bytes(data)
    return storage


def collect_name(form_id: str, n: int) -> str:
    """A folder name as Collect makes it: the form's name and when it was started."""
    return f"{form_id}_2026-11-20_09-{n // 60 % 60:02d}-{n % 60:02d}" + (
        f"_{n // 3600}" if n >= 3600 else "")
