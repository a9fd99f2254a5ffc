"""The store layer: one narrow interface over pyoxigraph on disk.

Everything the node keeps is RDF in named graphs of one store (see :class:`Graphs`). The
interface is deliberately small — SPARQL query, SPARQL update, bulk load, dump, count — so that
an external SPARQL 1.1 server (Query, Update and Graph Store protocols) can stand behind it
for the scale-out path without the rest of the node noticing.

Atomicity comes from the engine: each ``update`` and each ``load`` is one transaction, so a
write either fully lands or not at all, even if the process dies in between.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox


class QueryTimeout(Exception):
    """A query ran past its time budget."""


class ResultCapExceeded(Exception):
    """A query produced more results than the configured cap."""


@dataclass(frozen=True)
class Graphs:
    """The named graphs of a node, minted under its base URL."""

    base: str

    @property
    def data(self) -> str:  # the node's own published data
        return f"{self.base}/graph/data"

    @property
    def feed(self) -> str:  # the change feed (LDES members), kept apart from the data
        return f"{self.base}/graph/feed"

    @property
    def vocab(self) -> str:  # the shared vocabulary and concept schemes, for labels and broader
        return f"{self.base}/graph/vocab"

    @property
    def index(self) -> str:  # a hub's cooperation index: its current run, which names the run's graph
        return f"{self.base}/graph/index"

    def index_run(self, run_id: str) -> str:  # the opportunities of one index run
        return f"{self.base}/graph/index/{run_id}"

    @property
    def sync(self) -> str:  # a hub's harvest state and provenance
        return f"{self.base}/graph/sync"

    def peer(self, peer_id: str) -> str:
        return f"{self.base}/graph/peer/{peer_id}"


def _graph_node(graph: str | None):
    return ox.DefaultGraph() if graph is None else ox.NamedNode(graph)


class Store:
    """An embedded pyoxigraph store in a directory (or in memory when ``path`` is None)."""

    def __init__(self, path: str | Path | None):
        if path is not None:
            Path(path).mkdir(parents=True, exist_ok=True)
            self._store = ox.Store(str(path))
        else:
            self._store = ox.Store()
        self.path = path
        self.write_lock = threading.RLock()  # held across read-then-write sequences
        # counts writes (every write method calls _wrote() once it is done): a /sparql worker's
        # checkpoint of the store is current while the generation it was made at is
        self.generation = 0
        self._generation_lock = threading.Lock()  # not every writer holds write_lock

    # -- reads -------------------------------------------------------------------------------
    def query(self, sparql: str, *, default_graph: list[str] | None = None,
              named_graphs: list[str] | None = None, union: bool = False, base_iri: str | None = None):
        """Run a SPARQL query; returns pyoxigraph's lazy results (solutions, triples or bool).

        ``default_graph`` lists the named graphs whose union is the query's default graph;
        ``named_graphs`` limits what ``GRAPH`` can reach; ``union`` makes every graph the
        default one.
        """
        kwargs = {}
        if default_graph is not None:
            kwargs["default_graph"] = [ox.NamedNode(g) for g in default_graph]
        if named_graphs is not None:
            kwargs["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
        return self._store.query(sparql, use_default_graph_as_union=union, base_iri=base_iri, **kwargs)

    def count(self, graph: str | None = None) -> int:
        where = f"GRAPH <{graph}> {{ ?s ?p ?o }}" if graph else "GRAPH ?g { ?s ?p ?o }"
        return int(next(iter(self._store.query(f"SELECT (COUNT(*) AS ?n) {{ {where} }}")))["n"].value)

    def count_at_most(self, graph: str | None, limit: int) -> int:
        """How many quads ``graph`` (None: the default graph) has, counting no further than
        ``limit``: a cost bounded whatever the graph's size."""
        found = self._store.query(f"SELECT (COUNT(*) AS ?n) {{ SELECT * {{ ?s ?p ?o }} LIMIT {int(limit)} }}",
                                  default_graph=_graph_node(graph))
        return int(next(iter(found))["n"].value)

    def named_graphs(self) -> list[str]:
        return [g.value for g in self._store.named_graphs()]

    def dump(self, fmt: ox.RdfFormat, graph: str | None = None) -> bytes:
        """Serialise one graph (triple formats) or the whole store (quad formats) natively."""
        if graph is None:
            return self._store.dump(format=fmt)
        g = ox.NamedNode(graph)
        if fmt.supports_datasets:  # keep the graph name in N-Quads / TriG
            return ox.serialize(self._store.quads_for_pattern(None, None, None, g), format=fmt)
        return self._store.dump(format=fmt, from_graph=g)

    # -- writes ------------------------------------------------------------------------------
    def update(self, sparql: str) -> None:
        """Apply a SPARQL update as one transaction."""
        with self.write_lock:
            try:
                self._store.update(sparql)
            finally:
                self._wrote()

    def load(self, data: bytes, fmt: ox.RdfFormat, graph: str, base_iri: str | None = None) -> None:
        """Load a serialisation into ``graph`` in one transaction, through the native parser."""
        with self.write_lock:
            try:
                self._store.load(data, format=fmt, to_graph=ox.NamedNode(graph), base_iri=base_iri)
            finally:
                self._wrote()

    def replace_graph(self, graph: str, quads_nt: bytes) -> None:
        """Atomically replace a whole graph with N-Triples (a harvest, an index run)."""
        self.update(f"DROP SILENT GRAPH <{graph}> ;\nINSERT DATA {{ GRAPH <{graph}> {{\n"
                    + quads_nt.decode("utf-8") + "\n} }")

    def load_new_graph(self, graph: str, chunks: Iterable[bytes], fmt: ox.RdfFormat, *,
                       lenient: bool = False) -> None:
        """Fill a graph nobody reads yet with pyoxigraph's bulk loader (several times faster than
        a transaction, but not atomic: a crash leaves part of the graph). Callers publish the graph
        afterwards with one small :meth:`update` and remove leftovers of interrupted loads. No
        write lock: nobody else reads or writes that graph, so other writes go on meanwhile.

        ``chunks`` may be a generator that computes the data: chunks are bulk-loaded by other
        threads while the caller's thread makes the next one (the loader releases the GIL) —
        one at a time while the caller works, two at once when it is done, so both cores load.
        ``lenient``: only for data serialised from terms the store parsed (no IRI check)."""
        permits = threading.Semaphore(1)

        def load(chunk: bytes) -> None:
            with permits:
                try:
                    self._store.bulk_load(chunk, format=fmt, to_graph=ox.NamedNode(graph), lenient=lenient)
                finally:
                    self._wrote()

        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="bulk-load") as pool:
            pending: list[Future] = []
            try:
                for chunk in chunks:
                    for done in [f for f in pending if f.done()]:
                        done.result()  # a failed load stops the production
                        pending.remove(done)
                    pending.append(pool.submit(load, chunk))
            finally:
                permits.release()
                for f in pending:
                    f.result()

    def drop_unread_graph(self, graph: str) -> None:
        """Drop a graph no reader sees and no other writer touches (an unpublished index run)
        without the write lock, so that other writes are not held up while it lasts."""
        try:
            self._store.update(f"DROP SILENT GRAPH <{graph}>")
        finally:
            self._wrote()

    def _wrote(self) -> None:
        with self._generation_lock:
            self.generation += 1

    def flush(self) -> None:
        if self.path is not None:
            self._store.flush()

    def checkpoint(self, target: str | Path) -> int:
        """Make a RocksDB checkpoint of the store in the new directory ``target`` (hard links to
        the immutable table files, so cheap; same file system as the store) and return the
        write generation it has everything of. The engine flushes its memtables into it, so
        every write committed before the call is in it (tests/test_sparql.py checks); a write
        running meanwhile may be in it too, which only makes it newer than it says.
        Opening it with ``pyoxigraph.Store.read_only`` in another process is safe: unlike the
        store itself, nobody writes there again."""
        if self.path is None:
            raise ValueError("an in-memory store has no checkpoints")
        generation = self.generation
        self._store.backup(str(target))
        return generation

    def close(self) -> None:
        self.flush()
        del self._store

    def bulk_add(self, data: bytes, fmt: ox.RdfFormat, lenient: bool = False) -> None:
        """Add the quads of ``data`` (N-Quads, TriG: each quad says its graph) with pyoxigraph's
        bulk loader — a hub's first harvest of a peer (:func:`sync.apply.commit`). Why: about 3×
        the speed of a transaction, and nothing stays in memory (a transaction's quads sit in the
        engine's memtables, ≈ 1 KB each, until a flush). Atomic in pyoxigraph 0.5: the loader
        writes its table files aside and ingests them all in one step at the end (a process
        killed during a 2.5-million-quad load leaves nothing visible: checked). Adds only; the
        caller removes what the quads replace beforehand and is the graphs' only writer.
        ``lenient`` skips checking IRIs again (≈ 20 % faster): only for data this process
        serialised itself from terms pyoxigraph had parsed."""
        with self.write_lock:
            try:
                self._store.bulk_load(data, format=fmt, lenient=lenient)
            finally:
                self._wrote()


