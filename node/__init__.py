"""The s3fed node: a Flask service that publishes one region's S3 as Linked Data.

``create_app(config)`` is the app factory (as in Flask's tutorial): ``config`` is the dict
:func:`node.config.load_config` returns, or a path to an ``s3fed.toml``. One blueprint per
concern: ``entities`` (the /id/ read surface), ``pages`` (landing, VoID, vocabulary, health),
and the JSON API, SPARQL endpoint and change feed as they are registered below.
"""
from __future__ import annotations

import os

from flask import Flask, g

from .config import load_config
from .store import Graphs, open_store

__version__ = "0.1.0"


def create_app(config: dict | str | os.PathLike | None = None) -> Flask:
    cfg = config if isinstance(config, dict) else load_config(config)
    app = Flask(__name__)
    app.config["S3FED"] = cfg
    app.config["MAX_CONTENT_LENGTH"] = int(cfg["limits"]["max_body_bytes"])
    app.json.ensure_ascii = False
    app.extensions["s3fed.store"] = open_store(cfg)
    app.extensions["s3fed.graphs"] = Graphs(cfg["node"]["base_url"])

    from . import entities, pages, problems, templating
    problems.register(app)
    templating.register(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(entities.bp)
    pages.install_vocabulary(app)
    for name in ("api", "sparql", "feed"):  # grown by later parts of the node
        try:
            module = __import__(f"node.{name}", fromlist=["register"])
        except ModuleNotFoundError as e:
            if e.name != f"node.{name}":
                raise
            continue
        if hasattr(module, "register"):
            module.register(app)
    return app


def store():
    """The store of the app handling the current request."""
    from flask import current_app
    return current_app.extensions["s3fed.store"]


def graphs() -> Graphs:
    from flask import current_app
    return current_app.extensions["s3fed.graphs"]


def settings() -> dict:
    from flask import current_app
    return current_app.config["S3FED"]


__all__ = ["create_app", "store", "graphs", "settings", "g"]
