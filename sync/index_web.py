"""``/index``: the cooperation index for people (a filterable table), apps (JSON, CSV for pandas)
and Linked Data clients (Turtle, JSON-LD, N-Triples); ``/index/{id}`` one opportunity, explained.

The current run is loaded once from the index graph (one query for the opportunities, one for the
labels of what they name) and kept until a new run replaces it, so filtering by region, kind,
concept, text and minimum score is a pass over a list in memory, not a query per request. Labels
follow the browser's language. ``POST /index/run`` rebuilds the index in the serving process
(which holds the store), for ``s3fed index build`` while the hub runs; it needs the same tokens as
``POST /peers/run``.
"""
from __future__ import annotations

import csv
import hmac
import io
import json
import threading
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Blueprint, current_app, render_template, request

from node.store import current_index_graph
from vocab import S3, SKOS

bp = Blueprint("index", __name__, template_folder="templates")
CSV = "text/csv"
_lock = threading.Lock()
COLUMNS = ["id", "uri", "kind", "score", "similarity", "a", "a_label", "a_region", "a_region_label",
           "b", "b_label", "b_region", "b_region_label", "shared_concepts", "evidence"]


def _ctx():
    from node import graphs, settings, store
    return store(), graphs(), settings()


def load(store, graphs) -> dict | None:
    """The current run, its opportunities (best first) and the labels they need; cached per run."""
    found = list(store.query(f"SELECT ?run {{ GRAPH <{graphs.index}> {{ ?run a <{S3.IndexRun}> }} }} LIMIT 1"))
    if not found:
        return None
    run = found[0][0].value
    cached = current_app.extensions.get("s3fed.index")
    if cached is None or cached["run"] != run:
        with _lock:  # one thread loads; the others wait for it rather than load the same run again
            cached = current_app.extensions.get("s3fed.index")
            if cached is None or cached["run"] != run:
                cached = current_app.extensions["s3fed.index"] = _read(store, graphs, run)
    return cached


def _read(store, graphs, run: str) -> dict:
    from .index import source_graphs
    dg = index_graphs(store, graphs)
    ev: dict[str, list[str]] = {}
    for r in store.query(f"SELECT ?o ?e {{ ?o <{S3.evidence}> ?e }}", default_graph=dg):
        ev.setdefault(r[0].value, []).append(r[1].value)
    rows, names = [], set()
    for r in store.query(f"SELECT ?o ?s ?w {{ ?o <{S3.score}> ?s ; <{S3.explanation}> ?w }}", default_graph=dg):
        why, uri = json.loads(r[2].value), r[0].value
        concepts = {m.get("concept") or m["keyword"] for m in why["matches"]}
        concepts |= {c for m in why["matches"] for c in m.get("a", []) + m.get("b", [])}
        row = {"id": uri.rsplit("/", 1)[1], "uri": uri, "kind": why["kind"], "score": float(r[1].value),
               "similarity": why["similarity"], "between": why["between"], "regions": why["regions"],
               "matches": why["matches"], "others": why.get("others", 0), "evidence": sorted(ev.get(uri, [])),
               "concepts": concepts}
        names.update(row["between"], row["regions"], concepts, row["evidence"])
        rows.append(row)
    rows.sort(key=lambda x: (-x["score"], x["id"]))
    labels: dict[str, dict[str, str]] = {}
    for r in store.query(f"SELECT ?s ?l {{ ?s <{SKOS.prefLabel}> ?l }}",
                         default_graph=source_graphs(store, graphs) + [graphs.vocab]):
        if r[0].value in names:
            labels.setdefault(r[0].value, {}).setdefault((r[1].language or "").lower(), r[1].value)
    for row in rows:  # what ?q= searches: every label of both sides and their regions
        row["text"] = " ".join(v for u in row["between"] + row["regions"] for v in labels.get(u, {}).values()).lower()
    info = {}
    for r in store.query(f"SELECT ?p ?v {{ GRAPH <{graphs.index}> {{ <{run}> ?p ?v }} }}"):
        info.setdefault(r[0].value.rsplit("#", 1)[-1].rsplit("/", 1)[-1], []).append(r[1].value)
    return {"run": run, "rows": rows, "by_id": {x["id"]: x for x in rows}, "labels": labels,
            "info": {"run": run, "started": info.get("startedAtTime", [None])[0],
                     "ended": info.get("endedAtTime", [None])[0], "used": sorted(info.get("used", [])),
                     "informed_by": sorted(info.get("wasInformedBy", [])),
                     "parameters": json.loads(info.get("indexParameters", ["{}"])[0])}}


def label_of(index: dict, uri: str) -> str:
    """In the browser's language, then English, then any; a keyword is its own label."""
    from node.templating import curie, preferred_languages
    by_lang = index["labels"].get(uri)
    if not by_lang:
        return uri if "://" not in uri else curie(uri)
    for lang in preferred_languages():
        if lang in by_lang:
            return by_lang[lang]
    return sorted(by_lang.values())[0]


