"""gunicorn settings for an s3fed node:  gunicorn -c deploy/gunicorn.conf.py

Reads the node's own configuration ($S3FED_CONFIG) to choose the process model:

* embedded store (the default): ONE worker process with threads. The embedded pyoxigraph store
  is opened by one process — a second worker could not open it (the database is locked), and
  the hub's harvests must run where it is open. Threads give concurrency: pyoxigraph releases
  the GIL while it evaluates queries and loads data.
* external SPARQL store (store.kind = "sparql"): several worker processes may share the server.
  Writers on this host take turns through the store's lock file (store.lock_file).

Everything here can be changed by environment variables, so systemd units and containers need
no copy of this file: S3FED_BIND, S3FED_WORKERS (external store only), S3FED_THREADS,
S3FED_TIMEOUT. Command-line options (``--bind`` …) still win over this file, but set the bind
address with S3FED_BIND so the hub's local admin door (``s3fed sync run``) follows it.
"""
import multiprocessing
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if os.path.isdir(os.path.join(ROOT, "node")) and ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # running from a checkout rather than an installed s3fed

from node.config import load_config  # noqa: E402

_cfg = load_config(os.environ.get("S3FED_CONFIG"))  # fails here, with its message, if the file is wrong
_embedded = _cfg["store"]["kind"] == "embedded"

wsgi_app = "node.wsgi:app"     # node/wsgi.py: app = create_app($S3FED_CONFIG)

bind = os.environ.get("S3FED_BIND", "127.0.0.1:8000")   # behind nginx: loopback only

# The embedded store is opened by one process: one worker, concurrency from threads (see above).
# With the external SPARQL store, several workers are fine; 2 × cores + 1 is gunicorn's advice.
workers = 1 if _embedded else int(os.environ.get("S3FED_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("S3FED_THREADS", 8))
worker_class = "gthread"
# preload_app stays False: each worker must open the store itself (an open embedded store or a
# connection pool must not cross a fork), and the scheduler picks its one process by file lock.
preload_app = False

# Longer than limits.sparql_timeout_s (default 20 s), so a slow query gets its 503 problem from
# the node rather than being killed half-way; imports of large files take a while too.
timeout = int(os.environ.get("S3FED_TIMEOUT", max(60, int(float(_cfg["limits"]["sparql_timeout_s"]) * 3))))
graceful_timeout = 30
keepalive = 5
# The node answers 413 itself above limits.max_body_bytes; keep gunicorn's header limits default.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")  # nginx on this host

# gunicorn ≥ 25 opens a control socket in $HOME/.gunicorn; the hardened systemd unit and the
# container give the service no writable home, and s3fed does not use it.
control_socket_disable = True

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("S3FED_LOG_LEVEL", "info")
proc_name = f"s3fed-{_cfg['node']['region'] or 'node'}"

# Where `s3fed sync run` reaches the hub's scheduling process (see node/wsgi.py).
_host, _, _port = bind.rpartition(":")
if not bind.startswith("unix:"):
    _host = "127.0.0.1" if _host in ("0.0.0.0", "", "[::]", "::") else _host
    os.environ.setdefault("S3FED_ADMIN_URL", f"http://{_host}:{_port}")


def on_starting(server):
    if _embedded and int(os.environ.get("S3FED_WORKERS", "1")) != 1:
        server.log.warning("S3FED_WORKERS ignored: the embedded store is served by exactly one worker "
                           "(use store.kind = \"sparql\" for several)")
    server.log.info("s3fed %s: store %s, %d worker(s) × %d threads", _cfg["node"]["base_url"],
                    _cfg["store"]["kind"], workers, threads)
