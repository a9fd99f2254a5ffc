"""``/peers``: a hub's harvest state for people (HTML) and programs (JSON), and the admin door.

``GET /peers`` lists every configured peer: last success and attempt, triples held, members
applied, checkpoint, the last run's figures (pages, bytes, 304s), what was dropped and why, the
last error, and the PROV-O run that generated the peer's graph.

``POST /peers/run[?peer=ID…]`` harvests now and streams progress as NDJSON (one event per line,
the last one ``{"event": "finished", "results": […]}``). It is how ``s3fed sync run`` reaches a
hub whose store is held by its server. It needs ``Authorization: Bearer`` with either the
serving process's local admin token (in ``{data_dir}/sync-admin.json``, readable only by the
account running the hub) or a write token of this node — never a loopback-address check, which a
reverse proxy would make meaningless.
"""
from __future__ import annotations

import hmac
import json
import logging
import queue
import threading

from flask import Blueprint, Response, current_app, render_template, request

from .peers import PeerConfigError, peers_of, select

bp = Blueprint("peers", __name__, template_folder="templates")


def status(store, graphs, cfg: dict) -> list[dict]:
    """Per configured peer: its state, the triples held, and the provenance of its graph."""
    from . import state
    rows = []
    for p in peers_of(cfg):
        st = state.load(store, graphs, p.id).as_dict()
        st.update(id=p.id, url=p.url, graph=graphs.peer(p.id), triples=store.count(graphs.peer(p.id)),
                  schedule_minutes=p.interval_minutes or cfg.get("sync", {}).get("interval_minutes"),
                  provenance=state.provenance(store, graphs, p.id))
        for secret in ("feed_etag", "page_etag", "page_digest"):
            st.pop(secret, None)  # cursor internals, not status
        rows.append(st)
    return rows


@bp.get("/peers")
def peers():
    from node import graphs, settings, store
    from node.entities import respond
    from node.formats import HTML, JSON, negotiate
    rows = status(store(), graphs(), settings())
    media_type = negotiate([HTML, JSON], default=HTML if request.accept_mimetypes.accept_html else JSON)
    if media_type == HTML:
        return respond(render_template("peers.html", peers=rows), HTML)
    return respond(current_app.json.dumps({"peers": rows}), JSON)


def _authorised() -> bool:
    from node.auth import check_token
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return False
    from .scheduler import read_admin_file
    data_dir = current_app.config["S3FED"]["node"]["data_dir"]
    admin = read_admin_file(data_dir) or {}  # any worker can check it, not only the scheduling one
    for local in (current_app.extensions.get("s3fed.sync_admin_token"), admin.get("token")):
        if local and hmac.compare_digest(str(local), token):
            return True
    return check_token(data_dir, token) is not None


@bp.post("/peers/run")
def run():
    from node import graphs, settings, store
    from node.problems import Problem

    from .harvest import harvest_all
    if not _authorised():
        raise Problem(401, "Unauthorized", "Harvesting on demand needs `Authorization: Bearer <token>`: a write "
                      "token of this hub (`s3fed node token create NAME`), or run `s3fed sync run` on the hub's "
                      "machine.", headers={"WWW-Authenticate": 'Bearer realm="s3fed"'})
    cfg = settings()
    try:
        peers = select(cfg, request.args.getlist("peer"))
    except PeerConfigError as e:
        raise Problem(400, "Bad Request", str(e)) from None
    st, gs, events = store(), graphs(), queue.Queue()

    def work():
        try:
            results = harvest_all(st, gs, cfg, peers, progress=lambda pid, ev, info: events.put(
                {"peer": pid, "event": ev, **info}))
            events.put({"event": "finished", "results": [r.as_dict() for r in results]})
        except Exception as e:  # reported to the caller, who is waiting for the last line
            logging.getLogger(__name__).exception("harvest on demand failed")
            events.put({"event": "finished", "error": f"{type(e).__name__}: {e}", "results": []})

    worker = threading.Thread(target=work, name="s3fed-harvest-on-demand", daemon=True)
    worker.start()

    def lines():
        while True:
            ev = events.get()
            yield json.dumps(ev, ensure_ascii=False) + "\n"
            if ev.get("event") == "finished":
                return
    return Response(lines(), mimetype="application/x-ndjson", headers={"Cache-Control": "no-store"})


def register(app) -> None:
    app.register_blueprint(bp)
