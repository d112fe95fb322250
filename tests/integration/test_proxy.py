"""The fault proxy of tests/support/proxy.py against tiny real socket servers on 127.0.0.1: an echo
server, and one that sends a given number of bytes; each fault seen from both ends."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest

from tests.support.proxy import FaultProxy

TIMEOUT = 5


class TinyServer:
    """Accepts connections; `mode` "echo" sends back what it reads, "source" sends `payload` at once
    and then echoes. Records, per connection, the bytes it received and whether it saw the end."""

    def __init__(self, mode: str = "echo", payload: bytes = b""):
        self.mode = mode
        self.payload = payload
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received: list[bytearray] = []
        self.ended: list[threading.Event] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop:
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            received, ended = bytearray(), threading.Event()
            self.received.append(received)
            self.ended.append(ended)
            threading.Thread(target=self._handle, args=(sock, received, ended), daemon=True).start()

    def _handle(self, sock: socket.socket, received: bytearray, ended: threading.Event) -> None:
        with sock:
            try:
                if self.mode == "source":
                    sock.sendall(self.payload)
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    received.extend(data)
                    sock.sendall(data)
            except OSError:
                pass
            finally:
                ended.set()

    def ended_connection(self, index: int) -> bool:
        """Whether connection `index` has been accepted and then ended, within the timeout."""
        deadline = time.monotonic() + TIMEOUT
        while len(self.ended) <= index and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.ended) > index and self.ended[index].wait(TIMEOUT)

    def close(self) -> None:
        self._stop = True
        self._thread.join(TIMEOUT)
        self.listener.close()


@pytest.fixture
def echo():
    server = TinyServer("echo")
    yield server
    server.close()


def connect(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
    return sock


def read_exactly(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data.extend(chunk)
    return bytes(data)


def read_until_closed(sock: socket.socket) -> tuple[bytes, bool]:
    """Everything the socket yields until the peer ends it; and whether it ended by a reset."""
    data = bytearray()
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return bytes(data), False
            data.extend(chunk)
    except ConnectionResetError:
        return bytes(data), True


def test_forwards_both_ways_and_counts_the_bytes(echo):
    message = bytes(range(256)) * 40  # 10,240 bytes
    with FaultProxy(echo.port) as proxy, connect(proxy) as sock:
        sock.sendall(message)
        assert read_exactly(sock, len(message)) == message
        assert proxy.wait_for(lambda p: p.bytes_down == len(message))
        assert proxy.bytes_up == len(message)
        assert proxy.accepted == 1 and proxy.open_connections == 1
        assert bytes(echo.received[0]) == message


def test_cut_up_drops_the_connection_after_exactly_n_bytes_then_forwards_again(echo):
    with FaultProxy(echo.port) as proxy:
        proxy.cut_after(4000, direction="up")
        with connect(proxy) as sock:
            with contextlib.suppress(OSError):  # the reset may arrive while still sending
                sock.sendall(b"x" * 3000)
                sock.sendall(b"y" * 3000)
            with contextlib.suppress(OSError):
                data, _ = read_until_closed(sock)
                assert len(data) <= 4000  # the echo of what passed, at most
        assert echo.ended_connection(0), "the server side must see the connection end"
        assert bytes(echo.received[0]) == b"x" * 3000 + b"y" * 1000
        assert proxy.cuts == 1 and proxy.bytes_up == 4000

        # one-shot: the next connection carries everything
        with connect(proxy) as sock:
            sock.sendall(b"z" * 6000)
            assert read_exactly(sock, 6000) == b"z" * 6000
        assert proxy.cuts == 1


def test_cut_down_gives_the_client_exactly_n_bytes():
    payload = bytes(range(256)) * 400  # 102,400 bytes, "a photo" from the server
    server = TinyServer("source", payload)
    try:
        with FaultProxy(server.port) as proxy:
            proxy.cut_after(50_000, direction="down")
            with connect(proxy) as sock:
                data = bytearray()
                with contextlib.suppress(ConnectionResetError):
                    while chunk := sock.recv(65536):
                        data.extend(chunk)
            # the reset may overtake bytes still in the client's buffer, never add any
            assert len(data) <= 50_000
            assert bytes(data) == payload[:len(data)]
            assert proxy.bytes_down == 50_000 and proxy.cuts == 1
            assert server.ended_connection(0)
    finally:
        server.close()


def test_stall_keeps_the_connection_open_and_forwards_nothing_until_resume(echo):
    with FaultProxy(echo.port) as proxy, connect(proxy) as sock:
        sock.sendall(b"before")
        assert read_exactly(sock, 6) == b"before"
        proxy.stall()
        sock.sendall(b"during")
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(100)
        assert proxy.bytes_up == 6 and bytes(echo.received[0]) == b"before"
        assert proxy.open_connections == 1 and not echo.ended[0].is_set()
        proxy.resume()
        sock.settimeout(TIMEOUT)
        assert read_exactly(sock, 6) == b"during"
        assert proxy.bytes_up == 12


def test_a_stalled_link_takes_in_little_beyond_what_it_forwarded(echo):
    """As a real link's window: a client writing into a stalled proxy is soon held back (on
    loopback the kernel would otherwise take in megabytes)."""
    with FaultProxy(echo.port) as proxy, connect(proxy) as sock:
        proxy.stall()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
        sock.setblocking(False)
        taken = 0
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                taken += sock.send(b"z" * 65536)
            except BlockingIOError:
                time.sleep(0.05)  # the kernels may still be moving bytes along: look again
                try:
                    taken += sock.send(b"z" * 65536)
                except BlockingIOError:
                    break
        assert 0 < taken < 400_000
        assert proxy.bytes_up == 0


def test_rate_spreads_the_bytes_over_time(echo):
    """At 2,000 bytes/s, 1,000 bytes each way take at least half a second (a lower bound only:
    a slow machine makes it longer, never shorter)."""
    with FaultProxy(echo.port) as proxy, connect(proxy) as sock:
        proxy.rate(2000)
        started = time.monotonic()
        sock.sendall(b"r" * 1000)
        assert read_exactly(sock, 1000) == b"r" * 1000
        assert time.monotonic() - started >= 0.45
        proxy.rate(None)
        started = time.monotonic()
        sock.sendall(b"s" * 100_000)
        assert read_exactly(sock, 100_000) == b"s" * 100_000
    with pytest.raises(ValueError):
        proxy.rate(0)


def test_close_all_drops_every_open_connection_and_keeps_listening(echo):
    with FaultProxy(echo.port) as proxy:
        first, second = connect(proxy), connect(proxy)
        for sock in (first, second):
            sock.sendall(b"hi")
            assert read_exactly(sock, 2) == b"hi"
        assert proxy.close_all() == 2
        for sock in (first, second):
            data, _ = read_until_closed(sock)
            assert data == b""
            sock.close()
        assert echo.ended_connection(0) and echo.ended_connection(1)
        with connect(proxy) as sock:
            sock.sendall(b"again")
            assert read_exactly(sock, 5) == b"again"


def test_a_stopped_proxy_refuses_connections(echo):
    with FaultProxy(echo.port) as proxy:
        port = proxy.port
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_server_that_is_down_looks_like_a_closed_connection():
    target = socket.create_server(("127.0.0.1", 0))
    port = target.getsockname()[1]
    target.close()
    with FaultProxy(port) as proxy, connect(proxy) as sock:
        data, _ = read_until_closed(sock)
        assert data == b""


def test_cut_after_checks_its_arguments(echo):
    with FaultProxy(echo.port) as proxy:
        with pytest.raises(ValueError):
            proxy.cut_after(10, direction="sideways")
        with pytest.raises(ValueError):
            proxy.cut_after(-1)
