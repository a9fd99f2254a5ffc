"""``s3fed sync …``: harvest now, show the state, run the scheduler alone.

The embedded store is opened by one process. When the hub's server (``node serve`` or
``sync serve``) is running it holds the store, so ``sync run`` and ``sync status`` ask that
process through its local admin door (``{data_dir}/sync-admin.json``, see
:mod:`sync.scheduler`); otherwise they open the store themselves. Either way the output is the
same: a progress bar on stderr while peers are harvested concurrently, then one line per peer.

Exit codes (as ``node.cli``): 0 all peers harvested, 2 usage/configuration, 3 a peer failed or
the store could not be reached (the failing peers and causes are printed).
"""
from __future__ import annotations

import json
import sys

import click
import requests

from .peers import PeerConfigError, peers_of, select


def _fail(message: str, code: int = 2):
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


class LocalHub:
    """The hub's store opened by this process."""

    def __init__(self, cfg: dict, store):
        from node.store import Graphs
        self.cfg, self.store, self.graphs = cfg, store, Graphs(cfg["node"]["base_url"])

    def run(self, peers, progress):
        from .harvest import harvest_all
        return [r.as_dict() for r in harvest_all(self.store, self.graphs, self.cfg, peers, progress)]

    def status(self) -> list[dict]:
        from .web import status
        return status(self.store, self.graphs, self.cfg)

    def build_index(self) -> dict:
        from .index import build
        return build(self.store, self.graphs, self.cfg)

    def close(self):
        self.store.close()


class RemoteHub:
    """The running hub process, over its local admin door."""

    def __init__(self, admin: dict):
        self.url, self.token = admin["url"].rstrip("/"), admin["token"]

    def run(self, peers, progress):
        r = requests.post(f"{self.url}/peers/run", params=[("peer", p.id) for p in peers], stream=True,
                          headers={"Authorization": f"Bearer {self.token}"}, timeout=(5, None))
        if r.status_code != 200:
            _fail(f"the running hub at {self.url} refused the harvest: HTTP {r.status_code} {r.text[:300]}", 3)
        for line in r.iter_lines():
            if not line:
                continue
            ev = json.loads(line)
            if ev.get("event") == "finished":
                if ev.get("error"):
                    _fail(f"the running hub failed: {ev['error']}", 3)
                return ev["results"]
            progress(ev.pop("peer"), ev.pop("event"), ev)
        _fail(f"the running hub at {self.url} closed the connection before the harvest finished", 3)

    def status(self) -> list[dict]:
        r = requests.get(f"{self.url}/peers", headers={"Accept": "application/json"}, timeout=30)
        r.raise_for_status()
        return r.json()["peers"]

    def build_index(self) -> dict:
        r = requests.post(f"{self.url}/index/run", headers={"Authorization": f"Bearer {self.token}"}, timeout=600)
        if r.status_code != 200:
            _fail(f"the running hub at {self.url} refused the index build: HTTP {r.status_code} {r.text[:300]}", 3)
        return r.json()

    def close(self):
        pass


def open_hub(cfg: dict):
    from node.store import open_store

    from .scheduler import read_admin_file
    admin = read_admin_file(cfg["node"]["data_dir"])
    if admin:
        try:
            requests.get(admin["url"].rstrip("/") + "/health", timeout=3)
            return RemoteHub(admin)
        except requests.RequestException:
            pass  # a stale file: fall through to the store
    try:
        return LocalHub(cfg, open_store(cfg))
    except OSError as e:
        _fail(f"the hub's store in {cfg['node']['data_dir']} is held by another process ({e}), and no running "
              "hub answered on its admin door. If `s3fed node serve` runs there, it harvests on its own "
              "schedule; `s3fed sync run` works with it once it was started with peers configured.", 3)


def _peers(cfg: dict, ids):
    try:
        peers = select(cfg, ids)
    except PeerConfigError as e:
        _fail(str(e))
    if not peers:
        _fail("this node has no peers: add [[peers]] entries (id, url) to its s3fed.toml")
    return peers


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000


@click.group("sync")
def sync_group():
    """Harvest the peers of a hub (see [[peers]] in its s3fed.toml)."""


