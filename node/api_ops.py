"""What the JSON API does with the store: list, read, create, replace, merge, delete.

Kept apart from the HTTP layer (:mod:`node.api`) so the rule "every write is checked like an
import" lives in one function, :func:`save`: the profile's triples for the JSON, plus the
entity's triples outside the profile (from RDF imports, so a JSON edit never drops them),
through :func:`node.importer.check_identity` and :func:`vocab.validate`, then one
:func:`node.changes.commit`. Check and commit run under the store's write lock, so a
concurrent writer cannot slip in between "does it exist" and "write it".
"""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlencode

import marshmallow as ma
import pyoxigraph as ox
from rdflib import RDF, Graph, URIRef

import vocab
from vocab.kinds import KINDS
from vocab.namespaces import ORG, SKOS
from vocab.profiles import PROFILES, to_graph, to_json
from vocab.rdfterms import to_ox

from . import graphs, settings, store
from .changes import ChangeSet, commit
from .entities import Description, entity_uri
from .importer import SLUG, check_identity, to_rdflib
from .problems import Problem
from .schemas import _safe, entity_schema, filter_fields, flatten

META = ("id", "type", "slug")


def _data() -> str:
    return graphs().data


def current(kind: str, slug: str, build=to_rdflib) -> Graph | None:
    """The entity's triples in the node's data graph, or None when it has none of that kind.
    ``build`` makes the graph: an rdflib one for writes, a lighter read-only one for GET."""
    if not re.fullmatch(SLUG, slug):
        return None
    uri = entity_uri(kind, slug)
    g = build(store().query(f"CONSTRUCT {{ <{uri}> ?p ?o }} WHERE {{ GRAPH <{_data()}> {{ <{uri}> ?p ?o }} }}"))
    return g if (URIRef(uri), RDF.type, KINDS[kind].rdf_class) in g else None


def _existing_or_404(kind: str, slug: str, build=to_rdflib) -> Graph:
    g = current(kind, slug, build)
    if g is None:
        raise Problem(404, "Not Found", f"This node has no {KINDS[kind].label.lower()} {slug!r} "
                      f"(GET /api/v1/{kind} lists them).")
    return g


def read(kind: str, slug: str) -> dict:
    return to_json(_existing_or_404(kind, slug, Description), URIRef(entity_uri(kind, slug)), kind)


# -- listing -------------------------------------------------------------------------------

