"""Every namespace s3fed speaks, defined once and imported everywhere else.

The vocabulary's own terms live under ``S3`` (``https://w3id.org/s3fed/vocab#``); the concepts of
its SKOS schemes (actor roles, cluster types, funding instruments, …) under ``S3C``. Standard
vocabularies are reused wherever they have the term (W3C ORG, SKOS, DCTERMS, DCAT, PROV-O, FOAF,
VoID, LDES/TREE), as DESIGN.md promises other regions' nodes.
"""
from rdflib import Namespace
from rdflib.namespace import DCAT, DCTERMS, FOAF, ORG, OWL, PROV, RDF, RDFS, SH, SKOS, VOID, XSD

S3 = Namespace("https://w3id.org/s3fed/vocab#")
S3C = Namespace("https://w3id.org/s3fed/concept/")
NACE = Namespace("http://data.europa.eu/ux2/nace2/")
NUTS = Namespace("http://data.europa.eu/nuts/code/")
LDES = Namespace("https://w3id.org/ldes#")
TREE = Namespace("https://w3id.org/tree#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
SCHEMA = Namespace("https://schema.org/")
AS = Namespace("https://www.w3.org/ns/activitystreams#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")

#: Prefixes bound in every graph we serialise and offered to SPARQL users.
PREFIXES = {
    "s3": S3, "s3c": S3C, "org": ORG, "skos": SKOS, "dcterms": DCTERMS, "dcat": DCAT,
    "prov": PROV, "foaf": FOAF, "void": VOID, "ldes": LDES, "tree": TREE, "rdf": RDF,
    "rdfs": RDFS, "owl": OWL, "xsd": XSD, "sh": SH, "nace": NACE, "nuts": NUTS, "sd": SD,
    "schema": SCHEMA, "as": AS, "hydra": HYDRA,
}

__all__ = ["S3", "S3C", "NACE", "NUTS", "LDES", "TREE", "SD", "SCHEMA", "AS", "HYDRA", "ORG", "SKOS",
           "DCTERMS", "DCAT", "PROV", "FOAF", "VOID", "RDF", "RDFS", "OWL", "XSD", "SH", "PREFIXES"]
