"""The deploy kit works as written: gunicorn with deploy/gunicorn.conf.py serves a node on either
store, the container entrypoint creates and fills a node, nginx with deploy/nginx/s3fed.conf caches
immutable feed pages and compresses RDF, the systemd units verify, and the files that cannot run
here (no Docker engine on this machine) are at least well-formed and consistent with the code."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
import requests
from conftest import free_port, make_node, oxigraph_binary, sample_text, stop_process, use_oxigraph

from node.config import DEFAULTS, load_config

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent


def gunicorn(node, env: dict) -> tuple[subprocess.Popen, str]:
    """gunicorn -c deploy/gunicorn.conf.py for ``node`` on a free port, started from another folder."""
    port = free_port()
    log = open(node.dir / "gunicorn.log", "wb")
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(DEPLOY / "gunicorn.conf.py")], cwd=node.dir,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **node.env, **env,
                            "S3FED_CONFIG": str(node.config), "S3FED_BIND": f"127.0.0.1:{port}"})
    log.close()
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 40
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except requests.RequestException:
            time.sleep(0.2)
    stop_process(proc)
    raise AssertionError((node.dir / "gunicorn.log").read_text()[-3000:])


@pytest.mark.parametrize("kind", ["embedded", "sparql"])
def test_gunicorn_serves_a_node(tmp_path, kind):
    """One worker with threads on the embedded store, several on the external one — and with the
    external store, the CLI imports while gunicorn serves."""
    if kind == "sparql" and oxigraph_binary() is None:
        pytest.skip("the oxigraph server is not installed (pip install 'oxigraph>=0.4')")
    node = make_node(tmp_path)
    if kind == "sparql" and getattr(node, "oxigraph", None) is None:
        use_oxigraph(node)
    kind = load_config(node.config)["store"]["kind"]  # S3FED_TEST_STORE may have chosen for us
    if kind == "embedded":
        assert node.import_text(sample_text(node)).returncode == 0
    proc, base = gunicorn(node, {"S3FED_WORKERS": "2"})
    try:
        if kind == "sparql":
            r = node.import_text(sample_text(node))
            assert r.returncode == 0, r.stderr
        health = requests.get(base + "/health", timeout=10).json()
        assert health["store"]["kind"] == kind and health["store"]["triples"] > 50
        urls = [f"{base}/id/cluster/aerospace-valley", f"{base}/sparql?query=ASK{{?s?p?o}}", f"{base}/feed/0"]
        assert all(requests.get(u, timeout=10).status_code == 200 for u in urls * 3)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0  # a clean, graceful stop
        if getattr(node, "oxigraph", None):
            stop_process(node.oxigraph)
    log = (node.dir / "gunicorn.log").read_text()
    workers = 1 if kind == "embedded" else 2
    assert f"store {kind}, {workers} worker(s) × 8 threads" in log, log
    assert len(set(re.findall(r"Booting worker with pid: (\d+)", log))) == workers
    assert "Traceback" not in log, log


def test_entrypoint_creates_a_node_once_with_peers_and_demo_data(tmp_path):
    config = tmp_path / "node" / "s3fed.toml"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "S3FED_CONFIG": str(config),
           "S3FED_NODE_REGION": "FRJ", "S3FED_NODE_NAME": "Occitanie", "S3FED_NODE_BASE_URL": "http://frj:8101",
           "S3FED_PEERS": "ITC4=http://itc4:8102 DE1=http://de1:8103", "S3FED_DEMO_IMPORT": "FRJ",
           "S3FED_DEMO_BASES": "FRJ=http://frj:8101 ITC4=http://itc4:8102"}
    env.pop("S3FED_TEST_STORE", None)
    r = subprocess.run([str(DEPLOY / "docker-entrypoint.sh"), "echo", "started"], env=env, capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0 and r.stdout.rstrip().endswith("started"), r.stderr
    assert "Imported" in r.stdout
    cfg = load_config(config, env={})
    assert cfg["node"]["base_url"] == "http://frj:8101"
    assert [(p["id"], p["url"]) for p in cfg["peers"]] == [("ITC4", "http://itc4:8102"), ("DE1", "http://de1:8103")]
    store = ox.Store.read_only(str(Path(cfg["node"]["data_dir"]) / "store"))
    assert store.query("ASK { GRAPH ?g { <http://frj:8101/id/region/frj> ?p ?o } }")  # rebased demo data
    del store
    again = subprocess.run([str(DEPLOY / "docker-entrypoint.sh"), "true"], env=env, capture_output=True,
                           text=True, timeout=60)
    assert again.returncode == 0 and "Imported" not in again.stdout  # created once, kept after
    assert len(re.findall(r"^\[\[peers\]\]", config.read_text(), re.M)) == 2


def test_online_backup_of_a_running_node_is_complete(sample_node, tmp_path):
    """deploy/README.md's online backup: every graph, the latest writes included."""
    out = tmp_path / "backup.nq"
    data_dir = Path(load_config(sample_node.config)["node"]["data_dir"])
    if load_config(sample_node.config)["store"]["kind"] != "embedded":
        pytest.skip("the node runs on the external store: its backup is the server's")
    subprocess.run([sys.executable, "-c", "import pyoxigraph as ox, sys; "
                    "ox.Store.read_only(sys.argv[1]).dump(sys.argv[2], ox.RdfFormat.N_QUADS)",
                    str(data_dir / "store"), str(out)], check=True, timeout=60)
    restored = ox.Store(str(tmp_path / "restored"))
    restored.bulk_load(path=str(out), format=ox.RdfFormat.N_QUADS)
    graphs = {g.value for g in restored.named_graphs()}
    assert {sample_node.base + "/graph/data", sample_node.base + "/graph/feed"} <= graphs
    data = restored.query(f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{sample_node.base}/graph/data> {{ ?s ?p ?o }} }}")
    assert int(next(iter(data))["n"].value) == sample_node.get("/health").json()["store"]["triples"]


