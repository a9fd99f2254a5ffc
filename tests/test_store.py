"""node/store.py on a real on-disk pyoxigraph store: filling a graph nobody reads yet from a
generator, as the cooperation index publishes its runs."""
from __future__ import annotations

import threading
import time

import pyoxigraph as ox
import pytest

from node.store import Store

G = "http://hub.test/graph/index/run-1"


def chunk(n: int, size: int = 1000) -> bytes:
    return "".join(f'<http://hub.test/o/{n}-{k}> <http://hub.test/p> "{k}" .\n' for k in range(size)).encode()


def test_chunks_are_loaded_while_the_next_is_made_and_all_arrive(tmp_path):
    st, made, seen_loading = Store(tmp_path / "store"), [], []

    def produce():
        for n in range(6):
            seen_loading.append(any(t.name.startswith("bulk-load") for t in threading.enumerate()))
            made.append(n)
            yield chunk(n)

    st.load_new_graph(G, produce(), ox.RdfFormat.N_TRIPLES, lenient=True)
    assert made == list(range(6)) and st.count(G) == 6000
    assert any(seen_loading[1:])  # a loader thread was at work while later chunks were made
    assert not any(t.name.startswith("bulk-load") for t in threading.enumerate())  # and none is left


def test_a_producer_that_fails_stops_the_load_with_its_error(tmp_path):
    st = Store(tmp_path / "store")

    def produce():
        yield chunk(0)
        raise RuntimeError("explaining failed")

    with pytest.raises(RuntimeError, match="explaining failed"):
        st.load_new_graph(G, produce(), ox.RdfFormat.N_TRIPLES)
    assert st.count(G) == 1000  # what was loaded stays, unpublished: the caller removes it
    assert not any(t.name.startswith("bulk-load") for t in threading.enumerate())


def test_a_chunk_that_does_not_parse_is_a_syntax_error_and_stops_the_producer(tmp_path):
    st, made = Store(tmp_path / "store"), []

    def produce():
        yield b"<http://hub.test/a> <http://hub.test/p> .\n"  # no object
        for n in range(50):
            time.sleep(0.01)  # a producer at work: the failed load is seen before it is done
            made.append(n)
            yield chunk(n)

    with pytest.raises(SyntaxError):
        st.load_new_graph(G, produce(), ox.RdfFormat.N_TRIPLES)
    assert len(made) < 50