def select(index: dict, args) -> list[dict]:
    """The opportunities passing the filters of the query string (best first)."""
    from node.problems import Problem
    rows = index["rows"]
    try:
        least = float(args.get("min_score") or 0)
    except ValueError:
        raise Problem(400, "Bad Request", "min_score must be a number from 0 to 1, e.g. 0.4") from None
    kind, concept, item = args.get("kind", ""), args.get("concept", "").strip(), args.get("item", "")
    regions, q = set(args.getlist("region")) - {""}, args.get("q", "").strip().lower()
    if kind and kind not in ("domain", "cluster"):
        raise Problem(400, "Bad Request", "kind must be 'domain' or 'cluster'")
    concept = concept if "://" in concept else concept.lower()
    return [r for r in rows if r["score"] >= least and (not kind or r["kind"] == kind)
            and (not regions or regions & set(r["regions"])) and (not concept or concept in r["concepts"])
            and (not item or item in r["between"]) and (not q or q in r["text"])]


def view(index: dict, row: dict) -> dict:
    """A row with labels, for JSON and the templates."""
    lab = lambda u: label_of(index, u)  # noqa: E731
    sides = [{"uri": u, "label": lab(u), "region": reg, "region_label": lab(reg)}
             for u, reg in zip(row["between"], row["regions"], strict=True)]
    matches = []
    for m in row["matches"]:
        key = m.get("concept") or m["keyword"]
        share = m["weight"] / row["similarity"] if row["similarity"] else 0
        entry = {**m, "label": lab(key), "share": round(share, 3)}
        if "a" in m:
            entry["a_labels"], entry["b_labels"] = [lab(c) for c in m["a"]], [lab(c) for c in m["b"]]
        matches.append(entry)
    return {"id": row["id"], "uri": row["uri"], "kind": row["kind"], "score": row["score"],
            "similarity": row["similarity"], "a": sides[0], "b": sides[1], "matches": matches, "others": row["others"],
            "evidence": [{"uri": e, "label": lab(e)} for e in row["evidence"]],
            "shared_concepts": [m["concept"] for m in row["matches"] if "concept" in m]}


