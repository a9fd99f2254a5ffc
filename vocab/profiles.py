"""The JSON ↔ RDF mapping of every kind, declared once and read in both directions.

A profile is a list of :class:`Field`s: the JSON name, the RDF predicate and the shape of the
value. :func:`to_json` reads an entity out of a graph with it, :func:`to_graph` writes JSON back
as triples, and the node's marshmallow schemas (and so the OpenAPI document) are generated from
the same declaration — nothing is mapped twice by hand (the ckanext-dcat "profile" idea).

Value shapes:

``langmap``  language-tagged literals as ``{"fr": "…", "en": "…"}`` (one per language)
``langlist`` language-tagged literals, several per language: ``{"en": ["a", "b"]}``;
             untagged values go under ``""``
``link`` / ``links``  one IRI / a list of IRIs
``string`` ``integer`` ``decimal`` ``year`` ``date`` ``dateOrYear``  typed literals
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from rdflib import RDF, Graph, Literal, URIRef

from .kinds import KINDS
from .namespaces import DCAT, DCTERMS, FOAF, ORG, S3, SKOS, XSD


@dataclass(frozen=True)
class Field:
    name: str
    predicate: URIRef
    shape: str
    required: bool = False
    doc: str = ""

    @property
    def many(self) -> bool:
        return self.shape in ("links", "langlist", "langmap")


LABEL = Field("label", SKOS.prefLabel, "langmap", True, "Name, one per language: {\"fr\": …, \"en\": …}")
DESCRIPTION = Field("description", DCTERMS.description, "langmap", doc="Description, one per language")
HOMEPAGE = Field("homepage", FOAF.homepage, "link", doc="Web site")
KEYWORDS = Field("keywords", DCAT.keyword, "langlist", doc="Free keywords per language")
CONCEPTS = [
    Field("naceActivity", S3.naceActivity, "links", doc="NACE Rev. 2 URIs (http://data.europa.eu/ux2/nace2/30)"),
    Field("scientificField", S3.scientificField, "links", doc="Fields of science (FORD concept URIs)"),
    Field("policyObjective", S3.policyObjective, "links", doc="EU Cohesion policy objectives (concept URIs)"),
    Field("technology", S3.technology, "links", doc="Key enabling technologies (concept URIs)"),
    KEYWORDS,
]

PROFILES: dict[str, list[Field]] = {
    "region": [
        LABEL,
        Field("nutsCode", S3.nutsCode, "string", True, "NUTS code, e.g. FRJ"),
        Field("country", S3.country, "string", True, "ISO 3166 alpha-2 country code"),
        Field("exactMatch", SKOS.exactMatch, "link", doc="NUTS URI, e.g. http://data.europa.eu/nuts/code/FRJ"),
        DESCRIPTION,
    ],
    "strategy": [
        LABEL, DESCRIPTION,
        Field("region", S3.region, "link", True, "The region's URI"),
        Field("periodStart", S3.periodStart, "year", doc="First year, e.g. 2021"),
        Field("periodEnd", S3.periodEnd, "year", doc="Last year, e.g. 2027"),
        Field("governanceBody", S3.governanceBody, "link", doc="The actor that manages the strategy"),
        Field("page", FOAF.page, "link", doc="The strategy's official page"),
    ],
    "domain": [
        LABEL, DESCRIPTION,
        Field("strategy", S3.strategy, "link", True, "The strategy this priority belongs to"),
        *CONCEPTS,
    ],
    "cluster": [
        LABEL, DESCRIPTION,
        Field("region", S3.region, "link", True, "The region's URI"),
        Field("clusterType", S3.clusterType, "link", doc="Cluster type concept"),
        Field("contributesTo", S3.contributesTo, "links", doc="Priority domains it implements"),
        HOMEPAGE,
        Field("foundingYear", S3.foundingYear, "year"),
        Field("memberCount", S3.memberCount, "integer"),
        *CONCEPTS,
    ],
    "actor": [
        LABEL,
        Field("actorType", S3.actorType, "link", doc="Actor role concept (SME, research organisation…)"),
        HOMEPAGE,
        Field("region", S3.region, "link"),
    ],
    "membership": [
        Field("organization", ORG.organization, "link", True, "The cluster or working group"),
        Field("member", ORG.member, "link", True, "The member actor"),
        Field("role", ORG.role, "link", doc="Actor role concept"),
    ],
    "working-group": [
        LABEL, DESCRIPTION,
        Field("domain", S3.domain, "link", doc="The priority domain it works on"),
        Field("coAnimator", S3.coAnimator, "links", doc="Co-animating actors"),
        Field("memberCount", S3.memberCount, "integer"),
    ],
    "action": [
        LABEL, DESCRIPTION,
        Field("domain", S3.domain, "links"),
        Field("partner", S3.partner, "links"),
        Field("startDate", S3.startDate, "dateOrYear"),
        Field("endDate", S3.endDate, "dateOrYear"),
        Field("funding", S3.funding, "links"),
    ],
    "funding": [
        Field("label", SKOS.prefLabel, "langmap", doc="Name, one per language"),
        Field("instrument", S3.instrument, "link", True, "Funding instrument concept (ERDF, Interreg…)"),
        Field("amount", S3.amount, "decimal", doc="Amount in EUR"),
    ],
    "collaboration": [
        Field("label", SKOS.prefLabel, "langmap", doc="Name, one per language"), DESCRIPTION,
        Field("partner", S3.partner, "links", True, "Two or more clusters, on any node"),
        Field("collaborationType", S3.collaborationType, "link"),
        Field("startDate", S3.startDate, "dateOrYear"),
        Field("topic", S3.topic, "langlist"),
    ],
    "assessment": [
        Field("strategy", S3.strategy, "link", True),
        Field("criterion", S3.criterion, "link", True, "One of the seven governance criteria"),
        Field("fulfilment", S3.fulfilment, "link", True, "fulfilled / partly / not-fulfilled concept"),
        Field("evidence", S3.evidence, "langlist", doc="Evidence: text or URLs"),
    ],
}
assert set(PROFILES) == set(KINDS), "every kind needs a profile"

_DATATYPES = {"string": None, "integer": XSD.integer, "decimal": XSD.decimal, "year": XSD.gYear,
              "date": XSD.date}


def _literal_value(lit: Literal, shape: str):
    if shape == "integer":
        return int(lit)
    if shape == "decimal":
        return float(Decimal(str(lit)))
    return str(lit)


def to_json(graph: Graph, subject: URIRef, kind: str) -> dict:
    """The JSON form of ``subject`` read from ``graph`` through the kind's profile."""
    out: dict = {"id": str(subject), "type": kind, "slug": str(subject).rsplit("/", 1)[-1]}
    for f in PROFILES[kind]:
        values = list(graph.objects(subject, f.predicate))
        if not values:
            continue
        if f.shape == "langmap":
            out[f.name] = {(v.language or ""): str(v) for v in values if isinstance(v, Literal)}
        elif f.shape == "langlist":
            grouped: dict[str, list[str]] = {}
            for v in sorted(values):
                grouped.setdefault(getattr(v, "language", None) or "", []).append(str(v))
            out[f.name] = grouped
        elif f.shape == "links":
            out[f.name] = sorted(str(v) for v in values)
        elif f.shape == "link":
            out[f.name] = str(min(values))
        else:
            out[f.name] = _literal_value(min(values), f.shape)
    return out


