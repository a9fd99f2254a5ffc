"""The WSGI entry point for production servers: ``app``, built from ``$S3FED_CONFIG``.

Used by deploy/gunicorn.conf.py (``wsgi_app = "node.wsgi:app"``), installed with the package.
On a hub (peers configured) it also starts the harvest scheduler; every gunicorn worker
imports this module, and the scheduler's own file lock (``data/scheduler.lock``) lets exactly one
of them run it. ``S3FED_ADMIN_URL`` (set by gunicorn.conf.py from the bind address) is where
``s3fed sync run`` reaches that process over loopback; ``S3FED_SCHEDULER=0`` turns scheduling off
(e.g. a read-only replica that shares the hub's external store).
"""
from __future__ import annotations

import os

from node import create_app

app = create_app(os.environ.get("S3FED_CONFIG"))

if app.config["S3FED"]["peers"] and os.environ.get("S3FED_SCHEDULER", "1") != "0":
    from sync.scheduler import start_for_app

    start_for_app(app, os.environ.get("S3FED_ADMIN_URL") or None)
