"""``/search?q=``: find regions, priority domains, clusters, actors… by name, in any language.

Why here and not ``/id/{kind}/?q=``: a cluster manager does not know the kinds, and on a hub the
things worth finding live in the harvested peers' graphs, which collection pages do not show.
The search covers ``skos:prefLabel`` and ``skos:altLabel`` of every entity in every readable
graph (the node's data; on a hub also each peer's graph).

Matching is case- and accent-insensitive, done by the SPARQL engine so no label leaves the store
unless it matches: the query is folded (NFD, marks dropped, lower case) and each letter becomes
a character class of its accented forms (``ile`` → ``[iìíîï…]\\p{M}*l…``) for a ``REGEX(…, "i")``,
so "ile" finds "Île-de-France" and "munchen" finds "München". Every word must occur in the same
label. Results are ranked (exact, prefix, word start, anywhere), grouped by kind, as HTML or JSON.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup, escape
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import SKOS

from vocab import KINDS

from . import graphs, settings, store
from .entities import read_graphs, respond
from .formats import HTML, JSON, negotiate
from .templating import label

bp = Blueprint("search", __name__)
MAX_QUERY, MAX_WORDS, MAX_HITS, SHOWN = 100, 6, 2000, 100
KIND_ORDER = ["region", "domain", "cluster", "working-group", "actor", "action", "collaboration", "strategy",
              "funding", "assessment"]
_EXTRA = {"i": "ı", "l": "ł", "o": "ø", "d": "đ", "s": "ß", "a": "æ", "e": "œ"}


def fold(text: str) -> str:
    """Lower case without accents: ``Île`` → ``ile``."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=1)
def _variants() -> dict[str, str]:
    """Each ASCII letter → every precomposed Latin letter that folds to it."""
    found: dict[str, set[str]] = {}
    for cp in [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)]:
        ch = chr(cp)
        base = fold(ch)
        if len(base) == 1 and "a" <= base <= "z":
            found.setdefault(base, set()).update((ch, ch.lower()))
    for base, extra in _EXTRA.items():
        found.setdefault(base, set()).add(extra)
    return {b: "".join(sorted(v | {b})) for b, v in found.items()}


def pattern(word: str) -> str:
    """A regex matching ``word`` whatever the accents (use with the "i" flag)."""
    out = []
    for ch in fold(word):
        if ch in _variants():
            out.append(f"[{_variants()[ch]}]\\p{{M}}*")
        elif ch.isalnum():
            out.append(ch)
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _sparql_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rank(text: str, words: list[str]) -> int:
    """0 exact, 1 starts with the query, 2 every word starts a word, 3 found inside."""
    t, q = fold(text), " ".join(words)
    if t == q:
        return 0
    if t.startswith(q):
        return 1
    tokens = re.findall(r"\w+", t)
    return 2 if all(any(tok.startswith(w) for tok in tokens) for w in words) else 3


def regions_by_graph() -> dict[str, dict]:
    """Graph → the region it publishes (code and label), for "where is it" beside each hit."""
    gs, cfg = graphs(), settings()
    out: dict[str, dict] = {}
    peer_ids = {gs.peer(p["id"]): p["id"] for p in cfg["peers"]}
    rows = store().query("PREFIX s3: <https://w3id.org/s3fed/vocab#> "
                         "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
                         "SELECT ?g ?r ?code ?l { GRAPH ?g { ?r a s3:Region OPTIONAL { ?r s3:nutsCode ?code } "
                         "OPTIONAL { ?r skos:prefLabel ?l } } }", named_graphs=read_graphs())
    labels: dict[str, Graph] = {}
    for r in rows:
        g = r["g"].value
        lg = labels.setdefault(g, Graph())
        if r["l"] is not None:
            lg.add((URIRef(r["r"].value), SKOS.prefLabel, Literal(r["l"].value, lang=r["l"].language or None)))
        code = r["code"].value if r["code"] is not None else peer_ids.get(g, "")
        out.setdefault(g, {"uri": r["r"].value, "code": code})
    for g, info in out.items():
        info["label"] = label(labels[g], URIRef(info["uri"]))
    for g, pid in peer_ids.items():
        out.setdefault(g, {"uri": None, "code": pid, "label": pid})
    out.setdefault(gs.data, {"uri": None, "code": cfg["node"]["region"], "label": cfg["node"]["name"]})
    return out


