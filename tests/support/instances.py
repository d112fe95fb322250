"""Instance XML as phones write it, built in one place for every test."""

from __future__ import annotations

import uuid
from xml.sax.saxutils import escape


def instance(form_id: str, version: str = "1", body: str = "", *, instance_id: str | None = None,
             deprecated_id: str | None = None, root: str = "data",
             namespace: str | None = None) -> bytes:
    """`body` is the XML inside the root, before meta; values are not escaped for you."""
    instance_id = instance_id if instance_id is not None else f"uuid:{uuid.uuid4()}"
    meta = ""
    if instance_id:
        meta += f"<instanceID>{escape(instance_id)}</instanceID>"
    if deprecated_id:
        meta += f"<deprecatedID>{escape(deprecated_id)}</deprecatedID>"
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><{root}{xmlns} id="{escape(form_id)}" '
            f'version="{escape(version)}">{body}<meta>{meta}</meta></{root}>').encode()


def new_id() -> str:
    return f"uuid:{uuid.uuid4()}"
