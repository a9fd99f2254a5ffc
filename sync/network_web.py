"""``/network`` on a hub: the cooperation network of the federation as a picture, and the hub's
views of the index for other pages (the landing page's overview, an entity's opportunities).

Why server-rendered SVG: nodes may run offline and pages load no library or CDN; an SVG is
deterministic (same data, same bytes — testable, cacheable), prints, and still carries links and
tooltips. Layout: every domain or cluster sits on one circle, grouped by region (regions by
NUTS code, items by name, a gap between regions) and coloured by region; cooperation
opportunities are curves pulled towards the centre, thicker and darker with their score;
existing collaborations are dashed. Each item links to its entity URI (on its region's node),
each opportunity to its explanation in the index. ``?kind=cluster|domain|all``, ``?top=N``
(strongest opportunities drawn, default 150), ``?labels=0`` for a thumbnail, ``?format=svg``.
"""
from __future__ import annotations

import math

from flask import Blueprint, render_template, request
from markupsafe import Markup, escape
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import SKOS

bp = Blueprint("network", __name__, template_folder="templates")
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f", "#ff9da7",
           "#bab0ac", "#1f77b4", "#2ca02c"]
KIND_NAMES = {"cluster": "clusters", "domain": "priority domains", "all": "priority domains and clusters"}
_P = "PREFIX s3: <https://w3id.org/s3fed/vocab#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"
ITEMS = _P + """SELECT ?item ?kind ?region ?code ?l WHERE {
  { ?item a s3:Cluster ; s3:region ?region BIND("cluster" AS ?kind) }
  UNION { ?item a s3:PriorityDomain ; s3:strategy/s3:region ?region BIND("domain" AS ?kind) }
  OPTIONAL { ?region s3:nutsCode ?code } OPTIONAL { ?item skos:prefLabel ?l } }"""
REGIONS = _P + """SELECT ?region ?code ?l { ?region a s3:Region
  OPTIONAL { ?region s3:nutsCode ?code } OPTIONAL { ?region skos:prefLabel ?l } }"""
OPPORTUNITIES = _P + """SELECT ?o ?a ?b ?score { ?o a s3:CooperationOpportunity ; s3:between ?a, ?b ; s3:score ?score
  FILTER(STR(?a) < STR(?b)) }"""
COLLABORATIONS = _P + """SELECT ?c ?a ?b ?l { ?c a s3:Collaboration ; s3:partner ?a, ?b FILTER(STR(?a) < STR(?b))
  OPTIONAL { ?c skos:prefLabel ?l } }"""


def _add_label(g: Graph, s: str, lit) -> None:
    if lit is not None:
        g.add((URIRef(s), SKOS.prefLabel, Literal(lit.value, lang=lit.language or None)))


def network_data() -> dict:
    """Regions, items, opportunities and collaborations the hub holds, labelled for this reader."""
    from node import store
    from node.entities import read_graphs
    from node.templating import label
    st, dg, g = store(), read_graphs(), Graph()
    regions: dict[str, dict] = {}
    for r in st.query(REGIONS, default_graph=dg):
        regions.setdefault(r["region"].value, {"uri": r["region"].value,
                                                "code": r["code"].value if r["code"] is not None else ""})
        _add_label(g, r["region"].value, r["l"])
    items: dict[str, dict] = {}
    for r in st.query(ITEMS, default_graph=dg):
        items.setdefault(r["item"].value, {"uri": r["item"].value, "kind": r["kind"].value,
                                           "region": r["region"].value})
        regions.setdefault(r["region"].value, {"uri": r["region"].value,
                                                "code": r["code"].value if r["code"] is not None else ""})
        _add_label(g, r["item"].value, r["l"])
    ordered = sorted(regions.values(), key=lambda x: (x["code"] or x["uri"]))
    for n, reg in enumerate(ordered):
        reg.update(label=label(g, URIRef(reg["uri"])), colour=PALETTE[n % len(PALETTE)], index=n)
    for it in items.values():
        it["label"] = label(g, URIRef(it["uri"]))
    opps = sorted(({"id": r["o"].value, "a": r["a"].value, "b": r["b"].value, "score": float(r["score"].value)}
                   for r in st.query(OPPORTUNITIES, default_graph=dg)), key=lambda o: (-o["score"], o["id"]))
    collabs, cl = [], Graph()
    for r in st.query(COLLABORATIONS, default_graph=dg):
        _add_label(cl, r["c"].value, r["l"])
        collabs.append({"id": r["c"].value, "a": r["a"].value, "b": r["b"].value})
    for c in collabs:
        c["label"] = label(cl, URIRef(c["id"]))
    return {"regions": ordered, "items": items, "opportunities": opps,
            "collaborations": sorted(collabs, key=lambda c: (c["id"], c["a"], c["b"]))}


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".") if abs(x) >= 0.05 else "0"