def list_page(kind: str, query: dict) -> dict:
    page, per_page = query["page"], query["per_page"]
    patterns = [f"?s <{f.predicate}> <{query[f.name]}> ." for f in filter_fields(kind)
                if query.get(f.name)]  # IRIs checked by the schema
    if query.get("q"):
        text = str(ox.Literal(query["q"].lower()))
        patterns.append(f"?s <{SKOS.prefLabel}> ?_q . FILTER(CONTAINS(LCASE(STR(?_q)), {text}))")
    where = f"GRAPH <{_data()}> {{ ?s a <{KINDS[kind].rdf_class}> . {' '.join(patterns)} }}"
    total = int(next(iter(store().query(f"SELECT (COUNT(DISTINCT ?s) AS ?n) {{ {where} }}")))["n"].value)
    subjects = [r["s"].value for r in store().query(
        f"SELECT DISTINCT ?s {{ {where} }} ORDER BY ?s LIMIT {per_page} OFFSET {(page - 1) * per_page}")]
    g = Graph()
    if subjects:
        values = " ".join(f"<{s}>" for s in subjects)
        g = to_rdflib(store().query(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{_data()}> "
                                    f"{{ VALUES ?s {{ {values} }} ?s ?p ?o }} }}"))
    last = max(1, -(-total // per_page))
    base = f"{settings()['node']['base_url']}/api/v1/{kind}"
    extra = {k: v for k, v in query.items() if k not in ("page", "per_page") and v}

    def link(p: int) -> str:
        return base + "?" + urlencode({**extra, "page": p, "per_page": per_page})
    return {"items": [to_json(g, URIRef(s), kind) for s in subjects], "total": total, "page": page,
            "per_page": per_page, "self": link(page), "first": link(1), "last": link(last),
            "next": link(page + 1) if page < last else None, "previous": link(page - 1) if page > 1 else None}


def link_header(body: dict) -> str:
    rels = {"first": "first", "last": "last", "next": "next", "previous": "prev"}
    return ", ".join(f'<{body[k]}>; rel="{rel}"' for k, rel in rels.items() if body.get(k))


# -- writes ---------------------------------------------------------------------------------

def _check_meta(kind: str, slug: str, data: dict) -> None:
    """``id``, ``type`` and ``slug`` sent back with a body must name this very resource."""
    errors = []
    if data.get("id") not in (None, entity_uri(kind, slug)):
        errors.append({"field": "id", "path": "/id", "message": f"must be {entity_uri(kind, slug)} (or left out)"})
    if data.get("slug") not in (None, slug):
        errors.append({"field": "slug", "path": "/slug", "message": f"must be {slug!r} (or left out)"})
    if errors:
        raise Problem(422, "Unprocessable Content", "The body names another resource; nothing was changed.",
                      errors=errors)


def slug_for(kind: str, data: dict) -> str:
    """The slug of a new entity: given, else the id's last segment, else from the label (in the
    first of the node's ``languages`` it has),
    else from the last segments of its required links (a membership: cluster-actor)."""
    if data.get("slug"):
        return data["slug"]
    prefix = entity_uri(kind, "")
    if str(data.get("id", "")).startswith(prefix):
        return data["id"][len(prefix):]
    labels = data.get("label") or {}
    preferred = [lang for lang in settings()["node"]["languages"] if lang in labels] + list(labels)
    words = [labels[lang] for lang in preferred[:1]] or [
        str(data[f.name]).rstrip("/").rsplit("/", 1)[-1] for f in PROFILES[kind]
        if f.required and f.shape == "link" and data.get(f.name)][:2]
    text = unicodedata.normalize("NFKD", " ".join(words)).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80].strip("-")
    if not slug:
        raise Problem(422, "Unprocessable Content", "Give this entity a slug.",
                      errors=[{"field": "slug", "path": "/slug", "message": "required: none can be derived"}])
    return slug


def _shacl(g: Graph, kind: str, skip_fields=()) -> list[dict]:
    """SHACL violations of an entity graph, each with the JSON ``field`` its path maps to."""
    by_predicate = {str(f.predicate): f.name for f in PROFILES[kind]}
    curies = {f"{p}:{str(iri)[len(str(ns)):]}": n for iri, n in by_predicate.items()
              for p, ns in getattr(vocab, "PREFIXES", {}).items() if str(iri).startswith(str(ns))}
    out = []
    for v in vocab.validate(g).to_problems():
        if v.get("severity", "Violation") != "Violation":
            continue
        name = by_predicate.get(str(v.get("path"))) or curies.get(str(v.get("path")))
        if name in skip_fields:
            continue
        out.append(clean({**({"field": name} if name else {}), **v}))
    return out


def clean(e: dict) -> dict:
    """A problem item fit for JSON: no empty values, text that encodes as UTF-8."""
    return {k: _safe(v) if isinstance(v, str) else v for k, v in e.items() if v not in (None, "")}


def refusal_errors(schema, error: ma.ValidationError) -> list[dict]:
    """Every field error, plus SHACL's report on the fields that passed (a new entity only)."""
    errors = flatten(error.messages)
    if schema.patch or not isinstance(error.valid_data, dict):
        return errors
    try:
        slug = request_slug() or slug_for(schema.kind, error.valid_data)
    except Problem:
        slug = "new"
    data = {k: v for k, v in error.valid_data.items() if k not in META}
    g = to_graph(data, URIRef(entity_uri(schema.kind, slug)), schema.kind)
    return errors + _shacl(g, schema.kind, skip_fields={e.get("field") for e in errors})


def request_slug() -> str | None:
    from flask import request
    return (request.view_args or {}).get("slug")


def save(kind: str, slug: str, data: dict, keep: Graph | None = None) -> dict:
    """Check ``data`` as the entity's new description and commit it; 422 lists every problem."""
    uri = URIRef(entity_uri(kind, slug))
    g = to_graph({k: v for k, v in data.items() if k not in META}, uri, kind)
    if keep is not None:
        profile = {f.predicate for f in PROFILES[kind]}
        g += ((s, p, o) for s, p, o in keep if p not in profile)
    triples = to_ox(g)
    errors = [clean(e) for e in check_identity(triples, settings()["node"]["base_url"])] + _shacl(g, kind)
    if errors:
        raise Problem(422, "Unprocessable Content", f"{len(errors)} problem(s); nothing was changed.",
                      errors=errors)
    commit(store(), graphs(), ChangeSet(subjects={str(uri)}, triples=triples))
    return to_json(g, uri, kind)


def create(kind: str, data: dict) -> dict:
    slug = slug_for(kind, data)
    if not re.fullmatch(SLUG, slug):
        raise Problem(422, "Unprocessable Content", "Invalid slug.", errors=[{"field": "id", "path": "/id",
                      "message": f"must be {entity_uri(kind, '')}{{slug}}"}])
    _check_meta(kind, slug, data)
    with store().write_lock:
        if store().query(f"ASK {{ GRAPH <{_data()}> {{ <{entity_uri(kind, slug)}> ?p ?o }} }}"):
            raise Problem(409, "Conflict", f"{entity_uri(kind, slug)} exists; change it with PUT or PATCH "
                          f"/api/v1/{kind}/{slug}, or choose another slug.")
        return save(kind, slug, data)


def replace(kind: str, slug: str, data: dict) -> dict:
    _check_meta(kind, slug, data)
    with store().write_lock:
        return save(kind, slug, data, keep=_existing_or_404(kind, slug))


def merge_patch(target, patch):
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def merge(kind: str, slug: str, patch: dict) -> dict:
    _check_meta(kind, slug, patch)
    with store().write_lock:
        existing = _existing_or_404(kind, slug)
        doc = merge_patch(to_json(existing, URIRef(entity_uri(kind, slug)), kind), patch)
        try:
            data = entity_schema(kind)().load(doc)
        except ma.ValidationError as e:
            raise Problem(422, "Unprocessable Content", "The patched entity is not valid; nothing was changed.",
                          errors=flatten(e.messages)) from None
        return save(kind, slug, data, keep=existing)


def delete(kind: str, slug: str) -> None:
    """Remove the entity, the memberships it is part of, and the links other entities of this
    node have to it — unless losing the link would leave one of them invalid (a strategy needs
    its region): then 409, naming each, and nothing changes. No dangling links either way."""
    uri = entity_uri(kind, slug)
    with store().write_lock:
        _existing_or_404(kind, slug)
        rows = store().query(f"SELECT DISTINCT ?m {{ GRAPH <{_data()}> {{ ?m a <{ORG.Membership}> ; "
                             f"<{ORG.organization}>|<{ORG.member}> <{uri}> }} }}")
        gone = {uri, *(r["m"].value for r in rows)}
        kept = _unlinked_referrers(uri, gone)
        commit(store(), graphs(), ChangeSet(subjects=gone | {t.subject.value for t in kept}, triples=kept))


def _unlinked_referrers(uri: str, gone: set[str]) -> list[ox.Triple]:
    """The new descriptions of the entities that link to ``uri``: their triples without the link."""
    found = store().query(f"CONSTRUCT {{ ?r ?p ?o }} WHERE {{ GRAPH <{_data()}> {{ ?r ?l <{uri}> . ?r ?p ?o }} }}")
    kept = [t for t in found if t.subject.value not in gone and t.object != ox.NamedNode(uri)]
    if not kept:
        return []
    report = vocab.validate(to_rdflib(kept))
    if not report.conforms:
        errors = [{**clean(v.as_dict()), "message": f"{v.message} — it links to {uri}: change or delete it first"}
                  for v in report.violations if v.severity == "Violation"]
        raise Problem(409, "Still needed", f"{len({e['focus'] for e in errors})} entity(ies) of this node need "
                      f"{uri}; nothing was deleted.", errors=errors, kind="still-linked")
    return kept