@sync_group.command("run")
@click.option("--peer", "peer_ids", multiple=True, help="Only this peer (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_obj
def run(obj, peer_ids, as_json):
    """Harvest every peer now (concurrently), with a progress bar."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    cfg = obj.config
    peers = _peers(cfg, peer_ids)
    hub = open_hub(cfg)
    console = Console(stderr=True)
    columns = [SpinnerColumn(), TextColumn("{task.description:<12}"), BarColumn(bar_width=24),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn()]
    try:
        with Progress(*columns, console=console, transient=not console.is_terminal) as bar:
            total = bar.add_task("all peers", total=len(peers), info="")
            tasks = {p.id: bar.add_task(p.id, total=1, info="waiting") for p in peers}
            seen = {p.id: [0, 0] for p in peers}

            def progress(pid, event, info):
                t = tasks.get(pid)
                if t is None:
                    return
                if event == "fetch":
                    seen[pid][0] += 1
                    seen[pid][1] += info.get("bytes", 0)
                    bar.update(t, info=f"{seen[pid][0]} request(s), {_size(seen[pid][1])}")
                elif event == "done":
                    r = info.get("result", {})
                    bar.update(t, completed=1, info=("✗ " + (r.get("error") or "")[:60]) if r.get("error")
                               else f"✓ {r.get('mode')}, {r.get('members', 0)} member(s), {_size(r.get('bytes', 0))}")
                    bar.advance(total)
            results = hub.run(peers, progress)
    finally:
        hub.close()
    failed = [r for r in results if r.get("error")]
    if as_json:
        click.echo(json.dumps(results, indent=1, ensure_ascii=False))
    else:
        for r in results:
            if r.get("error"):
                click.secho(f"✗ {r['peer']}: {r['error']}", fg="red")
            elif r.get("mode") == "skipped":
                click.echo(f"– {r['peer']}: skipped, {r.get('note')}")
            else:
                extra = "".join(f", {r[k]} {k} dropped" for k in ("foreign", "invalid") if r.get(k))
                click.echo(f"✓ {r['peer']}: {r['mode']}, {r['members']} member(s) applied, checkpoint "
                           f"{r['checkpoint']}, {r['pages']} page(s), {_size(r['bytes'])} in {r['seconds']} s{extra}")
    if failed:
        click.secho(f"{len(failed)} of {len(results)} peer(s) failed: " + ", ".join(r["peer"] for r in failed)
                    + " (their last good data is kept)", fg="red", err=True)
        sys.exit(3)


@sync_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the state as JSON.")
@click.pass_obj
def status(obj, as_json):
    """Per peer: last success and attempt, triples, members applied, checkpoint, last error."""
    from rich.console import Console
    from rich.table import Table
    cfg = obj.config
    if not peers_of(cfg):
        _fail("this node has no peers: add [[peers]] entries (id, url) to its s3fed.toml")
    hub = open_hub(cfg)
    try:
        rows = hub.status()
    finally:
        hub.close()
    if as_json:
        click.echo(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    table = Table(title="Peers of this hub")
    for col in ("peer", "last success", "last attempt", "triples", "members applied", "checkpoint",
                "last run", "dropped", "last error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        run_ = r.get("last_run") or {}
        dropped = []
        if r.get("dropped_foreign_count"):
            dropped.append(f"{r['dropped_foreign_count']} foreign: " + ", ".join(r["dropped_foreign"][:3]))
        if r.get("dropped_invalid"):
            focus = ", ".join(v["focus"] for v in r["dropped_invalid"][:3])
            dropped.append(f"{len(r['dropped_invalid'])} invalid: {focus}")
        table.add_row(r["id"], r.get("last_success") or "never", r.get("last_attempt") or "never", str(r["triples"]),
                      str(r.get("members_applied", 0)), "—" if r.get("checkpoint") is None else str(r["checkpoint"]),
                      f"{run_.get('mode') or 'failed'}, {run_.get('pages', 0)} page(s), {_size(run_.get('bytes', 0))}"
                      if run_ else "—", "\n".join(dropped) or "—", r.get("last_error") or "—")
    Console(width=200 if not sys.stdout.isatty() else None).print(table)


@sync_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Where /peers and the admin door listen.")
@click.option("--port", default=0, show_default=True, type=int, help="0: any free port.")
@click.pass_obj
def serve(obj, host, port):
    """Run the hub's scheduler alone (with /peers on HOST:PORT), without serving the node."""
    from werkzeug.serving import make_server

    from node import create_app

    from .scheduler import start_for_app
    cfg = obj.config
    if not peers_of(cfg):
        _fail("this node has no peers to schedule: add [[peers]] entries to its s3fed.toml")
    try:
        app = create_app(cfg)
    except OSError as e:
        _fail(f"cannot open the store: {e} (is `s3fed node serve` running for this hub? It schedules "
              "harvests itself)", 3)
    server = make_server(host, port, app, threaded=True)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{server.server_port}"
    if start_for_app(app, url) is None:
        _fail("another process already runs this hub's scheduler (see scheduler.lock in its data directory)", 3)
    click.echo(f"Scheduling harvests of {len(peers_of(cfg))} peer(s); state at {url}/peers. Ctrl-C stops.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


@click.group("index")
def index_group():
    """The cross-region cooperation index of a hub."""


@index_group.command("build")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.pass_obj
def index_build(obj, as_json):
    """Rebuild the cooperation index from the harvested data (replaces the previous run whole)."""
    hub = open_hub(obj.config)
    try:
        summary = hub.build_index()
    finally:
        hub.close()
    if as_json:
        click.echo(json.dumps(summary, indent=1, ensure_ascii=False, default=str))
        return
    items, found = summary.get("items", {}), summary.get("opportunities", {})
    click.echo(f"Index run {summary.get('id')}: {found.get('domain', 0)} opportunities between domains "
               f"({items.get('domain', 0)} domains), {found.get('cluster', 0)} between clusters "
               f"({items.get('cluster', 0)} clusters), {summary.get('evidence', 0)} collaborations as evidence, "
               f"in {summary.get('seconds', {}).get('total')} s")


def register(main: click.Group) -> None:
    """The federation's verbs: ``sync``, ``index`` and ``study``."""
    from .study_web import cli_command as study_group
    main.add_command(sync_group)
    main.add_command(index_group)
    main.add_command(study_group)
