"""The scale-out store (node/remote_store.py) against a real `oxigraph serve`: every method gives
what the embedded store gives on the same data, a node and the CLI run on it, and the node's own
test suite parts pass on it (S3FED_TEST_STORE=oxigraph, see tests/conftest.py)."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from conftest import free_port, make_node, oxigraph_binary, sample_text, start_oxigraph, stop_process, use_oxigraph

import vocab
from node.remote_store import RemoteStore, RemoteTriples
from node.store import Store
from sync.demo import rebase

pytestmark = pytest.mark.skipif(oxigraph_binary() is None, reason="the oxigraph server is not installed "
                                "(pip install 'oxigraph>=0.4', part of the test extra)")
ROOT = Path(__file__).parent.parent
BASE = "https://s3.example.org"
DATA, VOCAB, OTHER = f"{BASE}/graph/data", f"{BASE}/graph/vocab", f"{BASE}/graph/other"
P = "PREFIX s3: <https://w3id.org/s3fed/vocab#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
OTHER_TTL = b'@prefix s3: <https://w3id.org/s3fed/vocab#> .\n<id/cluster/x> a s3:Cluster ; s3:label "X" .\n'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, base = start_oxigraph(tmp_path_factory.mktemp("oxigraph"))
    yield base
    stop_process(proc)


def config(base: str, tmp_path: Path, gsp: bool = True) -> dict:
    """Two ways to talk to a server: Graph Store Protocol and TSV results, or neither (JSON)."""
    return {"query_url": base + "/query", "update_url": base + "/update", "store_url": base + "/store" if gsp else "",
            "results": "tsv" if gsp else "json", "lock_file": str(tmp_path / "store.lock")}


@functools.cache
def vocab_nt() -> bytes:
    return vocab.load_vocabulary().serialize(format="nt", encoding="utf-8")


def fill(store) -> None:
    store.load(rebase((ROOT / "tests/data/sample.ttl").read_bytes().decode(), {"FRJ": BASE}).encode(),
               ox.RdfFormat.TURTLE, DATA)
    store.replace_graph(VOCAB, vocab_nt())
    store.load(OTHER_TTL, ox.RdfFormat.TURTLE, OTHER, base_iri=BASE + "/")


def stores(base: str, tmp_path: Path, gsp: bool):
    """An embedded store and a remote one (emptied first) holding the same three graphs."""
    requests.post(base + "/update", data="DROP ALL", headers={"Content-Type": "application/sparql-update"},
                  timeout=10).raise_for_status()
    embedded, remote = Store(None), RemoteStore(config(base, tmp_path, gsp))
    fill(embedded)
    fill(remote)
    return embedded, remote


@pytest.fixture(scope="module", params=[True, False], ids=["gsp-tsv", "query-update-json"])
def loaded(server, tmp_path_factory, request):
    """The two stores for tests that only read (filled once per module and mode)."""
    embedded, remote = stores(server, tmp_path_factory.mktemp("lock"), request.param)
    yield embedded, remote
    remote.close()


@pytest.fixture(params=[True, False], ids=["gsp-tsv", "query-update-json"])
def pair(tmp_path, request):
    """The two stores for tests that write: the remote one on a server of its own."""
    proc, base = start_oxigraph(tmp_path / "oxigraph")
    embedded, remote = stores(base, tmp_path, request.param)
    yield embedded, remote
    remote.close()
    stop_process(proc)


def term(t) -> str:
    return "_:b" if isinstance(t, ox.BlankNode) else str(t)  # blank node labels differ by store


def answer(results):
    """A comparable form of any query result."""
    if isinstance(results, ox.QueryBoolean):
        return bool(results)
    if isinstance(results, ox.QuerySolutions):
        names = [v.value for v in results.variables]
        return names, Counter(tuple(term(row[n]) for n in names) for row in results)
    return Counter(f"{term(t.subject)} {t.predicate} {term(t.object)}" for t in results)


QUERIES = [  # (query, dataset keyword arguments)
    (P + f"SELECT ?s ?label {{ GRAPH <{DATA}> {{ ?s skos:prefLabel ?label }} }} ORDER BY ?s ?label", {}),
    (f"SELECT ?t (COUNT(?s) AS ?n) {{ GRAPH <{DATA}> {{ ?s a ?t }} }} GROUP BY ?t", {}),
    ("SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g", {}),
    (P + "SELECT ?s ?label { ?s skos:prefLabel ?label }", {"union": True}),
    (P + "SELECT ?d ?nace ?l { ?d s3:naceActivity ?nace . ?nace skos:prefLabel ?l }", {"default_graph": [DATA, VOCAB]}),
    (P + "SELECT ?g ?s { { ?s a s3:Cluster } UNION { GRAPH ?g { ?s a s3:Cluster } } }",
     {"default_graph": [DATA], "named_graphs": [OTHER]}),
    (P + "SELECT ?g ?s { GRAPH ?g { ?s a s3:Cluster } }", {"default_graph": [OTHER]}),
    ("SELECT * { ?s ?p ?o }", {"default_graph": []}),
    (f"SELECT ?s FROM <{VOCAB}> {{ ?s ?p ?o }}", {"default_graph": [OTHER]}),  # the protocol overrides FROM
    (P + f"ASK {{ GRAPH <{DATA}> {{ ?s a s3:Cluster }} }}", {}),
    (P + "ASK { ?s a s3:Region }", {"default_graph": [OTHER]}),
    (f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{VOCAB}> {{ ?s ?p ?o }} }}", {}),
    ("DESCRIBE <aerospace-valley>", {"default_graph": [DATA], "base_iri": f"{BASE}/id/cluster/"}),
    ("SELECT ?p ?o { <aerospace-valley> ?p ?o }", {"default_graph": [DATA], "base_iri": f"{BASE}/id/cluster/"}),
]


@pytest.mark.parametrize("query,dataset", QUERIES, ids=range(len(QUERIES)))
def test_same_answers_as_the_embedded_store(loaded, query, dataset):
    embedded, remote = loaded
    mine, theirs = remote.query(query, **dataset), embedded.query(query, **dataset)
    assert type(mine) is (RemoteTriples if isinstance(theirs, ox.QueryTriples) else type(theirs))
    assert answer(mine) == answer(theirs)


def test_results_serialize_like_the_embedded_ones(loaded):
    """node/sparql.py serialises results natively: same bytes from either store."""
    embedded, remote = loaded
    q = QUERIES[0][0]
    for fmt in (ox.QueryResultsFormat.JSON, ox.QueryResultsFormat.XML, ox.QueryResultsFormat.TSV):
        assert remote.query(q).serialize(format=fmt) == embedded.query(q).serialize(format=fmt)
    c = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{DATA}> {{ ?s ?p ?o }} }}"
    lines = [sorted(s.query(c).serialize(format=ox.RdfFormat.N_TRIPLES).splitlines()) for s in loaded]
    assert lines[0] == lines[1] and len(lines[0]) > 50  # same triples; CONSTRUCT has no order


def test_count_named_graphs_and_dump(loaded):
    embedded, remote = loaded
    assert sorted(remote.named_graphs()) == sorted(embedded.named_graphs()) == sorted([DATA, VOCAB, OTHER])
    for g in (None, DATA, VOCAB, OTHER, f"{BASE}/graph/none"):
        assert remote.count(g) == embedded.count(g)
    for fmt in (ox.RdfFormat.N_TRIPLES, ox.RdfFormat.TURTLE, ox.RdfFormat.N_QUADS, ox.RdfFormat.TRIG):
        for g in (DATA, OTHER):
            mine, theirs = ox.parse(remote.dump(fmt, g), format=fmt), ox.parse(embedded.dump(fmt, g), format=fmt)
            assert Counter(map(str, mine)) == Counter(map(str, theirs)), (fmt, g)
    assert remote.dump(ox.RdfFormat.N_TRIPLES, f"{BASE}/graph/none") == b""
    whole = [ox.parse(s.dump(ox.RdfFormat.N_QUADS), format=ox.RdfFormat.N_QUADS) for s in loaded]
    assert Counter(term(q.subject) + str(q.predicate) + term(q.object) + str(q.graph_name) for q in whole[0]) == \
        Counter(term(q.subject) + str(q.predicate) + term(q.object) + str(q.graph_name) for q in whole[1])
    for s in loaded:
        with pytest.raises(ValueError):
            s.dump(ox.RdfFormat.TURTLE)  # a whole dataset needs a quad format


def test_failed_writes_change_nothing(pair):
    embedded, remote = pair
    before = remote.count()
    for s in pair:  # the first operation would succeed, the second fails: all or nothing
        with pytest.raises(RuntimeError, match="already exists"):
            s.update(f'INSERT DATA {{ GRAPH <{DATA}> {{ <{BASE}/x> <{BASE}/p> "new" }} }} ; CREATE GRAPH <{DATA}>')
        with pytest.raises(SyntaxError):
            s.update(f'INSERT DATA {{ GRAPH <{DATA}> {{ <{BASE}/x> <{BASE}/p> "new" }} }} ; INSERTT')
        with pytest.raises(SyntaxError):
            s.load(b'<http://a/s> <http://a/p> "1" .\n<http://a/s> <http://a/p> "2', ox.RdfFormat.N_TRIPLES, DATA)
        with pytest.raises(SyntaxError):
            s.query("SELECT ?s WHERE { ?s ?p }")
    assert remote.count() == embedded.count() == before


def test_replace_graph_and_update(pair):
    for s in pair:
        s.replace_graph(OTHER, f'<{BASE}/id/cluster/y> <{BASE}/p> "Y" .\n'.encode())
        s.update(f'INSERT DATA {{ GRAPH <{OTHER}> {{ <{BASE}/id/cluster/y> <{BASE}/p> "Z" }} }}')
    assert [answer(s.query(f"SELECT ?s ?o {{ GRAPH <{OTHER}> {{ ?s ?p ?o }} }}")) for s in pair] == \
        [(["s", "o"], Counter({(f"<{BASE}/id/cluster/y>", '"Y"'): 1, (f"<{BASE}/id/cluster/y>", '"Z"'): 1}))] * 2


def test_long_queries_go_by_post(loaded):
    embedded, remote = loaded
    many = [f"{BASE}/graph/peer/{i:04d}" for i in range(300)] + [DATA]
    q = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
    assert answer(remote.query(q, default_graph=many)) == answer(embedded.query(q, default_graph=many))


def test_a_server_that_is_down_is_a_clear_oserror(tmp_path):
    store = RemoteStore(config(f"http://127.0.0.1:{free_port()}", tmp_path))
    for call in (lambda: store.count(), lambda: store.update("CLEAR ALL"),
                 lambda: store.load(b"", ox.RdfFormat.N_TRIPLES, DATA), lambda: store.dump(ox.RdfFormat.N_QUADS)):
        started = time.monotonic()
        with pytest.raises(OSError, match=r"SPARQL server at http://127\.0\.0\.1:\d+/\w+ unreachable"):
            call()
        assert time.monotonic() - started < 3


def test_a_slow_answer_is_a_timeout_error_and_is_not_asked_again(tmp_path):
    proc, base = start_oxigraph(tmp_path / "oxigraph")
    try:
        store = RemoteStore({**config(base, tmp_path), "timeout_s": 1})
        store.load(b"".join(b"<urn:s%d> <urn:p> \"%d\" .\n" % (i, i) for i in range(300)), ox.RdfFormat.N_TRIPLES, DATA)
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="did not answer within 1 s"):
            store.query("SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }", default_graph=[DATA])
        assert time.monotonic() - started < 3
    finally:
        stop_process(proc)  # and the query it was still evaluating


def test_an_answer_that_breaks_off_is_a_runtime_error(loaded):
    """oxigraph serve streams: a failure mid-way (here a refused SERVICE call) arrives after 200."""
    embedded, remote = loaded
    q = f"SELECT * {{ GRAPH <{DATA}> {{ ?a ?b ?c }} SERVICE <http://127.0.0.1:1/sparql> {{ ?s ?p ?o }} }}"
    with pytest.raises(RuntimeError, match="broke off"):
        remote.query(q)


COUNTER = """
import sys
from node.remote_store import RemoteStore
base, lock = sys.argv[1:3]
store = RemoteStore({"query_url": base + "/query", "update_url": base + "/update", "lock_file": lock})
for _ in range(25):
    with store.write_lock:  # read, then write: another process must not slip in between
        n = int(next(iter(store.query("SELECT ?n { GRAPH <urn:c> { <urn:c> <urn:n> ?n } }")))["n"].value)
        store.update(f"DELETE WHERE {{ GRAPH <urn:c> {{ <urn:c> <urn:n> ?n }} }} ; "
                     f"INSERT DATA {{ GRAPH <urn:c> {{ <urn:c> <urn:n> {n + 1} }} }}")
