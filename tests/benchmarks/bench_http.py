"""P5: entity GET throughput of a node under gunicorn, against a Flask hello-world under the same
gunicorn settings (goal: ≥ 50 % of its requests per second).

What is measured, and why so:

* The node holds one synthetic region with its members (tests/benchmarks/synthetic.py: clusters
  with 20–150 memberships, so cluster and region pages are the heavy ones real nodes have). It
  runs exactly as deployed: ``gunicorn -c deploy/gunicorn.conf.py`` (one worker × 8 threads on the
  embedded store, through ``node.wsgi:app``). The hello-world app (:data:`hello`) is served by the
  same command with the same config file and environment — only the app differs — so the
  baseline is "gunicorn + Flask doing nothing", the ceiling any Flask route can reach here.
* Requests come from a load generator in a second process (:func:`_load`): threads with one
  keep-alive ``http.client`` connection each, bounded by a request count and by time, after a
  short warm-up. A fixed list of entities is cycled: the region, its strategy, every domain,
  cluster and collaboration, and actors and memberships up to :data:`PATHS` — the pages people
  browse, plus the many small ones a crawler or a harvester also fetches.
* Nothing writes during the run, so after the first request for an entity its description
  comes from the node's cache (:class:`node.entities.Descriptions`, valid until the store's
  next write): the figures are those of a read-mostly node, warm. The first run of each case
  includes the cold requests; the median is of warm ones.
* Per representation: Turtle and JSON-LD (``/id/…`` by ``Accept``), JSON (``/api/v1/{kind}/{slug}``,
  what apps use) and HTML (``/id/…`` as a browser asks). Each figure is the median of
  :data:`RUNS` runs; the hello-world baseline is measured in the same run, between them.

The process helpers (:func:`serving`, :func:`gunicorn`) are shared with :mod:`.bench_sparql`:
every server is started in its own process group and stopped (then killed) in ``finally``, and
every temporary directory is removed, whatever fails.
"""
from __future__ import annotations

import http.client
import itertools
import multiprocessing
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pyoxigraph as ox
from flask import Flask

from .synthetic import generate

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"
RUNS = 3
SECONDS = 2.5           # per run: stop after this long…
MAX_REQUESTS = 20_000   # …or after this many requests
CLIENT_THREADS = 4
PATHS = 200             # entities in the uniform sample
HEAVY = ("Turtle", "HTML")  # representations also measured on the region and cluster pages
CASES = [  # (case, path template, Accept)
    ("Turtle", "/id/{kind}/{slug}", "text/turtle"),
    ("JSON-LD", "/id/{kind}/{slug}", "application/ld+json"),
    ("JSON (/api/v1)", "/api/v1/{kind}/{slug}", "application/json"),
    ("HTML", "/id/{kind}/{slug}", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
]

hello = Flask("hello")  # the baseline: gunicorn -c deploy/gunicorn.conf.py tests.benchmarks.bench_http:hello


@hello.get("/")
def _hello():
    return "Hello, World!"


# -- servers ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop a server and its children (its own process group): a quick shutdown, killed after
    ``grace`` seconds — gunicorn's worker would otherwise finish its requests first, and a
    query the hub is still evaluating can take its whole time budget."""
    try:
        if proc.poll() is None and grace > 0:
            os.killpg(proc.pid, signal.SIGINT)  # gunicorn: quick shutdown (SIGTERM is the graceful one)
            proc.wait(grace)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        pass
    try:  # the rest of the group too: a worker left behind would still hold the store's lock
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


class Serving:
    """The process of a running server; ``grace`` (seconds) is how long its stop may take."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self.grace = proc, 5.0


@contextmanager
def serving(cmd: list[str], ready_url: str, log: Path, env: dict | None = None, timeout: float = 120):
    """Run a server until the block ends (yields a :class:`Serving`); it is ready when
    ``ready_url`` answers 200."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                cwd=ROOT, start_new_session=True)
    handle = Serving(proc)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd[2:4]} exited with {proc.returncode}:\n{_tail(log)}")
            try:
                if _get_status(ready_url) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{cmd[2:4]} not ready after {timeout:.0f} s:\n{_tail(log)}")
            time.sleep(0.2)
        yield handle
    finally:
        stop(proc, handle.grace)


def gunicorn(config: Path, port: int, log: Path, app: str | None = None):
    """``gunicorn -c deploy/gunicorn.conf.py [app]`` for the node whose config is ``config``: the
    deploy settings, as a partner runs them (scheduler off: nothing but the benchmark's requests)."""
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), *([app] if app else [])]
    env = {"S3FED_CONFIG": str(config), "S3FED_BIND": f"127.0.0.1:{port}", "S3FED_SCHEDULER": "0",
           "S3FED_LOG_LEVEL": "warning", "PYTHONPATH": str(ROOT)}
    return serving(cmd, f"http://127.0.0.1:{port}/" if app else f"http://127.0.0.1:{port}/health", log, env)


