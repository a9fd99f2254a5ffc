"""What people see of the stress test: the report's charts and page, ``/study`` on a hub, and the
``s3fed study stress-test`` command. The figures themselves come from :mod:`sync.study`.

Charts use matplotlib's object API (``Figure``, Agg canvas) rather than pyplot, so rendering in a
server thread touches no global state. ``/study`` serves the latest report from
``{data_dir}/study/latest`` (a symlink swapped atomically to the newest run directory). The
report's links are relative, so it is served at ``/study/`` (``/study`` redirects there). The
embedded store is held by the serving process, so when the hub runs, the command asks it through
its local admin door (``POST /study/run``, the token of ``sync-admin.json``) and downloads the
files; otherwise it opens the store itself.
"""
from __future__ import annotations

import base64
import os
import shutil
import sys
import tempfile
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

import click
import numpy as np
from flask import Blueprint, current_app, render_template, request, send_from_directory

from .study import CRITERIA, HELIX, INDICATORS, LEVELS, TEMPLATES, query_text, stress_test

GROUP_CHARTS = {"Stakeholder involvement": "helix.png", "Governance": "criteria.png"}
DERIVED = {
    "Stakeholder involvement":
        "helix_balance is derived from the four helix shares s: (1 − Σ s²) / (1 − 1/4); 0 when every membership "
        "is in one sphere, 1 when the four are equal.",
    "Governance":
        "criteria_fulfilled counts the criteria assessed “fulfilled”; criteria_score averages fulfilled = 1, "
        "partly = ½, not fulfilled = 0 over the criteria assessed. Both are missing when nothing is assessed; of "
        "conflicting assessments of one criterion the lowest counts.",
    "Stress test":
        "From the rows of cluster_links.rq and funding.rq (tables below): the share of domains with exactly one "
        "contributing cluster; the largest share of domains a single cluster alone carries (that cluster in "
        "critical_cluster, empty when none alone carries a domain); the largest instrument's share of the EUR "
        "funding the region's actions received (critical_instrument). Missing without cluster (resp. funding) data.",
}
NUMERIC = [i for i in INDICATORS if i.name not in CRITERIA and not i.name.startswith("critical_")]


def is_share(name: str) -> bool:
    shares = ("share_", "single_", "max_cluster", "top_", "helix_")
    return name.startswith(shares) and name != "helix_n" and name != "helix_balance"


def fmt(v, name: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.1%}" if is_share(name) else f"{v:.3g}"
    return str(v)


def _figure(w: float, h: float, layout: str | None = "constrained"):
    from matplotlib.figure import Figure
    return Figure(figsize=(w, h), dpi=90, layout=layout)


def _save(fig, path: Path) -> None:
    fig.savefig(path, format="png")


