"""A lean HTTP/1.1 client for the ingest benchmark: one keep-alive socket per phone, requests
written as bytes, answers read by Content-Length (or chunks).

`requests` cost the benchmark 1-3 ms of CPU per submission, on the same 2 cores as the server:
at hundreds of submissions per second the client measured itself. This one costs a few tens of
microseconds, and sends what Collect sends: the same headers, the same multipart body.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


class HttpError(Exception):
    pass


class Connection:
    """One phone's connection to the server; reconnects when the server closes it."""

    def __init__(self, url: str, headers: dict[str, str], timeout: float = 120):
        parts = urlsplit(url)
        self.address = (parts.hostname, parts.port or 80)
        self.target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        lines = [f"POST {self.target} HTTP/1.1", f"Host: {parts.netloc}",
                 "Accept: */*", "Connection: keep-alive"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self.sock: socket.socket | None = None
        self.buffer = b""

    def post(self, body: bytes) -> tuple[int, bytes]:
        """Send one request; return (status, body). A request on a connection the server had
        already closed is sent again once, on a new one (as HTTP clients do for idempotent
        retries; a submission is safe to resend: the server recognises it)."""
        request = self.head + str(len(body)).encode() + b"\r\n\r\n" + body
        for attempt in (1, 2):
            fresh = self.sock is None
            if fresh:
                self._connect()
            try:
                self.sock.sendall(request)
                return self._answer()
            except (ConnectionError, HttpError):
                self.close()
                if fresh or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _connect(self) -> None:
        self.sock = socket.create_connection(self.address, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise HttpError("the server closed the connection")
        self.buffer += chunk

    def _answer(self) -> tuple[int, bytes]:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._read()
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4:]
        status_line, *header_lines = head.split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = self._exactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        else:  # the body runs until the server closes
            try:
                while True:
                    self._read()
            except HttpError:
                pass
            body, self.buffer = self.buffer, b""
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._read()
        body, self.buffer = self.buffer[:size], self.buffer[size:]
        return body

    def _chunked(self) -> bytes:
        body = b""
        while True:
            while (end := self.buffer.find(b"\r\n")) < 0:
                self._read()
            size = int(self.buffer[:end].split(b";")[0], 16)
            self.buffer = self.buffer[end + 2:]
            body += self._exactly(size)
            self._exactly(2)  # the CRLF after the chunk
            if size == 0:
                return body

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""
