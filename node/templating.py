"""What every HTML page needs: labels in the reader's language, short names for terms, and the
links around an entity said the way a cluster manager would say them.

People see labels, never bare IRIs: ``label(graph, node)`` picks the label in the reader's
language — ``?lang=xx`` (remembered in a cookie, so it holds across pages and across the demo's
nodes, which share the host) first, then the browser's ``Accept-Language``, then English, then
any. Pages therefore vary by ``Accept-Language`` and ``Cookie`` as well as ``Accept``.
"""
from __future__ import annotations

import functools
import re
from urllib.parse import urlencode

from flask import Flask, current_app, request
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, SKOS, XSD

import vocab
from vocab import S3

LABEL_PREDICATES = (SKOS.prefLabel, RDFS.label)
LANG_COOKIE = "s3fed_lang"
SWITCH_LANGUAGES = ("en", "fr", "de", "it")
_LANG = re.compile(r"[a-z]{2,3}")


def chosen_language() -> str | None:
    """The language picked with ``?lang=`` (or earlier, remembered in the cookie)."""
    if not request:
        return None
    lang = (request.args.get("lang") or request.cookies.get(LANG_COOKIE) or "").lower()
    return lang if _LANG.fullmatch(lang) else None


def preferred_languages() -> list[str]:
    """The reader's languages, best first, then English, then any. Parsed once per request
    (kept in its WSGI environ): every label on a page asks."""
    if not request:
        return ["en", ""]
    try:
        return request.environ["s3fed.languages"]
    except KeyError:
        pass
    langs = [lang.split("-")[0].lower() for lang, _ in request.accept_languages]
    chosen = chosen_language()
    request.environ["s3fed.languages"] = out = [*([chosen] if chosen else []), *langs, "en", ""]
    return out


def page_language() -> str:
    """``<html lang>``: the first preferred language this node publishes labels in."""
    known = (current_app.config["S3FED"]["node"].get("languages") or ["en"]) if current_app else ["en"]
    return next((lang for lang in preferred_languages() if lang in known), "en")


def _order(lit: Literal) -> tuple:
    """rdflib's order of literals (SPARQL ORDER BY) for labels — by datatype, then language
    (none first), then text — as a sort key: comparing rdflib Literals pairwise was the slowest
    part of a page."""
    return str(lit.datatype or XSD.string), lit.language or "", str(lit)


def pick(literals, langs: list[str] | None = None) -> str | None:
    """The literal in the first preferred language present, else the first one."""
    literals = sorted((lit for lit in literals if isinstance(lit, Literal)), key=_order)
    if not literals:
        return None
    by_lang = {(lit.language or "").lower(): str(lit) for lit in literals}
    for lang in langs or preferred_languages():
        if lang in by_lang:
            return by_lang[lang]
    return str(literals[0])


@functools.lru_cache(maxsize=16384)
def _vocabulary_label(node, langs: tuple[str, ...]) -> str | None:
    """A term's label from the shared vocabulary (constant for the process, so cached)."""
    g = vocab.load_vocabulary()
    return pick(g.objects(node, SKOS.prefLabel), list(langs)) or pick(g.objects(node, RDFS.label), list(langs))


def label(graph: Graph, node, fallback: bool = True) -> str:
    for p in LABEL_PREDICATES:
        found = pick(graph.objects(node, p))
        if found:
            return found
    vocab_label = _vocabulary_label(node, tuple(preferred_languages()))
    if vocab_label:
        return vocab_label
    return (slug_label(node) or curie(node)) if fallback else ""


def slug_label(node) -> str | None:
    """``…/id/cluster/aerospace-valley`` → ``Aerospace valley`` for another node's entity whose
    label this node does not hold (its page, one click away, has the real one)."""
    m = re.search(r"/id/([a-z-]+)/([A-Za-z0-9._~-]+)$", str(node))
    if not m or m.group(1) not in vocab.KINDS:
        return None
    words = m.group(2).replace("-", " ").replace("_", " ")
    return words[:1].upper() + words[1:]


def curie(node) -> str:
    text = str(node)
    for prefix, ns in vocab.PREFIXES.items():
        if text.startswith(str(ns)) and len(text) > len(str(ns)):
            return f"{prefix}:{text[len(str(ns)):]}"
    return text


