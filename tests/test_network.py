"""``/network`` and the hub's views of the index: a deterministic, valid, linked SVG of the
cooperation network, its HTML page, the hub's landing overview and an entity's opportunities.
An in-process hub over a real store: three demo regions loaded as peer graphs, index built."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest

from node import create_app
from node.store import Graphs
from sync import index, network_web
from sync.demo import DEMO_DIR, rebase
from tests.conftest import make_node

SVG = "{http://www.w3.org/2000/svg}"
BASES = {"DE2": "http://de2.example", "FRJ": "http://frj.example", "ITC4": "http://itc4.example"}


def hub_app(tmp_path, codes=BASES, load=True):
    hub = make_node(tmp_path, "HUB", "Hub")
    hub.write("s3fed.toml", hub.config.read_text() + "".join(
        f'\n[[peers]]\nid = "{code}"\nurl = "{BASES[code]}"\n' for code in codes))
    app = create_app(str(hub.config))
    if "network" not in app.blueprints:  # until create_app registers it on hubs
        network_web.register(app)
    store, gs = app.extensions["s3fed.store"], Graphs(hub.base)
    for code in codes if load else ():
        text = rebase((DEMO_DIR / f"{code}.ttl").read_text(encoding="utf-8"), BASES)
        store.load(text.encode(), ox.RdfFormat.TURTLE, gs.peer(code))
    if load:
        index.build(store, gs, app.config["S3FED"])
    return app


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    app = hub_app(tmp_path_factory.mktemp("network"))
    yield app
    app.extensions["s3fed.store"].close()


def svg(client, query: str = "") -> ET.Element:
    r = client.get("/network?format=svg" + query)
    assert r.status_code == 200 and r.mimetype == "image/svg+xml", r.data[:500]
    return ET.fromstring(r.data)


def test_svg_is_valid_linked_and_coloured_by_region(hub):
    root = svg(hub.test_client())
    items = root.findall(f".//{SVG}a[@class='item']")
    clusters = 2 + 8 + 2  # DE2, FRJ, ITC4
    assert len(items) == clusters
    hrefs = {a.get("href") for a in items}
    assert {"http://frj.example/id/cluster/aerospace-valley", "http://de2.example/id/cluster/bavairia"} <= hrefs
    colours = {a.get("href").split("/id/")[0]: a.find(f"{SVG}circle").get("fill") for a in items}
    assert len(set(colours.values())) == 3  # one colour per region
    titles = [a.find(f"{SVG}title").text for a in items]
    assert any(t.startswith("Aerospace Valley — Occitanie") for t in titles)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"Occitanie", "Bavaria", "Lombardy"} <= set(texts)  # region names
    assert "Aerospace Valley" in texts  # item labels


def test_edges_are_opportunities_and_collaborations(hub):
    root = svg(hub.test_client())
    opps = root.findall(f".//{SVG}path[@class='opportunity']")
    assert opps and all(float(p.get("stroke-width")) >= 0.6 for p in opps)
    widths = sorted(float(p.get("stroke-width")) for p in opps)
    assert widths[-1] > widths[0]  # thickness follows the score
    links = [a.get("href") for a in root.findall(f".//{SVG}a") if a.find(f"{SVG}path") is not None]
    assert all("/index/" in h for h in links) and len(links) == len(opps)
    collabs = root.findall(f".//{SVG}path[@class='collaboration']")
    assert collabs and all(p.get("stroke-dasharray") for p in collabs)  # Aerospace Valley – bavAIRia
    assert len(svg(hub.test_client(), "&top=3").findall(f".//{SVG}path[@class='opportunity']")) == 3


def test_layout_is_deterministic(hub):
    c = hub.test_client()
    first, second = c.get("/network?format=svg").data, c.get("/network?format=svg").data
    assert first == second
    domains = svg(c, "&kind=domain").findall(f".//{SVG}a[@class='item']")
    both = svg(c, "&kind=all").findall(f".//{SVG}a[@class='item']")
    assert len(domains) > 12 and len(both) == len(domains) + 12
    thumb = svg(c, "&labels=0")
    assert not [t for t in thumb.iter(f"{SVG}text") if t.get("font-size") == "11"]


def test_html_page_and_errors(hub):
    c = hub.test_client()
    html = c.get("/network", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "<h1>Cooperation network</h1>" in html and "<svg" in html and "Download SVG" in html
    assert 'class="swatch"' in html and "Occitanie" in html
    assert c.get("/network", headers={"Accept": "image/svg+xml"}).mimetype == "image/svg+xml"
    assert c.get("/network?kind=everything").status_code == 400
    assert c.get("/network?top=many").status_code == 400


def test_entity_opportunities_and_landing_overview(hub):
    with hub.test_request_context("/"):
        found = network_web.opportunities_of("http://frj.example/id/cluster/aerospace-valley")
        assert found and found == sorted(found, key=lambda o: -o["score"])
        assert all(o["partner"].startswith(("http://de2.example", "http://itc4.example")) for o in found)
        assert {"partner_label", "region_label", "score", "id"} <= set(found[0])
        overview = network_web.federation_overview()
    assert [r["code"] for r in overview["regions"]] == ["DE2", "FRJ", "ITC4"]
    frj = overview["regions"][1]
    assert frj["label"] == "Occitanie" and frj["clusters"] == 8 and frj["domains"] == 7 and frj["opportunities"] > 0
    assert overview["top"] and overview["totals"]["opportunities"] >= len(overview["top"])
    html = hub.test_client().get("/", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Best cooperation opportunities" in html and "/network?format=svg" in html
    assert 'href="/network"' in html and 'href="/index"' in html and 'href="/peers"' in html  # hub navigation


def test_empty_hub_draws_an_empty_network(tmp_path):
    app = hub_app(tmp_path, load=False)  # peers configured, nothing harvested yet
    root = svg(app.test_client())
    assert root.tag == f"{SVG}svg" and not root.findall(f".//{SVG}a")
    assert app.test_client().get("/", headers={"Accept": "text/html"}).status_code == 200
    app.extensions["s3fed.store"].close()


def test_hub_entity_page_lists_opportunities_server_side(tmp_path):
    """A hub that also publishes a region shows that region's opportunities itself (no script)."""
    from node.formats import format_for_upload
    from node.importer import run_import
    from tests.conftest import sample_text
    app = hub_app(tmp_path, codes=["DE2"], load=False)
    store, gs = app.extensions["s3fed.store"], Graphs(app.config["S3FED"]["node"]["base_url"])
    node = type("N", (), {"region": "FRJ", "base": gs.base})()  # sample.ttl is Occitanie's
    run_import(store, gs, [("s.ttl", sample_text(node).encode(), format_for_upload(None, "s.ttl"))], gs.base)
    text = rebase((DEMO_DIR / "DE2.ttl").read_text(encoding="utf-8"), BASES)
    store.load(text.encode(), ox.RdfFormat.TURTLE, gs.peer("DE2"))
    index.build(store, gs, app.config["S3FED"])
    html = app.test_client().get("/id/cluster/aerospace-valley", headers={"Accept": "text/html"}).get_data(as_text=True)
    section = html.split('id="opportunities"', 1)[1]
    assert "opportunities.js" not in html and "<table" in section.split("</section>")[0]
    assert 'href="http://de2.example/id/cluster/bavairia"' in section and "Bavaria" in section
    store.close()
