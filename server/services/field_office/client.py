"""The office's side of the wire: headquarters' `/sync/v1` called over HTTP (requests), with
the office's token. Every call has a timeout: a link that stalls is a link that failed, and the
loop tries again later from where it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import requests

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0  # a stalled link: no byte for this long
CHUNK = 1 << 16


class LinkDown(Exception):
    """Headquarters could not be reached, or the link broke mid-call: try again later."""


class Refused(Exception):
    """Headquarters answered with a problem (its code and message)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


class Headquarters:
    def __init__(self, url: str, token: str, *, last_seq: Callable[[], int] = lambda: 0,
                 timeout: float = READ_TIMEOUT):
        self.base, self.token = url, token
        self.url = url.rstrip("/") + "/sync/v1"
        self.timeout = (min(CONNECT_TIMEOUT, timeout), timeout)
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}",
                                  "User-Agent": "muntada-field-office"})
        self._last_seq = last_seq

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        headers["X-Muntada-Last-Seq"] = str(self._last_seq())
        try:
            response = self.http.request(method, f"{self.url}/{path}", headers=headers,
                                         timeout=self.timeout, **kwargs)
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as error:
            raise LinkDown(str(error)) from error
        if response.status_code >= 500 and response.status_code != 501:
            raise LinkDown(f"headquarters answered {response.status_code}")
        if response.status_code >= 400 and response.status_code not in (404,) \
                or (response.status_code == 404 and method != "HEAD"):
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise Refused(response.status_code, str(body.get("code", response.status_code)),
                          str(body.get("message", response.reason)))
        return response

    def _json(self, method: str, path: str, **kwargs) -> dict:
        response = self._call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as error:  # cut mid-body
            raise LinkDown("headquarters' answer was cut short") from error

    def hello(self) -> dict:
        return self._json("GET", "hello")

    def send_key(self, public_key: str) -> None:
        self._json("POST", "key", json={"public_key": public_key})

    def changes(self, after: int, limit: int) -> dict:
        return self._json("GET", "changes", params={"after": after, "limit": limit})

    def send(self, items: list[dict], *, through: int) -> dict:
        """The office's changes; `through`: the last number they come to (changes between
        that are not headquarters' to have are passed with them)."""
        return self._json("POST", "changes", json={"items": items, "through": through})

    def upload(self, sha256: str, path: Path, progress: Callable[[int], None]) -> bool:
        """Send a file, from where headquarters' copy of it stops; False when it had it all."""
        state = self._call("HEAD", f"blobs/{sha256}")
        offset = state.headers.get("X-Partial-Offset", "0")
        if state.status_code == 200 or offset == "complete":
            return False
        offset = int(offset) if offset.isdigit() else 0
        size = path.stat().st_size
        if offset > size:
            offset = 0
        progress(offset)
        with open(path, "rb") as file:
            file.seek(offset)
            body = _Counted(file, size - offset, progress)
            self._call("PUT", f"blobs/{sha256}", params={"offset": offset}, data=body,
                       headers={"X-Blob-Size": str(size),
                                "Content-Type": "application/octet-stream"})
        return True

    def download(self, sha256: str, partial: Path, progress: Callable[[int], None]) -> None:
        """Fetch a file into `partial`, from where it stops (HTTP Range)."""
        held = partial.stat().st_size if partial.is_file() else 0
        progress(held)
        response = self._call("GET", f"blobs/{sha256}", stream=True,
                              headers={"Range": f"bytes={held}-"} if held else {})
        if response.status_code == 416:  # already whole
            return
        mode = "ab" if response.status_code == 206 else "wb"
        partial.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(partial, mode) as out:
                try:
                    for chunk in response.iter_content(CHUNK):
                        out.write(chunk)
                        progress(len(chunk))
                finally:
                    out.flush()
                    os.fsync(out.fileno())
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError,
                requests.Timeout) as error:
            raise LinkDown(str(error)) from error
        finally:
            response.close()


class _Counted:
    """A file read by requests as a body of known length (Content-Length, not chunked),
    reporting the bytes as they go."""

    def __init__(self, file, length: int, progress: Callable[[int], None]):
        self.file, self.length, self.progress = file, length, progress

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(CHUNK if size is None or size < 0 else min(size, CHUNK))
        if chunk:
            self.progress(len(chunk))
        return chunk

    def __iter__(self):
        while chunk := self.read(CHUNK):
            yield chunk

