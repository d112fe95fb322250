"""The settings QR code that sets up ODK Collect for an app user in one scan.

Collect reads JSON deflated with zlib and encoded in base64; the same payload works on every
Collect since v1.30 (the format ODK Central uses).
"""

from __future__ import annotations

import base64
import io
import json
import zlib

import segno

PROJECT_NAME = "Muntada"


def server_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/collect/key/{token}"


def collect_settings(url: str, *, project_name: str = PROJECT_NAME) -> dict:
    return {
        "general": {
            "server_url": url,
            # Phones keep exactly the forms the server lists, and send as soon as any network is up.
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": project_name, "icon": "م", "color": "#1b6e5a"},
    }


def payload_for(base_url: str, token: str) -> str:
    """What the QR code of the app user with `token` carries, for a server at `base_url`."""
    return encode(collect_settings(server_url(base_url, token)))


def encode(settings: dict) -> str:
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw)).decode("ascii")


def decode(payload: str) -> dict:
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))


def qr_png(payload: str, *, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()


def qr_terminal(payload: str) -> str:
    out = io.StringIO()
    segno.make(payload, error="l").terminal(out=out, compact=True)
    return out.getvalue()
