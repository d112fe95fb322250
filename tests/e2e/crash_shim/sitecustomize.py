"""A crash for tests/e2e/test_crashes.py: the server dies after a submission is committed and
before its 201 is written.

Python imports `sitecustomize` at start-up from any folder on PYTHONPATH; the test puts this folder
there only for the server it means to crash, and this module does nothing at all unless
MUNTADA_TEST_CRASH_AFTER_COMMIT=1. Then, when `server.services.receiving` is imported, its `receive` (which
returns only once the COMMIT holding the submission has returned) is wrapped: the first time it
returns, the whole server (gunicorn master and workers, the process group `muntada serve` was
started in) is killed with SIGKILL, as a power cut would, before the view builds the response.
No product code is changed.
"""

from __future__ import annotations

import os

MARKER = "crash shim: SIGKILL after commit of"
CASE_MARKER = "crash shim: SIGKILL while applying a case update"

# MUNTADA_TEST_CRASH_IN_CASE_UPDATE=1 instead kills the server in the middle of a submission's
# transaction: once the first case version it makes is written, before its COMMIT.
_CASE_UPDATE = os.environ.get("MUNTADA_TEST_CRASH_IN_CASE_UPDATE") == "1"

if os.environ.get("MUNTADA_TEST_CRASH_AFTER_COMMIT") == "1" or _CASE_UPDATE:
    import importlib.abc
    import signal
    import sys

    _TARGET = "server.services.cases.applying" if _CASE_UPDATE else "server.services.receiving"

    def _die() -> None:
        # The whole group only when it is the server's own session (the test starts
        # `muntada serve` with start_new_session) led by `muntada serve` itself; anywhere else
        # just this process, never whoever started it.
        group = os.getpgid(0)
        try:
            with open(f"/proc/{group}/cmdline", "rb") as file:
                leader = file.read().split(b"\0")
        except OSError:
            leader = []
        # (gunicorn renames its processes when setproctitle is installed)
        serving = b"serve" in leader or leader[0].startswith(b"gunicorn: master")
        if group == os.getsid(0) and serving:
            os.killpg(group, signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    def _patch(module) -> None:
        if _CASE_UPDATE:
            write_version = module._write_version

            def write_then_die(*args, **kwargs):
                written = write_version(*args, **kwargs)  # in the transaction, not committed
                sys.stderr.write(f"{CASE_MARKER}\n")
                sys.stderr.flush()
                _die()
                return written  # never reached

            module._write_version = write_then_die
            return
        receive = module.receive

        def receive_then_die(*args, **kwargs):
            receipt = receive(*args, **kwargs)  # returns after the COMMIT
            sys.stderr.write(f"{MARKER} {receipt.instance_id}\n")
            sys.stderr.flush()
            _die()
            return receipt  # never reached

        module.receive = receive_then_die

    class _PatchingLoader(importlib.abc.Loader):
        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):  # get_source, is_package...: the real loader's
            return getattr(self.inner, name)

        def create_module(self, spec):
            return self.inner.create_module(spec)

        def exec_module(self, module) -> None:
            self.inner.exec_module(module)
            _patch(module)

    class _Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != _TARGET:
                return None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    spec.loader = _PatchingLoader(spec.loader)
                    return spec
            return None

    sys.meta_path.insert(0, _Finder())
