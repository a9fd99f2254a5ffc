"""A synthetic federation served for real, for the harvest benchmark (tests/benchmarks/bench_harvest.py).

What a hub meets here is what it meets in production, minus the network: every region is a real
node — ``node.create_app(config)`` with its own on-disk pyoxigraph store and its own base URL —
and the hub talks to them over HTTP. What is arranged to fit 2 cores:

* **One server process for all nodes.** The node apps are mounted under one werkzeug
  ``DispatcherMiddleware`` (path prefix ``/{code}``, which is also the end of the node's
  ``base_url``, so its entity IRIs and feed links are the URLs that serve them) and served by
  werkzeug's threaded HTTP server in a *separate process*: the nodes and the hub do not share a
  GIL, as they would not in a real federation.
* **Setup through the node's own write path, materialised natively.** Each region's data is one
  change set committed with :func:`node.changes.commit` — so the data graph, the feed members,
  sequences, timestamps and the feed counter are exactly what the node writes — into an in-memory
  store, which is then bulk-loaded into the node's on-disk store (with the vocabulary graph the
  app would otherwise install on start). Why not commit on disk directly: pyoxigraph's on-disk
  transactional writes run at ≈ 25 000 quads/s here, ≈ 4 minutes for the 6.5 million quads of 250
  nodes (data + feed + vocabulary); this takes ≈ 1 minute on two processes. SHACL validation (the
  import path) is skipped: the synthetic data is valid by construction.
* **At most** :data:`OPEN_NODES` **stores open at once.** An open store costs ≈ 4 MB and 18 file
  descriptors, so at ``--scale 10`` (2 500 nodes) apps are opened on demand and the least
  recently used idle one is closed (never one serving a request).

The server also answers ``POST /_bench/mutate?fraction=F&seed=S``: a share F of all entities,
drawn at random over every node, gets a new label (memberships: a new role), committed per node
through :func:`node.changes.commit` — what editors' API writes do — and answers with counts.

The server exits with its parent (it watches the parent's pid), so a benchmark killed half-way
leaves no process behind; :class:`Federation` removes its directory on :meth:`Federation.close`.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .synthetic import generate

OPEN_NODES = int(os.environ.get("S3FED_BENCH_OPEN_NODES") or 300)  # env: to try the closing on a small run
SPEC = "federation.json"
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_config(directory: Path, code: str, base: str) -> dict:
    """The configuration a node of this federation runs with (defaults otherwise)."""
    from node.config import load_config
    return load_config(None, env={}, overrides={"node": {"region": code, "name": f"Region {code}", "base_url": base,
                                                         "data_dir": str(directory)}})


@dataclass
class Federation:
    """The built federation: its directory, nodes, the N-Triples each region publishes, and
    (once :meth:`start` ed) the server process."""

    root: Path
    port: int
    codes: list[str]
    triples: int
    proc: subprocess.Popen | None = None
    build_seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base(self, code: str) -> str:
        return f"{self.url}/{code}"

    def hub_config(self, directory: Path, **sync) -> dict:
        """A hub whose ``[[peers]]`` are every node of the federation."""
        from node.config import load_config
        directory.mkdir(parents=True, exist_ok=True)
        return load_config(None, env={}, overrides={
            "node": {"region": "HUB", "name": "Hub", "base_url": "http://hub.bench.s3fed.invalid",
                     "data_dir": str(directory)},
            "sync": {"timeout_s": 120.0, "max_bytes": 2_000_000_000, **sync},
            "peers": [{"id": c, "url": self.base(c)} for c in self.codes]})

    def start(self, timeout: float = 600) -> Federation:
        log = open(self.root / "server.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.benchmarks.federation", "serve", str(self.root),
                                      str(os.getpid())], stdout=subprocess.PIPE, stderr=log, cwd=ROOT)
        log.close()
        line = self.proc.stdout.readline().decode().strip()  # "READY" once every app is open
        if line != "READY":
            self.stop()
            raise RuntimeError(f"the federation server did not start: {line!r}\n{self.log()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                requests.get(self.base(self.codes[0]) + "/health", timeout=5).raise_for_status()
                return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the federation server does not answer")

    def mutate(self, fraction: float, seed: int = 1) -> dict:
        r = requests.post(f"{self.url}/_bench/mutate", params={"fraction": fraction, "seed": seed}, timeout=3600)
        if r.status_code != 200:
            raise RuntimeError(f"mutate failed: HTTP {r.status_code}\n{self.log()}")
        return r.json()

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def close(self) -> None:
        """Stop the server and delete everything on disk."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Federation:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def build(n: int, jobs: int = 2, root: Path | None = None) -> Federation:
    """Generate ``n`` regions (with members), write their N-Triples to ``{root}/nt/`` and build
    one node directory + store each, in ``jobs`` processes. Cleans up on failure."""
    started = time.perf_counter()
    root = Path(root or tempfile.mkdtemp(prefix="s3fed-federation-"))
    try:
        port = free_port()  # the base URLs are in the data: the server must get this port later
        regions = generate(n, members=True, base=f"http://127.0.0.1:{port}/")
        (root / "nt").mkdir(parents=True, exist_ok=True)
        files, triples = {}, 0
        for r in regions:
            files[r.code] = root / "nt" / f"{r.code}.nt"
            files[r.code].write_bytes(r.ntriples)
            triples += len(r.lines)
        codes = [r.code for r in regions]
        bases = {r.code: r.base for r in regions}
        del regions
        spec = {"port": port, "triples": triples,
                "nodes": {c: {"base": bases[c], "dir": str(root / "nodes" / c)} for c in codes}}
        (root / SPEC).write_text(json.dumps(spec))
        builders = [subprocess.Popen([sys.executable, "-m", "tests.benchmarks.federation", "build", str(root),
                                      str(i), str(jobs)], cwd=ROOT) for i in range(jobs)]
        try:
            if any(b.wait() != 0 for b in builders):
                raise RuntimeError("building the federation's node stores failed (see the output above)")
        finally:
            for b in builders:
                if b.poll() is None:
                    b.kill()
                    b.wait()
        return Federation(root, port, codes, triples, build_seconds=time.perf_counter() - started, files=files)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise


