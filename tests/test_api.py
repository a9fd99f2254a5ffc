"""The JSON API against a real node over HTTP: CRUD per kind, tokens, every problem listed, refused
writes change nothing, RDF and CSV import, limits — and generated entities round-trip
JSON → RDF → JSON unchanged."""
from __future__ import annotations

import itertools
import json
from datetime import date

import pytest
import requests
from conftest import DATA, sample_text, writable_sample_node
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, URIRef

from vocab import S3, load_vocabulary
from vocab.profiles import PROFILES, to_json

C = "https://w3id.org/s3fed/concept/"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A running node with the sample data and a write token, for this module's writes."""
    with writable_sample_node(tmp_path_factory.mktemp("api")) as n:
        yield n


def call(node, method, path, body=None, auth=True, **kw):
    headers = {**(node.auth if auth else {}), **kw.pop("headers", {})}
    return requests.request(method, node.base + path, json=body, headers=headers, timeout=30, **kw)


def bodies(base: str) -> dict[str, dict]:
    """A valid new entity of every kind, linking to the sample data."""
    i = f"{base}/id"
    return {
        "region": {"slug": "FRK", "label": {"fr": "Auvergne-Rhône-Alpes"}, "nutsCode": "FRK", "country": "FR"},
        "strategy": {"slug": "s3-2021-2027", "label": {"fr": "S3 2021-2027"}, "region": f"{i}/region/FRJ",
                     "periodStart": "2021", "periodEnd": "2027"},
        "domain": {"slug": "hydrogene", "label": {"fr": "Hydrogène vert", "en": "Green hydrogen"},
                   "strategy": f"{i}/strategy/sri-si-2014-2020", "naceActivity": ["http://data.europa.eu/ux2/nace2/35"]},
        "actor": {"slug": "airbus", "label": {"fr": "Airbus"}, "actorType": f"{C}actor-role/large-company"},
        "membership": {"organization": f"{i}/cluster/mipyrail", "member": f"{i}/actor/ad-occ",
                       "role": f"{C}actor-role/public-body"},
        "working-group": {"slug": "wg-eau", "label": {"fr": "GT Eau"}, "domain": f"{i}/domain/eau", "memberCount": 12},
        "action": {"slug": "act-1", "label": {"en": "Action one"}, "startDate": "2022-03-01", "endDate": "2024"},
        "funding": {"slug": "feder-1", "instrument": f"{C}funding-instrument/erdf", "amount": 1250000.5},
        "collaboration": {"slug": "co-1", "label": {"fr": "Coopération"}, "partner": [f"{i}/cluster/automotech",
                                                                                   f"{i}/cluster/mipyrail"]},
        "assessment": {"slug": "c1", "strategy": f"{i}/strategy/sri-si-2014-2020", "criterion": f"{C}criterion/c1",
                       "fulfilment": f"{C}fulfilment/partly"},
    }


def dump(node) -> set[str]:
    return set(node.get("/dump", headers={"Accept": "application/n-quads"}).text.splitlines())


@pytest.mark.parametrize("kind", list(PROFILES.keys() - {"cluster"}))
def test_create_read_replace_delete_every_kind(node, kind):
    body = bodies(node.base)[kind]
    r = call(node, "POST", f"/api/v1/{kind}", body)
    assert r.status_code == 201, r.text
    created = r.json()
    slug = created["slug"]
    assert r.headers["Location"] == f"{node.base}/api/v1/{kind}/{slug}"
    assert created["id"] == f"{node.base}/id/{kind}/{slug}" and created["type"] == kind
    assert {k: v for k, v in created.items() if k in body and k != "slug"} == \
        {k: v for k, v in body.items() if k != "slug"}
    assert requests.get(r.headers["Location"], timeout=10).json() == created
    assert call(node, "PUT", f"/api/v1/{kind}/{slug}", created).json() == created  # GET body is a PUT body
    assert call(node, "DELETE", f"/api/v1/{kind}/{slug}").status_code == 204
    assert node.get(f"/api/v1/{kind}/{slug}").status_code == 404
    assert node.get(f"/id/{kind}/{slug}").status_code == 404


