"""``s3fed demo`` end to end, as a newcomer runs it: a subprocess that prepares six region nodes
and a hub, harvests, indexes and studies, prints its URLs — then Ctrl-C (SIGINT) must stop
every server it started (no orphans), and a launcher killed outright takes its servers with it."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from sync.demo import DEMO_DIR

ROOT = Path(__file__).parent.parent
S3 = "PREFIX s3: <https://w3id.org/s3fed/vocab#>\n"


def free_run(n: int) -> int:
    """A first port such that ``n`` consecutive loopback ports are free."""
    for _ in range(200):
        first = random.randint(20000, 45000)
        try:
            for port in range(first, first + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
    raise RuntimeError(f"no run of {n} free ports")


def children(pid: int) -> set[int]:
    """Live (non-zombie) processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def sparql(base: str, query: str) -> list[dict]:
    r = requests.post(base + "/sparql", data={"query": S3 + query},
                      headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["results"]["bindings"]


class Demo:
    """``s3fed demo`` in a subprocess; its output is collected by a thread."""

    def __init__(self, root: Path, port: int):
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "node.cli", "demo", "--dir", str(root),
                                      "--port", str(port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from `s3fed demo`:\n{self.output[-4000:]}")
            time.sleep(0.2)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    regions = len(list(DEMO_DIR.glob("*.ttl")))
    port = free_run(regions + 1)
    d = Demo(tmp_path_factory.mktemp("demo") / "federation", port)
    d.started = time.monotonic()
    try:
        d.wait_for("The s3fed demo federation is up", 180)
        d.ready_s = time.monotonic() - d.started
        d.regions = [port + i for i in range(regions)]
        d.hub = f"http://127.0.0.1:{port + regions}"
        d.servers = children(d.proc.pid)
        yield d
    finally:
        pids = children(d.proc.pid)
        d.kill()
        for pid in pids:  # never leave servers behind, even when an assertion failed
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_demo_prints_every_url(demo):
    out = demo.output
    for port in demo.regions:
        assert f"http://127.0.0.1:{port}/" in out
    for path in ("/index", "/network", "/study/", "/peers", "/sparql"):
        assert demo.hub + path in out
    assert len(demo.servers) == len(demo.regions) + 1, out  # one `node serve` per region, one hub
    print(f"demo ready in {demo.ready_s:.0f} s")


def test_hub_sees_every_region_with_opportunities_and_a_study(demo):
    rows = sparql(demo.hub, "SELECT (COUNT(DISTINCT ?r) AS ?n) { ?r a s3:Region }")
    assert int(rows[0]["n"]["value"]) == 6
    rows = sparql(demo.hub, "SELECT (COUNT(?o) AS ?n) { ?o a s3:CooperationOpportunity ; s3:score ?s }")
    assert int(rows[0]["n"]["value"]) > 20
    index = requests.get(demo.hub + "/index", headers={"Accept": "text/html"}, timeout=30)
    assert index.status_code == 200 and "/index/" in index.text
    study = requests.get(demo.hub + "/study/", headers={"Accept": "text/html"}, timeout=30)
    assert study.status_code == 200 and "stress test" in study.text.lower()
    peers = requests.get(demo.hub + "/peers", headers={"Accept": "application/json"}, timeout=30).json()["peers"]
    assert len(peers) == 6 and all(p["last_success"] and not p["last_error"] for p in peers)


def test_region_nodes_link_to_the_hub(demo):
    page = requests.get(f"http://127.0.0.1:{demo.regions[0]}/", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and f'href="{demo.hub}/"' in page.text


def test_ctrl_c_stops_every_server(demo):
    servers = demo.servers
    assert servers and all(alive(p) for p in servers)
    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(60) == 0, demo.output[-3000:]
    assert "All demo nodes stopped." in demo.output
    assert not [p for p in servers if alive(p)], "servers survived the demo"
    for port in [*demo.regions, int(demo.hub.rsplit(":", 1)[1])]:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux-only")
def test_servers_die_with_a_killed_launcher(tmp_path):
    """A launcher killed with SIGKILL cannot clean up: the kernel must stop its servers."""
    port = free_run(2)
    script = ("import sys, time\nfrom pathlib import Path\nfrom sync import demo\n"
              "regions, hub = demo.prepare(Path(sys.argv[1]), int(sys.argv[2]), out=lambda s: None, codes=['DE2'])\n"
              "demo.start(regions)\nprint('started', regions[0].proc.pid, flush=True)\ntime.sleep(600)\n")
    launcher = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "fed"), str(port)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
    server = None
    try:
        line = launcher.stdout.readline()
        assert line.startswith("started"), line
        server = int(line.split()[1])
        assert alive(server)
        launcher.kill()
        launcher.wait(10)
        deadline = time.monotonic() + 15
        while alive(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(server), "the region server outlived its launcher"
    finally:
        if launcher.poll() is None:
            launcher.kill()
        if server and alive(server):
            os.kill(server, signal.SIGKILL)