def reopen(root: Path) -> Federation:
    """A federation built earlier in ``root`` (to iterate on the harvester without rebuilding)."""
    spec = json.loads((root / SPEC).read_text())
    return Federation(root, spec["port"], list(spec["nodes"]), spec["triples"],
                      files={c: root / "nt" / f"{c}.nt" for c in spec["nodes"]})


def _build_nodes(root: str, part: int, parts: int) -> None:
    """Build every ``parts``-th node, starting at ``part`` (one builder process's share)."""
    import pyoxigraph as ox

    import vocab
    from node.changes import ChangeSet, commit
    from node.store import Graphs, Store
    spec = json.loads((Path(root) / SPEC).read_text())
    codes = list(spec["nodes"])[part::parts]
    vocabulary = vocab.load_vocabulary().serialize(format="nt", encoding="utf-8")
    for code in codes:
        node = spec["nodes"][code]
        cfg = node_config(Path(node["dir"]), code, node["base"])
        mem, gs = Store(None), Graphs(cfg["node"]["base_url"])
        mem.load(vocabulary, ox.RdfFormat.N_TRIPLES, gs.vocab)
        data = (Path(root) / "nt" / f"{code}.nt").read_bytes()
        triples = list(ox.parse(data, format=ox.RdfFormat.N_TRIPLES))
        commit(mem, gs, ChangeSet({t.subject.value for t in triples}, triples))
        (store := Path(cfg["node"]["data_dir"]) / "store").mkdir(parents=True)
        disk = ox.Store(str(store))
        disk.bulk_load(mem.dump(ox.RdfFormat.N_QUADS), format=ox.RdfFormat.N_QUADS, lenient=True)  # our own
        disk.flush()
        del disk, mem


# -- the server process ------------------------------------------------------------------------

