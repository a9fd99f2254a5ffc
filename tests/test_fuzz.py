"""Generated input against a real node: entities of every kind, derived from the profiles, go in
through both doors and come back unchanged; garbage in any shape never gets a 5xx.

* Round trip. For each kind, a hypothesis strategy is built from ``vocab.profiles.PROFILES``
  (labels in several languages and scripts — accents, CJK, Arabic, emoji, combining marks —,
  links, concept IRIs from the vocabulary, years, dates, decimals) within what the shapes ask
  (a NUTS URI that ends with the code, a period that does not end before it starts, two
  partners…). Each entity is POSTed to ``/api/v1/{kind}`` and, under another slug, imported as
  RDF built by ``vocab.profiles.to_graph`` (Turtle, N-Triples, JSON-LD or RDF/XML, rdflib's
  serialisers): both read back as the same JSON, and both doors store the same triples.
* Invalid input. Arbitrary JSON documents, valid entities with one field replaced by arbitrary
  JSON, arbitrary bytes under each import media type and arbitrary query strings: whatever the
  answer, it is never a server error.

Bounded for ``make test`` (well under a minute); ``S3FED_FUZZ_EXAMPLES`` scales every budget.
test_api.py has a smaller JSON-only round trip and test_openapi.py runs schemathesis.
"""
from __future__ import annotations

import itertools
import json
import os
from datetime import date
from functools import cache

import pytest
import requests
from conftest import writable_sample_node
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import RDF, Graph, URIRef

from vocab import S3, load_vocabulary
from vocab.kinds import KINDS
from vocab.profiles import PROFILES, to_graph, to_json

SCALE = float(os.environ.get("S3FED_FUZZ_EXAMPLES", "1"))
FUZZ = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.data_too_large])


def budget(n: int) -> settings:
    return settings(FUZZ, max_examples=max(1, int(n * SCALE)))


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    # generated queries can be heavy; none needs longer than 2 s
    with writable_sample_node(tmp_path_factory.mktemp("fuzz"), {"S3FED_LIMITS_SPARQL_TIMEOUT_S": "2"}) as n:
        yield n


# -- strategies from the profiles ---------------------------------------------------------------

CONCEPT_CLASS = {"clusterType": S3.ClusterType, "policyObjective": S3.PolicyObjective, "technology": S3.Technology,
                 "actorType": S3.ActorRole, "role": S3.ActorRole, "instrument": S3.FundingInstrument,
                 "collaborationType": S3.CollaborationType, "criterion": S3.GovernanceCriterion,
                 "fulfilment": S3.FulfilmentLevel}


@cache
def concepts(cls) -> list[str]:
    return sorted(str(s) for s in load_vocabulary().subjects(RDF.type, cls))


# Text a person could type: any letter, mark, number, punctuation, symbol or space of any script
# (no control characters, which are refused, and no surrogates, which are not text).
TEXT = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters="\u2028\u2029")
               | st.sampled_from("\t\n\r"), min_size=1, max_size=40).filter(str.strip)
SCRIPTS = st.sampled_from(["Pôle Mécanique Sud-Ouest", "Baden-Württemberg Ökosystem", "Łódź – Śląsk", "Žalec",
                           "航空宇宙クラスター", "مجموعة الطيران", "Κρήτη", "Наука", "🚀 Space & 🌊 Blue economy",
                           "e\u0301 combining", "ﬁ ligature", "x" * 200])
LABEL_TEXT = TEXT | SCRIPTS
LANG = st.sampled_from(["fr", "en", "de", "it", "sl", "de-ch", "pt-br", "ja", "ar", "el", "ru"])
LINK = st.sampled_from([f"https://partner{i}.example.eu/id/cluster/c{i}" for i in range(4)]
                       + ["https://www.aerospace-valley.com/", "http://data.europa.eu/ux2/nace2/30",
                          "https://example.org/ünïcödé/путь?q=1&r=ö#frag",
                          "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"])
YEAR = st.integers(1000, 2999).map(str)
DATE = st.dates(date(1000, 1, 1), date(2999, 12, 31)).map(str)
NACE = st.from_regex(r"\Ahttp://data\.europa\.eu/ux2/nace2/[0-9]{2,4}\Z")


def sorted_unique(s, min_size=1, max_size=3):
    return st.lists(s, min_size=min_size, max_size=max_size, unique=True).map(sorted)