def charts(out_dir: Path, rows: list[dict]) -> list[str]:
    """Five PNGs: a normalised profile heat map, small multiples, helix shares, criteria, sensitivity."""
    import matplotlib
    names = ["profile.png", "indicators.png", "helix.png", "criteria.png", "sensitivity.png"]
    if not rows:
        for name in names:
            fig = _figure(6, 1.5)
            fig.text(0.5, 0.5, "no region in the federation's data", ha="center")
            _save(fig, out_dir / name)
        return names
    codes = [r["region"] for r in rows]
    y = np.arange(len(codes))
    vals = np.array([[np.nan if r[i.name] is None else float(r[i.name]) for i in NUMERIC] for r in rows])
    lo, hi = np.nanmin(np.where(np.isnan(vals), np.inf, vals), 0), np.nanmax(np.where(np.isnan(vals), -np.inf, vals), 0)
    norm = np.where(hi > lo, (vals - lo) / np.where(hi > lo, hi - lo, 1), 0.5)
    fig = _figure(max(8, 0.62 * len(NUMERIC)), 2.8 + 0.45 * len(codes))  # room for the rotated names
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#e2e8f0")
    ax.imshow(np.ma.masked_invalid(np.where(np.isnan(vals), np.nan, norm)), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(vals):
        ax.text(j, i, "—" if np.isnan(v) else fmt(float(v), NUMERIC[j].name), ha="center", va="center", fontsize=6.5,
                color="#4a5568" if np.isnan(v) or norm[i, j] > 0.6 else "white")
    ax.set_xticks(range(len(NUMERIC)), [i.name for i in NUMERIC], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(y, codes)
    _save(fig, out_dir / "profile.png")

    ncols = 5
    nrows = -(-len(NUMERIC) // ncols)
    fig = _figure(15, 2.4 * nrows, layout=None)  # a fixed grid: constrained layout costs seconds here
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.05, top=0.96, hspace=0.75, wspace=0.25)
    for k, ind in enumerate(NUMERIC):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        col = vals[:, k]
        ax.bar(y, np.nan_to_num(col), color=["#2b6cb0" if not np.isnan(v) else "none" for v in col])
        for j, v in enumerate(col):
            if np.isnan(v):
                ax.text(j, 0, "n/a", ha="center", va="bottom", fontsize=7, color="#a0aec0")
        ax.set_title("\n".join(textwrap.wrap(ind.label, 34)), fontsize=8)
        ax.set_xticks(y, codes, fontsize=7, rotation=45)
        ax.tick_params(axis="y", labelsize=7)
    _save(fig, out_dir / "indicators.png")

    fig = _figure(8, 1.8 + 0.45 * len(codes))
    ax, left = fig.add_subplot(), np.zeros(len(codes))
    for h, colour in zip(HELIX, ["#2b6cb0", "#38a169", "#d69e2e", "#a0aec0"], strict=True):
        share = np.array([r[f"helix_{h}"] or 0.0 for r in rows])
        ax.barh(y, share, left=left, color=colour, label=h)
        left += share
    for j, r in enumerate(rows):
        if r["helix_industry"] is None:
            ax.text(0.01, j, "no membership data", va="center", fontsize=8, color="#718096")
    ax.set_yticks(y, codes)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of memberships of the region's clusters and working groups")
    ax.invert_yaxis()
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, ncols=4, frameon=False)
    _save(fig, out_dir / "helix.png")

    fig = _figure(8, 1.8 + 0.45 * len(codes))
    ax = fig.add_subplot()
    grid = np.array([[np.nan if r[c] is None else 2 * LEVELS[r[c]] for c in CRITERIA] for r in rows])
    cmap = matplotlib.colors.ListedColormap(["#fc8181", "#f6e05e", "#68d391"]).with_extremes(bad="#edf2f7")
    ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=2, aspect="auto")
    for (i, j), v in np.ndenumerate(grid):
        text = "no data" if np.isnan(v) else ["not", "partly", "fulfilled"][int(v)]
        ax.text(j, i, text, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(7), [f"criterion {c[1]}" for c in CRITERIA], fontsize=8)
    ax.set_yticks(y, codes)
    _save(fig, out_dir / "criteria.png")

    fig = _figure(8, 1.8 + 0.45 * len(codes))
    ax = fig.add_subplot()
    now = np.array([r["share_domains_with_cluster"] or 0.0 for r in rows])
    after = np.array([(r["share_domains_with_cluster"] or 0.0) - (r["max_cluster_coverage_drop"] or 0.0) for r in rows])
    ax.barh(y - 0.2, now, 0.4, color="#2b6cb0", label="domains with a cluster")
    ax.barh(y + 0.2, after, 0.4, color="#e53e3e", label="… without the critical cluster")
    for j, r in enumerate(rows):
        if r["share_domains_with_cluster"] is None:
            ax.text(0.01, j, "no cluster data", va="center", fontsize=8, color="#718096")
        else:
            ax.text(after[j] + 0.01, j + 0.2, f"{after[j]:.0%}", va="center", fontsize=7)
    ax.set_yticks(y, codes)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of the latest strategy's domains")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, ncols=2, frameon=False)
    _save(fig, out_dir / "sensitivity.png")
    return names


