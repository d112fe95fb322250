"""Each form source compiled once per test session.

Hundreds of tests load the same few forms (the programme's three, the meeting form of the
tests); pyxform takes most of a second for each under load, which was most of those tests' time.
Loading still goes through `load_form` and stores, projects and serves exactly as it would: only
the compiling of bytes already compiled in this session is skipped. A source that fails to compile
is compiled again each time (errors are not kept), so every test of a refusal sees it happen.
"""

from __future__ import annotations

from functools import cache

from forms import CompiledForm, compile_form


@cache
def compiled(data: bytes, validate: bool = False, filename: str | None = None) -> CompiledForm:
    return compile_form(data, validate=validate, filename=filename)


def compile_once(data: bytes, *, validate: bool = False,
                 filename: str | None = None) -> CompiledForm:
    """`forms.compile_form` with its results kept (CompiledForm and its structure are frozen)."""
    return compiled(bytes(data), validate, filename)