def humanize(name: str | None) -> str:
    """``clusterType`` → ``Cluster type``, for fields the vocabulary gives no label."""
    if not name:
        return ""
    words = re.sub(r"(?<!^)([A-Z])", r" \1", name).lower()
    return words[:1].upper() + words[1:]


#: names for predicates that no profile or vocabulary label names well; None: shown elsewhere
FIELD_TITLES = {str(SKOS.prefLabel): "Names", str(SKOS.altLabel): "Also known as", str(SKOS.exactMatch): "Same as",
                "http://purl.org/dc/terms/source": "Sources", "http://purl.org/dc/terms/description": None,
                "http://www.w3.org/ns/org#hasMembership": None, str(RDFS.seeAlso): "See also"}


def field_title(g: Graph, name: str | None, predicate) -> str | None:
    """The row title of a field on an entity page, capitalised; None for fields shown elsewhere
    (the description as the lead paragraph, memberships as the members table)."""
    if str(predicate) in FIELD_TITLES:
        return FIELD_TITLES[str(predicate)]
    title = label(g, predicate, fallback=False) or humanize(name) or curie(predicate)
    return title[:1].upper() + title[1:]


def url_with(**params) -> str:
    """This page's URL with some query parameters replaced (the language switch)."""
    args = {k: v for k, v in request.args.items() if k not in params}
    args.update({k: v for k, v in params.items() if v is not None})
    return request.path + ("?" + urlencode(args) if args else "")


# -- the links around an entity, as sections ---------------------------------------------------

#: (predicate pointing here, type of the thing pointing) → section title
SECTION_TITLES = [
    ((S3.strategy, S3.PriorityDomain), "Priority domains"),
    ((S3.region, S3.Strategy), "Strategies"),
    ((S3.region, S3.Cluster), "Clusters"),
    ((S3.contributesTo, S3.Cluster), "Clusters working in this domain"),
    ((S3.domain, S3.WorkingGroup), "Working groups"),
    ((S3.domain, S3.Action), "Actions"),
    ((S3.partner, S3.Collaboration), "Collaborations"),
    ((S3.partner, S3.Action), "Actions it takes part in"),
    ((S3.governanceBody, S3.Strategy), "Strategies it governs"),
    ((S3.coAnimator, S3.WorkingGroup), "Working groups it co-animates"),
    ((S3.strategy, S3.CriterionAssessment), "Good-governance assessments"),
    ((S3.funding, S3.Action), "Actions funded"),
    ((S3.region, S3.Actor), "Organisations based here"),
]
_P = "PREFIX s3: <https://w3id.org/s3fed/vocab#> PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n"


def sections(g: Graph, node: URIRef, kind: str) -> list[dict]:
    """Things that point at ``node``, grouped under titles a reader understands ("Clusters",
    "Priority domains") instead of predicate names; a region also lists its strategies' domains
    (two links away, so one query). Each: ``{"title", "groups": [(heading or None, [uri…])]}``."""
    out: dict[str, list] = {}
    order = [title for _, title in SECTION_TITLES]
    titles = dict(SECTION_TITLES)
    for s, p in g.subject_predicates(node):
        if p in (vocab.ORG.organization, vocab.ORG.member):
            continue  # memberships have their own table
        types = set(g.objects(s, RDF.type))
        title = next((titles[(p, t)] for t in types if (p, t) in titles), None)
        if title is None:
            title = f"{label(g, p, fallback=False) or curie(p)} (of)"
            order.append(title)
        out.setdefault(title, []).append(s)
    result = [{"title": t, "groups": [(None, sorted(set(out[t]), key=lambda u: label(g, u).lower()))]}
              for t in dict.fromkeys(order) if t in out]
    if kind == "region":
        groups = _region_domains(g, node)
        if groups:
            result = [s for s in result if s["title"] != "Priority domains"]
            result.insert(0, {"title": "Priority domains", "groups": groups})
    return result


