"""The tree shows the architecture: server → sync → forms, and the pure layers stay pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB_AND_DATABASE = {"flask", "werkzeug", "sqlalchemy", "alembic", "psycopg", "gunicorn",
                    "marshmallow"}


def imported_top_levels(package: str) -> dict[str, set[str]]:
    found = {}
    for path in (ROOT / package).rglob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("package, forbidden", [
    ("forms", WEB_AND_DATABASE | {"sync", "server"}),
    ("sync", WEB_AND_DATABASE | {"server"}),
])
def test_pure_layers_import_no_web_framework_no_database_and_nothing_above_them(
        package, forbidden):
    offenders = {module: sorted(names & forbidden)
                 for module, names in imported_top_levels(package).items() if names & forbidden}
    assert offenders == {}


def test_modules_stay_small():
    too_long = {str(p.relative_to(ROOT)): n for p in ROOT.glob("[fss]*/**/*.py")
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert too_long == {}
