"""Harvest end to end: a federation of real nodes and a hub driven by ``s3fed sync run``, then
peers that misbehave (tests/faulty_peer.py). The hub is not serving here, so the CLI opens its
store itself; tests/test_scheduler.py covers the serving hub."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pyoxigraph as ox
import pytest
import requests

from node.auth import create_token
from sync.demo import rebase
from tests.conftest import DATA, make_node
from tests.faulty_peer import FaultyPeer

SAMPLE = (DATA / "sample.ttl").read_text(encoding="utf-8")
SYNC_CFG = "\n[sync]\ntimeout_s = 1.0\nretries = 1\nbackoff_s = 0.1\nmax_bytes = 100000\n"


def add_peers(hub, peers: list[tuple[str, str]]) -> None:
    text = hub.config.read_text() + SYNC_CFG
    text += "".join(f'\n[[peers]]\nid = "{pid}"\nurl = "{url}"\n' for pid, url in peers)
    hub.config.write_text(text)


def sync_run(hub, *args):
    p = hub.cli("sync", "run", "--json", *args, timeout=60)
    results = {r["peer"]: r for r in json.loads(p.stdout)} if p.stdout.strip().startswith("[") else {}
    return p, results


def status(hub) -> dict:
    p = hub.cli("sync", "status", "--json", check=True)
    return {r["id"]: r for r in json.loads(p.stdout)}


def peer_graph(hub, peer_id: str) -> set[tuple[str, str, str]]:
    """The hub's copy of a peer, read from its store (read-only: the hub is not serving)."""
    st = ox.Store.read_only(str(hub.dir / "data" / "store"))
    g = ox.NamedNode(f"{hub.base}/graph/peer/{peer_id}")
    out = {(str(q.subject), str(q.predicate), str(q.object)) for q in st.quads_for_pattern(None, None, None, g)}
    del st
    return out


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))  # the store canonicalises the lexical form


def labels(graph, subject: str) -> set[str]:
    return {o for s, p, o in graph if s == f"<{subject}>" and p.endswith("#prefLabel>")}


@pytest.fixture(scope="module")
def federation(tmp_path_factory):
    root = tmp_path_factory.mktemp("federation")
    nodes = [make_node(root, code, name) for code, name in (("FRJ", "Occitanie"), ("ITC4", "Lombardia"),
                                                           ("DE1", "Baden-Württemberg"))]
    for n in nodes:
        n.config.write_text(n.config.read_text() + "\n[feed]\npage_size = 4\n")
    with ThreadPoolExecutor(3) as pool:
        done = list(pool.map(lambda n: n.import_text(rebase(SAMPLE, {"FRJ": n.base})), nodes))
        assert all(p.returncode == 0 for p in done), [p.stderr for p in done]
        list(pool.map(lambda n: n.start(), nodes))
    hub = make_node(root, "HUB", "Hub")
    add_peers(hub, [(n.region, n.base) for n in nodes])
    yield hub, nodes, {}
    for n in nodes:
        n.stop()


def test_first_harvest_takes_the_dump(federation):
    hub, nodes, runs = federation
    p, results = runs["first"] = sync_run(hub)
    assert p.returncode == 0, p.stderr
    for n in nodes:
        r = results[n.region]
        assert r["ok"] and r["mode"] == "dump" and r["checkpoint"] == 15, r
        assert f"{n.base}/dump" in r["used"]
        g = peer_graph(hub, n.region)
        assert len(g) == 71
        assert labels(g, f"{n.base}/id/cluster/mipyrail") == {'"Mipyrail"@fr'}
    s = status(hub)
    assert s["FRJ"]["triples"] == 71 and s["FRJ"]["checkpoint"] == 15 and s["FRJ"]["last_error"] is None
    prov = s["FRJ"]["provenance"]
    assert prov["wasGeneratedBy"].startswith(f"{hub.base}/sync/run/FRJ/") and f"{nodes[0].base}/dump" in prov["used"]


