"""Evaluate one ``/sparql`` query and serialise its results within the endpoint's caps.

Two callers share :func:`evaluate`: the node itself (``limits.sparql_isolation = "thread"``, and
every external store) and the query worker processes of :mod:`node.sparql_pool`, which run this
file as a script. So this module imports nothing but the standard library and pyoxigraph: a
worker then costs one interpreter and the engine (≈32 MB resident, ≈13 MB of it its own, idle),
not Flask, rdflib and the node (≈80 MB).

The worker's protocol, over the socket the pool hands it (``multiprocessing.connection`` frames,
JSON headers): it says ``{"ready": true}`` once, then answers each job — a dict with the query,
its dataset, the media types, the caps and the checkpoint directory to read — with a header,
``{"ok": "solutions" | "graph"}`` then the body's bytes, or ``{"error": kind, "message": ...}``.
It opens each checkpoint with ``Store.read_only`` (the directory is never written again, so
that is safe) and closes the previous one first. It evaluates on a thread with a 64 MB stack (the
engine's parser and planner recurse on the query's structure), and it ends itself when the
node goes: end of file on its socket, or its parent pid changing (checked every 0.2 s by a
thread; the engine releases the GIL while it evaluates, so even a runaway query cannot hide
the parent's death from it).
"""
from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
import time

import pyoxigraph as ox

QRF = ox.QueryResultsFormat
STACK = 64 * 1024 * 1024  # evaluation threads: recursion in the engine stays far from the end
MAX_OUTPUT_BYTES = 256 * 1024 * 1024  # one answer's serialised size: buffered in the worker and the node


