"""Worker processes that evaluate the public ``/sparql`` queries, killable at the deadline.

Why processes: pyoxigraph cannot cancel a query. In a thread, a query that never produces a row
(a COUNT over a cross product) runs to its end on one core, and a few anonymous requests keep
every slot busy for minutes. A process can be killed: at ``limits.sparql_timeout_s`` the
request answers 503, its worker gets SIGKILL (its core is free at once) and a replacement starts.

* ``size`` workers (``limits.sparql_max_concurrent``, default the CPU count) are started once,
  in the background, when the first query comes (it waits ≈0.3–0.5 s for the first one ready),
  then kept: a trivial query costs ≈0.6 ms through a worker (a thread with a 64 MB stack per
  query cost ≈0.4–3 ms), and a killed worker's replacement is ready (checkpoint open)
  ≈0.2–0.3 s later; a query meanwhile waits for it.
  Each evaluates one query at a time; a request waits for an idle one until its deadline (then
  503 "busy" with Retry-After, as the thread slots did).
* Started as ``python -P node/sparql_worker.py``: a fresh interpreter (fork + exec, what the
  ``spawn`` start method does too — never a bare fork of this threaded process), which imports
  only pyoxigraph. It reads a checkpoint of the store (:mod:`node.sparql_checkpoints`), made
  when a query comes after a write, so each query sees every write committed before it.
* The worker serialises the answer itself, in the negotiated format, within
  ``limits.sparql_max_results`` and :data:`node.sparql_worker.MAX_OUTPUT_BYTES`, and sends
  the bytes back; an engine crash (a stack overflow…) now takes one worker, not the node.
  Memory a big query took stays with its worker (≈32 MB idle, >100 MB after an ORDER BY over
  300 k triples): one that holds more than :data:`RETIRE_RSS` afterwards is replaced.
* Workers end with the node: :meth:`Pool.close` (at exit, or by its owner) kills them, and each
  one watches its socket and its parent pid, so even a SIGKILL of the node leaves no orphan.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from . import sparql_worker
from .sparql_checkpoints import Checkpoints

log = logging.getLogger(__name__)
START_TIMEOUT_S = 30.0  # a worker that does not say "ready" by then is killed and tried again
RETIRE_RSS = 512 * 2**20  # a worker that holds more memory after a query is replaced (≈32 MB idle)
WARM_UP = {"query": "ASK {}", "default_graph": [], "named_graphs": [], "base_iri": None, "max_results": 1,
           "solutions": "application/sparql-results+json", "graph": None}


class Busy(Exception):
    """No worker became idle before the deadline."""


class Timeout(Exception):
    """The query ran past its deadline; its worker was killed."""


class Crashed(Exception):
    """The worker died while evaluating (or could not be reached)."""


@dataclass(eq=False)
class _Worker:
    proc: subprocess.Popen
    conn: Connection
    checkpoint: Path | None = None  # the one it has open, which it holds


class Pool:
    def __init__(self, store, size: int, folder: str | Path, graphs=None):
        self.size = max(1, int(size))
        self.checkpoints = Checkpoints(store, folder, graphs)
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._workers: set[_Worker] = set()  # every live worker, idle or busy
        self._lock = threading.Lock()
        self._started = self._closed = False
        self._ready = threading.Event()  # a first worker is ready (or none could start)

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers in the background (idempotent); the first job waits for one."""
        if self._started:  # every query calls this: the common case takes no lock
            return
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
        atexit.register(_close_at_exit, weakref.ref(self))
        for _ in range(self.size):
            self._replace()

    def close(self) -> None:
        """Kill every worker and remove the checkpoints; queries after this raise :class:`Busy`."""
        with self._lock:
            self._closed = True
            workers, self._workers = list(self._workers), set()
        for w in workers:
            _kill(w)
        self.checkpoints.close()
        self._ready.set()

    def pids(self) -> list[int]:
        with self._lock:
            return [w.proc.pid for w in self._workers]

    def _replace(self) -> None:
        threading.Thread(target=self._spawn, name="sparql-worker-start", daemon=True).start()

    def _spawn(self) -> None:
        """Start one worker and put it in the idle queue once it said it is ready."""
        for attempt in range(6):
            if self._closed:
                return
            ours, theirs = socket.socketpair()
            try:
                proc = subprocess.Popen([sys.executable, "-P", sparql_worker.__file__, str(theirs.fileno()),
                                         str(os.getpid())], pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                                        stdout=sys.stderr.fileno() if _has_fd(sys.stderr) else None)
            except OSError:
                log.exception("cannot start a SPARQL worker process")
                ours.close()
                time.sleep(min(30, 2 ** attempt))
                continue
            finally:
                theirs.close()
            worker = _Worker(proc, Connection(ours.detach()))
            with self._lock:
                if self._closed:
                    _kill(worker)
                    return
                self._workers.add(worker)
            try:
                if worker.conn.poll(START_TIMEOUT_S) and json.loads(worker.conn.recv_bytes()).get("ready") \
                        and self._warm_up(worker):
                    self._idle.put(worker)
                    self._ready.set()
                    return
            except (EOFError, OSError, ValueError):
                pass
            self._discard(worker)
            if self._closed:
                return
            log.error("a SPARQL worker process did not start (exit status %s); trying again", proc.poll())
            time.sleep(min(30, 2 ** attempt))
        log.error("gave up starting a SPARQL worker process: the endpoint has one worker fewer")
        self._ready.set()  # so that queries do not wait for it

    def _warm_up(self, worker: _Worker) -> bool:
        """A first job, so that the worker has the current checkpoint open (≈20–60 ms) and has
        shown it can answer before any request waits for it."""
        try:
            worker.checkpoint = self.checkpoints.current(None)
        except Exception:  # noqa: BLE001 — the store's fault, not the worker's: a query will say so
            log.warning("no checkpoint of the store for a new SPARQL worker", exc_info=True)
            return True
        worker.conn.send_bytes(json.dumps({**WARM_UP, "checkpoint": str(worker.checkpoint)}).encode())
        if not worker.conn.poll(START_TIMEOUT_S):
            return False
        header = json.loads(worker.conn.recv_bytes())
        if header.get("ok"):
            worker.conn.recv_bytes()
            return True
        log.error("a new SPARQL worker failed its first query: %s", header.get("message"))
        return False

    def _discard(self, worker: _Worker) -> None:
        """Kill a worker and forget it (and its hold on a checkpoint)."""
        with self._lock:
            self._workers.discard(worker)
        _kill(worker)
        self.checkpoints.release(worker.checkpoint)

    # -- jobs ----------------------------------------------------------------------------------
    def run(self, job: dict, deadline: float) -> tuple[dict, bytes | None]:
        """Evaluate ``job`` (see :func:`node.sparql_worker.evaluate`) in a worker: its header
        (``{"ok": "solutions" | "graph"}`` or ``{"error": kind, "message": ...}``) and the answer's
        bytes (None after an error). Raises :class:`Busy`, :class:`Timeout`, :class:`Crashed`.

        The pool's start-up (the first query's wait for a first worker) does not count against
        ``deadline``: it is no fault of the query's, and a small budget would refuse it."""
        if not self._ready.is_set():
            waited = time.monotonic()
            self.start()
            self._ready.wait(START_TIMEOUT_S)
            deadline += time.monotonic() - waited
        worker = self._checkout(deadline)
        try:
            worker.checkpoint = self.checkpoints.current(worker.checkpoint)
        except BaseException:  # the store could not be checkpointed (disk full…): the worker is fine
            self._idle.put(worker)
            raise
        try:
            union = job.get("all_graphs") and worker.checkpoint in self.checkpoints.public
            job = {**job, "checkpoint": str(worker.checkpoint), "union": bool(union)}
            worker.conn.send_bytes(json.dumps(job).encode())
            if not worker.conn.poll(max(0.0, deadline - time.monotonic())):
                raise Timeout()
            header = json.loads(worker.conn.recv_bytes())
            body = worker.conn.recv_bytes() if header.get("ok") else None
        except Timeout:
            self._lose(worker)
            raise
        except (EOFError, OSError, ValueError) as e:
            status = self._lose(worker)
            raise Crashed(f"exit status {status}" if status is not None else str(e)) from None
        except BaseException:
            self._lose(worker)
            raise
        if header.get("rss", 0) > RETIRE_RSS:
            self._lose(worker)
        else:
            self._idle.put(worker)
        return header, body

    def _checkout(self, deadline: float) -> _Worker:
        self.start()
        while True:
            try:
                worker = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise Busy() from None
            # an idle worker never writes: anything to read (EOF) means it died, even before its
            # process is reaped
            if worker.proc.poll() is None and not worker.conn.poll(0):
                return worker
            self._lose(worker)  # died while idle (killed from outside): replace it, try another

    def _lose(self, worker: _Worker) -> int | None:
        """Kill ``worker`` (SIGKILL frees its core at once) and start its replacement."""
        self._discard(worker)
        if not self._closed:
            self._replace()
        return worker.proc.returncode


def _kill(worker: _Worker) -> None:
    if worker.proc.poll() is None:
        worker.proc.kill()
    worker.conn.close()
    threading.Thread(target=worker.proc.wait, name="sparql-worker-reap", daemon=True).start()


def _has_fd(stream) -> bool:
    try:
        stream.fileno()
        return True
    except (AttributeError, OSError, ValueError):
        return False


def _close_at_exit(ref) -> None:
    pool = ref()
    if pool is not None:
        pool.close()