def test_entity_pages_follow_every_write_at_once(node):
    """Entity descriptions are cached until the store's next write: each write shows at once,
    in every representation, and a deleted entity is gone."""
    body = {"label": {"fr": "Pôle Cache"}, "region": f"{node.base}/id/region/FRJ"}
    assert call(node, "POST", "/api/v1/cluster", {**body, "slug": "cache-test"}).status_code == 201
    for fmt in ("ttl", "jsonld", "json", "html"):
        assert "Pôle Cache" in node.get(f"/id/cluster/cache-test?format={fmt}").text
        if fmt != "json":  # the plain JSON is the profile: no incoming links
            assert "Pôle Cache" in node.get(f"/id/region/FRJ?format={fmt}").text
    assert call(node, "PATCH", "/api/v1/cluster/cache-test", {"label": {"fr": "Pôle Renommé"}}).status_code == 200
    for fmt in ("ttl", "jsonld", "json", "html"):
        text = node.get(f"/id/cluster/cache-test?format={fmt}").text
        assert "Pôle Renommé" in text and "Pôle Cache" not in text
        if fmt != "json":
            assert "Pôle Renommé" in node.get(f"/id/region/FRJ?format={fmt}").text
    assert call(node, "DELETE", "/api/v1/cluster/cache-test").status_code == 204
    assert node.get("/id/cluster/cache-test?format=ttl").status_code == 404
    assert "cache-test" not in node.get("/id/region/FRJ?format=ttl").text


def test_cluster_round_trip_is_visible_everywhere(node):
    body = {"label": {"fr": "Pôle Hydrogène", "en": "Hydrogen cluster"}, "region": f"{node.base}/id/region/FRJ",
            "contributesTo": [f"{node.base}/id/domain/eau"], "memberCount": 42, "foundingYear": "2019",
            "clusterType": f"{C}cluster-type/cluster", "homepage": "https://h2.example.org/"}
    r = call(node, "POST", "/api/v1/cluster", body)
    assert r.status_code == 201, r.text
    assert r.json()["slug"] == "hydrogen-cluster"  # from the label, in the node's first language
    uri = f"{node.base}/id/cluster/hydrogen-cluster"
    assert node.get("/api/v1/cluster/hydrogen-cluster").json() == {**body, "id": uri, "type": "cluster",
                                                                     "slug": "hydrogen-cluster"}
    ttl = node.get("/id/cluster/hydrogen-cluster?format=ttl").text
    g = Graph().parse(data=ttl, format="turtle")
    assert to_json(g, URIRef(uri), "cluster") == {**body, "id": uri, "type": "cluster", "slug": "hydrogen-cluster"}
    assert "Pôle Hydrogène" in node.get("/id/cluster/hydrogen-cluster", headers={"Accept": "text/html",
                                                                                  "Accept-Language": "fr"}).text
    sparql = node.get("/sparql", params={"query": f"ASK {{ <{uri}> ?p 42 }}"},
                      headers={"Accept": "application/sparql-results+json"})
    if sparql.status_code != 404:  # the SPARQL endpoint is a separate part of the node
        assert sparql.status_code == 200 and sparql.json()["boolean"] is True, sparql.text


