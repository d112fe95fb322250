"""A TCP proxy on 127.0.0.1 between a client and a real server process, that a test controls to make
the faults of a field link: drop the connection after so many bytes (in the middle of a photo), stall
without closing (a link that goes quiet), throttle to a 2G rate, close everything at once.

    with FaultProxy(server_port) as proxy:
        proxy.cut_after(100_000, direction="up")   # the next 100 KB towards the server, then cut
        push(proxy.url + "/collect/key/...")        # fails mid-photo
        assert proxy.cuts == 1
        push(proxy.url + "/collect/key/...")        # the link is back: forwarded normally

"up" is client -> server, "down" server -> client. The counters are bytes actually forwarded, over all
connections since the proxy started. A cut is one-shot: it fires once, on whichever connection carries
the n-th byte, and later connections are forwarded normally until the test arms another.

The proxy's sockets take in at most `buffer_bytes` (16 KB; the kernel doubles it) beyond what they
have forwarded, as a real link's window does: on loopback the kernel would otherwise take in
megabytes at once, and a client would finish "sending" long before a throttled proxy had passed
it on.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

DIRECTIONS = ("up", "down")
CHUNK = 64 * 1024
POLL = 0.1  # how often idle threads look at the stop flag
BUFFER_BYTES = 16 * 1024


@dataclass
class _Connection:
    client: socket.socket
    server: socket.socket
    threads: list[threading.Thread] = field(default_factory=list)
    closed: bool = False

    def close(self, *, reset: bool) -> None:
        """Both sides at once; `reset` sends an RST (as a broken link looks to a peer that writes)."""
        self.closed = True
        for sock in (self.client, self.server):
            with contextlib.suppress(OSError):
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                # shutdown wakes the pump blocked in recv on this socket; close alone does not
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class FaultProxy:
    """Listens on 127.0.0.1:`port` (free one by default) and forwards to `target_host:target_port`."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1", *, port: int = 0,
                 buffer_bytes: int = BUFFER_BYTES):
        self.target = (target_host, target_port)
        self.buffer_bytes = buffer_bytes
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # set before listen(): accepted sockets inherit it, and the window is sized from it
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer_bytes)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(64)
        self._listener.settimeout(POLL)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()
        self._connections: list[_Connection] = []
        self._forwarded = {d: 0 for d in DIRECTIONS}
        self._cut_left: dict[str, int | None] = {d: None for d in DIRECTIONS}
        self._rate: float | None = None
        self._next_send = {d: 0.0 for d in DIRECTIONS}
        self.cuts = 0
        self.accepted = 0
        self._acceptor = threading.Thread(target=self._accept_loop, name="proxy-accept",
                                          daemon=True)
        self._started = False

    # -- the test's controls -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bytes_up(self) -> int:
        with self._lock:
            return self._forwarded["up"]

    @property
    def bytes_down(self) -> int:
        with self._lock:
            return self._forwarded["down"]

    @property
    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for c in self._connections if not c.closed)

    def cut_after(self, n_bytes: int, direction: str = "up") -> None:
        """Forward `n_bytes` more in `direction` (over any connections), then drop the connection
        that carried the last of them. Fires once."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        if n_bytes < 0:
            raise ValueError("n_bytes must be >= 0")
        with self._lock:
            self._cut_left[direction] = n_bytes

    def cancel_cut(self) -> None:
        with self._lock:
            self._cut_left = {d: None for d in DIRECTIONS}

    def stall(self) -> None:
        """Stop forwarding in both directions; connections stay open (and new ones are accepted,
        as a router with a dead uplink does)."""
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def rate(self, bytes_per_second: float | None) -> None:
        """Throttle each direction to `bytes_per_second` shared by all connections; None lifts it."""
        if bytes_per_second is not None and bytes_per_second <= 0:
            raise ValueError("bytes_per_second must be positive (use stall() to stop the flow)")
        with self._lock:
            self._rate = bytes_per_second
            self._next_send = {d: 0.0 for d in DIRECTIONS}

    def close_all(self, *, reset: bool = True) -> int:
        """Drop every open connection; the proxy keeps listening. Returns how many were open."""
        with self._lock:
            connections = [c for c in self._connections if not c.closed]
        for connection in connections:
            connection.close(reset=reset)
        return len(connections)

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Poll `predicate(self)` until true or `timeout`; for waiting on counters from a test."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.01)
        return bool(predicate(self))

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        if not self._started:
            self._started = True
            self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._flowing.set()  # stalled pumps wake up and see the stop flag
        if self._started:
            self._acceptor.join(5)
        with contextlib.suppress(OSError):
            self._listener.close()
        self.close_all()
        with self._lock:
            threads = [t for c in self._connections for t in c.threads]
        for thread in threads:
            thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- the threads ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.buffer_bytes)
                server.settimeout(5)
                server.connect(self.target)
            except OSError:
                server.close()
                # the server is down: the client sees its connection refused-then-closed
                with contextlib.suppress(OSError):
                    client.close()
                continue
            for sock in (client, server):
                sock.settimeout(None)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = _Connection(client, server)
            connection.threads = [
                threading.Thread(target=self._pump, args=(connection, client, server, "up"),
                                 name="proxy-up", daemon=True),
                threading.Thread(target=self._pump, args=(connection, server, client, "down"),
                                 name="proxy-down", daemon=True),
            ]
            with self._lock:
                self._connections = [c for c in self._connections if not c.closed]
                self._connections.append(connection)
                self.accepted += 1
            for thread in connection.threads:
                thread.start()

    def _pump(self, connection: _Connection, source: socket.socket, sink: socket.socket,
              direction: str) -> None:
        try:
            while not connection.closed and not self._stopping.is_set():
                data = source.recv(self._chunk_size())
                if not data:
                    # orderly end of one direction: pass the half-close on, keep the other open
                    with contextlib.suppress(OSError):
                        sink.shutdown(socket.SHUT_WR)
                    return
                while data:
                    self._wait_flowing(connection)
                    if connection.closed or self._stopping.is_set():
                        return
                    piece, cut = self._take(direction, data)
                    if piece:
                        self._throttle(direction, len(piece))
                        # counted before it leaves: a test that has received it reads it counted
                        with self._lock:
                            self._forwarded[direction] += len(piece)
                        sink.sendall(piece)
                    if cut:
                        with self._lock:
                            self.cuts += 1
                        connection.close(reset=True)
                        return
                    data = data[len(piece):]
        except OSError:
            # one side went away: the connection is over both ways
            connection.close(reset=False)

    def _chunk_size(self) -> int:
        with self._lock:
            rate = self._rate
        if rate is None:
            return CHUNK
        # small pieces under a throttle, so the flow is smooth rather than bursts each second
        return max(1, min(CHUNK, int(rate / 20)))

    def _take(self, direction: str, data: bytes) -> tuple[bytes, bool]:
        """How much of `data` may pass, and whether the armed cut fires after it."""
        with self._lock:
            left = self._cut_left[direction]
            if left is None:
                return data, False
            if len(data) < left:
                self._cut_left[direction] = left - len(data)
                return data, False
            self._cut_left[direction] = None
            return data[:left], True

    def _wait_flowing(self, connection: _Connection) -> None:
        while not self._flowing.wait(POLL):
            if connection.closed or self._stopping.is_set():
                return

    def _throttle(self, direction: str, size: int) -> None:
        with self._lock:
            rate = self._rate
            if rate is None:
                return
            now = time.monotonic()
            start = max(now, self._next_send[direction])
            self._next_send[direction] = start + size / rate
            wait = self._next_send[direction] - now
        if wait > 0:
            time.sleep(wait)
