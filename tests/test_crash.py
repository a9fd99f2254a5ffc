"""``kill -9`` in the middle of a write, then a restart: the store holds all of the write or none
of it, the change feed and the data agree, and the node serves (and takes writes) again.

The kill is aimed, not timed: a commit is one SPARQL update, which the embedded store (RocksDB)
makes durable by appending the whole transaction to its write-ahead log (``store/*.log``) at the
end. The tests watch that log and send SIGKILL once it has grown by a megabyte — half-way through
writing the transaction, the worst moment — or, in the slow variants, while the transaction is
still being built (the store's write lock held, so ``/dump`` stalls), while the data is still
being validated, and right after the node answered 200 (the write then lives only in the log).
Victims: the node serving an import over HTTP, the ``node import`` CLI, and (slow) a hub's
``sync run`` applying a harvest, whose next run must resume from the last checkpoint it recorded.

Entities per batch: ``S3FED_CRASH_ENTITIES`` (default 5000, i.e. 20 000 triples).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from conftest import S3FED, TEST_STORE, sample_text

pytestmark = pytest.mark.skipif(TEST_STORE != "embedded", reason="aims at the embedded store's write-ahead log; "
                                "the external server (S3FED_TEST_STORE=oxigraph) keeps its own")
N = int(os.environ.get("S3FED_CRASH_ENTITIES", "5000"))
S3, SKOS = "https://w3id.org/s3fed/vocab#", "http://www.w3.org/2004/02/skos/core#"
DCT, PROV = "http://purl.org/dc/terms/", "http://www.w3.org/ns/prov#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
AS_DELETE = "https://www.w3.org/ns/activitystreams#Delete"
MEMBER_META = {DCT + "isVersionOf", PROV + "generatedAtTime", S3 + "sequence"}
GROWN = 1 << 20  # bytes of write-ahead log that mean "the commit is being written"


def batch(base: str, n: int, tag: str) -> str:
    """``n`` valid actors (4 triples each) linked to the sample's region."""
    lines = [f"@prefix s3: <{S3}> . @prefix skos: <{SKOS}> ."]
    lines += [f'<{base}/id/actor/{tag}-{i}> a s3:Actor ; skos:prefLabel "Acteur {tag} {i}"@fr, '
              f'"Actor {tag} {i}"@en ; s3:region <{base}/id/region/FRJ> .' for i in range(n)]
    return "\n".join(lines) + "\n"


def wal_bytes(store_dir: Path) -> int:
    total = 0
    for f in store_dir.glob("*.log"):
        try:
            total += f.stat().st_size
        except FileNotFoundError:  # rotated away between glob and stat
            pass
    return total


def kill_when(pid: int, ready, still_running, timeout: float = 300) -> bool:
    """SIGKILL ``pid`` as soon as ``ready()``; False if ``still_running()`` turned false first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and still_running():
        if ready():
            os.kill(pid, signal.SIGKILL)
            return True
        time.sleep(0.0005)
    return False


def wal_grew(store_dir: Path, by: int = GROWN):
    baseline = wal_bytes(store_dir)
    return lambda: wal_bytes(store_dir) > baseline + by


def write_lock_held(node):
    """``/dump`` reads under the store's write lock: when it stalls, a commit is being built."""
    def ready() -> bool:
        try:
            requests.get(node.base + "/dump?format=nt", timeout=0.5).raise_for_status()
            return False
        except requests.Timeout:
            return True
    return ready


# -- reading a node back -------------------------------------------------------------------

def term(t) -> str:
    return t.value if isinstance(t, ox.NamedNode) else str(t)


def data_of(node) -> dict[str, set[tuple[str, str]]]:
    """Entity → its triples, from ``/dump``."""
    r = requests.get(node.base + "/dump?format=nt", timeout=60)
    assert r.status_code == 200, r.text
    out: dict[str, set] = {}
    for t in ox.parse(r.content, format=ox.RdfFormat.N_TRIPLES):
        out.setdefault(t.subject.value, set()).add((t.predicate.value, term(t.object)))
    return out


