"""The comparative stress test on a small hand-made federation (tests/data/study, see its README).

The study runs once per module on a real on-disk store (three peer graphs, the index graph and
the vocabulary graph, as on a hub); every expected figure below is worked out by hand from the
data files. The web side is tested on the real app factory with an in-process client, and on a
real served node once create_app registers the blueprint for hubs.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef

import vocab
from node.store import Graphs, Store
from sync import study, study_web
from sync.study import COLUMNS, DATA_QUERIES, INDICATORS, QUERIES, compute, dataset, stress_test

DATA = Path(__file__).parent / "data" / "study"
HUB = "https://hub.test"
ERDF = "European Regional Development Fund (ERDF)"
NONE = dict.fromkeys(COLUMNS)

# Hand-computed; see tests/data/study/README.md for the situation of each region.
EXPECTED = {
    "FRJ": NONE | {
        "region": "FRJ", "name": "Test Occitanie", "country": "FR", "period_start": 2014, "period_end": 2020,
        "domains": 3,                                   # a1, a2, a3 (the 2007 strategy's domain is not counted)
        "hhi_clusters": 5 / 9,                          # links per domain 2, 1, 0: (4 + 1) / 3²
        "hhi_members": (102**2 + 100**2) / 202**2,      # a1: cA1 100 + cA2 2 listed; a2: cA1 100
        "share_domains_with_cluster": 2 / 3, "share_domains_with_wg": 2 / 3, "share_domains_with_action": 2 / 3,
        "actions_per_domain_year": 3 / (3 * 7),         # act1, act2, act3 over 3 domains and 2014-2020
        "working_groups": 2, "members_per_group": (30 + 3) / 2,  # wg-a1 memberCount 30; wg-a2 3 listed
        # memberships: cA1 agency (no role: actor type intermediary → other), cA2 large company and
        # higher education, wg-a2 SME, research organisation, public body
        "helix_industry": 2 / 6, "helix_research": 2 / 6, "helix_public": 1 / 6, "helix_other": 1 / 6,
        "helix_n": 6, "helix_balance": (1 - (4 + 4 + 1 + 1) / 36) / (3 / 4),
        "interregional_collaborations": 1,              # col1 (with DE1); col2 stays in the region
        "opportunities": 3,                             # opp1 (a1), opp2 (cA1), opp3 (a2)
        "foreign_partners": 2,                          # cB1 (DE) in col1, Partner C (IT) in act1
        "share_domains_with_policy_objective": 2 / 3,   # a1, a2
        "c1": "fulfilled", "c2": "partly", "c3": "not-fulfilled",  # c4 is on the old strategy: ignored
        "criteria_fulfilled": 1, "criteria_score": (1 + 0.5 + 0) / 3,
        "single_cluster_domains_share": 1 / 3,          # a2 (cA1 only)
        "max_cluster_coverage_drop": 1 / 3, "critical_cluster": "Cluster A1",
        "top_instrument_share": 120 / 170, "critical_instrument": ERDF,  # ERDF 100k + 20k, Interreg 50k
    },
    "DE1": NONE | {
        "region": "DE1", "name": "Test Baden-Württemberg", "country": "DE", "period_start": 2014, "period_end": 2020,
        "domains": 2, "hhi_clusters": 0.5, "hhi_members": 0.5, "share_domains_with_cluster": 1.0,
        # no working group, action, membership, policy objective or assessment at all: no data
        "interregional_collaborations": 1, "opportunities": 2, "foreign_partners": 1,
        "single_cluster_domains_share": 1.0, "max_cluster_coverage_drop": 1.0, "critical_cluster": "Cluster B1",
    },
    "ITC4": NONE | {
        "region": "ITC4", "name": "Test Lombardia", "country": "IT",  # no period: its only strategy is the latest
        "domains": 1, "share_domains_with_wg": 1.0, "working_groups": 1,  # wg-c1 has no member figure
        "interregional_collaborations": 0,              # col3 is within the region: 0, not missing
        "opportunities": 1, "foreign_partners": 1,      # cA1 (FR) in act1
        "share_domains_with_policy_objective": 1.0, "c7": "fulfilled", "criteria_fulfilled": 1, "criteria_score": 1.0,
        "top_instrument_share": 100 / 150, "critical_instrument": ERDF,  # act1, as a partner
    },
}


def load_federation(store: Store, graphs: Graphs, index: bool = True) -> None:
    store.replace_graph(graphs.vocab, vocab.load_vocabulary().serialize(format="nt", encoding="utf-8"))
    for code in ("FRJ", "DE1", "ITC4"):
        store.load((DATA / f"{code}.ttl").read_bytes(), ox.RdfFormat.TURTLE, graphs.peer(code))
    if index:
        store.load((DATA / "index.ttl").read_bytes(), ox.RdfFormat.TURTLE, graphs.index)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    store, graphs = Store(root / "store"), Graphs(HUB)
    load_federation(store, graphs)
    summary = stress_test(store, graphs, root / "out")
    yield SimpleNamespace(store=store, graphs=graphs, out=root / "out", summary=summary, values=summary["values"])
    store.close()


@pytest.fixture
def no_charts(monkeypatch):
    """Skip matplotlib where a test is about the wiring, not the report (saves seconds)."""
    def stub(out_dir, summary, inputs):
        (out_dir / "index.html").write_text("<h1>stub report</h1>", encoding="utf-8")
        return ["index.html"]
    monkeypatch.setattr(study_web, "render", stub)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_indicator_has_its_hand_computed_value(report, code):
    assert set(report.values) == set(EXPECTED)
    got = report.values[code]
    for column, want in EXPECTED[code].items():
        assert got[column] == (pytest.approx(want) if isinstance(want, float) else want), column


def test_missing_is_missing_and_zero_is_zero(report, tmp_path):
    de1, itc4 = report.values["DE1"], report.values["ITC4"]
    assert de1["working_groups"] is None and de1["members_per_group"] is None  # publishes no working group
    assert itc4["working_groups"] == 1 and itc4["members_per_group"] is None  # a group without member figure
    assert itc4["interregional_collaborations"] == 0  # takes part in one, inside the region
    # without a cooperation index nobody has opportunities: no data, not 0
    store, graphs = Store(None), Graphs(HUB)
    load_federation(store, graphs, index=False)
    table, _ = compute(store, graphs)
    assert {code: row["opportunities"] for code, row in table.items()} == {"DE1": None, "FRJ": None, "ITC4": None}
    assert table["FRJ"]["domains"] == 3


def test_regions_can_be_chosen_and_unknown_ones_are_empty_rows(report):
    table, _ = compute(report.store, report.graphs, ["FRJ", "XX9"])
    assert list(table) == ["FRJ", "XX9"]
    assert table["FRJ"]["domains"] == 3
    assert table["XX9"] == NONE | {"region": "XX9", "opportunities": 0}  # the index exists: none involve it


def test_csv_is_one_row_per_region_with_empty_cells_for_missing(report):
    path = report.out / "indicators.csv"
    try:
        import pandas
    except ImportError:
        pandas = None
    if pandas is not None:
        df = pandas.read_csv(path)
        assert list(df.columns) == COLUMNS and len(df) == 3
        assert sorted(df["region"]) == ["DE1", "FRJ", "ITC4"]
        frame = df.set_index("region")
        assert pandas.isna(frame.loc["DE1", "working_groups"])
        assert frame.loc["ITC4", "interregional_collaborations"] == 0
        assert frame.loc["FRJ", "domains"] == 3
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == COLUMNS
    assert [r["region"] for r in rows] == ["DE1", "FRJ", "ITC4"]
    by = {r["region"]: r for r in rows}
    assert by["DE1"]["working_groups"] == "" and by["DE1"]["c1"] == ""
    assert by["ITC4"]["interregional_collaborations"] == "0"
    assert by["FRJ"]["c2"] == "partly" and float(by["FRJ"]["hhi_clusters"]) == pytest.approx(5 / 9, abs=1e-6)
    assert all(c in COLUMNS for c in ("single_cluster_domains_share", "max_cluster_coverage_drop", "critical_cluster"))


def test_charts_are_real_png_images(report):
    from matplotlib.image import imread
    pngs = sorted(report.out.glob("*.png"))
    assert {p.name for p in pngs} == {"profile.png", "indicators.png", "helix.png", "criteria.png", "sensitivity.png"}
    for p in pngs:
        data = p.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", p.name
        assert len(data) > 5_000, p.name
        image = imread(p)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 300, p.name


def test_every_query_file_parses_and_runs_on_the_store(report):
    files = sorted(QUERIES.glob("*.rq"))
    used = {i.query for i in INDICATORS if i.query} | set(DATA_QUERIES)
    assert {f.stem for f in files} == used  # no stray query, none missing
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert text.startswith("#"), f"{f.name} should say what it computes"
        rows = list(report.store.query(text, default_graph=dataset(report.store, report.graphs)))
        assert rows, f"{f.name} returned nothing on the test federation"


def test_rdf_file_parses_and_is_in_the_hubs_study_graph(report):
    g = Graph().parse(report.out / "indicators.ttl", format="turtle")
    graph = f"{HUB}/graph/study"
    assert report.store.count(graph) == len(g) == report.summary["triples"]
    s3 = "https://w3id.org/s3fed/vocab#"

    def value(code, indicator):
        q = f"""PREFIX s3: <{s3}> PREFIX dcterms: <http://purl.org/dc/terms/>
                SELECT ?v WHERE {{ GRAPH <{graph}> {{ ?o a s3:IndicatorValue ; s3:indicator <{indicator}> ;
                dcterms:spatial <http://data.europa.eu/nuts/code/{code}> ; s3:value ?v }} }}"""
        return [r["v"] for r in report.store.query(q)]
    ind = "https://w3id.org/s3fed/concept/indicator/"
    assert [int(v.value) for v in value("FRJ", ind + "domains")] == [3]
    assert value("DE1", ind + "working_groups") == []  # missing: no observation, never a 0
    assert [v.value for v in value("FRJ", "https://w3id.org/s3fed/concept/criterion/c2")] == [
        "https://w3id.org/s3fed/concept/fulfilment/partly"]
    assert [v.value for v in value("DE1", ind + "critical_cluster")] == ["https://study.test/DE1/id/cluster/cb1"]
    run = URIRef(report.summary["run"])
    assert (run, URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), URIRef(s3 + "StudyRun")) in g
    assert (URIRef(ind + "domains"), URIRef(s3 + "query"), Literal(study.query_text("domains"))) in g
    assert (URIRef(f"{run}#FRJ-domains"), URIRef(s3 + "region"), URIRef("https://study.test/FRJ/id/region/frj")) in g


def test_a_new_run_replaces_the_study_graph(tmp_path, no_charts):
    store, graphs = Store(tmp_path / "store"), Graphs(HUB)
    load_federation(store, graphs)
    stress_test(store, graphs, tmp_path / "one")
    second = stress_test(store, graphs, tmp_path / "two", regions=["DE1"])
    graph = f"GRAPH <{HUB}/graph/study>"
    runs = store.query(f"SELECT ?r WHERE {{ {graph} {{ ?r a <https://w3id.org/s3fed/vocab#StudyRun> }} }}")
    assert [r["r"].value for r in runs] == [second["run"]]
    spatial = store.query(f"SELECT DISTINCT ?s WHERE {{ {graph} {{ ?o <http://purl.org/dc/terms/spatial> ?s }} }}")
    assert [r["s"].value for r in spatial] == ["http://data.europa.eu/nuts/code/DE1"]
    store.close()


def test_sensitivity_flags_the_region_carried_by_a_single_cluster(report):
    rows = {(r["region"], r["cluster"]): r for r in report.summary["sensitivity"]["clusters"]}
    assert set(rows) == {("DE1", "Cluster B1"), ("FRJ", "Cluster A1"), ("FRJ", "Cluster A2")}
    b1 = rows["DE1", "Cluster B1"]
    assert b1["coverage_after"] == 0 and b1["coverage_drop"] == 1 and b1["sole_domains"] == ["Domain b1", "Domain b2"]
    assert rows["FRJ", "Cluster A1"]["sole_domains"] == ["Domain a2"]
    assert rows["FRJ", "Cluster A1"]["hhi_clusters_after"] == pytest.approx(1.0)  # only cA2 on a1 is left
    assert rows["FRJ", "Cluster A2"]["coverage_drop"] == 0
    funding = {(r["region"], r["instrument"]): r for r in report.summary["sensitivity"]["funding"]}
    assert funding["FRJ", ERDF]["actions_unfunded"] == 1  # act2 has only ERDF; act1 keeps Interreg
    with (report.out / "sensitivity.csv").open(encoding="utf-8") as f:
        assert sum(1 for _ in csv.DictReader(f)) == len(rows) + len(funding)


def test_report_page_shows_every_query_beside_its_figures(report):
    html = (report.out / "index.html").read_text(encoding="utf-8")
    for f in QUERIES.glob("*.rq"):
        assert f"{f.stem}.rq" in html
    assert "SELECT ?region (COUNT(DISTINCT ?covered) / COUNT(DISTINCT ?domain) AS ?share_domains_with_cluster)" in html
    assert html.count("data:image/png;base64,") >= 5
    assert "Cluster B1" in html and "Domain b1; Domain b2" in html
    assert json.loads((report.out / "summary.json").read_text())["regions"] == ["DE1", "FRJ", "ITC4"]


def hub_node(new_node):
    """A stopped node configured as a hub (one [[peers]] entry), its store holding the federation."""
    node = new_node("EU", "Test hub")
    with node.config.open("a", encoding="utf-8") as f:
        f.write('\n[[peers]]\nid = "FRJ"\nurl = "http://127.0.0.1:9"\n')
    store = Store(node.dir / "data" / "store")
    load_federation(store, Graphs(node.base))
    store.close()
    return node


def test_study_blueprint_on_the_app_factory(new_node, no_charts):
    from node import create_app
    node = hub_node(new_node)
    app = create_app(str(node.config))
    if "study" not in app.blueprints:
        study_web.register(app)
    app.extensions["s3fed.sync_admin_token"] = "admin-token"  # what `node serve` writes to sync-admin.json
    client = app.test_client()
    r = client.get("/study", headers={"Accept": "text/html"}, follow_redirects=True)
    assert r.status_code == 404 and b"study stress-test --out DIR" in r.data
    assert client.get("/study/", headers={"Accept": "application/json"}).status_code == 404
    assert client.post("/study/run").status_code == 401
    r = client.post("/study/run?regions=FRJ,DE1", headers={"Authorization": "Bearer admin-token"})
    assert r.status_code == 200, r.data
    assert r.json["regions"] == ["DE1", "FRJ"] and r.json["values"]["FRJ"]["domains"] == 3
    assert client.get("/study/", headers={"Accept": "text/html"}).data == b"<h1>stub report</h1>"
    assert client.get("/study/indicators.csv").data.startswith(b"region,name,country")
    assert client.get("/study/domains.rq").data == (QUERIES / "domains.rq").read_bytes()
    assert client.get("/study/..%2Fs3fed.toml").status_code == 404
    latest = node.dir / "data" / "study" / "latest"
    assert latest.is_symlink() and (latest / "indicators.ttl").is_file()
    app.extensions["s3fed.store"].close()


def test_cli_command_runs_on_a_stopped_hub(new_node, no_charts, tmp_path):
    from click.testing import CliRunner

    from node.cli import Context
    node = hub_node(new_node)
    result = CliRunner().invoke(study_web.cli_command, ["stress-test", "--out", str(tmp_path / "out"),
                                                        "--regions", "FRJ"], obj=Context(str(node.config)))
    assert result.exit_code == 0, result.output
    assert "Stress test of 1 region(s)" in result.output and "FRJ" in result.output
    assert (tmp_path / "out" / "indicators.csv").is_file()
    assert (node.dir / "data" / "study" / "latest" / "indicators.csv").is_file()


def test_study_on_a_served_hub(new_node, report):
    from node import create_app
    node = hub_node(new_node)
    app = create_app(str(node.config))
    registered = "study" in app.blueprints
    app.extensions["s3fed.store"].close()
    if not registered:
        pytest.skip("create_app does not register sync.study_web for hubs yet (the lead wires it)")
    node.start()
    r = node.get("/study", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "study stress-test" in r.text
    study_web.publish(report.out, node.dir / "data")  # what `study stress-test` does after a run
    r = node.get("/study", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "Comparative stress test" in r.text
    assert r.url == node.base + "/study/"  # so the report's relative links land under /study/
    assert node.get("/study/profile.png").content[:4] == b"\x89PNG"
    assert node.get("/study", headers={"Accept": "application/json"}).json()["regions"] == ["DE1", "FRJ", "ITC4"]
    q = (QUERIES / "domains.rq").read_text()  # a researcher reruns a query on the hub's /sparql
    rows = node.get("/sparql", params={"query": q}, headers={"Accept": "application/sparql-results+json"}).json()
    assert {b["region"]["value"]: int(b["domains"]["value"]) for b in rows["results"]["bindings"]} == {
        "FRJ": 3, "DE1": 2, "ITC4": 1}
