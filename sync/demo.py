"""The demo federation (``make demo`` / ``s3fed demo``): one real node per region of
``deploy/demo/`` plus a hub that harvests them all, on loopback ports, ready to browse.

Each region's data file describes its entities under the placeholder base
``https://demo.s3fed.invalid/{CODE}``; :func:`rebase` points those IRIs (the region's own and
its references to other regions) at the running nodes, so cross-node links resolve.

Order of work, and why: the nodes' data is imported in this process (twelve CLI start-ups would
cost ~20 s); the region nodes start together; the hub's first harvest, index and study then run
through the ordinary CLI verbs *before* the hub serves — the CLI opens the hub's store itself,
so nothing races the scheduler's own first harvest — and the hub starts last, with everything
built. Every server is a ``s3fed node serve`` child in its own session (the terminal's Ctrl-C
reaches only this launcher, which stops them in order: SIGTERM, wait, SIGKILL) that also gets
SIGTERM from the kernel if this launcher dies (``PR_SET_PDEATHSIG``): no orphans either way.
"""
from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

DEMO_DIR = Path(__file__).resolve().parent.parent / "deploy" / "demo"
PLACEHOLDER = "https://demo.s3fed.invalid/"
HUB_NAME = "S3 federation hub (demo)"


def rebase(text: str, bases: dict[str, str]) -> str:
    """Rewrite placeholder IRIs of each region code to that node's base URL."""
    for code in sorted(bases, key=len, reverse=True):  # FRJ before FR would matter for prefixes
        text = text.replace(f"{PLACEHOLDER}{code}/", bases[code] + "/")
        text = text.replace(f"{PLACEHOLDER}{code}>", bases[code] + ">")
    return text


@dataclass
class DemoNode:
    code: str
    dir: Path
    port: int
    host: str = "127.0.0.1"
    name: str = ""
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config(self) -> Path:
        return self.dir / "s3fed.toml"

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "node.cli", "--config", str(self.config), *args],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def region_name(text: str, code: str) -> str:
    """The region's own name (its s3:Region label in its first language, else English)."""
    import pyoxigraph as ox
    store = ox.Store()
    store.load(text.encode("utf-8"), format=ox.RdfFormat.TURTLE)
    rows = list(store.query("PREFIX s3: <https://w3id.org/s3fed/vocab#> "
                            "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
                            "SELECT ?l { ?r a s3:Region ; skos:prefLabel ?l } ORDER BY (LANG(?l) = 'en') ?l"))
    return rows[0]["l"].value if rows else code


def _configure(n: DemoNode, extra_node: str = "", tail: str = "") -> None:
    """``node init``'s file, plus keys for the demo: the regions' link to the hub, the hub's peers."""
    from node.config import write_config
    path = write_config(n.dir, n.code if n.code != "HUB" else "", n.name, n.base)
    text = path.read_text(encoding="utf-8").replace("\n[limits]", extra_node + "\n[limits]", 1)
    path.write_text(text + tail, encoding="utf-8")


def prepare(root: Path, first_port: int, host: str = "127.0.0.1", out=print,
            codes: list[str] | None = None) -> tuple[list[DemoNode], DemoNode]:
    """Create and fill one node directory per demo region (``codes``: some of them) and the
    hub's, fresh each run. Regions get ``first_port``, ``first_port + 1``, …; the hub the next."""
    import vocab
    from node.config import load_config
    from node.formats import format_for_upload
    from node.importer import ImportRefused, run_import
    from node.store import Graphs, open_store
    files = sorted(f for f in DEMO_DIR.glob("*.ttl") if codes is None or f.stem in codes)
    if not files:
        raise SystemExit(f"no demo data in {DEMO_DIR}")
    regions = [DemoNode(f.stem, root / f.stem, first_port + i, host) for i, f in enumerate(files)]
    hub = DemoNode("HUB", root / "hub", first_port + len(files), host, HUB_NAME)
    bases = {n.code: n.base for n in regions}
    shutil.rmtree(root, ignore_errors=True)
    for n, f in zip(regions, files, strict=True):
        text = rebase(f.read_text(encoding="utf-8"), bases)
        n.name = region_name(text, n.code)
        _configure(n, f'hub_url = "{hub.base}"          # the federation\'s hub, linked from the pages\n')
        (n.dir / "data.ttl").write_text(text, encoding="utf-8")
        cfg = load_config(n.config, env={})
        store = open_store(cfg)
        try:
            source = ("data.ttl", text.encode("utf-8"), format_for_upload(None, "data.ttl"))
            changes = run_import(store, Graphs(n.base), [source], n.base)
        except ImportRefused as e:
            raise SystemExit(f"demo data for {n.code} was refused:\n{e.text()}") from None
        finally:
            store.close()
        out(f"  {n.code:5} {n.name}: {len(changes.subjects)} entities, {len(changes.triples)} triples")
    _configure(hub, tail="\n[sync]\ninterval_minutes = 60\n" + "".join(
        f'\n[[peers]]\nid = "{n.code}"\nurl = "{n.base}"\n' for n in regions))
    store = open_store(load_config(hub.config, env={}))
    try:  # as `node serve` would: the index and the study read SKOS hierarchies from it
        store.replace_graph(Graphs(hub.base).vocab, vocab.load_vocabulary().serialize(format="nt", encoding="utf-8"))
    finally:
        store.close()
    return regions, hub


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the launcher's own clean-up still stops the servers


