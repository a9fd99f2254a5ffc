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
"""
from __future__ import annotations

import secrets
import shutil
import threading
from pathlib import Path


class Checkpoints:
    def __init__(self, store, folder: str | Path):
        self.store, self.folder = store, Path(folder)
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
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        with self._lock:
            self._current, self._holders, self._closed = None, {}, True
            shutil.rmtree(self.folder, ignore_errors=True)