def _short(text: str, n: int = 32) -> str:
    return text if len(text) <= n else text[:n - 1].rstrip() + "…"


def render_svg(data: dict, kind: str = "cluster", top: int = 150, labels: bool = True) -> str:
    """The picture (see the module docstring). Same data and arguments → same bytes."""
    regions = {r["uri"]: r for r in data["regions"]}
    items = sorted((it for it in data["items"].values() if kind == "all" or it["kind"] == kind),
                   key=lambda it: (regions[it["region"]]["index"], it["label"].casefold(), it["uri"]))
    shown = {i["uri"] for i in items}
    opps = [o for o in data["opportunities"] if o["a"] in shown and o["b"] in shown][:max(0, top)]
    collabs = [c for c in data["collaborations"] if c["a"] in shown and c["b"] in shown]
    degree: dict[str, int] = {}
    for o in opps:
        for end in (o["a"], o["b"]):
            degree[end] = degree.get(end, 0) + 1
    radius, margin = 300.0, (230.0 if labels else 60.0)
    size = 2 * (radius + margin)
    gap, slots, pos, prev = 1.5, 0.0, {}, None
    for it in items:
        if prev is not None and it["region"] != prev:
            slots += gap
        pos[it["uri"]], prev = slots, it["region"]
        slots += 1
    total = slots + (gap if len({i["region"] for i in items}) > 1 else 0) or 1
    angle = {u: 2 * math.pi * p / total - math.pi / 2 for u, p in pos.items()}
    xy = {u: (radius * math.cos(a), radius * math.sin(a)) for u, a in angle.items()}
    box = f'x="{_fmt(-size / 2)}" y="{_fmt(-size / 2)}" width="{_fmt(size)}" height="{_fmt(size)}"'
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{_fmt(-size / 2)} {_fmt(-size / 2)} {_fmt(size)} '
           f'{_fmt(size)}" width="{_fmt(size)}" height="{_fmt(size)}" role="img" font-family="system-ui, sans-serif" '
           'class="s3fed-network">',
           f"<title>Cooperation network: {len(items)} {KIND_NAMES[kind]}, "
           f"{len(opps)} opportunities, {len(collabs)} collaborations</title>",
           f'<rect {box} fill="#fff"/>']
    for reg in data["regions"]:  # the region's arc just outside its items, its name inside the circle
        mine = [angle[i["uri"]] for i in items if i["region"] == reg["uri"]]
        if not mine:
            continue
        a0, a1, r_arc = min(mine) - 0.02, max(mine) + 0.02, radius + 9
        large = 1 if a1 - a0 > math.pi else 0
        out.append(f'<path d="M{_fmt(r_arc * math.cos(a0))},{_fmt(r_arc * math.sin(a0))} '
                   f'A{_fmt(r_arc)},{_fmt(r_arc)} 0 '
                   f'{large} 1 {_fmt(r_arc * math.cos(a1))},{_fmt(r_arc * math.sin(a1))}" fill="none" '
                   f'stroke="{reg["colour"]}" stroke-width="6" stroke-linecap="round"/>')
    out.append('<g class="edges" fill="none">')
    for c in collabs:
        (x1, y1), (x2, y2) = xy[c["a"]], xy[c["b"]]
        out.append(f'<path class="collaboration" d="M{_fmt(x1)},{_fmt(y1)} '
                   f'Q{_fmt((x1 + x2) * .3)},{_fmt((y1 + y2) * .3)} '
                   f'{_fmt(x2)},{_fmt(y2)}" stroke="#b5651d" stroke-width="2.5" stroke-dasharray="7 5">'
                   f'<title>Collaboration: {escape(c["label"])}</title></path>')
    for o in reversed(opps):  # strongest drawn last, on top
        (x1, y1), (x2, y2) = xy[o["a"]], xy[o["b"]]
        a, b = data["items"][o["a"]], data["items"][o["b"]]
        tip = (f'{a["label"]} ({regions[a["region"]]["label"]}) ↔ {b["label"]} ({regions[b["region"]]["label"]}): '
               f'score {o["score"]:.2f}')
        out.append(f'<a href="{escape(o["id"])}"><path class="opportunity" d="M{_fmt(x1)},{_fmt(y1)} '
                   f'Q{_fmt((x1 + x2) * .15)},{_fmt((y1 + y2) * .15)} {_fmt(x2)},{_fmt(y2)}" stroke="#1d3557" '
                   f'stroke-opacity="{0.15 + 0.6 * o["score"]:.2f}" stroke-width="{0.6 + 6 * o["score"]:.1f}">'
                   f'<title>{escape(tip)}</title></path></a>')
    out.append("</g><g class=\"items\">")
    for it in items:
        x, y = xy[it["uri"]]
        reg, a = regions[it["region"]], angle[it["uri"]]
        r = 4 + min(5, degree.get(it["uri"], 0) * 0.6)
        parts = [f'<a href="{escape(it["uri"])}" class="item"><title>{escape(it["label"])} — {escape(reg["label"])}'
                 f' ({degree.get(it["uri"], 0)} opportunities)</title>',
                 f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{_fmt(r)}" fill="{reg["colour"]}" stroke="#fff" '
                 'stroke-width="1.5"/>']
        if labels:
            deg, left = math.degrees(a), math.cos(a) < 0
            lx, ly = (radius + 18) * math.cos(a), (radius + 18) * math.sin(a)
            rot = deg + 180 if left else deg
            parts.append(f'<text x="{_fmt(lx)}" y="{_fmt(ly)}" transform="rotate({_fmt(rot)} {_fmt(lx)} {_fmt(ly)})" '
                         f'font-size="11" dominant-baseline="middle" text-anchor="{"end" if left else "start"}" '
                         f'fill="#1d2733">{escape(_short(it["label"]))}</text>')
        out.append("".join(parts) + "</a>")
    out.append("</g>")
    for reg in data["regions"]:
        mine = [angle[i["uri"]] for i in items if i["region"] == reg["uri"]]
        if mine:
            mid = (min(mine) + max(mine)) / 2  # inside the circle, anchored away from the rim
            x, y = (radius - 28) * math.cos(mid), (radius - 28) * math.sin(mid)
            anchor = "end" if math.cos(mid) > 0.35 else "start" if math.cos(mid) < -0.35 else "middle"
            out.append(f'<text x="{_fmt(x)}" y="{_fmt(y)}" text-anchor="{anchor}" dominant-baseline="middle" '
                       'font-size="14" '
                       f'font-weight="700" fill="{reg["colour"]}" stroke="#fff" stroke-width="4" paint-order="stroke">'
                       f'{escape(reg["label"])}</text>')
    out.append("</svg>")
    return "\n".join(out)


