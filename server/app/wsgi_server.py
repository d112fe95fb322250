"""`muntada serve`: gunicorn with several worker processes, never Flask's development server."""

from __future__ import annotations

import gc
import os
import re
import select

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.workers.gthread import ThreadWorker

_MEMORY_DIR = "/dev/shm"
# How long a thread that has just answered waits for the same connection's next request
_NEXT_REQUEST_SECONDS = 0.02
_TOKEN_IN_PATH = re.compile(r"(/collect/key/)[^/?\s]+")


class _RedactingLogger(Logger):
    """The access log without app users' tokens: a token in a log file is a phone's password.
    Its line is gunicorn's default format, which nobody can change here (the server reads no
    gunicorn configuration), so only the atoms that format shows are built: gunicorn's own
    `atoms` also turns every header and environ variable into one, for every request."""

    def atoms(self, resp, req, environ, request_time):
        status = resp.status
        sent = getattr(resp, "sent", None)
        uri = _TOKEN_IN_PATH.sub(r"\1…", environ["RAW_URI"])
        return {
            "h": environ.get("REMOTE_ADDR", "-"),
            "l": "-",
            "u": self._get_user(environ) or "-",
            "t": self.now(),
            "r": f"{environ['REQUEST_METHOD']} {uri} {environ['SERVER_PROTOCOL']}",
            "s": status.split(None, 1)[0] if isinstance(status, str) else status,
            "b": str(sent) if sent is not None else "-",
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
        }


class BalancedThreadWorker(ThreadWorker):
    """gthread, with two changes.

    A worker takes a new connection only while one of its threads is free. Otherwise whichever
    worker wakes first accepts every phone that connects at once and keeps them (keep-alive):
    one process, one core, while the others idle. Waiting connections stay in the kernel's
    queue until a thread anywhere is free; kept-alive ones are unaffected.

    A thread that has answered waits a moment for the connection's next request (a phone
    sends its queue one submission after another) and serves it itself, while no other
    connection of the worker waits for a thread. Handing the connection back to the main
    thread's poller, to be woken and handed out again, cost every request two thread switches.
    """

    busy = 0  # connections handed to the thread pool, not yet finished

    def handle(self, conn):
        keepalive = super().handle(conn)
        while keepalive is True and self.alive and not conn.is_http2 \
                and self.busy <= self.cfg.threads and self._next_request_comes(conn):
            keepalive = super().handle(conn)
        return keepalive

    @staticmethod
    def _next_request_comes(conn) -> bool:
        if conn.parser.unreader.buf.getvalue():  # already read ahead
            return True
        poll = select.poll()
        poll.register(conn.sock, select.POLLIN)
        return bool(poll.poll(_NEXT_REQUEST_SECONDS * 1000))

    def enqueue_req(self, conn):
        self.busy += 1
        super().enqueue_req(conn)

    def finish_request(self, conn, fs):
        self.busy -= 1
        super().finish_request(conn, fs)

    def wait_for_and_dispatch_events(self, timeout):
        self.set_accept_enabled(self.nr_conns < self.worker_connections
                                and self.busy < self.cfg.threads)
        super().wait_for_and_dispatch_events(timeout)


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from server.app import create_app

        app = create_app()
        # What a worker holds from its start (modules, the app) lives as long as the worker:
        # kept out of the collector's way, a full collection does not walk it every time.
        gc.freeze()
        return app


def run(*, host: str, port: int, workers: int, trust_proxy: bool) -> None:
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        # threads: a phone uploading slowly over 2G must not hold a whole worker
        "worker_class": "server.app.wsgi_server.BalancedThreadWorker",
        "threads": 4,
        "timeout": 120,
        "graceful_timeout": 30,
        "accesslog": "-",
        "errorlog": "-",
        "logger_class": _RedactingLogger,
        # X-Forwarded-Proto would otherwise make a plain-HTTP request look like HTTPS (and
        # let Basic passwords cross in clear); only MUNTADA_TRUST_PROXY opens that door.
        "forwarded_allow_ips": "127.0.0.1" if trust_proxy else "",
        # one control socket per user would be shared (and deleted) by every server running
        "control_socket_disable": True,
        # Each worker touches its heartbeat file between requests: on the disk, those are
        # metadata writes that the database's next fsync must carry as well (gunicorn's own
        # advice is a memory-backed folder).
        "worker_tmp_dir": _MEMORY_DIR if os.path.isdir(_MEMORY_DIR) else None,
    }).run()
