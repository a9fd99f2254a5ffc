"""A bounded load test (``make soak``): the Occitanie demo node under gunicorn on loopback, hit by
64 concurrent clients for 60 s with a mix of what a federation asks a node — entity reads in
every format, collection pages (Linked Data and JSON API), SPARQL queries, change-feed polling.

The clients run in a second process (this file run as a script: threads with one
``requests.Session`` each), so they do not share the server's GIL. A warm-up run comes first;
the gunicorn worker's resident memory is read (``/proc/PID/status``) after it and after the
measured run. Pass: no error (every answer 200 or 304), memory growth under a bound. The figures
— requests/s, p50/p99 latency overall and per kind of request, errors, RSS before/after — are
printed and written to ``tests/artifacts/load.json``.

Knobs (environment): ``S3FED_LOAD_CLIENTS`` (64), ``S3FED_LOAD_SECONDS`` (60),
``S3FED_LOAD_WARMUP`` (10), ``S3FED_LOAD_MAX_GROWTH_MB`` (50).
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CLIENTS = int(os.environ.get("S3FED_LOAD_CLIENTS", "64"))
SECONDS = float(os.environ.get("S3FED_LOAD_SECONDS", "60"))
WARMUP = float(os.environ.get("S3FED_LOAD_WARMUP", "10"))
MAX_GROWTH_MB = float(os.environ.get("S3FED_LOAD_MAX_GROWTH_MB", "50"))

P = """PREFIX s3: <https://w3id.org/s3fed/vocab#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
QUERIES = [
    P + 'SELECT ?d ?label WHERE { ?d a s3:PriorityDomain ; skos:prefLabel ?label FILTER(lang(?label) = "en") } '
        "ORDER BY ?d",
    P + "SELECT ?cluster ?label ?domain WHERE { ?cluster a s3:Cluster ; skos:prefLabel ?label ; "
        "s3:contributesTo ?domain } ORDER BY ?label LIMIT 100",
    P + "SELECT ?role (COUNT(DISTINCT ?m) AS ?n) WHERE { ?m a org:Membership ; org:role ?role } GROUP BY ?role",
    P + "SELECT ?type (COUNT(?s) AS ?n) WHERE { ?s a ?type } GROUP BY ?type ORDER BY DESC(?n)",
    P + 'ASK { ?c a s3:Cluster ; skos:prefLabel ?l FILTER(CONTAINS(LCASE(STR(?l)), "aero")) }',
    P + "CONSTRUCT { ?c skos:prefLabel ?l ; s3:region ?r } WHERE { ?c a s3:Cluster ; skos:prefLabel ?l ; "
        "s3:region ?r }",
]
MIX = [("entity", 40), ("collection", 25), ("sparql", 15), ("feed", 15), ("other", 5)]


# -- the client process ------------------------------------------------------------------------

def client(base: str, targets: dict, until: float, seed: int, out: list) -> None:
    rnd, s = random.Random(seed), requests.Session()
    feed_etag = None
    kinds = [k for k, w in MIX for _ in range(w)]
    while time.monotonic() < until:
        kind, headers = rnd.choice(kinds), {}
        if kind == "entity":
            path = rnd.choice(targets["entities"])
            headers["Accept"] = rnd.choice(["text/html", "application/json", "text/turtle", "application/ld+json",
                                             "application/n-triples"])
            method, data = "GET", None
        elif kind == "collection":
            path, method, data = rnd.choice(targets["collections"]), "GET", None
            headers["Accept"] = rnd.choice(["application/json", "text/html", "text/turtle"])
        elif kind == "sparql":
            path, method = "/sparql", "POST"
            data = {"query": rnd.choice(QUERIES)}
            graph = "CONSTRUCT" in data["query"]
            headers["Accept"] = rnd.choice(["text/turtle", "application/n-triples"] if graph else [
                "application/sparql-results+json", "text/csv", "application/sparql-results+xml"])
        elif kind == "feed":
            path, method, data = rnd.choice(["/feed", "/feed/0", f"/feed?since={rnd.randint(0, targets['last'])}"]), \
                "GET", None
            if path == "/feed" and feed_etag:
                headers["If-None-Match"] = feed_etag
        else:
            path, method, data = rnd.choice(["/health", "/void", "/", "/search?q=aero&format=json"]), "GET", None
        started = time.perf_counter()
        try:
            r = s.request(method, base + path, data=data, headers=headers, timeout=60, allow_redirects=True)
            r.content  # noqa: B018 — read the whole body
            status = r.status_code
            if path == "/feed" and status == 200:
                feed_etag = r.headers.get("ETag")
        except requests.RequestException as e:
            status = f"{type(e).__name__}: {e}"[:200]
        out.append((kind, status, time.perf_counter() - started, None if status in (200, 304) else f"{method} {path}"))