def test_next_harvest_fetches_only_the_changes(federation):
    hub, nodes, runs = federation
    node = nodes[0]
    first = runs["first"][1]["FRJ"]
    auth = {"Authorization": f"Bearer {create_token(node.dir / 'data', 'editor')}"}
    api = f"{node.base}/api/v1"
    r = requests.patch(f"{api}/cluster/mipyrail", json={"label": {"fr": "Mipyrail (mobilité)"}}, timeout=30,
                       headers={**auth, "Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert requests.delete(f"{api}/domain/eau", headers=auth, timeout=30).status_code == 204
    new = (f'<{node.base}/id/cluster/agri-sud-ouest> a <https://w3id.org/s3fed/vocab#Cluster> ; '
           f'<http://www.w3.org/2004/02/skos/core#prefLabel> "Agri Sud-Ouest Innovation"@fr ; '
           f'<https://w3id.org/s3fed/vocab#region> <{node.base}/id/region/FRJ> .')
    r = requests.post(f"{api}/import", data=new.encode(), headers={**auth, "Content-Type": "text/turtle"}, timeout=30)
    assert r.status_code == 200, r.text

    p, results = sync_run(hub)
    assert p.returncode == 0, p.stderr
    r = results["FRJ"]
    assert r["mode"] == "feed" and r["checkpoint"] == 18 and r["members"] == 3 and r["deleted"] == 1, r
    # no dump again: only pages 3 (13–16) and 4 (17–18) after /feed; on this tiny sample a page's
    # fixed overhead is a large share, the benchmark figures are in the harvest report
    assert r["used"] == [f"{node.base}/feed"] and r["pages"] == 2 and r["requests"] == 3, r
    assert r["bytes"] < first["bytes"], (r, first)
    for other in ("ITC4", "DE1"):  # untouched peers: one conditional request, answered 304
        assert results[other]["mode"] == "unchanged" and results[other]["requests"] == 1
        assert results[other]["bytes"] == 0 and results[other]["not_modified"] == 1
    g = peer_graph(hub, "FRJ")
    assert labels(g, f"{node.base}/id/cluster/mipyrail") == {'"Mipyrail (mobilité)"@fr'}
    assert not [t for t in g if t[0] == f"<{node.base}/id/domain/eau>"]
    assert labels(g, f"{node.base}/id/cluster/agri-sud-ouest") == {'"Agri Sud-Ouest Innovation"@fr'}
    print(f"\nfull harvest: {first['bytes']} B in {first['requests']} requests, {first['seconds']} s; "
          f"incremental: {r['bytes']} B in {r['requests']} requests, {r['seconds']} s")


def test_nothing_new_costs_one_request_per_peer(federation):
    hub, _, _ = federation
    p, results = sync_run(hub)
    assert p.returncode == 0
    assert {r["mode"] for r in results.values()} == {"unchanged"}
    assert sum(r["requests"] for r in results.values()) == 3 and results["FRJ"]["checkpoint"] == 18


FAULTS = {  # fault → words the hub's status must use
    "500": "HTTP 500", "slow": "no answer within 1 s", "garbage": "does not parse",
    "truncated": "cut off", "cut": "incomplete", "oversize": "over this run's limit",
    "oversize-stream": "passed this run's limit", "redirect-loop": "redirect loop",
    "rewrite": "rewritten", "gap": "without gaps or duplicates", "down": "connection refused",
}


@pytest.fixture(scope="module")
def faulty(federation, tmp_path_factory):
    _, nodes, _ = federation
    kinds = [*FAULTS, "foreign", "invalid", "flaky"]
    peers = {f: FaultyPeer(f"X{chr(65 + i)}", clusters=3).start() for i, f in enumerate(kinds)}
    hub = make_node(tmp_path_factory.mktemp("faulty"), "HUB2", "Hub")
    never = FaultyPeer("NV")  # never started: its port is closed from the beginning
    never.stop()
    add_peers(hub, [("FRJ", nodes[0].base), ("NEVER", never.base), *((p.name, p.base) for p in peers.values())])
    yield hub, peers, nodes[0]
    for f, p in peers.items():
        if f != "down":
            p.stop()


def test_faulty_peers_fail_alone_and_keep_their_data(faulty):
    hub, peers, good = faulty
    p, first = sync_run(hub)
    assert p.returncode == 3 and "NEVER" in p.stderr  # the one never reachable
    assert "connection refused" in first["NEVER"]["error"]
    assert all(first[p.name]["ok"] and first[p.name]["checkpoint"] == 4 for p in peers.values()), first
    before = {p.name: peer_graph(hub, p.name) for p in peers.values()}
    success = {pid: r["started"] for pid, r in first.items()}  # a successful run's start is its last_success

    for fault, peer in peers.items():
        peer.add_cluster("new", "New cluster")  # something to harvest (sequence 5)
        peer.fault = fault
    rw = peers["rewrite"]
    rw.members[3]["triples"][1] = (rw.members[3]["triples"][1][0], '"Rewritten"@en')  # sequence 4, applied
    gap = peers["gap"]
    gap.members[-1]["seq"] = 6
    other = good.base  # a real node's subject, claimed by the "foreign" peer
    peers["foreign"].add_cluster("aerospace-valley", "Stolen", base=other)
    peers["invalid"].add_cluster("no-region", "Nowhere", region=False)
    peers["down"].stop()

    p, second = sync_run(hub)
    assert p.returncode == 3
    assert second["FRJ"]["ok"] and second["FRJ"]["mode"] == "unchanged"  # the good node is unaffected
    states = status(hub)
    for fault, words in FAULTS.items():
        name = peers[fault].name
        print(f"\n{fault:>15}: {second[name]['error']}")
        assert not second[name]["ok"] and words in second[name]["error"], (fault, second[name]["error"])
        assert words in states[name]["last_error"]
        assert name in p.stderr
        assert states[name]["checkpoint"] == 4 and when(states[name]["last_success"]) == when(success[name])
        assert peer_graph(hub, name) == before[name], fault  # nothing harvested is lost
    f = states[peers["foreign"].name]
    assert f["last_error"] is None and f["checkpoint"] == 6 and f["dropped_foreign_count"] == 1
    assert f["dropped_foreign"] == [f"<{other}/id/cluster/aerospace-valley>"]
    new = f"{peers['foreign'].base}/id/cluster/new"
    assert labels(peer_graph(hub, peers["foreign"].name), new) == {'"New cluster"@en'}
    flaky = peers["flaky"]
    assert second[flaky.name]["ok"] and second[flaky.name]["checkpoint"] == 5 and flaky.flaked
    pages = [r.split("?")[0] for r in flaky.requests]  # "/feed/1?from=4": the rest of page 1 after 4
    assert pages.count("/feed/1") == 3  # both runs, plus the one retry after the 503
    i = states[peers["invalid"].name]
    assert i["last_error"] is None and i["checkpoint"] == 6
    assert [v["focus"] for v in i["dropped_invalid"]] == [f"{peers['invalid'].base}/id/cluster/no-region"]
    assert "region" in i["dropped_invalid"][0]["message"]
    g, base = peer_graph(hub, peers["invalid"].name), peers["invalid"].base
    assert labels(g, f"{base}/id/cluster/new") and not labels(g, f"{base}/id/cluster/no-region")

    table = hub.cli("sync", "status")
    assert table.returncode == 0 and "redirect loop" in table.stdout and "1 foreign" in table.stdout


# -- what an incremental harvest downloads, and how a first one is written ---------------------

def actors(base: str, n: int) -> str:
    """The sample plus ``n`` actors: more members than one feed page (250)."""
    s3, skos = "https://w3id.org/s3fed/vocab#", "http://www.w3.org/2004/02/skos/core#"
    return rebase(SAMPLE, {"FRJ": base}) + "".join(
        f'<{base}/id/actor/a{i}> a <{s3}Actor> ; <{skos}prefLabel> "Actor {i}"@en ; '
        f'<{s3}region> <{base}/id/region/FRJ> .\n' for i in range(n))


def test_an_incremental_harvest_downloads_only_the_new_members(new_node):
    """1 change after 300: the hub reads /feed and the members from its checkpoint on (the one it
    has, to check, and the new one) — not the 52 members of the newest page."""
    node, hub = new_node(), new_node("HUB", "Hub")
    assert node.import_text(actors(node.base, 300)).returncode == 0  # members 1–315 on pages 0–1
    node.start()
    add_peers(hub, [("FRJ", node.base)])
    hub.config.write_text(hub.config.read_text().replace("max_bytes = 100000", "max_bytes = 10000000"))
    p, first = sync_run(hub)
    assert p.returncode == 0 and first["FRJ"]["mode"] == "dump" and first["FRJ"]["checkpoint"] == 315, p.stderr
    r = requests.patch(f"{node.base}/api/v1/actor/a7", json={"label": {"en": "Actor seven"}}, timeout=30,
                       headers={"Authorization": f"Bearer {node.token()}",
                                "Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    p, second = sync_run(hub)
    r = second["FRJ"]
    assert r["mode"] == "feed" and r["members"] == 1 and r["checkpoint"] == 316 and r["requests"] == 2, r
    assert "GET /feed/1?from=315 " in (node.dir / "serve.log").read_text()
    page = len(node.get("/feed/1", headers={"Accept": "application/n-triples"}).content)  # 66 members
    assert r["bytes"] < page / 5 and r["bytes"] < 0.05 * first["FRJ"]["bytes"], (r["bytes"], page, first["FRJ"])
    assert labels(peer_graph(hub, "FRJ"), f"{node.base}/id/actor/a7") == {'"Actor seven"@en'}


def first_harvest(tmp_path, n: int):
    """An on-disk hub store after apply.commit of a first harvest of ``n`` actors (in process)."""
    from node.store import Graphs, Store
    from sync import apply, state
    from sync.peers import Peer
    peer, store, graphs = Peer("FRJ", "https://frj.example"), Store(tmp_path / "store"), Graphs("https://hub.example")
    st = state.PeerState("FRJ", last_attempt="2026-01-01T00:00:00Z", last_error="an earlier failed attempt")
    state.save(store, graphs, peer, st)  # what a failed attempt leaves: to be replaced, not duplicated
    dump = list(ox.parse(actors(peer.url, n).encode(), format=ox.RdfFormat.TURTLE))
    ch = apply.build(peer, dump, [])
    st.checkpoint, st.last_error = 15 + n, None
    how = apply.commit(store, graphs, peer, ch, state.state_write(graphs, peer, st))
    return how, store, graphs, len(ch.triples())


@pytest.mark.parametrize("n,how", [(10, "update"), (1000, "bulk")])
def test_a_first_harvest_writes_data_and_state_together(tmp_path, n, how):
    from sync import apply, state
    written, store, graphs, triples = first_harvest(tmp_path, n)
    assert written == how and (triples >= apply.BULK_MIN) == (how == "bulk")
    assert store.count(graphs.peer("FRJ")) == triples
    st = state.load(store, graphs, "FRJ")
    assert st.checkpoint == 15 + n and st.last_error is None
    node = state.node_iri(graphs, "FRJ")
    assert len(list(store.query(f"SELECT ?o {{ GRAPH <{graphs.sync}> {{ <{node}> ?p ?o }} }}"))) == 7  # one state