def _get_status(url: str) -> int:
    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request("GET", url.split(f":{port}", 1)[1] or "/")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def write_config(directory: Path, base_url: str, peers: list[str] = ()) -> Path:
    """A node's ``s3fed.toml`` (a hub when ``peers`` are given; their URLs are never called)."""
    text = f'[node]\nregion = "BENCH"\nname = "Benchmark"\nbase_url = "{base_url}"\ndata_dir = "data"\n'
    text += "".join(f'\n[[peers]]\nid = "{p}"\nurl = "http://127.0.0.1:9/{p}"\n' for p in peers)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    (path := directory / "s3fed.toml").write_text(text, encoding="utf-8")
    return path


# -- load generator (second process) ----------------------------------------------------------

def _load(port: int, paths: list[str], accept: str, threads: int, max_requests: int, seconds: float, out) -> None:
    """Runs in its own process: ``threads`` keep-alive connections GET ``paths`` in turn until
    ``max_requests`` or ``seconds``; sends (requests, errors, elapsed, p50, p95, bytes) to ``out``."""
    counter, lock, start = itertools.count(), threading.Lock(), threading.Barrier(threads + 1)
    latencies: list[float] = []
    stats = {"errors": 0, "bytes": 0, "first_error": ""}
    stop_at = [float("inf")]

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, nbytes, errors, first = [], 0, 0, ""

        def get(path: str) -> tuple[int, bytes]:
            nonlocal conn
            try:
                conn.request("GET", path, headers={"Accept": accept})
                resp = conn.getresponse()
                body = resp.read()
                if resp.will_close:
                    conn.close()
                return resp.status, body
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                return 0, b""
        for i in range(3):  # warm-up: connection, templates, caches
            get(paths[(k + i) % len(paths)])
        start.wait()
        while time.perf_counter() < stop_at[0]:
            n = next(counter)
            if n >= max_requests:
                break
            t = time.perf_counter()
            status, body = get(paths[n % len(paths)])
            mine.append(time.perf_counter() - t)
            nbytes += len(body)
            if status != 200:
                errors += 1
                first = first or f"{status} on {paths[n % len(paths)]}: {body[:200]!r}"
        conn.close()
        with lock:
            latencies.extend(mine)
            stats["bytes"] += nbytes
            stats["errors"] += errors
            stats["first_error"] = stats["first_error"] or first
    pool = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    began = time.perf_counter()
    stop_at[0] = began + seconds
    for t in pool:
        t.join(seconds + 120)
    elapsed = time.perf_counter() - began
    latencies.sort()

    def q(f: float) -> float:
        return latencies[min(len(latencies) - 1, int(f * len(latencies)))] if latencies else 0.0
    out.send((len(latencies), stats["errors"], elapsed, q(0.5), q(0.95), stats["bytes"], stats["first_error"]))
    out.close()


