"""What every HTML page needs: labels in the reader's language, short names for terms.

People see labels, never bare IRIs: ``label(graph, node)`` picks the label in the browser's
preferred language (``Accept-Language``), then English, then any.
"""
from __future__ import annotations

import re

from flask import Flask, current_app, request
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDFS, SKOS

import vocab

LABEL_PREDICATES = (SKOS.prefLabel, RDFS.label)


def preferred_languages() -> list[str]:
    langs = [lang.split("-")[0].lower() for lang, _ in request.accept_languages] if request else []
    return [*langs, "en", ""]


def pick(literals, langs: list[str] | None = None) -> str | None:
    """The literal in the first preferred language present, else the first one."""
    literals = [lit for lit in literals if isinstance(lit, Literal)]
    if not literals:
        return None
    by_lang = {(lit.language or "").lower(): str(lit) for lit in sorted(literals)}
    for lang in langs or preferred_languages():
        if lang in by_lang:
            return by_lang[lang]
    return str(sorted(literals)[0])


def label(graph: Graph, node, fallback: bool = True) -> str:
    for p in LABEL_PREDICATES:
        found = pick(graph.objects(node, p))
        if found:
            return found
    vocab_label = pick(vocab.load_vocabulary().objects(node, SKOS.prefLabel)) or \
        pick(vocab.load_vocabulary().objects(node, RDFS.label))
    if vocab_label:
        return vocab_label
    return curie(node) if fallback else ""


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


def register(app: Flask) -> None:
    app.jinja_env.globals.update(label=label, curie=curie, pick=pick, humanize=humanize, URIRef=URIRef)

    @app.context_processor
    def _node_context():
        cfg = current_app.config["S3FED"]
        return {"node_name": cfg["node"]["name"] or cfg["node"]["region"],
                "node_region": cfg["node"]["region"], "base_url": cfg["node"]["base_url"],
                "kinds": vocab.KINDS, "is_hub": bool(cfg["peers"])}
