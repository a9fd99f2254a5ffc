"""The hub's scheduler: jobs from the configuration, one scheduler per hub, a persistent job
store, a first harvest at start; and a serving hub that the CLI reaches through its admin door."""
from __future__ import annotations

import json
import time

import pytest
import requests

from node.config import load_config
from node.store import Graphs, Store
from sync import scheduler, state
from sync.harvest import _lock, harvest_peer
from sync.peers import peers_of
from tests.conftest import make_node
from tests.faulty_peer import FaultyPeer


@pytest.fixture
def peer():
    p = FaultyPeer("SA").start()
    yield p
    p.stop()


def hub_config(tmp_path, peers: str) -> dict:
    path = tmp_path / "s3fed.toml"
    path.write_text('[node]\nbase_url = "http://127.0.0.1:9"\ndata_dir = "data"\n'
                    "[sync]\ninterval_minutes = 60\ntimeout_s = 2\nretries = 0\n" + peers)
    return load_config(path)


def wait_for(check, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def test_jobs_follow_the_configuration(tmp_path):
    cfg = hub_config(tmp_path, '[[peers]]\nid = "A"\nurl = "http://a.example"\n'
                               '[[peers]]\nid = "B"\nurl = "http://b.example"\ninterval_minutes = 5\n')
    assert scheduler.wanted_jobs(cfg) == {"harvest": (60.0, None), "harvest:B": (5.0, ["B"])}


def test_one_scheduler_per_hub(tmp_path):
    first = scheduler.acquire_lock(tmp_path)
    assert first is not None and scheduler.acquire_lock(tmp_path) is None
    first.close()
    assert scheduler.acquire_lock(tmp_path) is not None


def test_jobs_persist_and_the_first_harvest_runs_at_start(tmp_path, peer):
    cfg = hub_config(tmp_path, f'[[peers]]\nid = "SA"\nurl = "{peer.base}"\n')
    store, graphs = Store(None), Graphs(cfg["node"]["base_url"])
    hub = scheduler.start(store, graphs, cfg)
    try:
        assert scheduler.start(store, graphs, cfg) is None  # the lock is taken
        job = hub.scheduler.get_job("harvest")
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 3600
        st = wait_for(lambda: state.load(store, graphs, "SA").last_success and state.load(store, graphs, "SA"))
        assert st.checkpoint == peer.last and st.last_error is None
        next_run = wait_for(lambda: hub.scheduler.get_job("harvest").next_run_time)
    finally:
        hub.stop()
    assert (tmp_path / "data" / "jobs.sqlite").exists()
    again = scheduler.start(store, graphs, cfg)  # a restart keeps the schedule instead of re-running
    try:
        assert abs((again.scheduler.get_job("harvest").next_run_time - next_run).total_seconds()) < 1
    finally:
        again.stop()


def test_a_peer_is_harvested_by_one_run_at_a_time(tmp_path, peer):
    cfg = hub_config(tmp_path, f'[[peers]]\nid = "SA"\nurl = "{peer.base}"\n')
    store, graphs = Store(None), Graphs(cfg["node"]["base_url"])
    held = _lock(cfg, "SA")  # as another thread or process harvesting it would
    skipped = harvest_peer(store, graphs, cfg, peers_of(cfg)[0])
    assert skipped.mode == "skipped" and skipped.ok and peer.requests == []
    held.close()
    assert harvest_peer(store, graphs, cfg, peers_of(cfg)[0]).mode == "dump"


@pytest.fixture
def serving_hub(tmp_path, peer):
    hub = make_node(tmp_path, "HUB", "Hub")
    hub.config.write_text(hub.config.read_text() + "\n[sync]\ntimeout_s = 2\nretries = 0\n"
                          f'\n[[peers]]\nid = "SA"\nurl = "{peer.base}"\n')
    hub.start()
    yield hub
    hub.stop()


def test_a_serving_hub_harvests_on_its_own_and_answers_the_cli(serving_hub, peer):
    hub = serving_hub

    def harvested():
        rows = hub.get("/peers", headers={"Accept": "application/json"}).json()["peers"]
        return rows[0]["last_success"] and rows[0]
    row = wait_for(harvested)
    assert row["checkpoint"] == peer.last and row["triples"] > 0
    assert (hub.dir / "data" / "jobs.sqlite").exists()

    peer.add_cluster("late", "Late cluster")
    p = hub.cli("sync", "run", "--json")  # the server holds the store: the CLI asks it
    assert p.returncode == 0, p.stderr
    [result] = json.loads(p.stdout)
    assert result["mode"] == "feed" and result["members"] == 1 and result["checkpoint"] == peer.last
    s = hub.cli("sync", "status", "--json")
    assert s.returncode == 0 and json.loads(s.stdout)[0]["checkpoint"] == peer.last

    html = hub.get("/peers", headers={"Accept": "text/html"})
    assert html.status_code == 200 and "SA" in html.text and "Last success" in html.text
    assert requests.post(f"{hub.base}/peers/run", timeout=10).status_code == 401
    refused = hub.cli("sync", "serve", timeout=60)  # a second scheduler cannot open the store
    assert refused.returncode == 3 and "cannot open the store" in refused.stderr
