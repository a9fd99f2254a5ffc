"""The shared s3fed vocabulary: namespaces, entity kinds, data files, cached loaders, validator.

The vocabulary itself lives in data files next to this module, because other regions' nodes (in any
language) read them too: ``ontology.ttl`` (OWL/RDFS terms), ``concepts/*.ttl`` (SKOS concept
schemes: actor roles, cluster types, funding instruments, policy objectives, criteria, fulfilment
levels, collaboration types, technologies, FORD fields, NACE Rev. 2, triple-helix spheres),
``shapes.ttl`` (SHACL: what data must look like) and ``context.jsonld`` (JSON-LD 1.1 context).

The loaders parse each file once per process and hand out the same object every time: parsing the
vocabulary costs tens of milliseconds and every page, import and validation needs it. **Callers
must not mutate what they get** (copy first: ``g = Graph(); g += load_vocabulary()``).
"""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path

from rdflib import Graph

from .kinds import KIND_OF_CLASS, KINDS, Kind
from .namespaces import *  # noqa: F403  (the namespaces are part of this package's API)
from .namespaces import PREFIXES
from .namespaces import __all__ as _NAMESPACES

VOCAB_DIR = Path(__file__).resolve().parent
ONTOLOGY_FILE = VOCAB_DIR / "ontology.ttl"
SHAPES_FILE = VOCAB_DIR / "shapes.ttl"
CONTEXT_FILE = VOCAB_DIR / "context.jsonld"
CONCEPTS_DIR = VOCAB_DIR / "concepts"


def _read_version() -> str:
    """The ontology's owl:versionInfo, read from the file's text so importing stays cheap
    (a test checks it against the parsed graph)."""
    m = re.search(r'owl:versionInfo\s+"([^"]+)"', ONTOLOGY_FILE.read_text(encoding="utf-8"))
    if not m:
        raise RuntimeError(f"{ONTOLOGY_FILE} has no owl:versionInfo")
    return m.group(1)


VERSION: str = _read_version()

_lock = threading.RLock()  # re-entrant: one cached value may be built from another
_cache: dict[str, object] = {}


def _cached(key: str, build):
    """Build once per process, even when several threads ask at the same time."""
    try:
        return _cache[key]
    except KeyError:
        with _lock:
            if key not in _cache:
                _cache[key] = build()
            return _cache[key]


def _bind(g: Graph) -> Graph:
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns, override=True)
    return g


def concept_files() -> list[Path]:
    """The concept scheme files, in a stable order."""
    return sorted(CONCEPTS_DIR.glob("*.ttl"))


def _build_vocabulary() -> Graph:
    g = _bind(Graph())
    g.parse(ONTOLOGY_FILE, format="turtle")
    for f in concept_files():
        g.parse(f, format="turtle")
    return g


def load_vocabulary() -> Graph:
    """Ontology plus every concept scheme, as one graph. Cached: do not mutate it."""
    return _cached("vocabulary", _build_vocabulary)


def load_shapes() -> Graph:
    """The SHACL shapes graph. Cached: do not mutate it."""
    return _cached("shapes", lambda: _bind(Graph()).parse(SHAPES_FILE, format="turtle"))


def context() -> dict:
    """The JSON-LD context document, ``{"@context": {...}}``. Cached: do not mutate it."""
    return _cached("context", lambda: json.loads(CONTEXT_FILE.read_text(encoding="utf-8")))


from .validation import ValidationReport, Violation, validate  # noqa: E402  (needs the loaders above)

__all__ = ["KINDS", "KIND_OF_CLASS", "VERSION", "VOCAB_DIR", "Kind", "ValidationReport", "Violation", "concept_files",
           "context", "load_shapes", "load_vocabulary", "validate"]
__all__ += _NAMESPACES