def start(nodes: list[DemoNode], timeout: float = 90) -> None:
    """Start ``s3fed node serve`` for each node and wait until all answer ``/health``."""
    # PDEATHSIG fires when the *thread* that forked exits: only the main thread's children get it
    pdeath = _die_with_parent if sys.platform == "linux" and threading.current_thread() is threading.main_thread() \
        else None
    for n in nodes:
        with open(n.dir / "serve.log", "ab") as log:
            n.proc = subprocess.Popen([sys.executable, "-m", "node.cli", "--config", str(n.config), "node", "serve",
                                       "--host", n.host, "--port", str(n.port)], stdout=log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=pdeath)
    waiting, deadline = list(nodes), time.monotonic() + timeout
    while waiting:
        for n in list(waiting):
            if n.proc.poll() is not None:
                raise SystemExit(f"node {n.code} stopped while starting; see {n.dir / 'serve.log'}")
            try:
                if requests.get(n.base + "/health", timeout=1).ok:
                    waiting.remove(n)
            except requests.RequestException:
                pass
        if waiting and time.monotonic() > deadline:
            raise SystemExit(f"node(s) {', '.join(n.code for n in waiting)} did not start within {timeout:g} s; "
                             f"see serve.log in {waiting[0].dir}")
        time.sleep(0.2)


def stop(nodes: list[DemoNode], grace: float = 10) -> None:
    """SIGTERM every server, wait up to ``grace`` seconds, then SIGKILL what is left."""
    for n in nodes:
        if n.proc and n.proc.poll() is None:
            n.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for n in nodes:
        if n.proc:
            try:
                n.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                n.proc.kill()
                n.proc.wait(5)


def _step(hub: DemoNode, title: str, out, *args: str) -> None:
    started = time.monotonic()
    out(f"{title}: s3fed --config {hub.config} {' '.join(args)}")
    p = hub.cli(*args)
    for line in p.stdout.strip().splitlines():
        out("  " + line)
    if p.returncode != 0:
        raise SystemExit(f"`{' '.join(args)}` failed (exit {p.returncode}):\n{p.stderr.strip()[-3000:]}")
    out(f"  ({time.monotonic() - started:.1f} s)")


INDEX_FALLBACK = """import json, sys
from node.config import load_config
from node.store import Graphs, open_store
from sync.index import build
cfg = load_config(sys.argv[1]); store = open_store(cfg)
try:
    s = build(store, Graphs(cfg["node"]["base_url"]), cfg)
finally:
    store.close()
print(f"Index: {sum(s['opportunities'].values())} opportunities ({s['opportunities']}) in {s['seconds']['total']} s")
"""


def build(hub: DemoNode, out=print) -> None:
    """The hub's first harvest, its cooperation index and its study (hub not serving yet)."""
    from node.cli import main
    _step(hub, "First harvest", out, "sync", "run")
    if "index" in main.commands:
        _step(hub, "Cooperation index", out, "index", "build")
    else:  # the `index build` verb is not there yet: the same library call
        out("Cooperation index (sync.index.build)")
        p = subprocess.run([sys.executable, "-c", INDEX_FALLBACK, str(hub.config)], capture_output=True, text=True,
                           timeout=300, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise SystemExit(f"the cooperation index failed:\n{p.stderr.strip()[-3000:]}")
        out("  " + p.stdout.strip())
    _step(hub, "Comparative study", out, "study", "stress-test", "--out", str(hub.dir / "data" / "study-report"))


@dataclass
class Federation:
    regions: list[DemoNode]
    hub: DemoNode

    @property
    def nodes(self) -> list[DemoNode]:
        return [*self.regions, self.hub]

    def urls(self) -> list[str]:
        h = self.hub.base
        lines = [f"  {n.code:5} {n.name:24} {n.base}/" for n in self.regions]
        lines += ["", f"  Hub   {HUB_NAME:24} {h}/",
                  f"        cooperation index      {h}/index",
                  f"        network picture        {h}/network",
                  f"        comparative study      {h}/study/",
                  f"        harvest state          {h}/peers",
                  f"        search                 {h}/search?q=aero",
                  f"        SPARQL (every region)  {h}/sparql"]
        return lines

    def stop(self) -> None:
        stop([self.hub, *self.regions])


def launch(root: Path, first_port: int = 5101, host: str = "127.0.0.1", out=print,
           codes: list[str] | None = None) -> Federation:
    """Prepare, start and build the federation; returns it running (call ``stop()``)."""
    t0 = time.monotonic()
    n = len([f for f in DEMO_DIR.glob("*.ttl") if codes is None or f.stem in codes]) + 1
    for port in range(first_port, first_port + n):
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                raise SystemExit(f"port {port} is already in use (another demo still running?): the demo needs "
                                 f"{n} free ports from {first_port}; choose others with --port")
    out(f"Preparing the demo federation in {root} …")
    regions, hub = prepare(root, first_port, host, out, codes)
    fed = Federation(regions, hub)
    try:
        out(f"Starting {len(regions)} region nodes …")
        start(regions)
        build(hub, out)
        out("Starting the hub …")
        start([hub])
    except BaseException:
        fed.stop()
        raise
    out(f"Ready in {time.monotonic() - t0:.0f} s.")
    return fed


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(root: Path, first_port: int = 5101) -> None:
    """Start the federation, print its URLs and serve until Ctrl-C (or SIGTERM / SIGHUP)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGHUP, _interrupt)
    fed = None
    try:
        fed = launch(root, first_port, out=lambda line: print(line, flush=True))
        print("\nThe s3fed demo federation is up:\n" + "\n".join(fed.urls()), flush=True)
        print("\nStart at the hub's page, search for a cluster, open a region. Ctrl-C stops everything.", flush=True)
        while all(n.proc.poll() is None for n in fed.nodes):
            time.sleep(0.5)
        dead = [n for n in fed.nodes if n.proc.poll() is not None]
        print(f"node {dead[0].code} stopped; see {dead[0].dir / 'serve.log'}", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nStopping …", flush=True)
    finally:
        if fed is not None:
            fed.stop()
            print("All demo nodes stopped.", flush=True)