def value_for(kind: str, f):
    if f.name in CONCEPT_CLASS:
        pool = st.sampled_from(concepts(CONCEPT_CLASS[f.name]))
        return sorted_unique(pool) if f.shape == "links" else pool
    if f.name == "naceActivity":
        return sorted_unique(NACE)
    if f.name == "partner" and kind == "collaboration":
        return sorted_unique(LINK, min_size=2, max_size=4)
    if f.name == "nutsCode":
        return st.from_regex(r"\A[A-Z]{2}[A-Z0-9]{0,3}\Z")
    if f.name == "country":
        return st.from_regex(r"\A[A-Z]{2}\Z")
    return {
        "langmap": st.dictionaries(LANG, LABEL_TEXT, min_size=1, max_size=4),
        "langlist": st.dictionaries(LANG | st.just(""), sorted_unique(LABEL_TEXT), min_size=1, max_size=3),
        "link": LINK, "links": sorted_unique(LINK),
        "integer": st.integers(0, 10**15),
        "decimal": st.one_of(st.integers(0, 10**12),  # within the store's decimals: 18 places at most
                             st.floats(0, 1e15, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 6)),
                             st.decimals(0, 10**9, places=2, allow_nan=False).map(float)),
        "year": YEAR, "date": DATE, "dateOrYear": YEAR | DATE, "string": TEXT,
    }[f.shape]


@st.composite
def entities(draw, kind: str) -> dict:
    body = {f.name: draw(value_for(kind, f)) for f in PROFILES[kind] if f.required or draw(st.booleans())}
    if kind == "region" and "exactMatch" in body:  # the shapes: the NUTS URI ends with the code
        body["exactMatch"] = f"http://data.europa.eu/nuts/code/{body['nutsCode']}"
    if kind == "strategy" and {"periodStart", "periodEnd"} <= set(body):
        body["periodStart"], body["periodEnd"] = sorted([body["periodStart"], body["periodEnd"]])
    return body


KIND = st.sampled_from(sorted(KINDS))
RDF_DOORS = [("turtle", "text/turtle"), ("nt", "application/n-triples"), ("json-ld", "application/ld+json"),
             ("xml", "application/rdf+xml")]
_serial = itertools.count()


def call(node, method, path, **kw):
    return requests.request(method, node.base + path, headers={**node.auth, **kw.pop("headers", {})}, timeout=60, **kw)


def triples_of(node, kind: str, slug: str) -> set[tuple[str, str]]:
    """The entity's own triples (predicate, object) as the node publishes them."""
    r = node.get(f"/id/{kind}/{slug}?format=nt")
    assert r.status_code == 200, r.text
    g = Graph().parse(data=r.content.decode("utf-8"), format="nt")
    return {(str(p), o.n3()) for p, o in g.predicate_objects(URIRef(f"{node.base}/id/{kind}/{slug}"))}


@budget(60)
@given(data=st.data())
def test_generated_entities_round_trip_through_both_doors(node, data):
    kind = data.draw(KIND, label="kind")
    body = data.draw(entities(kind), label="entity")
    n = next(_serial)

    # the JSON door
    slug = f"fz-json-{n}"
    r = call(node, "POST", f"/api/v1/{kind}", json={**body, "slug": slug})
    assert r.status_code == 201, (body, r.text)
    expected = {**body, "id": f"{node.base}/id/{kind}/{slug}", "type": kind, "slug": slug}
    assert r.json() == expected
    assert node.get(f"/api/v1/{kind}/{slug}").json() == expected

    # the RDF door, the same entity as triples (vocab.profiles.to_graph), in one of four syntaxes
    rdf_slug = f"fz-rdf-{n}"
    fmt, media_type = data.draw(st.sampled_from(RDF_DOORS), label="format")
    uri = URIRef(f"{node.base}/id/{kind}/{rdf_slug}")
    text = to_graph(body, uri, kind).serialize(format=fmt, encoding="utf-8")
    r = call(node, "POST", "/api/v1/import", data=text, headers={"Content-Type": media_type})
    assert r.status_code == 200 and r.json()["imported"] == 1, (fmt, text.decode("utf-8"), r.text)
    assert node.get(f"/api/v1/{kind}/{rdf_slug}").json() == {**expected, "id": str(uri), "slug": rdf_slug}

    # both doors stored the same triples, and they read back as the same JSON
    assert triples_of(node, kind, slug) == triples_of(node, kind, rdf_slug)
    g = Graph().parse(data=node.get(f"/id/{kind}/{slug}?format=ttl").text, format="turtle")
    assert to_json(g, URIRef(expected["id"]), kind) == expected


