"""Every setting of the server, declared once: name, default and a line of help.

Read from the environment with the `MUNTADA_` prefix (and `DATABASE_URL`, the name every host
already uses). The README's settings table is generated from this list, and a test keeps them equal.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.kernel import private

PREFIX = "MUNTADA_"


@dataclass(frozen=True)
class Setting:
    name: str  # the config key; the environment variable is PREFIX + name, unless `env` says
    default: Any
    help: str
    parse: Callable[[str], Any] = str
    env: str | None = None

    @property
    def variable(self) -> str:
        return self.env or PREFIX + self.name


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


SETTINGS: tuple[Setting, ...] = (
    Setting("DATA_DIR", "data", "Folder for the SQLite database, stored files and the secret key."),
    Setting("DATABASE_URL", None,
            "SQLAlchemy URL of the database; empty means SQLite in the data folder. "
            "PostgreSQL: postgresql+psycopg://user@host/db.", env="DATABASE_URL"),
    Setting("SECRET_KEY", None,
            "Key that signs sessions and Digest nonces; empty means one generated once and kept "
            "in the data folder."),
    Setting("VALIDATE_FORMS", True,
            "Check every loaded form with ODK Validate (needs Java) so it is known to open on "
            "phones.", _flag),
    Setting("TRUST_PROXY", False,
            "Trust X-Forwarded-For/-Proto/-Host from one reverse proxy (set it when HTTPS ends "
            "at a proxy).", _flag),
    Setting("PUBLIC_URL", "http://127.0.0.1:5000",
            "Address phones use to reach this server (e.g. http://192.168.1.10:5000), printed by "
            "the command line and put in QR codes; pages use the address of each request."),
    Setting("WORKERS", 4, "Worker processes of `muntada serve`.", int),
    Setting("MAX_SUBMISSION_BYTES", 100 * 1024 * 1024,
            "Largest submission (XML and attachments) accepted in one request; phones split "
            "larger ones.", int),
    Setting("DIGEST_NONCE_SECONDS", 86400,
            "How long a Digest nonce stays valid before phones are asked again.", int),
    Setting("CASE_HOLD_HOURS", 120.0,
            "How long an offline case update waits for the update made before it on the same "
            "phone before `muntada cases release-held` applies it anyway, flagged.", float),
    Setting("SYNC_EVERY", 60.0,
            "Seconds between a field office's syncs with headquarters while the link is up: "
            "`muntada serve` runs them (`muntada field-office run`) once the office has joined, "
            "retrying with backoff while the link is down; 0 turns the loop off.", float),
    Setting("SYNC_TIMEOUT", 60.0,
            "Seconds a field office waits on a silent link to headquarters before it gives up "
            "that try (and tries again later from where it stopped).", float),
    Setting("KEY_UNLOCK_MINUTES", 30.0,
            "How long a key unlocked on the Keys page stays unlocked for that session; its "
            "holder locks it sooner with a button, and logging out locks it too.", float),
    Setting("LOG_LEVEL", "INFO", "Python logging level of the server."),
)


def load(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
         ) -> dict[str, Any]:
    """Return the config mapping: defaults, then the environment, then explicit overrides."""
    environ = os.environ if environ is None else environ
    config = {}
    for setting in SETTINGS:
        raw = environ.get(setting.variable)
        config[setting.name] = setting.parse(raw) if raw not in (None, "") else setting.default
    config.update(overrides or {})
    data_dir = Path(config["DATA_DIR"]).resolve()
    config["DATA_DIR"] = str(data_dir)
    if not config["DATABASE_URL"]:
        config["DATABASE_URL"] = f"sqlite:///{data_dir / 'muntada.sqlite'}"
    if not config["SECRET_KEY"]:
        config["SECRET_KEY"] = _stored_secret(data_dir)
    return config


def _stored_secret(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if not path.exists():
        private.folder(data_dir)
        # Written beside, then linked: two workers starting together must agree on one key.
        tmp = path.with_suffix(f".{os.getpid()}")
        with os.fdopen(private.new_file(tmp), "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return private.file(path).read_text().strip()  # one an older version left 0644 closed


def markdown_table() -> str:
    """The README's settings table."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for setting in SETTINGS:
        default = "" if setting.default is None else str(setting.default).lower() \
            if isinstance(setting.default, bool) else str(setting.default)
        rows.append(f"| `{setting.variable}` | {f'`{default}`' if default else '—'} "
                    f"| {setting.help} |")
    return "\n".join(rows)
