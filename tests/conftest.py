"""Fixtures that start real nodes: each is an ``s3fed node serve`` process on a loopback port,
with its own directory and on-disk store, driven over HTTP like any other region's node."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from sync.demo import rebase

DATA = Path(__file__).parent / "data"
S3FED = [sys.executable, "-m", "node.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Node:
    """A real node: its directory, config, base URL and (once started) its server process."""

    dir: Path
    region: str
    port: int
    proc: subprocess.Popen | None = None
    env: dict = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.dir / "s3fed.toml"

    def cli(self, *args, check=False, input=None, timeout=120) -> subprocess.CompletedProcess:
        return subprocess.run([*S3FED, "--config", str(self.config), *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, check=check, input=input,
                              env={**os.environ, **self.env}, cwd=Path(__file__).parent.parent)

    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        return path

    def import_text(self, text: str, name: str = "data.ttl") -> subprocess.CompletedProcess:
        return self.cli("node", "import", self.write(name, text))

    def token(self, name: str = "editor") -> str:
        return self.cli("node", "token", "create", name, check=True).stdout.split()[-1]

    def start(self) -> Node:
        log = open(self.dir / "serve.log", "a")
        self.proc = subprocess.Popen([*S3FED, "--config", str(self.config), "node", "serve", "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **self.env}, cwd=Path(__file__).parent.parent)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node exited: {(self.dir / 'serve.log').read_text()[-2000:]}")
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"node did not answer: {(self.dir / 'serve.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)
        self.proc = None

    def get(self, path: str, **kw) -> requests.Response:
        return requests.get(self.base + path, timeout=30, **kw)


def make_node(root: Path, region: str = "FRJ", name: str = "Occitanie") -> Node:
    port = free_port()
    node = Node(dir=root / region, region=region, port=port)
    subprocess.run([*S3FED, "node", "init", "--dir", str(node.dir), "--region", region, "--name", name,
                    "--base-url", node.base], check=True, capture_output=True, cwd=Path(__file__).parent.parent)
    if TEST_STORE == "oxigraph":  # opt-in, see "External store" at the end of this file
        use_oxigraph(node)
    return node


def sample_text(node: Node) -> str:
    return rebase((DATA / "sample.ttl").read_text(encoding="utf-8"), {node.region: node.base})


@contextmanager
def writable_sample_node(root: Path, env: dict | None = None) -> Iterator[Node]:
    """A running node with the sample data and a write token (``node.auth`` holds the header),
    for a test module's writes; ``env`` overrides settings (``S3FED_LIMITS_…``)."""
    n = make_node(root)
    n.env = dict(env or {})
    assert n.import_text(sample_text(n)).returncode == 0
    n.auth = {"Authorization": f"Bearer {n.token()}"}
    n.start()
    try:
        yield n
    finally:
        n.stop()


@pytest.fixture
def new_node(tmp_path):
    """A fresh, stopped, empty node; stopped again at the end of the test."""
    nodes = []

    def factory(region: str = "FRJ", name: str = "Occitanie") -> Node:
        node = make_node(tmp_path, region, name)
        nodes.append(node)
        return node
    yield factory
    for n in nodes:
        n.stop()


@pytest.fixture(scope="session")
def sample_node(tmp_path_factory):
    """A running node holding tests/data/sample.ttl, shared by read-only tests."""
    node = make_node(tmp_path_factory.mktemp("sample"))
    result = node.import_text(sample_text(node))
    assert result.returncode == 0, result.stderr
    node.start()
    yield node
    node.stop()
    shutil.rmtree(node.dir, ignore_errors=True)


# -- External store (opt-in): S3FED_TEST_STORE=oxigraph ----------------------------------------
# Every node made by make_node then gets its own `oxigraph serve` (PyPI package `oxigraph`) and a
# [store] table pointing at it, so the same tests run the node on node/remote_store.py. The
# server is stopped when its Node object goes away (end of its fixture) or at exit.

TEST_STORE = os.environ.get("S3FED_TEST_STORE", "embedded")


def oxigraph_binary() -> str | None:
    """The `oxigraph` server binary: next to this Python (the venv's) first, else on PATH."""
    local = Path(sys.executable).parent / "oxigraph"
    return str(local) if local.is_file() else shutil.which("oxigraph")


def start_oxigraph(location: Path, timeout_s: int = 5) -> tuple[subprocess.Popen, str]:
    """`oxigraph serve` on a free loopback port with its data in ``location``; (process, base URL).
    ``--timeout-s`` bounds runaway queries a test leaves behind (the node abandons them sooner)."""
    binary = oxigraph_binary()
    if binary is None:
        raise RuntimeError("the oxigraph server is not installed: pip install 'oxigraph>=0.4'")
    port, base = free_port(), None
    location.mkdir(parents=True, exist_ok=True)
    with open(location / "server.log", "ab") as log:
        proc = subprocess.Popen([binary, "serve", "--location", str(location / "db"), "--bind", f"127.0.0.1:{port}",
                                 "--timeout-s", str(timeout_s)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            base = f"http://127.0.0.1:{port}"
            break
        except requests.RequestException:
            time.sleep(0.05)
    if base is None:
        stop_process(proc)
        raise RuntimeError(f"oxigraph serve did not start: {(location / 'server.log').read_text()[-2000:]}")
    return proc, base


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def store_table(base: str, lock_file: Path) -> str:
    return (f'\n[store]\nkind = "sparql"\nquery_url = "{base}/query"\nupdate_url = "{base}/update"\n'
            f'store_url = "{base}/store"\nlock_file = "{lock_file}"\n')


def use_oxigraph(node: Node) -> subprocess.Popen:
    """Give ``node`` its own oxigraph server, written into its s3fed.toml."""
    import weakref
    proc, base = start_oxigraph(node.dir / "oxigraph")
    weakref.finalize(node, stop_process, proc)
    table = store_table(base, node.dir / "data" / "store.lock")
    node.write("s3fed.toml", node.config.read_text(encoding="utf-8") + table)
    node.oxigraph = proc
    return proc
