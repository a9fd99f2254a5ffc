"""Point-in-time copies of the embedded store for the ``/sparql`` worker processes.

Why copies: pyoxigraph opens a store read-only in a second process, but doing so while the
node writes it is undefined behaviour (its own words), and the node writes (imports, API,
harvests). A RocksDB checkpoint (:meth:`node.store.Store.checkpoint`) is a directory nobody
writes again — hard links to the store's immutable table files plus a copied manifest — so
any number of workers may open it read-only. Making one flushes the memtables first, which is
what makes every committed write visible in it. Measured (2 shared cores, pyoxigraph 0.5.13):
2–11 ms with nothing new; ≈25–35 ms after a small write, from 100 k to 2 M triples (hard links:
the size hardly matters); ≈1.9 s right after a 200 k-triple import (the flush of all of it, which
the engine would otherwise do in the background). A worker then opens it in ≈20–35 ms.

So a checkpoint is made lazily: when a query is dispatched and the store's write
``generation`` moved since the current one. Each worker holds the one it has open; a
checkpoint that is no longer current is deleted as soon as no worker holds it (at most
pool size + 1 exist, and their extra disk use is only the table files the live store has
compacted away since). The folder is emptied when the node starts and when it stops.

Public copies. The endpoint's dataset is every readable graph (:func:`node.store.readable_graphs`:
all but the feed, the harvest state and unpublished index runs). Passed as a list of default
graphs, pyoxigraph looks each triple pattern up once per graph: on a hub with 250 peer graphs,
queries ran 80-90× slower than on the union of all graphs (P4 in docs/benchmarks.md). So each
new checkpoint is made *public* when that is cheap: the graphs the endpoint hides are dropped
from the copy (it is the copy's own write, never the live store's), and workers may then use
the union of all its graphs. Cheap means the hidden graphs hold at most :data:`PUBLIC_MAX_HIDDEN`
quads, and only where there are many graphs (:data:`PUBLIC_MIN_GRAPHS`): a hub (its feed covers
only its own few entities), not a regional node (two readable graphs; its feed holds every
version of its data), nor a hub while an old index run's graph is still being removed.
"""
from __future__ import annotations

import secrets
import shutil
import threading
from pathlib import Path

from .store import Graphs, Store, readable_graphs

PUBLIC_MAX_HIDDEN = 20_000  # quads: dropping them costs ≈ 1 s per new checkpoint at most
PUBLIC_MIN_GRAPHS = 5  # fewer readable graphs than this: the list costs little, keep the copy as it is


def make_public(path: Path, graphs: Graphs) -> bool:
    """Drop from the checkpoint at ``path`` every graph the endpoint hides, if they are small;
    whether its union of graphs is now exactly the endpoint's dataset."""
    st = Store(path)
    try:
        if st.count_at_most(None, 1):
            return False  # nothing is written to the default graph; if something was, keep it out
        public = set(readable_graphs(st, graphs))
        if len(public) < PUBLIC_MIN_GRAPHS:
            return False
        hidden = [g for g in st.named_graphs() if g not in public]
        if sum(st.count_at_most(g, PUBLIC_MAX_HIDDEN + 1) for g in hidden) > PUBLIC_MAX_HIDDEN:
            return False
        if hidden:
            st.update(" ;\n".join(f"DROP SILENT GRAPH <{g}>" for g in hidden))
        return True
    finally:
        st.close()


class Checkpoints:
    def __init__(self, store, folder: str | Path, graphs: Graphs | None = None):
        self.store, self.folder, self.graphs = store, Path(folder), graphs
        self.public: set[Path] = set()  # checkpoints whose union of graphs is the endpoint's dataset
        # A previous run's, killed before it cleaned. (Only one process opens an embedded store, but
        # an app whose store was closed without closing the app — tests, command lines — may still
        # hold a pool: names are unique, and a checkpoint deleted under it is made again.)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._current: Path | None = None
        self._generation = -1
        self._holders: dict[Path, int] = {}
        self._serial = 0
        self._closed = False

    def current(self, held: Path | None) -> Path:
        """The checkpoint that has every write committed so far, for a worker that holds
        ``held`` (or nothing): its hold moves to the returned one."""
        with self._lock:  # one checkpoint at a time; a query that waited here finds it made
            if self._closed:
                raise OSError("the SPARQL worker pool is closed")
            if self._current is None or self.store.generation != self._generation or not self._current.exists():
                self._serial += 1
                path = self.folder / f"{self._serial}-{secrets.token_hex(4)}"  # unique: see __init__
                try:
                    self._generation = self.store.checkpoint(path)
                    if self.graphs is not None and make_public(path, self.graphs):
                        self.public.add(path)
                except BaseException:
                    shutil.rmtree(path, ignore_errors=True)
                    raise
                previous, self._current = self._current, path
                self._holders[path] = 0
                if previous is not None:
                    self._forget(previous)
            if held == self._current:
                return held
            self._holders[self._current] += 1
            if held is not None:
                self._release(held)
            return self._current

    def release(self, held: Path | None) -> None:
        """A worker that held ``held`` is gone."""
        if held is not None:
            with self._lock:
                self._release(held)

    def _release(self, held: Path) -> None:
        if held in self._holders:  # not after close()
            self._holders[held] -= 1
            self._forget(held)

    def _forget(self, path: Path) -> None:
        if path != self._current and not self._holders.get(path):
            self._holders.pop(path, None)
            self.public.discard(path)
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            self._current, self._holders, self._closed = None, {}, True
            shutil.rmtree(self.folder, ignore_errors=True)