def run_clients(base: str, targets: dict, clients: int, seconds: float) -> dict:
    until = time.monotonic() + seconds
    results: list[list] = [[] for _ in range(clients)]
    threads = [threading.Thread(target=client, args=(base, targets, until, i, results[i])) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    rows = [r for rs in results for r in rs]
    return {"elapsed_s": elapsed, "clients": clients, **summarise(rows, elapsed)}


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def summarise(rows: list, elapsed: float) -> dict:
    def stats(subset):
        lat = [r[2] for r in subset]
        return {"requests": len(subset), "p50_ms": round(percentile(lat, 50) * 1000, 1),
                "p99_ms": round(percentile(lat, 99) * 1000, 1), "max_ms": round(max(lat, default=0) * 1000, 1)}
    errors = [r for r in rows if r[1] not in (200, 304)]
    out = {**stats(rows), "requests_per_s": round(len(rows) / elapsed, 1), "errors": len(errors),
           "error_examples": sorted({f"{r[3]}: {r[1]}" for r in errors})[:10],
           "not_modified": sum(1 for r in rows if r[1] == 304)}
    out["by_kind"] = {k: stats([r for r in rows if r[0] == k]) for k, _ in MIX}
    return out


# -- the test ------------------------------------------------------------------------------------

def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def worker_of(master: int) -> int:
    """The gunicorn worker: the master's only child process."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                children.append(int(stat.parent.name))
        if len(children) == 1:
            return children[0]
        time.sleep(0.2)
    raise AssertionError(f"gunicorn {master} has no single worker")


def load(base: str, targets: dict, clients: int, seconds: float) -> dict:
    """Run the clients in another process; their summary comes back as JSON."""
    p = subprocess.run([sys.executable, __file__, base, str(clients), str(seconds)], input=json.dumps(targets),
                       capture_output=True, text=True, timeout=seconds + 300, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout)


def test_load_under_gunicorn(tmp_path):
    from conftest import make_node

    from sync.demo import rebase
    node = make_node(tmp_path, "FRJ", "Occitanie")
    text = rebase((ROOT / "deploy" / "demo" / "FRJ.ttl").read_text(encoding="utf-8"), {"FRJ": node.base})
    imported = node.import_text(text)
    assert imported.returncode == 0, imported.stderr

    port = node.port  # the base URL the node mints its IRIs under
    log = open(node.dir / "gunicorn.log", "w")
    server = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "--workers", "1", "--threads", "8",
                               "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--no-control-socket",
                               "node:create_app()"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                              env={**os.environ, "S3FED_CONFIG": str(node.config)})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (node.dir / "gunicorn.log").read_text()[-3000:]
            try:
                if requests.get(node.base + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "gunicorn did not answer"
            time.sleep(0.2)
        worker = worker_of(server.pid)

        dump = requests.get(node.base + "/dump?format=nt", timeout=30)
        entities = sorted({line.split(" ", 1)[0][1:-1] for line in dump.text.splitlines()
                           if line.startswith(f"<{node.base}/id/")})
        kinds = sorted({e.split("/id/")[1].split("/")[0] for e in entities})
        targets = {"entities": [e[len(node.base):] for e in entities],
                   "collections": [f"/id/{k}/" for k in kinds] + [f"/api/v1/{k}" for k in kinds]
                   + [f"/id/{k}/?per_page=5&page=2" for k in kinds] + [f"/api/v1/{k}?per_page=5" for k in kinds],
                   "last": int(dump.headers["X-S3fed-Sequence"])}
        assert len(entities) > 30

        warm = load(node.base, targets, CLIENTS, WARMUP)
        rss_before, cpu_before = rss_kb(worker), cpu_s(worker)
        run = load(node.base, targets, CLIENTS, SECONDS)
        rss_after, cpu_used = rss_kb(worker), cpu_s(worker) - cpu_before
        assert server.poll() is None, "gunicorn died under load"
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()

    report = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
              "server": "gunicorn --workers 1 --threads 8 (embedded store)", "data": "deploy/demo/FRJ.ttl",
              "entities": len(entities), "warmup": {k: warm[k] for k in ("requests", "requests_per_s", "errors")},
              **run, "rss_before_mb": round(rss_before / 1024, 1), "rss_after_mb": round(rss_after / 1024, 1),
              "rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
              "worker_cpu_percent": round(100 * cpu_used / run["elapsed_s"])}  # of one core
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nload: {run['clients']} clients × {run['elapsed_s']:.0f} s on {os.cpu_count()} CPUs: "
          f"{run['requests']} requests, {run['requests_per_s']} req/s, p50 {run['p50_ms']} ms, "
          f"p99 {run['p99_ms']} ms, max {run['max_ms']} ms, errors {run['errors']}; worker RSS "
          f"{report['rss_before_mb']} → {report['rss_after_mb']} MB, worker CPU "
          f"{report['worker_cpu_percent']} % of a core")
    for kind, s in run["by_kind"].items():
        print(f"  {kind:>10}: {s['requests']:6d} requests, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms")
    assert run["errors"] == 0, run["error_examples"]
    assert warm["errors"] == 0, warm["error_examples"]
    assert run["requests"] > 0
    assert report["rss_growth_mb"] < MAX_GROWTH_MB, report


if __name__ == "__main__":  # the client process: python tests/test_load.py BASE CLIENTS SECONDS < targets.json
    print(json.dumps(run_clients(sys.argv[1], json.loads(sys.stdin.read()), int(sys.argv[2]), float(sys.argv[3]))))
