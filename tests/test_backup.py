"""node/backup.py: an online backup of a running node, restored into the node, over HTTP."""
from __future__ import annotations

import shutil

import pytest
import requests
from conftest import TEST_STORE, make_node, sample_text

CLUSTER = {"label": {"fr": "Pôle Hydrogène"}, "region": "http://127.0.0.1/id/region/frj"}

pytestmark = pytest.mark.skipif(TEST_STORE == "oxigraph", reason="the external server backs itself up")


def post(node, path: str, body: dict | None = None, auth: dict | None = None) -> requests.Response:
    return requests.post(node.base + path, json=body, headers=auth or {}, timeout=30)


def test_a_backup_made_while_the_node_runs_restores_what_was_written_before_it(tmp_path):
    node = make_node(tmp_path)
    assert node.import_text(sample_text(node)).returncode == 0
    auth = {"Authorization": f"Bearer {node.token()}"}
    region = node.base + "/id/region/frj"
    node.start()
    try:
        assert post(node, "/api/v1/cluster", {**CLUSTER, "region": region, "slug": "before"}, auth).status_code == 201
        assert post(node, "/api/v1/backups").status_code == 401  # a backup needs a token, like a write
        made = post(node, "/api/v1/backups", auth=auth)
        assert made.status_code == 201, made.text
        backup = made.json()["path"]
        assert backup.startswith(str((node.dir / "data" / "backups").resolve()))
        assert post(node, "/api/v1/cluster", {**CLUSTER, "region": region, "slug": "after"}, auth).status_code == 201
        again = post(node, "/api/v1/backups", auth=auth).json()["path"]
        assert again != backup  # each backup a folder of its own, even within the same second
    finally:
        node.stop()
    store = node.dir / "data" / "store"
    shutil.rmtree(store)
    shutil.copytree(backup, store)  # the restore deploy/README.md describes: the folder in place of data/store
    node.start()
    try:
        assert node.get("/api/v1/cluster/before").status_code == 200
        assert node.get("/api/v1/cluster/after").status_code == 404  # written after the backup
        assert node.get("/api/v1/cluster/aerospace-valley").status_code == 200  # the imported data too
        feed = node.get("/feed/0", headers={"Accept": "text/turtle"}).text  # and the change feed, as it was
        assert "/id/cluster/before" in feed and "/id/cluster/after" not in feed
    finally:
        node.stop()