def feed_of(node) -> dict[int, dict]:
    """Sequence → member (``entity``, ``triples``, ``deleted``), from every page of ``/feed``."""
    head = list(ox.parse(requests.get(node.base + "/feed?format=nt", timeout=30).content,
                         format=ox.RdfFormat.N_TRIPLES))
    last = next(int(t.object.value) for t in head if t.predicate.value == S3 + "lastSequence")
    size = next(int(t.object.value) for t in head if t.predicate.value == S3 + "pageSize")
    members: dict[str, dict] = {}
    for n in range(last // size + 1) if last else []:
        r = requests.get(f"{node.base}/feed/{n}?format=nt", timeout=60)
        assert r.status_code == 200, r.text
        for t in ox.parse(r.content, format=ox.RdfFormat.N_TRIPLES):
            if not t.subject.value.startswith(node.base + "/feed/member/"):
                continue
            m = members.setdefault(t.subject.value, {"triples": set(), "deleted": False})
            p, o = t.predicate.value, term(t.object)
            if p == DCT + "isVersionOf":
                m["entity"] = o
            elif p == S3 + "sequence":
                m["seq"] = int(o.split('"')[1])
            elif p == RDF_TYPE and o == AS_DELETE:
                m["deleted"] = True
            elif p not in MEMBER_META:
                m["triples"].add((p, o))
    by_seq = {m["seq"]: m for m in members.values()}
    assert sorted(by_seq) == list(range(1, last + 1)), "the feed has gaps or duplicates"
    return by_seq


def assert_feed_and_data_agree(node) -> tuple[dict, dict]:
    """Every entity published has, as its newest feed member, a version with exactly its current
    triples; every entity whose newest member is not a deletion is published."""
    data, feed = data_of(node), feed_of(node)
    newest = {}
    for seq in sorted(feed):
        newest[feed[seq]["entity"]] = feed[seq]
    for entity, triples in data.items():
        assert entity in newest, f"{entity} is published but has no feed member"
        assert not newest[entity]["deleted"] and newest[entity]["triples"] == triples, entity
    for entity, m in newest.items():
        assert m["deleted"] == (entity not in data), f"feed and data disagree on {entity}"
    return data, feed


def batch_entities(data: dict, tag: str) -> set[str]:
    return {e for e in data if f"/id/actor/{tag}-" in e}


def assert_all_or_nothing(node, before: dict, tag: str) -> str:
    """The batch is wholly there or wholly absent, and nothing else changed. Returns which."""
    data, feed = assert_feed_and_data_agree(node)
    got = batch_entities(data, tag)
    assert len(got) in (0, N), f"{len(got)} of {N} entities of the killed import survived"
    rest = {e: t for e, t in data.items() if e not in got}
    assert rest == before, "entities outside the killed import changed"
    if got:
        assert all(len(data[e]) == 4 for e in got)
    return "all" if got else "none"


def serves_and_writes(node, tag: str) -> None:
    token = node.token(f"after-{tag}")
    r = requests.post(node.base + "/api/v1/import", data=batch(node.base, 3, f"{tag}-again").encode(), timeout=60,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "text/turtle"})
    assert r.status_code == 200 and r.json()["imported"] == 3, r.text
    assert_feed_and_data_agree(node)


@pytest.fixture
def sample(new_node):
    """A stopped node holding the sample data (15 entities, feed members 1–15)."""
    node = new_node()
    assert node.import_text(sample_text(node)).returncode == 0
    return node


# -- the node, killed during an import over HTTP ---------------------------------------------

def kill_api_import(node, when) -> str:
    """POST a batch to a serving node and SIGKILL the server once ``when(node, store_dir)()`` (or,
    with ``when=None``, right after it answered); restart it. Returns "all" or "none"."""
    token = node.token()
    node.start()
    before = data_of(node)
    body = batch(node.base, N, "api").encode()
    outcome: dict = {}

    def post():
        try:
            outcome["status"] = requests.post(node.base + "/api/v1/import", data=body, timeout=600, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "text/turtle"}).status_code
        except requests.RequestException as e:
            outcome["error"] = e
    t = threading.Thread(target=post)
    if when is None:
        t.run()
        assert outcome.get("status") == 200, outcome
        os.kill(node.proc.pid, signal.SIGKILL)
    else:
        ready = when(node, node.dir / "data" / "store")
        t.start()
        killed = kill_when(node.proc.pid, ready, t.is_alive)
        t.join(60)
        assert killed and "error" in outcome, f"the import ended before the kill: {outcome}"
    assert node.proc.wait(10) == -signal.SIGKILL
    node.proc = None
    node.start()
    return assert_all_or_nothing(node, before, "api")


def test_sigkill_while_the_node_writes_an_api_import(sample):
    # killed half-way through the log write: the torn transaction is dropped on restart
    assert kill_api_import(sample, lambda node, store: wal_grew(store)) == "none"
    serves_and_writes(sample, "api")


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["transaction-being-built", "just-after-the-answer"])
def test_sigkill_during_an_api_import_at_other_moments(sample, moment):
    when = {"transaction-being-built": lambda node, store: write_lock_held(node),
            "just-after-the-answer": None}[moment]  # acknowledged, still only in the log: must survive
    assert kill_api_import(sample, when) == {"transaction-being-built": "none", "just-after-the-answer": "all"}[moment]
    serves_and_writes(sample, "api")


# -- the CLI, killed during `node import` ----------------------------------------------------

