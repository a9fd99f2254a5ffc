"""The /id/ read surface of a real node: content negotiation, every format, HTML, ETags, 404s."""
import pyoxigraph as ox
import pytest
from rdflib import Graph, URIRef

from vocab import RDF, S3, SKOS

RDF_FORMATS = [("text/turtle", "turtle", ox.RdfFormat.TURTLE), ("application/ld+json", "json-ld", ox.RdfFormat.JSON_LD),
               ("application/n-triples", "nt", ox.RdfFormat.N_TRIPLES),
               ("application/rdf+xml", "xml", ox.RdfFormat.RDF_XML)]


@pytest.mark.parametrize("media_type,rdflib_format,ox_format", RDF_FORMATS)
def test_entity_parses_back_with_rdflib_and_pyoxigraph(sample_node, media_type, rdflib_format, ox_format):
    uri = sample_node.base + "/id/domain/aeronautique"
    r = sample_node.get("/id/domain/aeronautique", headers={"Accept": media_type})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith(media_type)
    assert "Accept" in r.headers["Vary"]
    g = Graph().parse(data=r.content, format=rdflib_format, publicID=uri)
    assert (URIRef(uri), RDF.type, S3.PriorityDomain) in g
    assert (URIRef(uri), S3.strategy, URIRef(sample_node.base + "/id/strategy/sri-si-2014-2020")) in g
    quads = list(ox.parse(r.content, format=ox_format, base_iri=uri))
    assert any(q.subject.value == uri and q.predicate.value == str(SKOS.prefLabel) for q in quads)


def test_entity_includes_labels_of_linked_things_and_incoming_links(sample_node):
    g = Graph().parse(data=sample_node.get("/id/domain/aeronautique?format=ttl").text, format="turtle")
    strategy = URIRef(sample_node.base + "/id/strategy/sri-si-2014-2020")
    cluster = URIRef(sample_node.base + "/id/cluster/aerospace-valley")
    assert g.value(strategy, SKOS.prefLabel) is not None      # label of the linked strategy
    assert (cluster, S3.contributesTo, URIRef(sample_node.base + "/id/domain/aeronautique")) in g
    assert g.value(cluster, SKOS.prefLabel) is not None        # and of the cluster pointing here


def test_cluster_representation_lists_its_members(sample_node):
    g = Graph().parse(data=sample_node.get("/id/cluster/aerospace-valley?format=ttl").text, format="turtle")
    member = URIRef(sample_node.base + "/id/actor/cci-toulouse")
    assert str(g.value(member, SKOS.prefLabel)) == "CCI Toulouse Haute-Garonne"


def test_format_parameter_overrides_accept(sample_node):
    r = sample_node.get("/id/cluster/aerospace-valley?format=nt", headers={"Accept": "text/html"})
    assert r.headers["Content-Type"].startswith("application/n-triples")


def test_html_shows_labels_and_followable_links(sample_node):
    r = sample_node.get("/id/cluster/aerospace-valley", headers={"Accept": "text/html,*/*;q=0.8"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    html = r.text
    assert "<h1>Aerospace Valley</h1>" in html
    assert "Matériaux et procédés pour l&#39;aéronautique" in html or "Materials and processes" in html
    assert f'href="{sample_node.base}/id/domain/aeronautique"' in html
    assert "CCI Toulouse Haute-Garonne" in html                 # the member, by name
    assert "pôle de compétitivité" in html.lower() or "pole de competitivite" in html.lower()  # concept label, not IRI


def test_html_label_follows_browser_language(sample_node):
    fr = sample_node.get("/id/domain/eau", headers={"Accept": "text/html", "Accept-Language": "fr"}).text
    en = sample_node.get("/id/domain/eau", headers={"Accept": "text/html", "Accept-Language": "en"}).text
    assert "<h1>Petit et grand cycle de l&#39;eau</h1>" in fr
    assert "<h1>Small and large water cycle</h1>" in en


def test_plain_json_uses_the_profile(sample_node):
    r = sample_node.get("/id/cluster/aerospace-valley", headers={"Accept": "application/json"})
    body = r.json()
    assert body["label"] == {"fr": "Aerospace Valley"}
    assert body["region"] == sample_node.base + "/id/region/FRJ"
    assert body["contributesTo"] == [sample_node.base + "/id/domain/aeronautique"]


def test_etag_and_304(sample_node):
    r = sample_node.get("/id/domain/eau", headers={"Accept": "text/turtle"})
    etag = r.headers["ETag"]
    again = sample_node.get("/id/domain/eau", headers={"Accept": "text/turtle", "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = sample_node.get("/id/domain/eau", headers={"Accept": "application/ld+json", "If-None-Match": etag})
    assert other.status_code == 200                              # another representation, another tag


@pytest.mark.parametrize("path", ["/id/domain/nope", "/id/widget/x", "/id/domain/..%2F..%2Fetc%2Fpasswd",
                                  "/id/cluster/%00"])
def test_unknown_entities_are_404_problems(sample_node, path):
    r = sample_node.get(path, headers={"Accept": "text/turtle"})
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["status"] == 404 and r.json()["detail"]


def test_406_only_when_nothing_acceptable(sample_node):
    assert sample_node.get("/id/domain/eau", headers={"Accept": "image/png"}).status_code == 406
    assert sample_node.get("/id/domain/eau", headers={"Accept": "image/png, */*;q=0.1"}).status_code == 200


def test_collection_pages_and_filters(sample_node):
    r = sample_node.get("/id/cluster/?per_page=2", headers={"Accept": "application/json"}).json()
    assert r["total"] == 3 and len(r["items"]) == 2 and r["next"]
    second = requests_get(r["next"])
    assert len(second["items"]) == 1 and second["next"] is None
    names = {i["label"] for i in r["items"] + second["items"]}
    assert names == {"Aerospace Valley", "Mipyrail", "Automotech"}
    found = sample_node.get("/id/cluster/?q=aero", headers={"Accept": "application/json"}).json()
    assert [i["label"] for i in found["items"]] == ["Aerospace Valley"]
    by_link = sample_node.get("/id/domain/", params={"strategy": sample_node.base + "/id/strategy/sri-si-2014-2020"},
                              headers={"Accept": "application/json"}).json()
    assert by_link["total"] == 2


def test_collection_as_rdf_is_a_hydra_collection(sample_node):
    g = Graph().parse(data=sample_node.get("/id/domain/?format=ttl").text, format="turtle")
    coll = URIRef(sample_node.base + "/id/domain/")
    assert len(list(g.objects(coll, URIRef("http://www.w3.org/ns/hydra/core#member")))) == 2


@pytest.mark.parametrize("query", ["page=0", "per_page=100000", "page=abc", "per_page=-1"])
def test_collection_paging_out_of_range_is_400(sample_node, query):
    r = sample_node.get(f"/id/domain/?{query}", headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.headers["Content-Type"].startswith("application/problem+json")


def requests_get(url):
    import requests
    return requests.get(url, headers={"Accept": "application/json"}, timeout=10).json()