# -- invalid input: never a server error ----------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**30, 10**30) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)


def no_server_error(r: requests.Response) -> None:
    assert r.status_code < 500, (r.request.method, r.request.url, (r.request.body or b"")[:300], r.text[:1000])
    if r.status_code >= 400:
        assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers


@budget(100)
@given(kind=KIND, method=st.sampled_from(["POST", "PUT", "PATCH"]), doc=JSON_VALUES)
def test_arbitrary_json_is_never_a_server_error(node, kind, method, doc):
    path = f"/api/v1/{kind}" if method == "POST" else f"/api/v1/{kind}/fz-target"
    no_server_error(call(node, method, path, data=json.dumps(doc), headers={"Content-Type": "application/json"}))


@budget(100)
@given(data=st.data())
def test_entities_with_one_field_gone_wrong_are_never_a_server_error(node, data):
    kind = data.draw(KIND)
    body = data.draw(entities(kind))
    name = data.draw(st.sampled_from([f.name for f in PROFILES[kind]] + ["id", "slug", "type", "nonsense"]))
    body[name] = data.draw(JSON_VALUES | st.text(st.characters(codec="utf-8"), max_size=30))
    method = data.draw(st.sampled_from(["POST", "PATCH"]))
    path = f"/api/v1/{kind}" if method == "POST" else "/api/v1/cluster/mipyrail"
    no_server_error(call(node, method, path, json=body))


IMPORT_TYPES = ["text/turtle", "application/n-triples", "application/ld+json", "application/rdf+xml", "text/csv",
                "application/trig", "application/n-quads", "application/xml"]
RDF_SNIPPETS = st.sampled_from(['<', '>', '"', '@prefix', '<{base}/id/cluster/x>', ' a ',
                                '<https://w3id.org/s3fed/vocab#Cluster>', ' . ', ' ; ', '[', ']', '(', ')', '{', '}',
                                '"""', "'", '@fr', '^^', '_:b', '#', '\n', '\\u0000', '\\', '<!DOCTYPE x>',
                                '<rdf:RDF>', '"@context"', ':', ',', 'kind,slug,label@fr', 'cluster', '\x00', '\xe9',
                                '🚀'])


@budget(150)
@given(media_type=st.sampled_from(IMPORT_TYPES),
       body=st.binary(max_size=300) | st.lists(RDF_SNIPPETS, max_size=40).map("".join).map(str.encode))
def test_arbitrary_bytes_under_each_import_type_are_never_a_server_error(node, media_type, body):
    body = body.replace(b"{base}", node.base.encode())
    no_server_error(call(node, "POST", "/api/v1/import", data=body, headers={"Content-Type": media_type}))


QUERY_VALUE = st.text(st.characters(codec="utf-8"), max_size=20) | st.integers(-10**25, 10**25).map(str)


@budget(100)
@given(kind=KIND, params=st.dictionaries(st.sampled_from(["page", "per_page", "q", "region", "strategy", "format",
                                                           "contributesTo", "partner", "domain", "lang", "x"]),
                                         QUERY_VALUE, max_size=4),
       where=st.sampled_from(["/id/{kind}/", "/api/v1/{kind}", "/search", "/feed", "/dump", "/id/{kind}/mipyrail"]))
def test_arbitrary_query_strings_are_never_a_server_error(node, kind, params, where):
    r = requests.get(node.base + where.format(kind=kind), params=params, timeout=60,
                     headers={"Accept": "application/json"})
    no_server_error(r)


@budget(80)
@given(query=st.lists(st.sampled_from(["SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "*", "?s", "?p", "?o", "{", "}",
                                       "(", ")", ".", "FILTER", "REGEX", "STR", "SERVICE", "<urn:x>", "'x'", '"',
                                       "VALUES", "UNION", "OPTIONAL", "LIMIT", "1", "-1", "GRAPH", "BIND", "AS",
                                       "#", "\n", "\\", "PREFIX", "p:", "COUNT", "GROUP BY", "/", "|", "^", "+"]),
                     max_size=30).map(" ".join))
def test_arbitrary_sparql_is_never_a_server_error(node, query):
    r = requests.post(node.base + "/sparql", data={"query": query}, timeout=60)
    if r.status_code == 503:  # a heavy query met the time budget (or the slots were taken): a clean refusal
        assert r.json()["type"].rsplit("/", 1)[1] in ("sparql-timeout", "sparql-busy"), r.text
        return
    no_server_error(r)
