"""SHACL validation of s3fed data, with reports a person can act on: :func:`validate`.

Import, harvest, the JSON API's writes and ``s3fed vocab check`` all call it. The shared shapes
(``shapes.ttl``) are checked on the data with the vocabulary mixed in, so concept values are
checked against the concept schemes (``sh:class s3:ClusterType`` …) while links to other entities
only need to be IRIs.

Two engines give the same results (tests/test_validation.py compares them on every fixture, the
demo data, synthetic data and a table of broken entities):

* ``"native"`` (default, :mod:`.shacl_native`): the shapes compiled to SPARQL and run by pyoxigraph —
  about the cost of loading the data into pyoxigraph, so bulk imports and harvests can afford it;
* ``"pyshacl"`` (:mod:`.shacl_pyshacl`): the reference, 0.1–0.2 ms per triple.

They differ only where pyshacl follows Python rather than XSD on malformed literals (see
:data:`vocab.shapes_sparql.DATATYPE_OK`) and in how a non-canonical literal is shown as a value
(``"01"^^xsd:integer``: pyoxigraph shows "1", rdflib sometimes keeps "01").

The result types live in :mod:`.report` and are re-exported here.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Literal as Choice

import pyoxigraph as ox
from rdflib import Graph

from . import rdfterms
from .report import Found, ValidationReport, Violation, curie

__all__ = ["ENGINES", "Found", "ValidationReport", "Violation", "curie", "validate"]

ENGINES = ("native", "pyshacl")


def validate(data: Graph | bytes | Iterable[ox.Triple | ox.Quad],
             engine: Choice["native", "pyshacl"] = "native") -> ValidationReport:
    """Validate ``data`` against the s3fed shapes; ``data`` itself is not modified.

    ``data`` is an rdflib Graph, N-Triples as bytes, or pyoxigraph Triples or Quads (a list, or any
    iterable; the graph names of quads are ignored: everything is validated as one graph). Bulk
    callers should pass what they have, pyoxigraph terms or bytes: no rdflib conversion is made
    for the native engine. Every result is reported, Violations and Warnings, sorted by focus node
    then path.

    An rdflib Graph can hold terms RDF forbids (language tag "I", lone surrogates: the JSON API
    builds graphs from user input); pyoxigraph refuses them, so such a graph goes to pyshacl,
    which validates it as it always did (the shapes then usually refuse the entity).
    """
    if isinstance(data, str):
        raise TypeError("vocab.validate takes N-Triples as bytes, not str")
    if engine == "native":
        from . import shacl_native
        try:
            return shacl_native.validate(data)
        except shacl_native.Unrepresentable:  # see above: pyshacl takes it, as it always did
            engine = "pyshacl"
    if engine == "pyshacl":
        from . import shacl_pyshacl
        return shacl_pyshacl.validate(to_rdflib(data))
    raise ValueError(f"unknown validation engine {engine!r}; engines are {', '.join(ENGINES)}")


def to_rdflib(data) -> Graph:
    """``data`` as in :func:`validate`, as an rdflib Graph (blank node labels kept)."""
    if isinstance(data, Graph):
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = ox.parse(bytes(data), format=ox.RdfFormat.N_TRIPLES)
    return rdfterms.to_rdflib(data)
