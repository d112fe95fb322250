"""Untrusted input read through a marshmallow schema: a query string, a form, a JSON body. The
first bad field is named in problem 400.5, whichever surface reads it."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError

from server.kernel import problems
from server.kernel.problems import Problem


def load(schema: Schema, payload: Any) -> Any:
    try:
        return schema.load(payload)
    except ValidationError as error:
        field, reasons = next(iter(_flatten(error.messages)))
        raise Problem(problems.INVALID_FIELD, field=field, reason=reasons) from error


def _flatten(messages: Any, prefix: str = ""):
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix or "body", " ".join(map(str, messages if isinstance(messages, list)
                                              else [messages]))