def search(q: str) -> dict:
    """Ranked hits for ``q``: ``{"q", "total", "results": [{id, label, matched, kind, region, …}]}``."""
    words = [w for w in fold(q).split() if w][:MAX_WORDS]
    if not words:
        return {"q": q, "total": 0, "results": []}
    classes = " ".join(f"(<{k.rdf_class}> {_sparql_string(k.name)})" for k in KINDS.values())
    filters = " && ".join(f'REGEX(STR(?l), {_sparql_string(pattern(w))}, "i")' for w in words)
    readable = [g for g in read_graphs() if g != graphs().vocab]
    rows = store().query(f"""SELECT ?s ?kind ?g ?l ?p WHERE {{ VALUES (?type ?kind) {{ {classes} }}
        VALUES ?p {{ <{SKOS.prefLabel}> <{SKOS.altLabel}> }}
        GRAPH ?g {{ ?s a ?type ; ?p ?l FILTER({filters}) }} }} LIMIT {MAX_HITS}""", named_graphs=readable)
    best: dict[str, dict] = {}
    for r in rows:
        s, text = r["s"].value, r["l"].value
        hit = {"id": s, "kind": r["kind"].value, "graph": r["g"].value, "matched": text,
               "rank": rank(text, words) + (0 if r["p"].value == str(SKOS.prefLabel) else 0.5)}
        if s not in best or hit["rank"] < best[s]["rank"]:
            best[s] = hit
    hits = sorted(best.values(), key=lambda h: (h["rank"], KIND_ORDER.index(h["kind"]) if h["kind"] in KIND_ORDER
                                                 else 99, fold(h["matched"])))
    shown = hits[:SHOWN]
    g = Graph()
    if shown:
        values = " ".join(f"<{h['id']}>" for h in shown)
        for r in store().query(f"SELECT ?s ?l {{ VALUES ?s {{ {values} }} ?s <{SKOS.prefLabel}> ?l }}",
                               default_graph=readable):
            g.add((URIRef(r["s"].value), SKOS.prefLabel, Literal(r["l"].value, lang=r["l"].language or None)))
    regions = regions_by_graph()
    results = []
    for h in shown:
        where = regions.get(h["graph"], {})
        name = label(g, URIRef(h["id"]))
        results.append({"id": h["id"], "label": name, "kind": h["kind"], "kind_label": KINDS[h["kind"]].label,
                        "matched": h["matched"] if h["matched"] != name else None,
                        "region": where.get("label"), "region_code": where.get("code"), "graph": h["graph"]})
    return {"q": q, "total": len(hits), "results": results}


@bp.get("/search")
def search_page():
    q = request.args.get("q", "").strip()[:MAX_QUERY]
    found = search(q)
    fmt = request.args.get("format", "").lower()
    media_type = JSON if fmt == "json" else HTML if fmt == "html" else \
        negotiate([HTML, JSON], default=HTML if request.accept_mimetypes.accept_html else JSON)
    if media_type == JSON:
        return respond(current_app.json.dumps(found), JSON)
    groups: dict[str, list] = {}
    for r in found["results"]:
        groups.setdefault(r["kind"], []).append(r)
    ordered = [(KINDS[k], groups[k]) for k in KIND_ORDER if k in groups]
    words = [w for w in fold(q).split() if w][:MAX_WORDS]
    return respond(render_template("search.html", q=q, found=found, groups=ordered,
                                   mark=lambda text: marked(text, words)), HTML)


def marked(text: str, words: list[str]) -> Markup:
    """``text`` with the (accent-insensitive) matches of ``words`` in ``<mark>``."""
    folded, origin = [], []
    for i, ch in enumerate(text):
        for f in fold(ch):
            folded.append(f)
            origin.append(i)
    flat, hit = "".join(folded), [False] * len(text)
    for w in words:
        for m in re.finditer(re.escape(w), flat):
            for k in range(m.start(), m.end()):
                hit[origin[k]] = True
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and hit[j] == hit[i]:
            j += 1
        part = escape(text[i:j])
        out.append(Markup(f"<mark>{part}</mark>") if hit[i] else part)
        i = j
    return Markup("").join(out)


def register(app) -> None:
    app.register_blueprint(bp)
