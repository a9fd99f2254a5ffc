"""The change feed as an LDES (``/feed``, ``/feed/{n}``) and the dump's feed position, on a real
node with 4 members per page; and the feed's own invariants, in process."""
from __future__ import annotations

import pyoxigraph as ox
import pytest
import requests

from node.changes import ChangeSet, commit
from node.store import Graphs, Store
from tests.conftest import make_node, sample_text

LDES, TREE = "https://w3id.org/ldes#", "https://w3id.org/tree#"
S3, PROV, DCT = "https://w3id.org/s3fed/vocab#", "http://www.w3.org/ns/prov#", "http://purl.org/dc/terms/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
FORMATS = {"text/turtle": ox.RdfFormat.TURTLE, "application/n-triples": ox.RdfFormat.N_TRIPLES,
           "application/ld+json": ox.RdfFormat.JSON_LD, "application/n-quads": ox.RdfFormat.N_QUADS,
           "application/trig": ox.RdfFormat.TRIG}


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    n = make_node(tmp_path_factory.mktemp("feed"))
    n.config.write_text(n.config.read_text() + "\n[feed]\npage_size = 4\n")
    assert n.import_text(sample_text(n)).returncode == 0
    n.start()
    yield n
    n.stop()


def triples(r: requests.Response) -> set[tuple[str, str, str]]:
    fmt = FORMATS[r.headers["Content-Type"].split(";")[0]]
    return {(q.subject.value, q.predicate.value, str(q.object) if not isinstance(q.object, ox.NamedNode)
             else q.object.value) for q in ox.parse(r.content, format=fmt, base_iri=r.url)}


def objects(ts, s, p) -> list[str]:
    return sorted(o for s2, p2, o in ts if s2 == s and p2 == p)