def test_compose_file_is_consistent():
    """No Docker engine here: parse compose.yaml and check it against the code and the image."""
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = doc["services"]
    nodes = {n: s for n, s in services.items() if s.get("build")}
    assert set(nodes) == {"frj", "itc4", "hub"} and {"oxigraph", "oxigraph-frj"} <= set(services)
    entry_vars = set(re.findall(r"S3FED_[A-Z_]+", (DEPLOY / "docker-entrypoint.sh").read_text()))
    conf_vars = set(re.findall(r"S3FED_[A-Z_]+", (DEPLOY / "gunicorn.conf.py").read_text()))
    bases = {n: s["environment"]["S3FED_NODE_BASE_URL"] for n, s in nodes.items()}
    stores = []
    for name, svc in services.items():
        assert svc.get("healthcheck") or svc.get("build"), f"{name}: no health check (the image has one)"
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"
        for vol in svc.get("volumes", []):
            assert vol.split(":")[0] in doc["volumes"], vol
        if name in nodes:
            assert (ROOT / svc["build"]["context"].replace("..", ".") / svc["build"]["dockerfile"]).is_file()
            env = svc["environment"]
            for var in env:  # each variable is a config key, or read by the entrypoint or gunicorn.conf.py
                m = re.fullmatch(r"S3FED_([A-Z]+)_([A-Z0-9_]+)", var)
                known = m and m.group(2).lower() in DEFAULTS.get(m.group(1).lower(), {})
                assert known or var in entry_vars | conf_vars, f"{name}: {var} is read by nothing"
            port = env["S3FED_BIND"].rpartition(":")[2]
            assert bases[name] == f"http://{name}:{port}" and f"{port}:{port}" in svc["ports"]
            if env.get("S3FED_STORE_KIND") == "sparql":
                host = re.match(r"http://([^:/]+)", env["S3FED_STORE_QUERY_URL"]).group(1)
                assert host in svc["depends_on"] and host in services
                stores.append(host)
    assert len(stores) == len(set(stores)) == 2, "one SPARQL server (dataset) per node"
    peers = dict(p.split("=", 1) for p in nodes["hub"]["environment"]["S3FED_PEERS"].split())
    assert peers == {"FRJ": bases["frj"], "ITC4": bases["itc4"]}
    for code in ("FRJ", "ITC4"):
        assert (DEPLOY / "demo" / f"{code}.ttl").is_file()


INSTRUCTIONS = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
                "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}