def _csv(index: dict, rows: list[dict]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        v = view(index, r)
        w.writerow([v["id"], v["uri"], v["kind"], f"{v['score']:.4f}", f"{v['similarity']:.4f}",
                    v["a"]["uri"], v["a"]["label"], v["a"]["region"], v["a"]["region_label"],
                    v["b"]["uri"], v["b"]["label"], v["b"]["region"], v["b"]["region_label"],
                    " ".join(v["shared_concepts"]), " ".join(e["uri"] for e in v["evidence"])])
    return out.getvalue()


def index_graphs(store, graphs) -> list[str]:
    """The index graph (the published run) and the run's own graph (its opportunities)."""
    run_graph = current_index_graph(store, graphs)
    return [graphs.index] + ([run_graph] if run_graph else [])


def _rdf(store, graphs, uris: list[str] | None, media_type: str):
    """The opportunities' triples and their run's (all of them, or those of ``uris``)."""
    from node.formats import BY_MEDIA_TYPE, serialize
    from node.importer import to_rdflib
    if uris is None:
        query = "CONSTRUCT WHERE { ?s ?p ?o }"
    else:
        values = " ".join(f"<{u}>" for u in uris)
        query = (f"CONSTRUCT {{ ?o ?p ?v . ?run ?rp ?rv }} WHERE {{ {{ VALUES ?o {{ {values} }} ?o ?p ?v }} "
                 f"UNION {{ ?run a <{S3.IndexRun}> ; ?rp ?rv }} }}")
    triples = store.query(query, default_graph=index_graphs(store, graphs))
    if media_type in ("text/turtle", "application/n-triples"):  # natively: the whole index can be large
        return ox.serialize(triples, format=BY_MEDIA_TYPE[media_type].ox_format)
    return serialize(to_rdflib(triples), media_type)


def _negotiate() -> str:
    from node.formats import HTML, JSON, RDF_MEDIA_TYPES, negotiate
    from node.problems import Problem
    offered = [HTML, JSON, CSV, *RDF_MEDIA_TYPES]
    if request.args.get("format") == "csv":
        return CSV
    chosen = negotiate(offered, default=HTML if request.accept_mimetypes.accept_html else JSON)
    if chosen is None:
        raise Problem(406, "Not Acceptable", "The index is available as: " + ", ".join(offered)
                      + " (or ?format=html|json|csv|ttl|jsonld|nt).")
    return chosen


def _empty():
    from node.problems import Problem
    return Problem(404, "Not Found", "This hub has no cooperation index yet: harvest the peers "
                   "(`s3fed sync run`), then build it (`s3fed index build`).")


@bp.get("/index")
def index_page():
    from node.entities import respond
    st, gs, cfg = _ctx()
    media_type, index = _negotiate(), load(st, gs)
    if index is None:
        raise _empty()
    rows = select(index, request.args)
    if media_type == CSV:
        return respond(_csv(index, rows), CSV)
    if media_type not in ("text/html", "application/json"):
        filtered = any(request.args.get(k) for k in ("region", "kind", "concept", "item", "q", "min_score"))
        return respond(_rdf(st, gs, [r["uri"] for r in rows] if filtered else None, media_type), media_type)
    limits = cfg["limits"]
    try:
        page, per_page = int(request.args.get("page", 1)), int(request.args.get("per_page", limits["page_size"]))
    except ValueError:
        page, per_page = 0, 0
    if page < 1 or not 1 <= per_page <= limits["max_page_size"]:
        from node.problems import Problem
        raise Problem(400, "Bad Request", f"page must be ≥ 1 and per_page between 1 and {limits['max_page_size']}")
    last = max(1, -(-len(rows) // per_page))
    shown = [view(index, r) for r in rows[(page - 1) * per_page:page * per_page]]
    extra = [(k, v) for k, v in request.args.items(multi=True) if k not in ("page", "format")]
    link = lambda p: "/index?" + urlencode(extra + [("page", p)]) if 1 <= p <= last else None  # noqa: E731
    if media_type == "application/json":
        return respond(current_app.json.dumps({
            "run": index["info"], "total": len(rows), "page": page, "per_page": per_page, "next": link(page + 1),
            "previous": link(page - 1), "items": shown}), "application/json")
    return respond(render_template("index.html", rows=shown, total=len(rows), page=page, last=last, link=link,
                                   info=index["info"], args=request.args, options=_options(index),
                                   query=urlencode([(k, v) for k, v in extra if k != "per_page"])), "text/html")


def _options(index: dict) -> dict:
    """What the filter form offers: the regions and the concepts the index names."""
    regions = {u for r in index["rows"] for u in r["regions"]}
    concepts = {m.get("concept") or m["keyword"] for r in index["rows"] for m in r["matches"]}
    return {"regions": sorted(((label_of(index, u), u) for u in regions), key=lambda t: t[0].lower()),
            "concepts": sorted(((label_of(index, c) if "://" in c else f"“{c}” (keyword)", c) for c in concepts),
                               key=lambda t: t[0].lower().lstrip("“"))}


@bp.get("/index/<oid>")
def opportunity(oid: str):
    from node.entities import respond
    from node.problems import Problem
    st, gs, _ = _ctx()
    media_type, index = _negotiate(), load(st, gs)
    row = (index or {}).get("by_id", {}).get(oid)
    if row is None:
        raise Problem(404, "Not Found", f"There is no cooperation opportunity {oid!r} in this hub's current index "
                      "(ids are stable, but a pair that no longer scores among the best is dropped at the next run).")
    if media_type == CSV:
        return respond(_csv(index, [row]), CSV)
    if media_type == "application/json":
        return respond(current_app.json.dumps({**view(index, row), "run": index["info"]}), media_type)
    if media_type == "text/html":
        return respond(render_template("opportunity.html", o=view(index, row), info=index["info"]), media_type)
    return respond(_rdf(st, gs, [row["uri"]], media_type), media_type)


@bp.get("/index/run/<rid>")
def run(rid: str):
    from node.entities import respond
    from node.problems import Problem
    st, gs, _ = _ctx()
    index = load(st, gs)
    if index is None or not index["run"].endswith("/index/run/" + rid):
        raise Problem(404, "Not Found", "Only the current index run is kept; see /index for it.")
    media_type = _negotiate()
    if media_type in ("text/html", "application/json", CSV):
        return respond(current_app.json.dumps(index["info"]), "application/json")
    return respond(_rdf(st, gs, [], media_type), media_type)


@bp.post("/index/run")
def build_now():
    """Rebuild in this process (it holds the store): for ``s3fed index build`` on a running hub."""
    from node.auth import check_token
    from node.problems import Problem

    from .index import build
    st, gs, cfg = _ctx()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    local = current_app.extensions.get("s3fed.sync_admin_token")
    ok = scheme.lower() == "bearer" and token.strip() and (
        (local and hmac.compare_digest(local, token.strip())) or check_token(cfg["node"]["data_dir"], token.strip()))
    if not ok:
        raise Problem(401, "Unauthorized", "Rebuilding the index needs `Authorization: Bearer <token>`: a write token "
                      "of this hub, or run `s3fed index build` on the hub's machine.",
                      headers={"WWW-Authenticate": 'Bearer realm="s3fed"'})
    summary = build(st, gs, cfg, remove="later")  # the old run goes in the background: answer now
    return current_app.response_class(current_app.json.dumps(summary), mimetype="application/json")


def register(app) -> None:
    app.register_blueprint(bp)

