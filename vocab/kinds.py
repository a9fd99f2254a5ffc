"""The kinds of entity a node publishes: URL segment ↔ RDF class, defined once.

``/id/{kind}/{slug}`` URIs, the ``/api/v1/{kind}`` resources and the collection pages all take
their list of kinds from here.
"""
from dataclasses import dataclass

from rdflib import URIRef

from .namespaces import ORG, S3


@dataclass(frozen=True)
class Kind:
    name: str          # URL segment, e.g. "working-group"
    rdf_class: URIRef  # e.g. s3:WorkingGroup
    label: str         # English, for people ("Working group")
    plural: str


KINDS = {k.name: k for k in [
    Kind("region", S3.Region, "Region", "Regions"),
    Kind("strategy", S3.Strategy, "Strategy", "Strategies"),
    Kind("domain", S3.PriorityDomain, "Priority domain", "Priority domains"),
    Kind("cluster", S3.Cluster, "Cluster", "Clusters"),
    Kind("actor", S3.Actor, "Actor", "Actors"),
    Kind("membership", ORG.Membership, "Membership", "Memberships"),
    Kind("working-group", S3.WorkingGroup, "Working group", "Working groups"),
    Kind("action", S3.Action, "Action", "Actions"),
    Kind("funding", S3.Funding, "Funding", "Funding"),
    Kind("collaboration", S3.Collaboration, "Collaboration", "Collaborations"),
    Kind("assessment", S3.CriterionAssessment, "Criterion assessment", "Criterion assessments"),
]}

KIND_OF_CLASS = {k.rdf_class: k for k in KINDS.values()}