def kill_cli_import(node, when) -> str:
    node.start()
    before = data_of(node)
    node.stop()
    path = node.write("big.ttl", batch(node.base, N, "cli"))
    ready = when(node.dir / "data" / "store")
    proc = subprocess.Popen([*S3FED, "--config", str(node.config), "node", "import", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=Path(__file__).parent.parent)
    killed = kill_when(proc.pid, ready, lambda: proc.poll() is None)
    out, err = proc.communicate(timeout=60)
    assert killed and proc.returncode == -signal.SIGKILL, (proc.returncode, out, err)
    node.start()
    return assert_all_or_nothing(node, before, "cli")


def test_sigkill_while_the_cli_writes_an_import(sample):
    assert kill_cli_import(sample, wal_grew) == "none"
    serves_and_writes(sample, "cli")


@pytest.mark.slow
def test_sigkill_while_the_cli_validates_an_import(sample):
    started = time.monotonic()
    assert kill_cli_import(sample, lambda store: lambda: time.monotonic() - started > 4) == "none"  # parse + SHACL
    serves_and_writes(sample, "cli")


# -- a hub, killed while `sync run` applies a harvest --------------------------------------

def hub_peer_graph(hub, peer_id: str) -> set[tuple[str, str, str]]:
    st = ox.Store.read_only(str(hub.dir / "data" / "store"))
    g = ox.NamedNode(f"{hub.base}/graph/peer/{peer_id}")
    out = {(q.subject.value, q.predicate.value, term(q.object)) for q in st.quads_for_pattern(None, None, None, g)}
    del st
    return out


def published(node) -> set[tuple[str, str, str]]:
    return {(e, p, o) for e, triples in data_of(node).items() for p, o in triples}


def sync_run(hub) -> tuple[subprocess.CompletedProcess, dict]:
    p = hub.cli("sync", "run", "--json", timeout=600)
    return p, {r["peer"]: r for r in json.loads(p.stdout)} if p.stdout.strip().startswith("[") else {}


def hub_status(hub) -> dict:
    return {r["id"]: r for r in json.loads(hub.cli("sync", "status", "--json", check=True).stdout)}


def kill_sync_run(hub) -> None:
    store = hub.dir / "data" / "store"
    wal = wal_grew(store)
    ready = lambda: wal() or any(store.glob("bulk-*.sst"))  # noqa: E731 — a first harvest bulk-loads
    proc = subprocess.Popen([*S3FED, "--config", str(hub.config), "sync", "run"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=Path(__file__).parent.parent)
    killed = kill_when(proc.pid, ready, lambda: proc.poll() is None)
    out, err = proc.communicate(timeout=60)
    assert killed and proc.returncode == -signal.SIGKILL, (proc.returncode, out[-2000:], err[-2000:])


@pytest.fixture
def peer_and_hub(new_node):
    peer = new_node()
    assert peer.import_text(sample_text(peer)).returncode == 0
    peer.auth = {"Authorization": f"Bearer {peer.token()}"}
    peer.start()
    hub = new_node("HUB", "Hub")
    hub.config.write_text(hub.config.read_text() + f'\n[sync]\ntimeout_s = 60.0\nretries = 1\n'
                          f'\n[[peers]]\nid = "FRJ"\nurl = "{peer.base}"\n')
    return peer, hub


@pytest.mark.slow
def test_sigkill_during_a_first_harvest_then_it_starts_over(peer_and_hub):
    """The first harvest takes the peer's dump: killed while applying it, the hub has no copy and
    no checkpoint, and the next run takes the dump again."""
    peer, hub = peer_and_hub
    r = requests.post(peer.base + "/api/v1/import", data=batch(peer.base, N, "peer").encode(), timeout=600,
                      headers={**peer.auth, "Content-Type": "text/turtle"})
    assert r.status_code == 200, r.text
    kill_sync_run(hub)
    assert "GET /dump" in (peer.dir / "serve.log").read_text()  # killed while applying what it fetched
    assert hub_peer_graph(hub, "FRJ") == set()
    assert hub_status(hub)["FRJ"]["checkpoint"] is None
    p, results = sync_run(hub)
    assert p.returncode == 0, p.stderr[-2000:]
    assert results["FRJ"]["mode"] == "dump" and results["FRJ"]["checkpoint"] == 15 + N
    assert hub_peer_graph(hub, "FRJ") == published(peer)


@pytest.mark.slow
def test_sigkill_during_an_incremental_harvest_then_it_resumes_from_the_checkpoint(peer_and_hub):
    """Killed while applying feed pages, the hub keeps the peer's graph and checkpoint of the last
    good run; the next run continues from that checkpoint over the feed (no dump) and catches up."""
    peer, hub = peer_and_hub
    p, first = sync_run(hub)
    assert p.returncode == 0 and first["FRJ"]["checkpoint"] == 15, p.stderr[-2000:]
    good = hub_peer_graph(hub, "FRJ")
    r = requests.post(peer.base + "/api/v1/import", data=batch(peer.base, N, "peer").encode(), timeout=600,
                      headers={**peer.auth, "Content-Type": "text/turtle"})
    assert r.status_code == 200, r.text
    pages_before = (peer.dir / "serve.log").read_text().count("GET /feed/")
    kill_sync_run(hub)
    assert (peer.dir / "serve.log").read_text().count("GET /feed/") > pages_before + N // 250 - 2  # fetched them all
    assert hub_peer_graph(hub, "FRJ") == good  # intact: the last good harvest, nothing half-applied
    assert hub_status(hub)["FRJ"]["checkpoint"] == 15
    p, results = sync_run(hub)
    assert p.returncode == 0, p.stderr[-2000:]
    r = results["FRJ"]
    assert r["mode"] == "feed" and r["members"] == N and r["checkpoint"] == 15 + N, r
    assert not any(u.endswith("/dump") for u in r["used"])
    assert hub_peer_graph(hub, "FRJ") == published(peer)