"""


def test_write_lock_serialises_writers_across_processes(tmp_path):
    proc, server = start_oxigraph(tmp_path / "oxigraph")
    store = RemoteStore(config(server, tmp_path))
    store.update("DROP SILENT GRAPH <urn:c> ; INSERT DATA { GRAPH <urn:c> { <urn:c> <urn:n> 0 } }")
    with store.write_lock, store.write_lock:  # re-entrant within a process
        pass
    procs = [subprocess.Popen([sys.executable, "-c", COUNTER, server, str(tmp_path / "store.lock")], cwd=ROOT)
             for _ in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    assert int(next(iter(store.query("SELECT ?n { GRAPH <urn:c> { ?s ?p ?n } }")))["n"].value) == 75
    stop_process(proc)


def test_node_serves_and_cli_imports_while_it_runs(tmp_path):
    """kind = "sparql": the node starts on the server, `node import` works next to the running node
    (two at once, even), the feed stays gap-free, and /health tells when the server is gone."""
    node = make_node(tmp_path)
    if getattr(node, "oxigraph", None) is None:
        use_oxigraph(node)
    try:
        node.start()
        assert node.get("/health").json()["store"] == {"kind": "sparql", "reachable": True, "triples": 0}
        text = sample_text(node)
        runs = [subprocess.Popen([sys.executable, "-m", "node.cli", "--config", str(node.config), "node", "import",
                                  str(node.write(f"d{i}.ttl", text))], cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for i in range(2)]
        for r in runs:
            out, err = r.communicate(timeout=120)
            assert r.returncode == 0 and "Imported 15 entities" in out, err
        assert node.get("/id/cluster/aerospace-valley", headers={"Accept": "application/json"}).status_code == 200
        feed = ox.Store()
        feed.load(node.get("/feed/0", headers={"Accept": "application/n-triples"}).content, ox.RdfFormat.N_TRIPLES)
        seqs = [int(r["n"].value) for r in feed.query(
            "SELECT ?n { ?m <https://w3id.org/s3fed/vocab#sequence> ?n } ORDER BY ?n")]
        assert seqs == list(range(1, 31))  # two imports of 15 entities, no sequence number taken twice
        assert "aerospace-valley" in node.get("/dump").text
        stop_process(node.oxigraph)
        r = node.get("/health")
        assert r.status_code == 503 and r.json()["store"]["reachable"] is False
    finally:
        node.stop()


@pytest.mark.timeout(170)
def test_node_suite_parts_pass_on_the_remote_store():
    """The same tests on both stores: the parts that exercise the store through a node, re-run
    with every node on its own `oxigraph serve` (about 45 s on 2 cores)."""
    files = ["tests/test_entities.py", "tests/test_sparql.py", "tests/test_importer.py", "tests/test_pages.py"]
    r = subprocess.run([sys.executable, "-m", "pytest", *files, "-q", "-x", "-p", "no:cacheprovider"], cwd=ROOT,
                       env={**os.environ, "S3FED_TEST_STORE": "oxigraph"}, capture_output=True, text=True, timeout=160)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "skipped" not in r.stdout.splitlines()[-1]