def iterate_with_limits(results, *, timeout_s: float, max_rows: int):
    """Yield results lazily, stopping with a clear error past the time budget or the row cap.

    Evaluation in pyoxigraph is lazy, so checking between rows bounds most runaway queries
    (cross joins, unbounded paths). A single row that takes longer than the budget is only
    noticed once it is produced — the known limit of an embedded engine without cancellation.
    """
    deadline = time.monotonic() + timeout_s
    for n, row in enumerate(results, 1):
        if n > max_rows:
            raise ResultCapExceeded(f"the query returned more than {max_rows} results")
        if time.monotonic() > deadline:
            raise QueryTimeout(f"the query ran longer than {timeout_s:g} s")
        yield row


def open_store(config: dict) -> Store:
    """The store the configuration asks for (embedded by default)."""
    kind = config["store"]["kind"]
    if kind == "embedded":
        return Store(Path(config["node"]["data_dir"]) / "store")
    if kind == "sparql":
        from .remote_store import RemoteStore  # scale-out path, see DESIGN.md "Stores and scale"
        # the write lock's file lives with the node, so the service and the CLI share it
        return RemoteStore({"lock_file": str(Path(config["node"]["data_dir"]) / "store.lock"), **config["store"]})
    raise ValueError(f"store.kind must be 'embedded' or 'sparql', got {kind!r}")


_PROV_GENERATED = "http://www.w3.org/ns/prov#wasGeneratedBy"


def current_index_graph(store, graphs: Graphs) -> str | None:
    """The graph of the index run that is published now (named in the index graph), if any."""
    found = list(store.query(f"SELECT ?g {{ GRAPH <{graphs.index}> {{ ?g <{_PROV_GENERATED}> ?run }} }} LIMIT 1"))
    return found[0][0].value if found else None


def readable_graphs(store, graphs: Graphs) -> list[str]:
    """The graphs a public read sees: everything but the feed, the harvest state, and index runs
    other than the published one (a run being loaded, or an old one not removed yet)."""
    runs = graphs.index_run("")
    names = [g for g in store.named_graphs() if g not in (graphs.feed, graphs.sync)]
    if not any(g.startswith(runs) for g in names):
        return names
    current = current_index_graph(store, graphs)
    return [g for g in names if not g.startswith(runs) or g == current]