def test_patch_merges_and_null_removes(node):
    call(node, "POST", "/api/v1/cluster", {"slug": "patchme", "label": {"fr": "Avant"}, "homepage": "https://a.example/",
                                           "region": f"{node.base}/id/region/FRJ", "memberCount": 1})
    r = call(node, "PATCH", "/api/v1/cluster/patchme", {"label": {"en": "After"}, "homepage": None, "memberCount": 2})
    assert r.status_code == 200, r.text
    got = node.get("/api/v1/cluster/patchme").json()
    assert got["label"] == {"fr": "Avant", "en": "After"} and got["memberCount"] == 2 and "homepage" not in got
    r = call(node, "PATCH", "/api/v1/cluster/patchme", {"region": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "region"


def test_put_keeps_triples_outside_the_profile(node):
    uri = f"{node.base}/id/cluster/with-extra"
    ttl = (f'<{uri}> a <{S3.Cluster}> ; <http://www.w3.org/2004/02/skos/core#prefLabel> "Extra"@fr ; '
           f'<{S3.region}> <{node.base}/id/region/FRJ> ; <http://www.w3.org/2000/01/rdf-schema#comment> "kept" .')
    assert call(node, "POST", "/api/v1/import", data=ttl, headers={"Content-Type": "text/turtle"}).status_code == 200
    r = call(node, "PUT", "/api/v1/cluster/with-extra",
             {"label": {"fr": "Renamed"}, "region": f"{node.base}/id/region/FRJ"})
    assert r.status_code == 200, r.text
    text = node.get("/id/cluster/with-extra?format=nt").text
    assert '"kept"' in text and '"Renamed"@fr' in text and '"Extra"@fr' not in text


def test_delete_cluster_removes_its_memberships(node):
    b = node.base
    call(node, "POST", "/api/v1/cluster", {"slug": "doomed", "label": {"fr": "Doomed"}, "region": f"{b}/id/region/FRJ"})
    r = call(node, "POST", "/api/v1/membership",
             {"organization": f"{b}/id/cluster/doomed", "member": f"{b}/id/actor/ad-occ"})
    assert r.status_code == 201 and r.json()["slug"] == "doomed-ad-occ"
    assert call(node, "DELETE", "/api/v1/cluster/doomed").status_code == 204
    assert node.get("/api/v1/membership/doomed-ad-occ").status_code == 404
    assert node.get("/id/actor/ad-occ").status_code == 200  # the member itself stays


@pytest.mark.parametrize("method,path", [("POST", "/api/v1/cluster"), ("PUT", "/api/v1/cluster/mipyrail"),
                                         ("PATCH", "/api/v1/cluster/mipyrail"), ("DELETE", "/api/v1/cluster/mipyrail"),
                                         ("POST", "/api/v1/import")])
def test_writes_need_a_valid_token(node, method, path):
    r = call(node, method, path, {"label": {"fr": "x"}}, auth=False)
    assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"
    assert "Bearer" in r.headers["WWW-Authenticate"]
    r = call(node, method, path, {"label": {"fr": "x"}}, auth=False, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 403
    assert node.get("/api/v1/cluster/mipyrail").status_code == 200  # reads are public


def test_duplicate_is_409(node):
    r = call(node, "POST", "/api/v1/cluster", {"slug": "mipyrail", "label": {"fr": "Again"},
                                               "region": f"{node.base}/id/region/FRJ"})
    assert r.status_code == 409 and "PUT" in r.json()["detail"]


def test_every_problem_is_listed_and_nothing_changes(node):
    before = dump(node)
    r = call(node, "POST", "/api/v1/cluster", {"label": {"fr": "Bad"}, "memberCount": -3,
                                               "foundingYear": "95", "clusterType": "https://example.org/no-such-type",
                                               "colour": "blue"})
    assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert {e.get("field") for e in errors} == {"memberCount", "foundingYear", "colour", "region", "clusterType"}
    shacl = [e for e in errors if e.get("field") == "clusterType"]
    assert shacl and shacl[0]["focus"].endswith("/id/cluster/bad") and shacl[0]["path"] == "s3:clusterType"
    r = call(node, "PUT", "/api/v1/cluster/mipyrail",
             {"label": {"fr": "Mipyrail", "not a tag": "x"}, "region": "no iri"})
    assert r.status_code == 422 and [e["path"] for e in r.json()["errors"]] == ["/label/not a tag", "/region"]
    assert dump(node) == before


def test_import_rdf_in_every_format(node):
    for fmt, media_type in [("turtle", "text/turtle"), ("json-ld", "application/ld+json"),
                            ("nt", "application/n-triples"), ("xml", "application/rdf+xml")]:
        slug = f"imported-{fmt}"
        ttl = (f'<{node.base}/id/actor/{slug}> a <{S3.Actor}> ; '
               f'<http://www.w3.org/2004/02/skos/core#prefLabel> "Acteur {fmt}"@fr .')
        data = Graph().parse(data=ttl, format="turtle").serialize(format=fmt)
        r = call(node, "POST", "/api/v1/import", data=data.encode(), headers={"Content-Type": media_type})
        assert r.status_code == 200 and r.json() == {"imported": 1, "triples": 2}, r.text
        assert node.get(f"/api/v1/actor/{slug}").json()["label"] == {"fr": f"Acteur {fmt}"}


def test_import_refused_lists_problems(node):
    before = dump(node)
    bad = sample_text(node).replace('skos:prefLabel "Mipyrail"@fr ;', "")
    r = call(node, "POST", "/api/v1/import", data=bad.encode(), headers={"Content-Type": "text/turtle"})
    assert r.status_code == 422 and any(e.get("focus", "").endswith("/cluster/mipyrail") for e in r.json()["errors"])
    r = call(node, "POST", "/api/v1/import", data=b"<a> <b> .", headers={"Content-Type": "text/turtle"})
    assert r.status_code == 422 and r.json()["errors"][0]["line"] == 1
    assert dump(node) == before


def test_csv_import(node):
    r = call(node, "POST", "/api/v1/import", data=(DATA / "clusters.csv").read_bytes(),
             headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and r.json()["imported"] == 4, r.text
    cluster = node.get("/api/v1/cluster/eurobiomed").json()
    assert cluster["contributesTo"] == [f"{node.base}/id/domain/sante"] and cluster["memberCount"] == 280
    assert cluster["naceActivity"] == ["http://data.europa.eu/ux2/nace2/21"]
    m = node.get("/api/v1/membership/eurobiomed-chu-montpellier").json()
    assert m["member"] == f"{node.base}/id/actor/chu-montpellier"
    actor = node.get("/api/v1/actor/chu-montpellier").json()
    assert actor["actorType"] == f"{C}actor-role/public-body"  # from s3c:actor-role/public-body
    assert actor["label"] == {"fr": "CHU de Montpellier", "en": "Montpellier University Hospital"}


def test_csv_errors_name_rows_and_columns(node):
    before = dump(node)
    r = call(node, "POST", "/api/v1/import", data=(DATA / "clusters-bad.csv").read_bytes(),
             headers={"Content-Type": "text/csv"})
    assert r.status_code == 422
    where = {(e.get("row"), e.get("column"), e.get("field")) for e in r.json()["errors"]}
    assert {(3, 4, "region"), (4, 5, "foundingYear"), (4, 6, "memberCount"), (5, 7, "contributesTo")} <= where
    semicolons = b"kind;slug;label@fr;region\ncluster;sans-nom;;region/FRJ\n"
    r = call(node, "POST", "/api/v1/import", data=semicolons, headers={"Content-Type": "text/csv"})
    assert r.status_code == 422 and r.json()["errors"][0]["row"] == 2
    assert dump(node) == before


def test_bad_requests_are_4xx_problems(node):
    deep = "[" * 50_000 + "]" * 50_000
    r = call(node, "POST", "/api/v1/cluster", data=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "nested" in r.json()["detail"]
    r = call(node, "POST", "/api/v1/import", data=deep, headers={"Content-Type": "application/ld+json"})
    assert r.status_code == 422
    r = call(node, "POST", "/api/v1/import", data=b"%PDF", headers={"Content-Type": "application/pdf"})
    assert r.status_code == 415 and "text/csv" in r.json()["detail"]
    r = call(node, "POST", "/api/v1/cluster", data="label=x",
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = call(node, "DELETE", "/api/v1/cluster")
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert node.get("/api/v1/no-such-kind").status_code == 404
    assert node.get("/api/v1/cluster/no-such-slug").json()["status"] == 404
    assert node.get("/api/v1/cluster?per_page=0").status_code == 400


def test_list_pages_and_filters(node):
    r = node.get("/api/v1/cluster", params={"per_page": 1})
    body = r.json()
    assert body["total"] >= 3 and len(body["items"]) == 1 and body["next"]
    assert 'rel="next"' in r.headers["Link"]
    second = requests.get(body["next"], timeout=10).json()
    assert second["page"] == 2 and second["items"][0]["id"] != body["items"][0]["id"]
    by_domain = node.get("/api/v1/cluster", params={"contributesTo": f"{node.base}/id/domain/aeronautique"}).json()
    assert [c["slug"] for c in by_domain["items"]] == ["aerospace-valley"]
    assert node.get("/api/v1/cluster", params={"q": "MIPY"}).json()["items"][0]["slug"] == "mipyrail"


def test_body_over_the_limit_is_413(new_node):
    n = new_node()
    n.env["S3FED_LIMITS_MAX_BODY_BYTES"] = "4096"
    token = n.token()
    n.start()
    r = requests.post(n.base + "/api/v1/import", data=b"#" * 8000, timeout=10,
                      headers={"Content-Type": "text/turtle", "Authorization": f"Bearer {token}"})
    assert r.status_code == 413 and r.headers["Content-Type"] == "application/problem+json"


# -- generated entities ---------------------------------------------------------------------

def _concepts(cls) -> list[str]:
    from rdflib import RDF
    return sorted(str(s) for s in load_vocabulary().subjects(RDF.type, cls))


TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)
LANG = st.sampled_from(["fr", "en", "de", "it", "sl", "de-ch"])
LINKS = st.sampled_from([f"https://example.org/thing/{i}" for i in range(6)])
CONCEPT_FIELDS = {"clusterType": S3.ClusterType, "policyObjective": S3.PolicyObjective, "technology": S3.Technology,
                  "actorType": S3.ActorRole, "instrument": S3.FundingInstrument}


def value_for(field):
    if field.name in CONCEPT_FIELDS:
        pool = st.sampled_from(_concepts(CONCEPT_FIELDS[field.name]))
        return st.lists(pool, min_size=1, max_size=3, unique=True).map(sorted) if field.shape == "links" else pool
    if field.name == "naceActivity":
        return st.lists(st.from_regex(r"\Ahttp://data\.europa\.eu/ux2/nace2/[0-9]{2,4}\Z"), min_size=1, max_size=3,
                        unique=True).map(sorted)
    return {
        "langmap": st.dictionaries(LANG, TEXT, min_size=1, max_size=3),
        "langlist": st.dictionaries(LANG | st.just(""), st.lists(TEXT, min_size=1, max_size=3, unique=True).map(sorted),
                                    min_size=1, max_size=2),
        "link": LINKS, "links": st.lists(LINKS, min_size=1, max_size=3, unique=True).map(sorted),
        "integer": st.integers(0, 10**12), "decimal": st.floats(0, 1e12, allow_nan=False, allow_infinity=False),
        "year": st.integers(1000, 2999).map(str),
        "dateOrYear": st.one_of(st.integers(1000, 2999).map(str),
                                st.dates(date(1000, 1, 1), date(2999, 12, 31)).map(str)),
        "string": TEXT,
    }[field.shape]


@st.composite
def entities(draw, kind):
    body = {}
    for f in PROFILES[kind]:
        if f.required or draw(st.booleans()):
            body[f.name] = draw(value_for(f))
    return body


_serial = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_generated_entities_round_trip(node, data):
    kind = data.draw(st.sampled_from(["cluster", "domain", "actor", "funding", "action", "working-group"]))
    body = data.draw(entities(kind))
    if kind == "domain":
        body["strategy"] = f"{node.base}/id/strategy/sri-si-2014-2020"
    slug = f"gen-{next(_serial)}"
    r = call(node, "POST", f"/api/v1/{kind}", {**body, "slug": slug})
    assert r.status_code == 201, (body, r.text)
    uri = f"{node.base}/id/{kind}/{slug}"
    expected = {**body, "id": uri, "type": kind, "slug": slug}
    assert r.json() == expected
    assert node.get(f"/api/v1/{kind}/{slug}").json() == expected
    g = Graph().parse(data=node.get(f"/id/{kind}/{slug}?format=nt").content.decode("utf-8"), format="nt")
    assert to_json(g, URIRef(uri), kind) == expected
    assert json.loads(json.dumps(expected)) == expected


def test_a_body_with_thousands_of_bad_keys_gets_a_short_problem(node):
    body = {"slug": "many", "label": {"fr": "Many"}, **{f"unknown{n}": n for n in range(20_000)}}
    r = call(node, "POST", "/api/v1/cluster", body)
    assert r.status_code == 422 and len(r.content) < 300_000, len(r.content)
    errors = r.json()["errors"]
    assert len(errors) == 1001 and errors[-1]["message"].startswith("… and 19")  # the rest are counted
    assert call(node, "GET", "/api/v1/cluster/many").status_code == 404


def test_decimals_the_store_cannot_compare_are_refused_by_name(node):
    fund = {"instrument": "https://w3id.org/s3fed/concept/funding-instrument/erdf"}
    for amount, message in ((2.225073858507203e-309, "Too precise"), (1e21, "Too large")):
        r = call(node, "POST", "/api/v1/funding", {**fund, "slug": "tiny", "amount": amount})
        assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["amount"]
        assert r.json()["errors"][0]["message"].startswith(message)
    assert call(node, "POST", "/api/v1/funding", {**fund, "slug": "cents", "amount": 0.05}).status_code == 201


def test_delete_removes_the_links_to_it_and_records_them_in_the_feed(node):
    b = node.base
    assert call(node, "POST", "/api/v1/domain", {"slug": "short-lived", "label": {"en": "Short-lived"},
                                                  "strategy": f"{b}/id/strategy/sri-si-2014-2020"}).status_code == 201
    assert call(node, "PATCH", "/api/v1/cluster/mipyrail",
                {"contributesTo": [f"{b}/id/domain/short-lived"]}).status_code == 200
    assert call(node, "DELETE", "/api/v1/domain/short-lived").status_code == 204
    cluster = node.get("/api/v1/cluster/mipyrail").json()
    assert not cluster.get("contributesTo") and cluster["label"] == {"fr": "Mipyrail"}  # the rest stays
    newest = node.get("/feed?since=0", headers={"Accept": "application/n-triples"}).text
    assert f"{b}/id/cluster/mipyrail" in newest and f"{b}/id/domain/short-lived" in newest


def test_delete_of_something_others_need_is_409_and_changes_nothing(node):
    before = dump(node)
    r = call(node, "DELETE", "/api/v1/region/FRJ")  # the strategy needs its region
    assert r.status_code == 409 and r.headers["Content-Type"] == "application/problem+json"
    focus = {e["focus"] for e in r.json()["errors"]}
    assert f"{node.base}/id/strategy/sri-si-2014-2020" in focus
    assert all("change or delete it first" in e["message"] for e in r.json()["errors"])
    assert dump(node) == before