def test_dockerfile_is_well_formed():
    """No hadolint or Docker engine here: instructions, JSON forms, sources and user are checked."""
    text = (DEPLOY / "Dockerfile").read_text()
    lines = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    steps = [line.split(None, 1) for line in lines.splitlines() if line.strip()]
    assert all(word.upper() in INSTRUCTIONS for word, *_ in steps), [w for w, *_ in steps]
    assert steps[0] == ["FROM", "python:3.11-slim"]
    for word, arg in steps:
        if word in ("CMD", "ENTRYPOINT", "VOLUME") or (word == "HEALTHCHECK" and "CMD [" in arg):
            json.loads(arg[arg.index("["):])  # exec form: valid JSON
        if word == "COPY":
            for src in arg.split()[:-1]:
                assert (ROOT / src).exists(), src
    users = [arg for word, arg in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert os.access(DEPLOY / "docker-entrypoint.sh", os.X_OK)
    assert subprocess.run(["sh", "-n", str(DEPLOY / "docker-entrypoint.sh")]).returncode == 0


def test_example_config_is_valid_and_explains_every_key(tmp_path):
    text = (DEPLOY / "s3fed.example.toml").read_text()
    cfg = load_config(DEPLOY / "s3fed.example.toml", env={})
    for section, keys in DEFAULTS.items():
        if isinstance(keys, dict):
            for key, default in keys.items():
                assert re.search(rf"^#? ?{key} = ", text, re.M), f"{section}.{key} is not explained"
                if section != "node":
                    assert cfg[section][key] == default, f"{section}.{key}: the example shows another default"
    assert 'kind = "sparql"' in text
    tail = text[text.index("# [[peers]]"):]  # the commented [[peers]] blocks, uncommented, load
    (tmp_path / "s3fed.toml").write_text(text.split("# [[peers]]")[0] + "\n".join(
        ln[2:] for ln in tail.splitlines() if ln.startswith("# ")))
    assert [p["id"] for p in load_config(tmp_path / "s3fed.toml", env={})["peers"]] == ["ITC4", "DE1"]


def test_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    for unit in (DEPLOY / "systemd").glob("*@.service"):
        text = unit.read_text().replace("/opt/s3fed/.venv/bin/", f"{BIN}/")  # where the binaries are here
        (tmp_path / unit.name.replace("@.", "@frj.")).write_text(text)
    r = subprocess.run([analyze, "verify", "--man=no", *map(str, tmp_path.glob("*.service"))], capture_output=True,
                       text=True, timeout=60)
    problems = [ln for ln in (r.stdout + r.stderr).splitlines() if "s3fed" in ln]
    assert not problems, problems


def nginx_config(tmp: Path, node_port: int, http_port: int, https_port: int) -> Path:
    """deploy/nginx/s3fed.conf with this machine's paths and ports, inside a minimal nginx.conf."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=s3.example.org", "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    text = (DEPLOY / "nginx" / "s3fed.conf").read_text()
    for old, new in [("/etc/letsencrypt/live/s3.example.org/fullchain.pem", tmp / "cert.pem"),
                     ("/etc/letsencrypt/live/s3.example.org/privkey.pem", tmp / "key.pem"),
                     ("/var/cache/nginx/s3fed", tmp / "cache"), ("/var/www/letsencrypt", tmp),
                     ("server 127.0.0.1:8101;", f"server 127.0.0.1:{node_port};"),
                     ("listen [::]:80;", ""), ("listen [::]:443 ssl http2;", ""),
                     ("listen 80;", f"listen 127.0.0.1:{http_port};"),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")]:
        assert old in text, old
        text = text.replace(old, str(new))
    (tmp / "s3fed.conf").write_text(text)
    main = tmp / "nginx.conf"
    temp = " ".join(f"{k}_temp_path {tmp}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main.write_text(("user root;\n" if os.geteuid() == 0 else "") +
                    f"worker_processes 1;\ndaemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
                    "events { worker_connections 64; }\n"
                    f"http {{ include /etc/nginx/mime.types; access_log off; {temp}\ninclude {tmp}/s3fed.conf; }}\n")
    return main


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_nginx_caches_immutable_feed_pages_and_compresses_rdf(tmp_path):
    binary = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
    if binary is None or shutil.which("openssl") is None:
        pytest.skip("nginx or openssl is not installed (apt-get install nginx-core openssl)")
    node = make_node(tmp_path)
    node.write("s3fed.toml", node.config.read_text() + "\n[feed]\npage_size = 5\n")
    assert node.import_text(sample_text(node)).returncode == 0  # 15 entities: pages 0-2 full, 3 the newest
    node.start()
    http_port, https_port = free_port(), free_port()
    (tmp_path / "nginx").mkdir()
    conf = nginx_config(tmp_path / "nginx", node.port, http_port, https_port)
    flags = ["-p", str(tmp_path / "nginx"), "-e", str(tmp_path / "nginx" / "error.log"), "-c", str(conf)]
    check = subprocess.run([binary, "-t", *flags], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([binary, *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"https://127.0.0.1:{https_port}"

        def get(path: str, accept: str = "text/turtle") -> requests.Response:  # a self-signed certificate
            return requests.get(base + path, headers={"Accept": accept}, verify=False, timeout=10)
        deadline = time.monotonic() + 15
        while True:
            try:
                get("/health")
                break
            except requests.ConnectionError as e:
                assert time.monotonic() < deadline, f"{e}: " + (tmp_path / "nginx" / "error.log").read_text()
                time.sleep(0.1)
        first, second = get("/feed/0"), get("/feed/0")
        assert first.status_code == 200 and "immutable" in first.headers["Cache-Control"]
        assert (first.headers["X-Cache-Status"], second.headers["X-Cache-Status"]) == ("MISS", "HIT")
        assert first.headers["Content-Encoding"] == "gzip" and second.text == first.text
        assert "max-age=63072000" in first.headers["Strict-Transport-Security"]
        newest = [get("/feed/3") for _ in range(2)]
        assert "immutable" not in newest[0].headers["Cache-Control"]
        assert [r.headers["X-Cache-Status"] for r in newest] == ["MISS", "HIT"]  # for its few seconds
        nt = get("/feed/0", "application/n-triples")
        assert nt.headers["X-Cache-Status"] == "MISS" and nt.headers["Content-Type"].startswith("application/n-triples")
        api = get("/api/v1/cluster", "application/json")
        assert api.headers["Cache-Control"] == "no-store" and "X-Cache-Status" not in api.headers
        redirect = requests.get(f"http://127.0.0.1:{http_port}/id/cluster/x", allow_redirects=False, timeout=10)
        assert redirect.status_code == 301 and redirect.headers["Location"].startswith("https://")
    finally:
        stop_process(proc)
        node.stop()