class NodeApps:
    """The mounts of the dispatcher: ``/{code}`` → that node's app, opened on first use and
    closed when idle and least recently used, beyond ``limit`` open ones."""

    def __init__(self, spec: dict, limit: int = OPEN_NODES):
        self.spec, self.limit = spec, limit
        self.open: OrderedDict[str, object] = OrderedDict()
        self.busy: dict[str, int] = {}
        self.lock = threading.Lock()

    def __contains__(self, script: str) -> bool:
        return script[1:] in self.spec["nodes"]

    def __getitem__(self, script: str):
        code = script[1:]

        def app(environ, start_response):
            from werkzeug.wsgi import ClosingIterator
            node = self.acquire(code)
            try:
                body = node(environ, start_response)
            except BaseException:
                self.release(code)
                raise
            return ClosingIterator(body, [lambda: self.release(code)])
        return app

    def get(self, script: str, default=None):
        return self[script] if script in self else default

    def app(self, code: str):
        """The node's app for in-process work (the mutate endpoint); caller must release()."""
        return self.acquire(code)

    def acquire(self, code: str):
        from node import create_app
        with self.lock:
            self.busy[code] = self.busy.get(code, 0) + 1
            if code in self.open:
                self.open.move_to_end(code)
                return self.open[code]
        node = self.spec["nodes"][code]
        created = create_app(node_config(Path(node["dir"]), code, node["base"]))  # outside the lock: ~50 ms
        with self.lock:
            if code in self.open:  # another request opened it meanwhile
                _close(created)
                return self.open[code]
            self.open[code] = created
            self._evict()
            return created

    def release(self, code: str) -> None:
        with self.lock:
            self.busy[code] -= 1

    def _evict(self) -> None:
        for code in list(self.open):
            if len(self.open) <= self.limit:
                break
            if not self.busy.get(code):
                _close(self.open.pop(code))


def _close(app) -> None:
    app.extensions["s3fed.store"].close()


def _mutate(apps: NodeApps, fraction: float, seed: int) -> dict:
    """Change ``fraction`` of all entities through each node's commit (see the module doc)."""
    import pyoxigraph as ox

    from node.changes import ChangeSet, commit
    rng, changed, nodes = random.Random(seed), 0, 0
    label = ox.NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel")
    role = ox.NamedNode("http://www.w3.org/ns/org#role")
    roles = [ox.NamedNode(f"https://w3id.org/s3fed/concept/actor-role/{r}") for r in
             ("sme", "large-company", "research-organisation", "higher-education", "public-body", "intermediary")]
    started = time.perf_counter()
    for code in sorted(apps.spec["nodes"]):
        app = apps.app(code)
        try:
            st, gs = app.extensions["s3fed.store"], app.extensions["s3fed.graphs"]
            subjects = sorted(r["s"].value for r in st.query(
                f"SELECT DISTINCT ?s {{ GRAPH <{gs.data}> {{ ?s a ?t }} }}"))
            picked = [s for s in subjects if rng.random() < fraction]
            if not picked:
                continue
            values = " ".join(f"<{s}>" for s in picked)
            rows = st.query(f"SELECT ?s ?p ?o {{ VALUES ?s {{ {values} }} GRAPH <{gs.data}> {{ ?s ?p ?o }} }}")
            triples = []
            for r in rows:
                p, o = r["p"], r["o"]
                if p == label and isinstance(o, ox.Literal) and o.language == "en":
                    o = ox.Literal(o.value + f" (rev {seed})", language="en")
                elif p == role:
                    o = rng.choice([x for x in roles if x != o])
                triples.append(ox.Triple(r["s"], p, o))
            commit(st, gs, ChangeSet(set(picked), triples))
            changed, nodes = changed + len(picked), nodes + 1
        finally:
            apps.release(code)
    return {"entities": changed, "nodes": nodes, "seconds": round(time.perf_counter() - started, 3)}


def serve(root: Path, parent: int) -> None:
    import logging

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    spec = json.loads((root / SPEC).read_text())
    apps = NodeApps(spec)
    for code in list(spec["nodes"])[:apps.limit]:  # open up front: no cold start inside a measurement
        apps.acquire(code)
        apps.release(code)

    @Request.application
    def control(request: Request) -> Response:
        if request.path == "/_bench/mutate" and request.method == "POST":
            try:
                out = _mutate(apps, float(request.args["fraction"]), int(request.args.get("seed", 1)))
            except Exception:
                traceback.print_exc()
                raise
            return Response(json.dumps(out), mimetype="application/json")
        return Response("not here", status=404)

    server = make_server("127.0.0.1", spec["port"], DispatcherMiddleware(control, apps), threaded=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())

    def orphaned() -> None:  # the benchmark died: do not outlive it
        while os.getppid() == parent:
            time.sleep(1)
        server.shutdown()
    threading.Thread(target=orphaned, daemon=True).start()
    print("READY", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        for app in apps.open.values():
            _close(app)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(Path(sys.argv[2]), int(sys.argv[3]))
    elif sys.argv[1:2] == ["build"]:
        _build_nodes(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit("usage: python -m tests.benchmarks.federation serve ROOT PARENT_PID | build ROOT PART PARTS")
