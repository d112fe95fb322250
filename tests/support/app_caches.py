"""What every test's app would otherwise compile again: its URL rules' builders and its templates.

Each test makes an app of its own (`create_app`, as the server does when it starts), and then
werkzeug generates and compiles Python code for each of the app's URL rules, and Jinja compiles
each template the first time that app renders it: tens of milliseconds a test, for code that is the
same for every app. Kept once per test session, as tests/support/compiled does for forms:

- Jinja's own bytecode cache (`jinja2.BytecodeCache`, given to every Flask app through
  `Flask.jinja_options`): keyed by the template's name and file, and used only while the file's
  source is unchanged (Jinja checks its checksum). Every app's environment is set up alike by
  `create_app`, so the code compiled for one is the code the next would compile.
- werkzeug's builder of a URL rule (the function `url_for` calls), keyed by everything its
  generated code is made from: the rule's parts, its defaults and its converters. The function
  holds nothing of the rule it was made for: it is bound to each rule as werkzeug binds it.

Matching, building and rendering are werkzeug's and Jinja's own code, unchanged.
"""

from __future__ import annotations

import functools

import pytest
from flask import Flask
from jinja2 import BytecodeCache
from werkzeug.routing import Rule


class Templates(BytecodeCache):
    """Jinja's compiled templates in memory, for the session's apps."""

    def __init__(self):
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # Jinja drops it if the checksum differs

    def dump_bytecode(self, bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


def _builders(compile_builder):
    made = {}

    @functools.wraps(compile_builder)
    def cached(self, append_unknown: bool = True):
        key = (self.rule, self.subdomain, self.host, self.merge_slashes, append_unknown,
               tuple(self._trace), repr(sorted((self.defaults or {}).items())),
               tuple(sorted((name, type(c)) for name, c in self._converters.items())))
        if key not in made:
            made[key] = compile_builder(self, append_unknown)
        return made[key]

    return cached


def installed(patch: pytest.MonkeyPatch) -> None:
    """Both caches, for every app made in this process until `patch` is undone."""
    patch.setattr(Flask, "jinja_options", {**Flask.jinja_options, "bytecode_cache": Templates()})
    patch.setattr(Rule, "_compile_builder", _builders(Rule._compile_builder))