def measure(port: int, paths: list[str], accept: str) -> dict:
    """One bounded run of the load generator in a second process; its figures."""
    ctx = multiprocessing.get_context("spawn")
    here, there = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_load, args=(port, paths, accept, CLIENT_THREADS, MAX_REQUESTS, SECONDS, there),
                       daemon=True)
    proc.start()
    there.close()
    try:
        if not here.poll(SECONDS + 180):
            raise RuntimeError("the load generator did not report")
        n, errors, elapsed, p50, p95, nbytes, first_error = here.recv()
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.kill()
            proc.join()
    if errors:
        raise RuntimeError(f"{errors} of {n} requests failed, e.g. {first_error}")
    return {"rps": n / elapsed, "n": n, "p50": p50, "p95": p95, "bytes": nbytes / max(n, 1)}


# -- the node's data --------------------------------------------------------------------------

def node_data(directory: Path) -> tuple[Path, list[tuple[str, str]], list[tuple[str, str]], int]:
    """A node directory holding the largest of ten synthetic regions (with members) in its data
    graph: its config, the entities to fetch as (kind, slug) — a uniform sample, and the heavy
    ones — and its triple count."""
    region = max(generate(10, members=True), key=lambda r: len(r.lines))
    config = write_config(directory, region.base)
    st = ox.Store(str(directory / "data" / "store"))
    st.bulk_load(region.ntriples, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(region.base + "/graph/data"))
    st.flush()
    del st  # closes the store: gunicorn's worker opens it
    typed = re.compile(re.escape(region.base) + r"/id/([a-z-]+)/([^>]+)> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>")
    everything = [m.groups() for line in region.lines if (m := typed.match(line[1:]))]
    sample = random.Random(0).sample(everything, min(PATHS, len(everything)))
    heavy = [(k, s) for k, s in everything if k in ("region", "cluster")]
    return config, sample, heavy, len(region.lines)


def row(case: str, value: float, baseline: float | None, note: str) -> dict:
    return {"bench": "http", "case": case, "value": value, "unit": "req/s", "baseline": baseline, "note": note}


def run() -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="s3fed-bench-http-"))
    try:
        config, sample, heavy, triples = node_data(tmp / "node")
        hello_port, node_port = free_port(), free_port()
        cases = [(case, [template.format(kind=k, slug=s) for k, s in sample], accept)
                 for case, template, accept in CASES]
        cases += [(f"{case}, region and cluster pages", [template.format(kind=k, slug=s) for k, s in heavy], accept)
                  for case, template, accept in CASES if case in HEAVY]
        runs: dict[str, list[dict]] = {"hello": []} | {case: [] for case, _, _ in cases}
        with gunicorn(config, hello_port, tmp / "hello.log", app="tests.benchmarks.bench_http:hello"), \
                gunicorn(config, node_port, tmp / "node.log"):
            for _ in range(RUNS):  # interleaved, so load from elsewhere on the machine hits all alike
                runs["hello"].append(measure(hello_port, ["/"], "text/plain"))
                for case, paths, accept in cases:
                    runs[case].append(measure(node_port, paths, accept))
        med = {c: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for c, rs in runs.items()}
        base = med["hello"]["rps"]
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(Counter(k for k, _ in sample).items()))
        rows = [row("Flask hello-world (baseline)", base, None,
                    f"median of {RUNS} × ≤ {SECONDS:g} s; p50 {med['hello']['p50'] * 1e3:.1f} ms; same gunicorn "
                    f"settings; {CLIENT_THREADS} keep-alive connections from a second process")]
        for case, paths, _ in cases:
            m = med[case]
            what = (f"{len(paths)} entities drawn uniformly ({kinds}) from a {triples}-triple region; goal ≥ 0.5"
                    if len(paths) == len(sample) else f"the {len(paths)} largest descriptions; no goal")
            rows.append(row(f"entity GET, {case}", m["rps"], base,
                            f"{what}; median of {RUNS}; p50 {m['p50'] * 1e3:.1f} ms, p95 {m['p95'] * 1e3:.1f} ms; "
                            f"{m['bytes'] / 1e3:.1f} kB avg"))
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
