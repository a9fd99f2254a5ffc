"""The s3fed node: a Flask service that publishes one region's S3 as Linked Data.

``create_app(config)`` is the app factory (as in Flask's tutorial): ``config`` is the dict
:func:`node.config.load_config` returns, or a path to an ``s3fed.toml``. One blueprint per
concern: ``entities`` (the /id/ read surface), ``pages`` (landing, VoID, vocabulary, dump,
health), ``api`` (JSON API and OpenAPI), ``sparql``, ``feed`` and ``search``; a hub (a node with peers)
adds the harvest state, the cooperation index and the comparative study from ``sync/``.
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

    from . import api, entities, feed, pages, problems, search, sparql, templating
    problems.register(app)
    templating.register(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(entities.bp)
    pages.install_vocabulary(app)
    api.register(app)
    sparql.register(app)
    feed.register(app)
    search.register(app)
    if cfg["peers"]:  # a hub: harvest state, cooperation index, comparative study, network picture
        from sync import index_web, network_web, study_web, web
        for module in (web, index_web, study_web, network_web):
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