def _cell(v, name: str) -> dict:
    cls = "nd" if v is None else v if name in CRITERIA else "text" if isinstance(v, str) else ""
    return {"text": fmt(v, name), "cls": cls}


def render(out_dir: Path, summary: dict, inputs: dict) -> list[str]:
    """Write the charts and index.html; returns the file names."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    rows = [summary["values"][c] for c in summary["regions"]]
    files = charts(out_dir, rows)
    groups: dict[str, dict] = {}
    for ind in INDICATORS:
        g = groups.setdefault(ind.group, {"name": ind.group, "chart": GROUP_CHARTS.get(ind.group), "sections": {}})
        s = g["sections"].setdefault(ind.query, {"query": ind.query, "indicators": [],
                                                 "text": query_text(ind.query) if ind.query else DERIVED[ind.group]})
        s["indicators"].append(ind)
    for g in groups.values():
        g["sections"] = list(g["sections"].values())
        for s in g["sections"]:
            s["rows"] = [(r["region"], [_cell(r[i.name], i.name) for i in s["indicators"]]) for r in rows]
    uris = {}
    for f in files:
        uris[f] = "data:image/png;base64," + base64.b64encode((out_dir / f).read_bytes()).decode()
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    html = env.get_template("study_report.html").render(
        {**summary, "regions": rows}, groups=list(groups.values()), charts=uris,
        cluster_rows=summary["sensitivity"]["clusters"], funding_rows=summary["sensitivity"]["funding"],
        queries={q: query_text(q) for q in ("cluster_links", "funding", "regions")},
        fmt=fmt, pct=lambda v: fmt(v, "share_"))
    (out_dir / "index.html").write_text(html, encoding="utf-8")
    return files + ["index.html"]


# -- publishing and /study ----------------------------------------------------------------------

def study_root(data_dir) -> Path:
    return Path(data_dir) / "study"


def new_run_dir(data_dir) -> Path:
    runs = study_root(data_dir) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-"), dir=runs))


def publish(report_dir: Path, data_dir, keep: int = 5) -> Path:
    """Make ``report_dir`` the hub's latest report: copied under ``study/runs/`` (unless already
    there), then the ``study/latest`` symlink is swapped in one rename; older runs are pruned."""
    root, report_dir = study_root(data_dir), Path(report_dir).resolve()
    run = report_dir if report_dir.parent == (root / "runs").resolve() else new_run_dir(data_dir)
    if run != report_dir:
        shutil.copytree(report_dir, run, dirs_exist_ok=True)
    tmp = root / f"latest.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path("runs") / run.name)
    os.replace(tmp, root / "latest")
    for old in sorted((root / "runs").iterdir())[:-keep]:
        if old != run:
            shutil.rmtree(old, ignore_errors=True)
    return root / "latest"


bp = Blueprint("study", __name__, template_folder="templates")
_running = threading.Lock()


def _latest() -> Path:
    from node import settings
    return study_root(settings()["node"]["data_dir"]) / "latest"


@bp.get("/study/")  # with the slash, the report's relative links (charts, CSV, TTL) resolve under /study/
def study():
    from node.entities import respond
    from node.formats import HTML, JSON, negotiate
    from node.problems import Problem
    latest = _latest()
    media_type = negotiate([HTML, JSON], default=HTML if request.accept_mimetypes.accept_html else JSON)
    if not (latest / "index.html").is_file():
        if media_type == JSON:
            raise Problem(404, "No study yet", "No stress-test report has been built on this hub yet: run "
                          "`s3fed --config HUB/s3fed.toml study stress-test --out DIR`.")
        return render_template("study_none.html"), 404
    name = "summary.json" if media_type == JSON else "index.html"
    return respond((latest / name).read_bytes(), media_type)


@bp.get("/study/<name>")
def study_file(name: str):
    if name.endswith(".rq"):
        return send_from_directory(Path(__file__).parent / "queries", name, mimetype="application/sparql-query")
    mimetypes = {".png": "image/png", ".csv": "text/csv", ".ttl": "text/turtle", ".json": "application/json",
                 ".html": "text/html"}
    return send_from_directory(_latest().resolve(), name, mimetype=mimetypes.get(Path(name).suffix))


@bp.post("/study/run")
def study_run():
    """Build a report now (the CLI's way in while this process holds the store)."""
    from node import graphs, settings, store
    from node.problems import Problem

    from .web import _authorised
    if not _authorised():
        raise Problem(401, "Unauthorized", "Building a study needs `Authorization: Bearer <token>` (a write token of "
                      "this hub), or run `s3fed study stress-test` on the hub's machine.",
                      headers={"WWW-Authenticate": 'Bearer realm="s3fed"'})
    if not _running.acquire(blocking=False):
        raise Problem(409, "Conflict", "A stress test is already running on this hub; try again when it has finished.")
    try:
        regions = [c.strip() for c in request.args.get("regions", "").split(",") if c.strip()] or None
        out = new_run_dir(settings()["node"]["data_dir"])
        summary = stress_test(store(), graphs(), out, regions)
        publish(out, settings()["node"]["data_dir"])
    finally:
        _running.release()
    return current_app.json.response(summary)


def register(app) -> None:
    app.register_blueprint(bp)


# -- the command ---------------------------------------------------------------------------------

@click.group("study")
def cli_command():
    """Comparative studies of the federation's regional strategies."""


@cli_command.command("stress-test")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Report directory.")
@click.option("--regions", default="", help="Comma-separated NUTS codes, e.g. FRJ,DE1 (default: every region).")
@click.pass_obj
def stress_test_command(obj, out: Path, regions: str):
    """Indicators per region, charts, CSV and RDF; also becomes the hub's /study page."""
    import requests

    from node.store import Graphs, open_store

    from .scheduler import read_admin_file
    cfg, codes = obj.config, [c.strip() for c in regions.split(",") if c.strip()] or None
    admin = read_admin_file(cfg["node"]["data_dir"])
    if admin:  # the running hub holds the store: let it compute, then fetch the files
        url, auth = admin["url"].rstrip("/"), {"Authorization": f"Bearer {admin['token']}"}
        r = requests.post(f"{url}/study/run", params={"regions": ",".join(codes or [])}, headers=auth, timeout=600)
        if r.status_code != 200:
            click.secho(f"Error: the running hub at {url} refused the study: HTTP {r.status_code} {r.text[:300]}",
                        fg="red", err=True)
            sys.exit(3)
        summary = r.json()
        out.mkdir(parents=True, exist_ok=True)
        for name in summary["files"]:
            (out / name).write_bytes(requests.get(f"{url}/study/{name}", timeout=60).content)
    else:
        try:
            store = open_store(cfg)
        except OSError as e:
            click.secho(f"Error: cannot open the hub's store in {cfg['node']['data_dir']} ({e}), and no running hub "
                        "answered on its admin door.", fg="red", err=True)
            sys.exit(3)
        try:
            graphs = Graphs(cfg["node"]["base_url"])
            if not store.query(f"ASK {{ GRAPH <{graphs.vocab}> {{ ?s ?p ?o }} }}"):  # as `node serve` installs it
                import vocab
                store.replace_graph(graphs.vocab, vocab.load_vocabulary().serialize(format="nt", encoding="utf-8"))
            summary = stress_test(store, graphs, out, codes)
            publish(out, cfg["node"]["data_dir"])
        finally:
            store.close()
    click.echo(f"Stress test of {len(summary['regions'])} region(s): {out / 'index.html'}")
    for code in summary["regions"]:
        v = summary["values"][code]
        click.echo(f"  {code:6} domains {fmt(v['domains'])}, with a cluster "
                   f"{fmt(v['share_domains_with_cluster'], 'share_')}, single-cluster "
                   f"{fmt(v['single_cluster_domains_share'], 'share_')}, foreign partners "
                   f"{fmt(v['foreign_partners'])}, criteria score {fmt(v['criteria_score'])}")
    click.echo(f"RDF: {summary['triples']} triples in {summary['graph']} (run {summary['run']})")