def _region_domains(g: Graph, region: URIRef) -> list[tuple[str, list]]:
    """The region's priority domains grouped by strategy, newest strategy first."""
    from . import graphs, store
    rows = store().query(_P + f"""SELECT ?s ?start ?d ?l ?sl WHERE {{ GRAPH <{graphs().data}> {{
        ?s s3:region <{region}> . ?d a s3:PriorityDomain ; s3:strategy ?s . OPTIONAL {{ ?s s3:periodStart ?start }}
        OPTIONAL {{ {{ ?d skos:prefLabel ?l }} UNION {{ ?s skos:prefLabel ?sl }} }} }} }}""")
    by_strategy: dict[URIRef, set] = {}
    start: dict[URIRef, str] = {}
    for r in rows:
        s, d = URIRef(r["s"].value), URIRef(r["d"].value)
        by_strategy.setdefault(s, set()).add(d)
        start[s] = r["start"].value if r["start"] is not None else ""
        for var, subject in (("l", d), ("sl", s)):
            if r[var] is not None:
                g.add((subject, SKOS.prefLabel, Literal(r[var].value, lang=r[var].language or None)))
    return [(label(g, s), sorted(ds, key=lambda u: label(g, u).lower()))
            for s, ds in sorted(by_strategy.items(), key=lambda kv: start[kv[0]], reverse=True)]


def region_overview() -> dict | None:
    """For the landing page: the node's region, its domains by strategy and its clusters."""
    from . import graphs, store
    data, g = graphs().data, Graph()
    rows = list(store().query(_P + f"""SELECT ?r ?c ?cl WHERE {{ GRAPH <{data}> {{ ?r a s3:Region
        OPTIONAL {{ ?c a s3:Cluster ; s3:region ?r OPTIONAL {{ ?c skos:prefLabel ?cl }} }} }} }} ORDER BY ?r"""))
    if not rows:
        return None
    region = URIRef(rows[0]["r"].value)
    for r in store().query(_P + f"SELECT ?l {{ GRAPH <{data}> {{ <{region}> skos:prefLabel ?l }} }}"):
        g.add((region, SKOS.prefLabel, Literal(r["l"].value, lang=r["l"].language or None)))
    clusters = set()
    for r in rows:
        if r["r"].value == str(region) and r["c"] is not None:
            clusters.add(URIRef(r["c"].value))
            if r["cl"] is not None:
                g.add((URIRef(r["c"].value), SKOS.prefLabel, Literal(r["cl"].value, lang=r["cl"].language or None)))
    return {"g": g, "region": region, "domains": _region_domains(g, region),
            "clusters": sorted(clusters, key=lambda u: label(g, u).lower())}


def _has_own_data() -> bool:
    from . import graphs, store
    return bool(store().query(f"ASK {{ GRAPH <{graphs().data}> {{ ?s a ?t }} }}"))


def register(app: Flask) -> None:
    app.jinja_env.globals["sparql_prefixes"] = {p: str(ns) for p, ns in vocab.PREFIXES.items()}
    app.jinja_env.globals.update(label=label, curie=curie, pick=pick, humanize=humanize, URIRef=URIRef,
                                 sections=sections, url_with=url_with, field_title=field_title,
                                 page_language=page_language,
                                 preferred_languages=preferred_languages, region_overview=region_overview,
                                 chosen_language=chosen_language, switch_languages=SWITCH_LANGUAGES)

    @app.context_processor
    def _node_context():
        cfg = current_app.config["S3FED"]
        hub = bool(cfg["peers"])
        return {"node_name": cfg["node"]["name"] or cfg["node"]["region"],
                "node_region": cfg["node"]["region"], "base_url": cfg["node"]["base_url"],
                "hub_url": (cfg["node"].get("hub_url") or "").rstrip("/") if not hub else cfg["node"]["base_url"],
                "kinds": vocab.KINDS, "is_hub": hub, "has_own_data": _has_own_data() if hub else True}

    @app.after_request
    def _remember_language(resp):
        """``?lang=xx`` is remembered for the next pages; ``?lang=auto`` forgets it."""
        if resp.mimetype == "text/html":
            resp.vary.update(("Accept-Language", "Cookie"))
        lang = request.args.get("lang", "").lower()
        if lang == "auto":
            resp.delete_cookie(LANG_COOKIE)
        elif _LANG.fullmatch(lang) and resp.mimetype == "text/html":
            resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Lax")
        return resp
