"""A new user's first commands: `make run` installs what serving needs, quietly; the test tools
come with `make test`, even after a `make run`."""

from __future__ import annotations

import subprocess
from pathlib import Path

from setuptools.config.setupcfg import read_configuration

ROOT = Path(__file__).resolve().parents[1]


def test_every_folder_of_the_package_is_a_package_to_setuptools():
    # setuptools warns, a page per folder, about every folder it could import but was not told
    # of: the templates, migrations, translations and XLSForms are package data in such folders.
    options = read_configuration(ROOT / "setup.cfg")["options"]
    found = set(options["packages"])
    folders = {".".join(p.relative_to(ROOT).parts) for top in ("forms", "server", "sync")
               for p in [ROOT / top, *(ROOT / top).rglob("*")]
               if p.is_dir() and "__pycache__" not in p.parts and any(
                   f.is_file() for f in p.iterdir())}
    assert folders - found == set()
    assert not any("__pycache__" in name for name in found)


def test_an_editable_install_is_a_plain_path_entry():
    # With the root as the one source folder, setuptools installs in editable mode with a .pth
    # entry; otherwise it installs an import hook and warns about folders that may shadow it.
    options = read_configuration(ROOT / "setup.cfg")["options"]
    assert options.get("package_dir") == {"": "."}


def _dry_run(target: str, venv: Path) -> str:
    return subprocess.run(["make", "-n", "-C", str(ROOT), f"VENV={venv}", target],
                          capture_output=True, text=True, check=True).stdout


def test_make_run_installs_the_server_alone_and_make_test_the_test_tools(tmp_path):
    venv = tmp_path / ".venv"
    first_run = _dry_run("run", venv)
    assert f"{venv}/bin/pip install --quiet -e .\n" in first_run
    assert "[test]" not in first_run

    (venv / "bin").mkdir(parents=True)  # as `make run` leaves it
    (venv / "bin" / "pip").touch()
    (venv / "installed").touch()
    assert "pip install" not in _dry_run("run", venv)  # a second `make run` installs nothing
    assert f"{venv}/bin/pip install --quiet -e '.[test]'" in _dry_run("test", venv)

    (venv / "installed-test").touch()
    assert "pip install" not in _dry_run("test", venv)
    assert "pip install" not in _dry_run("run", venv)
