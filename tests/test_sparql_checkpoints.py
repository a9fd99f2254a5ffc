"""node/sparql_checkpoints.py: the copies of the store /sparql workers read, and the public
ones whose union of graphs is the endpoint's dataset (embedded store only)."""
from __future__ import annotations

import pyoxigraph as ox
import pytest
import requests
from conftest import TEST_STORE, make_node, sample_text

pytestmark = pytest.mark.skipif(TEST_STORE == "oxigraph", reason="checkpoints are the embedded store's")


def _hub_like(store_dir, base: str, peers: int = 6) -> None:
    """Peer graphs beside the node's own, and what the endpoint must hide: a feed version, the
    harvest state, an index run being loaded."""
    from node.store import Graphs, Store
    gs, st = Graphs(base), Store(store_dir)
    c = "<https://w3id.org/s3fed/vocab#Cluster>"
    for n in range(peers):
        st.update(f"INSERT DATA {{ GRAPH <{gs.peer(f'P{n}')}> {{ <http://p{n}.test/id/cluster/c> a {c} }} }}")
    st.update(f"INSERT DATA {{ GRAPH <{gs.feed}> {{ <{base}/feed/v/999> a {c} }} "
              f"GRAPH <{gs.sync}> {{ <{base}/sync/x> a {c} }} "
              f"GRAPH <{gs.index_run('loading')}> {{ <{base}/index/x> a {c} }} }}")
    st.close()


def test_a_hub_with_many_graphs_queries_their_union_and_still_hides_the_rest(tmp_path):
    """The many-graph fast path (a public checkpoint, see node/sparql_checkpoints.py) answers
    exactly what the graph list answers."""
    node = make_node(tmp_path)
    assert node.import_text(sample_text(node)).returncode == 0
    _hub_like(node.dir / "data" / "store", node.base)
    node.start()
    try:
        ask = lambda q, **kw: requests.get(node.base + "/sparql", params={"query": q, **kw},  # noqa: E731
                                           headers={"Accept": "application/sparql-results+json"}, timeout=30).json()
        clusters = "SELECT ?c { ?c a <https://w3id.org/s3fed/vocab#Cluster> }"
        union = {b["c"]["value"] for b in ask(clusters)["results"]["bindings"]}
        listed = {b["c"]["value"] for b in ask(clusters, **{"default-graph-uri": [
            node.base + "/graph/data", *(f"{node.base}/graph/peer/P{n}" for n in range(6))]})["results"]["bindings"]}
        assert union == listed and {f"http://p{n}.test/id/cluster/c" for n in range(6)} <= union
        assert not any("/feed/" in c or "/sync/" in c or "/index/" in c for c in union)
        graphs = {b["g"]["value"] for b in ask("SELECT DISTINCT ?g { GRAPH ?g { ?s ?p ?o } }")["results"]["bindings"]}
        assert node.base + "/graph/peer/P0" in graphs and not graphs & {
            node.base + "/graph/feed", node.base + "/graph/sync", node.base + "/graph/index/loading"}
    finally:
        node.stop()


def test_only_small_hidden_graphs_are_dropped_from_a_checkpoint(tmp_path):
    from node.sparql_checkpoints import PUBLIC_MAX_HIDDEN, make_public
    from node.store import Graphs, Store
    base, gs = "http://hub.test", Graphs("http://hub.test")
    _hub_like(tmp_path / "hub", base)
    st = Store(tmp_path / "hub")
    st.checkpoint(tmp_path / "copy")
    assert make_public(tmp_path / "copy", gs)
    copy = Store(tmp_path / "copy")
    assert set(copy.named_graphs()) == {gs.peer(f"P{n}") for n in range(6)}
    copy.close()
    big = "\n".join(f"<{base}/feed/v/{n}> <{base}/p> \"{n}\" ." for n in range(PUBLIC_MAX_HIDDEN + 1))
    st.load(big.encode(), ox.RdfFormat.N_TRIPLES, gs.feed)
    st.checkpoint(tmp_path / "copy2")
    assert not make_public(tmp_path / "copy2", gs)  # a node's long feed: the graph list it is
    _hub_like(tmp_path / "few", base, peers=2)
    few = Store(tmp_path / "few")
    few.checkpoint(tmp_path / "copy3")
    assert not make_public(tmp_path / "copy3", gs)  # few graphs: not worth it
    st.close()
    few.close()
