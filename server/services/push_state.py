"""What `muntada push` remembers between runs: for each server, what it accepted of each instance,
keyed by the instance's fingerprint (SHA-256 of its XML and files), so a second run sends nothing
new and an interrupted one resumes (a split upload with the parts it had not sent).

One JSON file, by default in the user's state folder rather than beside the instances (a phone's
folder is often on a read-only card, and the same instances copied twice are the same
fingerprints). It is replaced atomically (written beside, fsynced, renamed), so a kill at any
moment leaves the previous or the next state, whole. It is written at most once a second while
a push runs and at its end: a kill loses at most the last second's records, and those instances
are sent again and recognised by the server ("already held").
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from server.kernel import problems
from server.kernel.problems import Problem

FORMAT = 1
FLUSH_SECONDS = 1.0


def default_path() -> Path:
    """$XDG_STATE_HOME/muntada/push-state.json (~/.local/state/... when unset)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "muntada" / "push-state.json"


class PushState:
    """Open with `with PushState(path) as state:`; it holds a lock so two pushes never interleave
    their writes, and is flushed when the block ends, however it ends."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._servers: dict[str, dict[str, dict[str, Any]]] = {}
        self._dirty = False
        self._flushed_at = 0.0
        self._lock_file = None

    def __enter__(self) -> PushState:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.path.with_name(self.path.name + ".lock"), "a")  # noqa: SIM115
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            self._lock_file.close()
            raise Problem(problems.PUSH_STATE_LOCKED, path=str(self.path)) from error
        try:
            self._servers = self._load()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.flush()
        finally:
            self._release()

    def get(self, server: str, fingerprint: str) -> dict[str, Any] | None:
        return self._servers.get(server, {}).get(fingerprint)

    def put(self, server: str, fingerprint: str, **record: Any) -> None:
        record["at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self._servers.setdefault(server, {})[fingerprint] = record
        self._dirty = True
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()

    def count(self, server: str) -> int:
        return len(self._servers.get(server, {}))

    def flush(self) -> None:
        if not self._dirty:
            return
        data = json.dumps({"format": FORMAT, "servers": self._servers}, indent=1,
                          sort_keys=True).encode("utf-8")
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                             dir=self.path.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        _fsync_folder(self.path.parent)
        self._dirty = False
        self._flushed_at = time.monotonic()

    def _load(self) -> dict[str, dict[str, dict[str, Any]]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise Problem(problems.PUSH_STATE_UNREADABLE, path=str(self.path),
                          reason=error.strerror or str(error)) from error
        try:
            data = json.loads(text)
            servers = data["servers"]
            if data.get("format") != FORMAT or not isinstance(servers, dict):
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        except (ValueError, KeyError, TypeError) as error:
            raise Problem(problems.PUSH_STATE_UNREADABLE, path=str(self.path),
                          reason=f"not a push state: {error}") from error
        return servers

    def _release(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None


def _fsync_folder(folder: Path) -> None:
    """The rename itself survives a power cut only once the folder is synced."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
