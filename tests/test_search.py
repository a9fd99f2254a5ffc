"""``/search``: labels in every language, accents and capitals ignored, ranked, HTML and JSON; on a
hub across every harvested peer. In-process apps over real on-disk stores (no server needed)."""
from __future__ import annotations

import pytest

from node import create_app, search
from node.search import fold, marked, rank
from tests.conftest import make_node, sample_text


def app_for(config) -> object:
    app = create_app(str(config))
    if "search" not in app.blueprints:  # until create_app registers it everywhere
        search.register(app)
    return app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    node = make_node(tmp_path_factory.mktemp("search"))
    result = node.import_text(sample_text(node))
    assert result.returncode == 0, result.stderr
    app = app_for(node.config)
    yield app.test_client(), node
    app.extensions["s3fed.store"].close()


def hits(client, q: str) -> list[dict]:
    r = client.get("/search", query_string={"q": q}, headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.mimetype == "application/json"
    return r.get_json()["results"]


def test_folding_and_ranking():
    assert fold("Île-de-France") == "ile-de-france"
    assert fold("MÜNCHEN") == "munchen"
    assert rank("Mipyrail", ["mipyrail"]) == 0 < rank("Mipyrail Sud", ["mipyrail"]) == 1
    assert rank("Pôle Mipyrail", ["mipy"]) == 2 < rank("Xmipyrail", ["mipy"]) == 3
    assert str(marked("Matériaux & co", ["materiaux"])) == "<mark>Matériaux</mark> &amp; co"


def test_accents_and_case_do_not_matter(client):
    c, node = client
    for q in ("materiaux", "MATÉRIAUX", "matériaux"):
        ids = [h["id"] for h in hits(c, q)]
        assert f"{node.base}/id/domain/aeronautique" in ids, q
        assert f"{node.base}/id/working-group/aeronautique" in ids


def test_every_language_and_every_kind(client):
    c, node = client
    found = hits(c, "occitania")  # the English label; the French one is "Occitanie"
    assert found[0]["id"] == f"{node.base}/id/region/FRJ" and found[0]["kind"] == "region"
    kinds = {h["kind"] for h in hits(c, "aéronautique")}
    assert {"domain", "working-group"} <= kinds
    assert {h["kind"] for h in hits(c, "CCI toulouse")} == {"actor"}


def test_all_words_in_one_label_and_best_first(client):
    c, node = client
    found = hits(c, "transport intelligent")
    assert found and all("transport" in fold(h["label"] + (h["matched"] or "")) for h in found)
    first = hits(c, "automotech")[0]
    assert first["id"] == f"{node.base}/id/cluster/automotech" and first["label"] == "Automotech"
    assert first["region"] == "Occitania"  # the region's label in the reader's language (English here)


def test_nothing_strange_gets_through(client):
    c, _ = client
    for q in ('"', "\\", ".*", "a\"} } ; DROP ALL ; #", "(((", "[", "?s"):
        r = c.get("/search", query_string={"q": q}, headers={"Accept": "application/json"})
        assert r.status_code == 200, (q, r.data[:300])
    assert hits(c, "") == [] and hits(c, "   ") == []
    assert hits(c, "zzzz-no-such-thing") == []


def test_html_page_groups_and_marks(client):
    c, node = client
    html = c.get("/search?q=aero", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<h2>Clusters" in html and "<mark>Aero</mark>space Valley" in html
    assert f'href="{node.base}/id/cluster/aerospace-valley"' in html
    empty = c.get("/search?q=nothing-here", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Nothing is called" in empty
    start = c.get("/search", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'name="q"' in start and "in any" in start
    assert c.get("/search?q=aero&format=json").mimetype == "application/json"


def test_search_box_is_in_every_page_header(client):
    c, _ = client
    for path in ("/", "/id/cluster/", "/sparql"):
        html = c.get(path, headers={"Accept": "text/html"}).get_data(as_text=True)
        assert '<form class="search" action="/search"' in html, path


def test_hub_searches_its_peers(tmp_path):
    """A hub's readable graphs include every peer's: results name the region they come from."""
    import pyoxigraph as ox

    from node.store import Graphs
    from sync.demo import DEMO_DIR, rebase
    hub = make_node(tmp_path, "HUB", "Hub")
    bases = {"DE2": "http://de2.example", "FRJ": "http://frj.example"}
    hub.write("s3fed.toml", hub.config.read_text() + "".join(
        f'\n[[peers]]\nid = "{code}"\nurl = "{url}"\n' for code, url in bases.items()))
    app = app_for(hub.config)
    store, gs = app.extensions["s3fed.store"], Graphs(hub.base)
    for code in bases:
        text = rebase((DEMO_DIR / f"{code}.ttl").read_text(encoding="utf-8"), bases)
        store.load(text.encode(), ox.RdfFormat.TURTLE, gs.peer(code))
    c = app.test_client()
    found = hits(c, "munchen")
    expected = {"label": "Technical University of Munich", "region": "Bavaria", "region_code": "DE2"}
    assert expected.items() <= found[0].items()
    assert found[0]["matched"] == "Technische Universität München"
    fr = c.get("/search?q=munchen", headers={"Accept": "application/json", "Accept-Language": "de"}).get_json()
    assert fr["results"][0]["label"] == "Technische Universität München"
    regions = {h["region_code"] for h in hits(c, "aerospace")}
    assert regions == {"DE2", "FRJ"}
    store.close()