def opportunities_of(uri) -> list[dict]:
    """The index's opportunities involving ``uri``, best first, with the partner's label and region."""
    from node import store
    from node.entities import read_graphs
    from node.templating import label
    g, rows = Graph(), store().query(_P + f"""SELECT ?o ?score ?other ?ol ?r ?rl WHERE {{
      ?o a s3:CooperationOpportunity ; s3:between <{uri}>, ?other ; s3:score ?score FILTER(?other != <{uri}>)
      OPTIONAL {{ ?other skos:prefLabel ?ol }}
      OPTIONAL {{ ?other (s3:strategy/s3:region)|s3:region ?r OPTIONAL {{ ?r skos:prefLabel ?rl }} }} }}""",
                                     default_graph=read_graphs())
    found: dict[str, dict] = {}
    for r in rows:
        found.setdefault(r["o"].value, {"id": r["o"].value, "partner": r["other"].value,
                                        "score": float(r["score"].value),
                                        "region": r["r"].value if r["r"] is not None else None})
        _add_label(g, r["other"].value, r["ol"])
        if r["r"] is not None:
            _add_label(g, r["r"].value, r["rl"])
    for o in found.values():
        o["partner_label"] = label(g, URIRef(o["partner"]))
        o["region_label"] = label(g, URIRef(o["region"])) if o["region"] else None
    return sorted(found.values(), key=lambda o: (-o["score"], o["id"]))


