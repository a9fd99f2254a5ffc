"""An independent LDES client replicates a node's feed: the npm ``ldes-client`` (the reference
TREE/LDES client) against a real node after an import, an update and a deletion.

The package is installed once into tests/.npm (git-ignored); without npm the test is skipped."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests

from tests.conftest import make_node, sample_text

NPM_DIR = Path(__file__).parent / ".npm"
CLIENT = NPM_DIR / "node_modules" / ".bin" / "ldes-client"
DELETE = "https://www.w3.org/ns/activitystreams#Delete"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
LABEL = "http://www.w3.org/2004/02/skos/core#prefLabel"


@pytest.fixture(scope="module")
def ldes_client() -> Path:
    if not shutil.which("npm") or not shutil.which("node"):
        pytest.skip("npm/node are not installed: the npm ldes-client cannot be run")
    if not CLIENT.exists():
        p = subprocess.run(["npm", "install", "--prefix", str(NPM_DIR), "--no-audit", "--no-fund", "ldes-client"],
                           capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            pytest.skip(f"npm could not install ldes-client: {p.stderr[-500:]}")
    return CLIENT


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    n = make_node(tmp_path_factory.mktemp("ldes"))
    n.config.write_text(n.config.read_text() + "\n[feed]\npage_size = 4\n")
    assert n.import_text(sample_text(n)).returncode == 0  # 15 members, pages 0–3
    n.start()
    auth = {"Authorization": f"Bearer {n.token()}"}
    api = f"{n.base}/api/v1"
    r = requests.patch(f"{api}/cluster/mipyrail", json={"label": {"fr": "Mipyrail 2"}}, timeout=30,
                       headers={**auth, "Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    assert requests.delete(f"{api}/domain/eau", headers=auth, timeout=30).status_code == 204  # nothing links to it
    yield n  # 17 members on 5 pages
    n.stop()


def replicate(client: Path, url: str, *flags: str) -> dict[str, list[ox.Triple]]:
    """Members by id, as the client emits them (N-Triples-like blocks on stdout)."""
    p = subprocess.run([str(client), url, *flags], capture_output=True, text=True, timeout=120, cwd=NPM_DIR)
    assert p.returncode == 0, p.stderr[-2000:]
    members: dict[str, list[ox.Triple]] = {}
    for t in ox.parse(p.stdout.encode(), format=ox.RdfFormat.TURTLE):  # N3.js writes numbers bare
        members.setdefault(t.subject.value, []).append(t)
    return members


def test_the_client_replicates_every_member_in_order(ldes_client, node):
    members = replicate(ldes_client, f"{node.base}/feed", "--ordered", "ascending")
    versions = [m for m in members if "/feed/member/" in m]
    assert sorted(int(m.rsplit("/", 1)[1]) for m in versions) == list(range(1, 18))
    times = [t.object.value for m in versions for t in members[m] if t.predicate.value.endswith("generatedAtTime")]
    assert times == sorted(times) and len(times) == 17  # emitted in time order


def test_the_client_materialises_the_latest_state(ldes_client, node):
    members = replicate(ldes_client, f"{node.base}/feed", "--materialize", "--last-version-only")
    assert len([m for m in members if "/id/" in m]) == 15  # every entity once, the deleted one too
    deleted = members[f"{node.base}/id/domain/eau"]
    assert [t.object.value for t in deleted if t.predicate.value == RDF_TYPE] == [DELETE]
    mipyrail = members[f"{node.base}/id/cluster/mipyrail"]
    assert [t.object.value for t in mipyrail if t.predicate.value == LABEL] == ["Mipyrail 2"]
