"""What ``/sparql`` says about itself: its SPARQL 1.1 Service Description (graph), and the
example queries of its query page (tests run each one on the sample node)."""
from __future__ import annotations

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF

from vocab.namespaces import SD

from . import settings
from .entities import read_graphs


def service_description() -> Graph:
    base = settings()["node"]["base_url"]
    fmt = "http://www.w3.org/ns/formats/"
    g, sd = Graph(), URIRef(f"{base}/sparql")
    g.add((sd, RDF.type, SD.Service))
    g.add((sd, SD.endpoint, sd))
    g.add((sd, DCTERMS.title, Literal(f"SPARQL endpoint of {settings()['node']['name'] or base}", lang="en")))
    g.add((sd, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((sd, SD.feature, SD.UnionDefaultGraph))
    if settings()["peers"]:
        g.add((sd, SD.feature, SD.BasicFederatedQuery))
    for name in ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
                 "Turtle", "JSON-LD", "N-Triples", "RDF_XML"):
        g.add((sd, SD.resultFormat, URIRef(fmt + name)))
    dataset, default = BNode(), BNode()
    g.add((sd, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    for name in read_graphs():
        ng = BNode()
        g.add((dataset, SD.namedGraph, ng))
        g.add((ng, RDF.type, SD.NamedGraph))
        g.add((ng, SD.name, URIRef(name)))
    return g


_P = """PREFIX s3: <https://w3id.org/s3fed/vocab#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
#: (title, query) pairs shown on the query page; tests run each one on the sample node.
EXAMPLES = [
    ("Priority domains per region", _P + """SELECT ?region ?regionLabel ?domain ?label WHERE {
  ?domain a s3:PriorityDomain ; s3:strategy/s3:region ?region ; skos:prefLabel ?label .
  ?region skos:prefLabel ?regionLabel .
  FILTER(lang(?label) = "en" && lang(?regionLabel) = "en")
} ORDER BY ?region ?label"""),
    ("Clusters contributing to each priority domain", _P + """SELECT ?domainLabel ?cluster ?clusterLabel WHERE {
  ?cluster a s3:Cluster ; s3:contributesTo ?domain ; skos:prefLabel ?clusterLabel .
  ?domain skos:prefLabel ?domainLabel FILTER(lang(?domainLabel) = "en")
} ORDER BY ?domainLabel ?clusterLabel"""),
    ("Cluster members by actor role", _P + """SELECT ?role (COUNT(DISTINCT ?actor) AS ?members)
       (GROUP_CONCAT(DISTINCT ?actorLabel; separator=", ") AS ?who) WHERE {
  ?m a org:Membership ; org:organization ?cluster ; org:member ?actor ; org:role ?role .
  ?cluster a s3:Cluster . ?actor skos:prefLabel ?actorLabel .
} GROUP BY ?role ORDER BY DESC(?members)"""),
    ("Domains and clusters sharing a NACE activity (through skos:broader), with their regions", _P + """
SELECT ?nace ?a ?aRegion ?b ?bRegion WHERE {
  ?a s3:naceActivity/skos:broader* ?nace ; (s3:strategy/s3:region)|s3:region ?aRegion .
  ?b s3:naceActivity/skos:broader* ?nace ; (s3:strategy/s3:region)|s3:region ?bRegion .
  FILTER(STR(?a) < STR(?b))   # add FILTER(?aRegion != ?bRegion) on a hub for cross-region pairs
} ORDER BY ?nace"""),
    ("Collaborations between clusters", _P + """SELECT ?collaboration ?label ?type
       (GROUP_CONCAT(?partnerLabel; separator=" + ") AS ?partners) WHERE {
  ?collaboration a s3:Collaboration ; skos:prefLabel ?label ; s3:partner ?partner .
  OPTIONAL { ?collaboration s3:collaborationType ?type }
  ?partner skos:prefLabel ?partnerLabel .
} GROUP BY ?collaboration ?label ?type"""),
    ("Good-governance criterion assessments of each strategy",
     _P + """SELECT ?strategy ?criterion ?fulfilment ?evidence WHERE {
  ?a a s3:CriterionAssessment ; s3:strategy ?strategy ; s3:criterion ?criterion .
  OPTIONAL { ?a s3:fulfilment ?fulfilment } OPTIONAL { ?a s3:evidence ?evidence }
} ORDER BY ?strategy ?criterion"""),
    ("Working groups: domain, co-animators and size", _P + """SELECT ?group ?label ?domain ?coAnimator ?members WHERE {
  ?group a s3:WorkingGroup ; skos:prefLabel ?label .
  OPTIONAL { ?group s3:domain ?domain } OPTIONAL { ?group s3:coAnimator ?coAnimator }
  OPTIONAL { ?group s3:memberCount ?members }
}"""),
    ("How many entities of each kind", """SELECT ?type (COUNT(?s) AS ?n) WHERE {
  ?s a ?type FILTER(STRSTARTS(STR(?type), "https://w3id.org/s3fed/vocab#") || ?type = <http://www.w3.org/ns/org#Membership>)
} GROUP BY ?type ORDER BY DESC(?n)"""),
]
