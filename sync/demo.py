"""The demo federation: one real node per region in ``deploy/demo/``, on loopback ports.

Each region's data file describes its entities under the placeholder base
``https://demo.s3fed.invalid/{CODE}``; :func:`rebase` points those IRIs (the region's own and
its references to other regions) at the running nodes, so cross-node links resolve.
"""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

DEMO_DIR = Path(__file__).resolve().parent.parent / "deploy" / "demo"
PLACEHOLDER = "https://demo.s3fed.invalid/"


def rebase(text: str, bases: dict[str, str]) -> str:
    """Rewrite placeholder IRIs of each region code to that node's base URL."""
    for code in sorted(bases, key=len, reverse=True):  # FRJ before FR would matter for prefixes
        text = text.replace(f"{PLACEHOLDER}{code}/", bases[code] + "/").replace(f"{PLACEHOLDER}{code}>", bases[code] + ">")
    return text


@dataclass
class DemoNode:
    code: str
    dir: Path
    port: int
    host: str = "127.0.0.1"
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "node.cli", "--config", str(self.dir / "s3fed.toml"), *args],
                              capture_output=True, text=True)


def region_name(text: str, code: str) -> str:
    """The region's own name (its s3:Region label in its first language, else English)."""
    import pyoxigraph as ox
    store = ox.Store()
    store.load(text.encode("utf-8"), format=ox.RdfFormat.TURTLE)
    rows = list(store.query("PREFIX s3: <https://w3id.org/s3fed/vocab#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
                            "SELECT ?l { ?r a s3:Region ; skos:prefLabel ?l } ORDER BY (LANG(?l) = 'en') ?l"))
    return rows[0]["l"].value if rows else code


def prepare(root: Path, first_port: int, host: str = "127.0.0.1") -> list[DemoNode]:
    """Create and fill one node directory per demo region (fresh each run)."""
    files = sorted(DEMO_DIR.glob("*.ttl"))
    if not files:
        raise SystemExit(f"no demo data in {DEMO_DIR}")
    nodes = [DemoNode(f.stem, root / f.stem, first_port + i, host) for i, f in enumerate(files)]
    bases = {n.code: n.base for n in nodes}
    shutil.rmtree(root, ignore_errors=True)
    for n, f in zip(nodes, files):
        text = rebase(f.read_text(encoding="utf-8"), bases)
        subprocess.run([sys.executable, "-m", "node.cli", "node", "init", "--dir", str(n.dir), "--region", n.code,
                        "--name", region_name(text, n.code), "--base-url", n.base], check=True, capture_output=True)
        (n.dir / "data.ttl").write_text(text, encoding="utf-8")
        result = n.cli("node", "import", str(n.dir / "data.ttl"))
        if result.returncode != 0:
            raise SystemExit(f"demo data for {n.code} was refused:\n{result.stderr}")
        print(f"  {n.code}: {result.stdout.strip()}")
    return nodes


def start(nodes: list[DemoNode]) -> None:
    for n in nodes:
        log = open(n.dir / "serve.log", "w")
        n.proc = subprocess.Popen([sys.executable, "-m", "node.cli", "--config", str(n.dir / "s3fed.toml"), "node",
                                   "serve", "--host", n.host, "--port", str(n.port)], stdout=log, stderr=subprocess.STDOUT)
    for n in nodes:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(n.base + "/health", timeout=1).ok:
                    break
            except requests.RequestException:
                pass
            if n.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"node {n.code} did not start; see {n.dir / 'serve.log'}")
            time.sleep(0.2)


def stop(nodes: list[DemoNode]) -> None:
    for n in nodes:
        if n.proc and n.proc.poll() is None:
            n.proc.send_signal(signal.SIGTERM)
    for n in nodes:
        if n.proc:
            try:
                n.proc.wait(10)
            except subprocess.TimeoutExpired:
                n.proc.kill()


def run(root: Path, first_port: int = 5101) -> None:
    """Start the federation, print its URLs and serve until Ctrl-C."""
    print(f"Preparing the demo federation in {root} …")
    nodes = prepare(root, first_port)
    try:
        start(nodes)
        print("\nThe s3fed demo federation is up:")
        for n in nodes:
            print(f"  {n.code:5} {n.base}/")
        print("\nTry: a node's landing page, /id/cluster/, /sparql, /feed. Ctrl-C stops everything.")
        while all(n.proc.poll() is None for n in nodes):
            time.sleep(0.5)
        print("a node stopped; see its serve.log", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nStopping …")
    finally:
        stop(nodes)