class Refused(Exception):
    """The query ran, but its answer is not given: ``kind`` says why (a cap, a format, time)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _Sink(io.BytesIO):
    """Output of native serialisation: counts TSV lines (one per solution, so SELECT needs no
    Python loop over rows), bytes, and the deadline (thread mode only) at every chunk."""

    def __init__(self, cap: int, max_bytes: int, deadline: float | None, lines: bool):
        super().__init__()
        self.cap, self.max_bytes, self.deadline, self.lines = cap, max_bytes, deadline, 0 if lines else None

    def write(self, chunk) -> int:
        chunk = bytes(chunk)
        if self.lines is not None:
            self.lines += chunk.count(b"\n")
            if self.lines - 1 > self.cap:
                raise Refused("result-cap", f"the query returned more than {self.cap} results")
        if self.tell() + len(chunk) > self.max_bytes:
            raise Refused("too-large", f"the answer is larger than {self.max_bytes // 2**20} MB")
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise Refused("timeout", "the query ran past its time budget")
        return super().write(chunk)


def evaluate(store, job: dict, deadline: float | None = None) -> tuple[bytes, str]:
    """Run ``job["query"]`` on ``store`` (``node.store.Store``'s ``query`` signature) and
    serialise natively in ``job["solutions"]`` or ``job["graph"]`` (pyoxigraph media types);
    the bytes, and which of the two they are ("solutions" or "graph").

    SELECT goes to TSV through :class:`_Sink` and is transcoded (lossless, ≈2 µs a row):
    pyoxigraph cannot build solutions from a Python iterator. ``deadline`` makes evaluation
    stop itself at its next output chunk past it; worker processes get none (they are killed)."""
    cap, max_bytes = int(job["max_results"]), int(job.get("max_bytes") or MAX_OUTPUT_BYTES)
    if job.get("union"):  # a public checkpoint, and the whole dataset: one lookup per pattern, not per graph
        results = store.query(job["query"], union=True, base_iri=job["base_iri"])
    else:
        results = store.query(job["query"], default_graph=job["default_graph"], named_graphs=job["named_graphs"],
                              base_iri=job["base_iri"])
    if isinstance(results, (ox.QueryBoolean, ox.QuerySolutions)):
        if job["solutions"] is None:
            raise Refused("not-acceptable", "solutions")
        fmt = QRF.from_media_type(job["solutions"])
        if isinstance(results, ox.QueryBoolean):
            return results.serialize(format=fmt), "solutions"
        tsv = _Sink(cap, max_bytes, deadline, lines=True)
        results.serialize(tsv, format=QRF.TSV)
        if fmt == QRF.TSV:
            return tsv.getvalue(), "solutions"
        out = _Sink(cap, max_bytes, deadline, lines=False)
        ox.parse_query_results(tsv.getvalue(), format=QRF.TSV).serialize(out, format=fmt)
        return out.getvalue(), "solutions"
    if job["graph"] is None:
        raise Refused("not-acceptable", "triples")
    out = _Sink(cap, max_bytes, deadline, lines=False)
    ox.serialize(_capped(results, cap, deadline), out, format=ox.RdfFormat.from_media_type(job["graph"]),
                 prefixes=job.get("prefixes") or {})
    return out.getvalue(), "graph"


def _capped(triples, cap: int, deadline: float | None):
    for n, triple in enumerate(triples, 1):
        if n > cap:
            raise Refused("result-cap", f"the query returned more than {cap} results")
        if deadline is not None and time.monotonic() > deadline:
            raise Refused("timeout", "the query ran past its time budget")
        yield triple


def describe(e: BaseException) -> dict:
    """An evaluation error as the header a worker sends (and the thread runner raises as is)."""
    if isinstance(e, Refused):
        return {"error": e.kind, "message": str(e)}
    if isinstance(e, SyntaxError):
        return {"error": "syntax", "message": str(e)}
    if isinstance(e, TimeoutError):  # an external store that did not answer in store.timeout_s
        return {"error": "timeout", "message": str(e)}
    if isinstance(e, OSError):  # pyoxigraph: I/O, including a SERVICE call that failed
        return {"error": "os", "message": str(e)}
    if isinstance(e, RuntimeError):  # pyoxigraph: evaluation errors
        return {"error": "runtime", "message": str(e)}
    return {"error": "internal", "message": f"{type(e).__name__}: {e}"}


class ReadOnly:
    """A checkpoint opened read-only, behind ``node.store.Store.query``'s signature."""

    def __init__(self, path: str):
        self._store = ox.Store.read_only(path)

    def query(self, sparql: str, *, default_graph: list[str] | None = None, named_graphs: list[str] | None = None,
              base_iri: str | None = None, union: bool = False):
        if union:
            return self._store.query(sparql, use_default_graph_as_union=True, base_iri=base_iri)
        return self._store.query(sparql, default_graph=[ox.NamedNode(g) for g in default_graph or []],
                                 named_graphs=[ox.NamedNode(g) for g in named_graphs or []], base_iri=base_iri)


def _serve(conn) -> None:
    store, opened = None, None
    conn.send_bytes(b'{"ready": true}')
    while True:
        try:
            job = json.loads(conn.recv_bytes())
        except (EOFError, OSError):  # the node closed the socket, or is gone
            return
        try:
            if job["checkpoint"] != opened:
                store, opened = None, None  # close the old checkpoint first: the pool may delete it
                store, opened = ReadOnly(job["checkpoint"]), job["checkpoint"]
            body, kind = evaluate(store, job)
        except Exception as e:  # noqa: BLE001 — every failure goes back to the node as a header
            header = describe(e)
            if header["error"] == "internal":
                import traceback
                traceback.print_exc()
            conn.send_bytes(json.dumps(header).encode())
            continue
        conn.send_bytes(json.dumps({"ok": kind, "rss": _rss()}).encode())
        conn.send_bytes(body)


def _rss() -> int:
    """This process's resident memory in bytes (the pool retires a worker grown too big: memory
    a big sort or join took is rarely given back to the system)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the peak, in KB on Linux


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)  # the node died (even by SIGKILL): its query workers go with it


def main(argv: list[str]) -> None:
    """``python -P sparql_worker.py FD PARENT_PID``: serve jobs on socket FD until it closes."""
    from multiprocessing.connection import Connection
    fd, parent = int(argv[1]), int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is for the node, which stops us
    threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()
    threading.stack_size(STACK)
    serve = threading.Thread(target=_serve, args=(Connection(fd),), name="sparql-worker")
    serve.start()
    serve.join()


if __name__ == "__main__":
    main(sys.argv)
