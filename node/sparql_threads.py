"""``/sparql`` evaluation in the node's own threads: ``limits.sparql_isolation = "thread"``,
an in-memory store, and always on an external store (``store.kind = "sparql"``).

On the external store the query runs in the SPARQL server and the thread only waits for its
HTTP answer: the request answers 503 at ``limits.sparql_timeout_s``, the thread (and its slot)
is free at ``store.timeout_s``, and the server's CPU is the server's business — the protocol has
no way to cancel a query. Measured: ``oxigraph serve --timeout-s`` (0.5.13) stops neither a
query that produces no rows nor one that streams, so behind it a runaway query keeps one of the
server's cores until it ends (deploy/README.md says so).

On the embedded store it is the old trade-off, kept for a node that cannot start processes:
the engine cannot be cancelled (it releases the GIL), so the request answers 503 at the
deadline and evaluation stops itself at its next output chunk past it — but one that never
produces a row runs to its end on one core, holding its slot: at most ``size`` evaluations run
at once, abandoned ones included.
"""
from __future__ import annotations

import logging
import threading
import time

from .sparql_pool import Busy, Timeout
from .sparql_worker import STACK, describe, evaluate

log = logging.getLogger(__name__)
_STACK_LOCK = threading.Lock()


class Threads:
    def __init__(self, store, size: int):
        self.store, self.slots = store, threading.BoundedSemaphore(max(1, int(size)))

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def pids(self) -> list[int]:
        return []

    def run(self, job: dict, deadline: float) -> tuple[dict, bytes | None]:
        """Same contract as :meth:`node.sparql_pool.Pool.run`."""
        if not self.slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise Busy()
        result: list = []
        done = threading.Event()

        def work():
            try:
                body, kind = evaluate(self.store, job, deadline)
                result.append(({"ok": kind}, body))
            except Exception as e:  # noqa: BLE001 — handed to the request thread as a header
                header = describe(e)
                if header["error"] == "internal":
                    log.exception("SPARQL evaluation failed")
                result.append((header, None))
            finally:
                self.slots.release()
                done.set()
        with _STACK_LOCK:  # the stack size applies to threads started while it is set
            previous = threading.stack_size(STACK)
            try:
                threading.Thread(target=work, name="sparql-query", daemon=True).start()
            finally:
                threading.stack_size(previous)
        if not done.wait(max(0.0, deadline - time.monotonic())):
            raise Timeout()
        return result[0]
