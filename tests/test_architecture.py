"""The tree shows the architecture, and these tests hold its walls.

server → sync → forms, and inside the server five rooms, each importing only those below it:
app → surfaces → services → database → kernel (the README's map says the same).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = {"flask", "werkzeug", "flask_login", "flask_wtf", "flask_httpauth", "gunicorn"}
SCHEMAS = {"marshmallow", "apispec"}  # what a boundary reads and writes: services may declare it
DATABASE = {"sqlalchemy", "alembic", "psycopg"}
ROOMS = ("app", "surfaces", "services", "database", "kernel")
# What each room may import of the server's other rooms (its own room always).
MAY_IMPORT = {
    "app": {"surfaces", "services", "database", "kernel"},
    "surfaces": {"services", "database", "kernel"},
    "services": {"database", "kernel"},
    "database": {"kernel"},
    "kernel": set(),
}
SURFACES = ("openrosa", "pages", "api", "peers", "cli")


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module a file imports, wherever in the file (inside functions too), as written."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from server.surfaces import api` imports the module server.surfaces.api
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "server" and parts[1] in ROOMS else None


def top_levels(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imports(path)}


@pytest.mark.parametrize("package, forbidden", [
    ("forms", WEB | SCHEMAS | DATABASE | {"sync", "server"}),
    ("sync", WEB | SCHEMAS | DATABASE | {"server"}),
])
def test_pure_layers_import_no_web_framework_no_database_and_nothing_above_them(
        package, forbidden):
    offenders = {module_name(p): sorted(top_levels(p) & forbidden) for p in modules(package)
                 if top_levels(p) & forbidden}
    assert offenders == {}


def test_every_server_module_lives_in_a_room():
    homeless = [module_name(p) for p in modules("server")
                if module_name(p) != "server" and room(module_name(p)) is None]
    assert homeless == []


@pytest.mark.parametrize("own", ROOMS)
def test_a_room_imports_only_the_rooms_below_it(own):
    offenders = {}
    for path in modules(f"server/{own}"):
        wrong = {name for name in imports(path) if room(name) not in (None, own)
                 and room(name) not in MAY_IMPORT[own]}
        wrong |= {name for name in imports(path) if name == "server.app" and own != "app"}
        allowed = ("server.app",) if module_name(path).startswith(_THE_COMMAND_LINE) else ()
        wrong = {name for name in wrong if not name.startswith(allowed)}
        if wrong:
            offenders[module_name(path)] = sorted(wrong)
    assert offenders == {}


# The command line serves the app (`muntada serve` starts the WSGI server; its workers build it).
_THE_COMMAND_LINE = "server.surfaces.cli"


def test_a_surface_never_imports_another_surface():
    offenders = {}
    for surface in SURFACES:
        for path in modules(f"server/surfaces/{surface}"):
            others = {name for name in imports(path) for other in SURFACES if other != surface
                      and (name == f"server.surfaces.{other}"
                           or name.startswith(f"server.surfaces.{other}."))}
            if others:
                offenders[module_name(path)] = sorted(others)
    assert offenders == {}


@pytest.mark.parametrize("own", ["services", "database", "kernel"])
def test_services_the_database_and_the_kernel_import_no_web_framework(own):
    offenders = {module_name(p): sorted(top_levels(p) & WEB) for p in modules(f"server/{own}")
                 if top_levels(p) & WEB and not _DATABASE_BINDS_TO_THE_APP(p)}
    assert offenders == {}


def _DATABASE_BINDS_TO_THE_APP(path: Path) -> bool:  # noqa: N802 (reads as a rule)
    """A request's unit of work is opened and closed with the request: that one module of the
    database knows Flask, and only the app and the surfaces use it."""
    return module_name(path) == "server.database.per_request"


def test_services_never_reach_for_the_request_s_unit_of_work():
    offenders = [module_name(p) for p in modules("server/services")
                 if any(n.startswith("server.database.per_request") for n in imports(p))]
    assert offenders == []


def test_the_kernel_holds_no_database_code():
    offenders = {module_name(p): sorted(top_levels(p) & DATABASE)
                 for p in modules("server/kernel") if top_levels(p) & DATABASE}
    assert offenders == {}


def test_the_sqlite_writer_engine_stays_inside_the_database_room():
    offenders = {module_name(p): sorted(n for n in imports(p)
                                        if n.startswith("server.database.sqlite"))
                 for p in modules("server") if room(module_name(p)) != "database"
                 and any(n.startswith("server.database.sqlite") for n in imports(p))}
    assert offenders == {}


def test_no_page_api_protocol_or_command_module_mentions_sqlite():
    """The one-writer policy is the database's: a surface asks for reading or writing."""
    offenders = [module_name(p) for p in modules("server/surfaces")
                 if re.search(r"sqlite", p.read_text(encoding="utf-8"), re.IGNORECASE)]
    assert offenders == []


# a statement written or run: SQLAlchemy's builders, or a session or connection executing one
SQL = re.compile(r"\bsa\.(?:select|insert|update|delete|text)\(|(?<![\w.])select\(|"
                 r"\.execute\(|\.scalars?\(|exec_driver_sql")


def test_all_sql_lives_in_the_database_room():
    offenders = [module_name(p) for p in modules("server") if room(module_name(p)) != "database"
                 and SQL.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_each_family_of_queries_has_one_name_wherever_it_is_imported():
    """`form_queries.get_form(...)` reads the same in every module; `queries.x` named five."""
    names: dict[str, set[str]] = {}
    for path in [*modules("server"), *modules("tests"), *modules("bench")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "server.database.queries":
                for alias in node.names:
                    names.setdefault(alias.name, set()).add(alias.asname or alias.name)
    assert {family: aliases for family, aliases in names.items() if len(aliases) > 1} == {}
    assert all(next(iter(a)).endswith("_queries") for a in names.values()), names


def test_modules_stay_small():
    too_long = {str(p.relative_to(ROOT)): n for p in ROOT.glob("[fss]*/**/*.py")
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500}
    assert too_long == {}
