"""Landing page, dataset description, vocabulary, dump and health of a real node."""
from rdflib import Graph, URIRef

from vocab import VOID


def test_health_reports_store_and_version(sample_node):
    body = sample_node.get("/health").json()
    assert body["status"] == "ok" and body["store"]["reachable"] is True
    assert body["store"]["triples"] > 50 and body["version"]


def test_void_names_the_endpoints(sample_node):
    for path in ("/void", "/.well-known/void"):
        g = Graph().parse(data=sample_node.get(path, headers={"Accept": "text/turtle"}).text, format="turtle")
        ds = URIRef(sample_node.base + "/void#dataset")
        assert g.value(ds, VOID.sparqlEndpoint) == URIRef(sample_node.base + "/sparql")
        assert g.value(ds, VOID.dataDump) == URIRef(sample_node.base + "/dump")
        assert int(g.value(ds, VOID.triples)) > 50


def test_landing_page_for_people_and_machines(sample_node):
    html = sample_node.get("/", headers={"Accept": "text/html"}).text
    assert "Occitanie" in html and "Clusters" in html
    js = sample_node.get("/", headers={"Accept": "application/json"}).json()
    assert js["counts"]["cluster"] == 3 and js["sparql"].endswith("/sparql")


def test_vocab_is_served_versioned(sample_node):
    import vocab
    g = Graph().parse(data=sample_node.get("/vocab", headers={"Accept": "text/turtle"}).text, format="turtle")
    version = g.value(URIRef("https://w3id.org/s3fed/vocab"), URIRef("http://www.w3.org/2002/07/owl#versionInfo"))
    assert str(version) == vocab.VERSION
    shapes = sample_node.get("/vocab?part=shapes&format=ttl").text
    assert "sh:NodeShape" in shapes or "NodeShape" in shapes


def test_dump_is_the_current_data(sample_node):
    import pyoxigraph as ox
    r = sample_node.get("/dump")
    assert r.headers["Content-Type"].startswith("application/n-quads")
    quads = list(ox.parse(r.content, format=ox.RdfFormat.N_QUADS))
    assert len(quads) == sample_node.get("/health").json()["store"]["triples"]
    assert {q.graph_name.value for q in quads} == {sample_node.base + "/graph/data"}