def federation_overview(top: int = 8) -> dict:
    """The hub's landing page: each peer's region with its counts and harvest state, and the best
    opportunities across regions."""
    from node import graphs, settings, store
    from node.search import regions_by_graph

    from .web import status
    data, cfg, gs = network_data(), settings(), graphs()
    by_uri, by_graph = {r["uri"]: r for r in data["regions"]}, regions_by_graph()
    counts: dict[str, dict] = {}
    for it in data["items"].values():
        c = counts.setdefault(it["region"], {"domain": 0, "cluster": 0, "opportunities": 0})
        c[it["kind"]] += 1
    for o in data["opportunities"]:
        for end in {data["items"].get(o["a"], {}).get("region"), data["items"].get(o["b"], {}).get("region")} - {None}:
            counts.setdefault(end, {"domain": 0, "cluster": 0, "opportunities": 0})["opportunities"] += 1
    regions = []
    for p in status(store(), gs, cfg):  # a peer's region: the one its graph publishes
        reg = by_uri.get(by_graph.get(gs.peer(p["id"]), {}).get("uri"), {})
        c = counts.get(reg.get("uri"), {"domain": 0, "cluster": 0, "opportunities": 0})
        regions.append({"code": p["id"], "url": p["url"], "uri": reg.get("uri"), "label": reg.get("label", p["id"]),
                        "colour": reg.get("colour", "#bab0ac"), "domains": c["domain"], "clusters": c["cluster"],
                        "opportunities": c["opportunities"], "last_success": p.get("last_success"),
                        "error": p.get("last_error")})
    labels = {u: it["label"] for u, it in data["items"].items()}
    region_label = {r["uri"]: r["label"] for r in data["regions"]}
    best = [{"id": o["id"], "a": o["a"], "b": o["b"], "score": o["score"],
             "a_label": labels.get(o["a"], o["a"]), "b_label": labels.get(o["b"], o["b"]),
             "a_region": region_label.get(data["items"].get(o["a"], {}).get("region"), ""),
             "b_region": region_label.get(data["items"].get(o["b"], {}).get("region"), "")}
            for o in data["opportunities"][:top]]
    return {"regions": regions, "top": best, "totals": {
        "domains": sum(r["domains"] for r in regions), "clusters": sum(r["clusters"] for r in regions),
        "opportunities": len(data["opportunities"])}}


@bp.get("/network")
def network():
    from node.entities import respond
    from node.formats import HTML
    from node.problems import Problem
    kind = request.args.get("kind", "cluster")
    if kind not in ("cluster", "domain", "all"):
        raise Problem(400, "Bad Request", "kind must be cluster, domain or all")
    try:
        top = min(2000, max(0, int(request.args.get("top", 150))))
    except ValueError:
        raise Problem(400, "Bad Request", "top must be a whole number (how many opportunities to draw)") from None
    labels = request.args.get("labels", "1") not in ("0", "false", "no")
    data = network_data()
    svg = render_svg(data, kind, top, labels)
    if request.args.get("format") == "svg" or (request.accept_mimetypes.best_match(["text/html", "image/svg+xml"])
                                                == "image/svg+xml"):
        return respond(svg, "image/svg+xml")
    return respond(render_template("network.html", svg=Markup(svg), data=data, kind=kind, top=top), HTML)


def register(app) -> None:
    """Mount ``/network`` and give templates the hub's views (landing overview, opportunities)."""
    app.register_blueprint(bp)
    app.jinja_env.globals.update(opportunities_of=opportunities_of, federation_overview=federation_overview)