def test_the_stream_says_how_to_read_it(node):
    r = node.get("/feed", headers={"Accept": "text/turtle"})
    assert r.status_code == 200 and r.headers["Vary"] == "Accept" and "max-age=5" in r.headers["Cache-Control"]
    ts, feed = triples(r), f"{node.base}/feed"
    assert objects(ts, feed, RDF_TYPE) == [LDES + "EventStream"]
    assert objects(ts, feed, LDES + "timestampPath") == [PROV + "generatedAtTime"]
    assert objects(ts, feed, LDES + "versionOfPath") == [DCT + "isVersionOf"]
    assert objects(ts, feed, LDES + "versionDeleteObject") == ["https://www.w3.org/ns/activitystreams#Delete"]
    assert objects(ts, feed, TREE + "view") == [f"{feed}/0"]
    assert objects(ts, feed, S3 + "pageSize") == ['"4"^^<http://www.w3.org/2001/XMLSchema#integer>']
    again = node.get("/feed", headers={"Accept": "text/turtle", "If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("media_type", list(FORMATS))
def test_every_format_says_the_same(node, media_type):
    reference = triples(node.get("/feed/1", headers={"Accept": "application/n-triples"}))
    r = node.get("/feed/1", headers={"Accept": media_type})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith(media_type)
    if media_type == "application/ld+json":  # no remote context: clients need nothing but the body
        assert "@context" not in r.text
    assert triples(r) == reference


def test_unknown_media_type_is_406(node):
    assert node.get("/feed/0", headers={"Accept": "application/pdf"}).status_code == 406


def test_pages_hold_fixed_ranges_linked_forward(node):
    last_times = {}
    for n, seqs in enumerate(([1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [13, 14, 15])):
        r = node.get(f"/feed/{n}", headers={"Accept": "application/n-triples"})
        ts, page = triples(r), f"{node.base}/feed/{n}"
        members = objects(ts, f"{node.base}/feed", TREE + "member")
        assert sorted(int(m.rsplit("/", 1)[1]) for m in members) == seqs
        for m in members:
            assert len(objects(ts, m, DCT + "isVersionOf")) == 1 and objects(ts, m, PROV + "generatedAtTime")
        times = sorted(o for m in members for o in objects(ts, m, PROV + "generatedAtTime"))
        last_times[n] = times[-1]
        assert objects(ts, page, RDF_TYPE) == [TREE + "Node"]
        rel = objects(ts, page, TREE + "relation")
        if len(seqs) == 4:
            assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert objects(ts, rel[0], RDF_TYPE) == [TREE + "GreaterThanOrEqualToRelation"]
            assert objects(ts, rel[0], TREE + "path") == [PROV + "generatedAtTime"]
            assert objects(ts, rel[0], TREE + "node") == [f"{node.base}/feed/{n + 1}"]
            assert objects(ts, rel[0], TREE + "value") == [last_times[n]]  # ≤ everything after it
        else:
            assert rel == [] and r.headers["Cache-Control"] == "public, max-age=5"
        assert node.get(f"/feed/{n}", headers={"Accept": "application/n-triples",
                                               "If-None-Match": r.headers["ETag"]}).status_code == 304
    assert node.get("/feed/4").status_code == 404


@pytest.mark.parametrize("since,page", [(0, 0), (3, 0), (4, 1), (15, 3)])
def test_since_finds_the_page_after_a_checkpoint(node, since, page):
    r = node.get(f"/feed?since={since}", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == f"{node.base}/feed/{page}"


def test_since_must_be_a_sequence_number(node):
    assert node.get("/feed?since=-1").status_code == 400


def test_from_gives_the_rest_of_a_page_as_a_node_of_its_own(node):
    r = node.get("/feed/1?from=6", headers={"Accept": "application/n-triples"})
    ts, view = triples(r), f"{node.base}/feed/1?from=6"
    assert sorted(int(m.rsplit("/", 1)[1]) for m in objects(ts, f"{node.base}/feed", TREE + "member")) == [6, 7, 8]
    assert objects(ts, view, RDF_TYPE) == [TREE + "Node"]
    assert objects(ts, view, S3 + "firstSequence")[0].startswith('"6"')
    assert objects(ts, objects(ts, view, TREE + "relation")[0], TREE + "node") == [f"{node.base}/feed/2"]
    assert objects(ts, f"{node.base}/feed/1", RDF_TYPE) == []  # not page 1: LDES clients never mistake it
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"  # page 1 is full
    assert node.get("/feed/1?from=6", headers={"Accept": "application/n-triples",
                                               "If-None-Match": r.headers["ETag"]}).status_code == 304
    newest = node.get("/feed/3?from=15", headers={"Accept": "application/n-triples"})
    assert newest.headers["Cache-Control"] == "public, max-age=5" and not objects(
        triples(newest), f"{node.base}/feed/3?from=15", TREE + "relation")


@pytest.mark.parametrize("query,status", [("from=4", 400), ("from=9", 400), ("from=x", 400), ("from=16", 404)])
def test_from_must_be_a_member_of_the_page(node, query, status):
    n = 1 if query in ("from=4", "from=9", "from=x") else 3
    assert node.get(f"/feed/{n}?{query}").status_code == status


def test_dump_carries_its_feed_position(node):
    r = node.get("/dump")
    feed = triples(node.get("/feed", headers={"Accept": "application/n-triples"}))
    last = objects(feed, f"{node.base}/feed", S3 + "lastSequence")[0]
    assert last.startswith(f'"{r.headers["X-S3fed-Sequence"]}"')
    assert int(r.headers["X-S3fed-Triples"]) == len(list(ox.parse(r.content, format=ox.RdfFormat.N_QUADS)))


def test_full_pages_never_change_and_deletions_are_tombstones(node):
    full = {n: node.get(f"/feed/{n}", headers={"Accept": "text/turtle"}) for n in range(3)}
    auth = {"Authorization": f"Bearer {node.token()}"}
    assert requests.delete(f"{node.base}/api/v1/domain/eau", headers=auth, timeout=30).status_code == 204
    for n, before in full.items():
        after = node.get(f"/feed/{n}", headers={"Accept": "text/turtle"})
        assert after.content == before.content and after.headers["ETag"] == before.headers["ETag"]
    page3 = triples(node.get("/feed/3", headers={"Accept": "application/n-triples"}))
    tomb = f"{node.base}/feed/member/16"
    assert objects(page3, tomb, DCT + "isVersionOf") == [f"{node.base}/id/domain/eau"]
    assert objects(page3, tomb, RDF_TYPE) == ["https://www.w3.org/ns/activitystreams#Delete"]
    assert {p for s, p, o in page3 if s == tomb} == {DCT + "isVersionOf", PROV + "generatedAtTime",
                                                     S3 + "sequence", RDF_TYPE}
    assert objects(page3, f"{node.base}/feed/3", TREE + "relation")  # now full: links to page 4
    assert node.get("/feed/4").status_code == 200


def test_timestamps_never_go_backwards():
    st, gs = Store(None), Graphs("http://example.org")
    cluster = "http://example.org/id/cluster/a"

    def write(label: str):
        t = ox.Triple(ox.NamedNode(cluster), ox.NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel"),
                      ox.Literal(label, language="en"))
        commit(st, gs, ChangeSet({cluster}, [t]))

    write("one")
    future = "2999-01-01T00:00:00.000000Z"  # a clock that was ahead, then corrected
    st.update(f"DELETE {{ GRAPH <{gs.feed}> {{ ?m <{PROV}generatedAtTime> ?t }} }} INSERT {{ GRAPH <{gs.feed}> "
              f"{{ ?m <{PROV}generatedAtTime> \"{future}\"^^<http://www.w3.org/2001/XMLSchema#dateTime> }} }} "
              f"WHERE {{ GRAPH <{gs.feed}> {{ ?m <{PROV}generatedAtTime> ?t }} }}")
    write("two")
    member = "http://example.org/feed/member/2"
    rows = st.query(f"SELECT ?t {{ GRAPH <{gs.feed}> {{ <{member}> <{PROV}generatedAtTime> ?t }} }}")
    assert [r["t"].value for r in rows] == ["2999-01-01T00:00:00Z"]  # canonical form of the same time
