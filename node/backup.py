"""Online backups (``POST /api/v1/backups``): a consistent copy of the running node's store.

Why an endpoint: the embedded database belongs to the node's process. Another process may not
open it for writing (it is locked), and opening it read-only while the node writes is undefined
behaviour in pyoxigraph — so the only safe online copy is one the node makes itself. It is a
RocksDB checkpoint (:meth:`node.store.Store.checkpoint`): hard links to the immutable table
files, made in a moment whatever the store's size, holding every write committed before the
call. Restoring is putting the folder in place of ``data/store`` while the node is stopped.
"""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from . import settings, store
from .problems import Problem


class BackupSchema(Schema):
    path = fields.String(required=True, metadata={"description": "The backup's folder, on the node's machine"})
    created = fields.DateTime(required=True, metadata={"description": "When it was made (UTC)"})


def make_backup(data_dir: str | Path) -> dict:
    """Checkpoint the store into ``{data_dir}/backups/store-{UTC time}``."""
    st = store()
    if not hasattr(st, "checkpoint") or st.path is None:  # the external server, or an in-memory store
        raise Problem(501, "Not Implemented", "This node's store is not an embedded database on disk: back up "
                      "the external Oxigraph server instead (deploy/README.md, section 7).")
    created = datetime.now(UTC).replace(microsecond=0)
    folder = Path(data_dir).resolve() / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    target, n = folder / f"store-{created:%Y%m%dT%H%M%SZ}", 1
    while target.exists():  # two in the same second
        n += 1
        target = folder / f"store-{created:%Y%m%dT%H%M%SZ}-{n}"
    st.checkpoint(target)
    return {"path": str(target), "created": created}


def backup_blueprint(writes) -> Blueprint:
    """``writes`` marks the operation as needing a token (node.api's decorator)."""
    blp = Blueprint("backups", __name__, url_prefix="/api/v1/backups",
                    description="Consistent copies of the node's store, made while it runs.")

    @blp.route("")
    class Backups(MethodView):
        @writes(blp, 501)
        @blp.doc(summary="Back up the store", description=(
            "Makes a consistent copy of the whole store (data, change feed, a hub's harvests and index) in "
            "`backups/` of the node's directory, in a moment whatever its size (hard links). To restore: stop "
            "the node and put the folder in place of `data/store`."))
        @blp.response(201, BackupSchema)
        def post(self):
            return make_backup(settings()["node"]["data_dir"])

    return blp