def _typed(value, shape: str) -> Literal:
    if shape == "dateOrYear":
        dt = XSD.gYear if re.fullmatch(r"-?\d{4}", str(value)) else XSD.date
        return Literal(str(value), datatype=dt)
    if shape == "decimal":
        return Literal(Decimal(str(value)), datatype=XSD.decimal)
    dt = _DATATYPES[shape]
    return Literal(str(value), datatype=dt) if dt else Literal(str(value))


def to_graph(data: dict, subject: URIRef, kind: str) -> Graph:
    """Triples for one entity from its JSON form (unknown keys are the schema's business)."""
    g = Graph()
    g.add((subject, RDF.type, KINDS[kind].rdf_class))
    for f in PROFILES[kind]:
        value = data.get(f.name)
        if value in (None, "", [], {}):
            continue
        if f.shape == "langmap":
            g.addN((subject, f.predicate, Literal(v, lang=lang or None), g) for lang, v in value.items())
        elif f.shape == "langlist":
            g.addN((subject, f.predicate, Literal(v, lang=lang or None), g)
                   for lang, vs in value.items() for v in vs)
        elif f.shape == "links":
            g.addN((subject, f.predicate, URIRef(v), g) for v in value)
        elif f.shape == "link":
            g.add((subject, f.predicate, URIRef(value)))
        else:
            g.add((subject, f.predicate, _typed(value, f.shape)))
    return g
