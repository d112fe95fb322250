"""The README's settings table and command reference are generated; they must be current."""

from __future__ import annotations

from server.surfaces.cli import readme


def test_the_readme_is_current():
    current = readme.README.read_text(encoding="utf-8")
    assert readme.render(current) == current, "README.md is stale: run `make docs`"


def test_every_command_is_documented():
    for command in ("muntada serve", "muntada forms add", "muntada forms list",
                    "muntada app-users create", "muntada app-users revoke", "muntada users create"):
        assert f"#### `{command}`" in readme.cli_reference()
