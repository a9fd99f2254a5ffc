"""The hub's scheduler: APScheduler 3 in the process that owns the store.

Why inside ``node serve`` (or ``sync serve``): the embedded store is opened by one process, so
harvests must run where it is open. Exactly one scheduler per hub: a non-blocking ``flock`` on
``{data_dir}/scheduler.lock`` (held for the life of the process; the kernel drops it if the
process dies) — a second server on the same directory (an external store, several gunicorn
workers) serves without scheduling.

Jobs live in ``sqlite:///{data_dir}/jobs.sqlite`` (``SQLAlchemyJobStore``), so the next run time
survives restarts; ``coalesce`` folds missed runs into one, ``max_instances=1`` never overlaps
runs, and ``misfire_grace_time`` is one interval (a hub that was down longer runs once at start).
Jobs: ``harvest`` for every peer on ``sync.interval_minutes``, and ``harvest:{id}`` for a peer
with its own ``interval_minutes``. The job function is referenced by name and finds the store
through :data:`_runtime`, because a job store can only persist picklable arguments.

Also here: the local admin door. The serving process writes ``{data_dir}/sync-admin.json``
(mode 0600: its URL, pid and a random token), so ``s3fed sync run``/``status`` — which cannot open
the store while it is held — ask this process over loopback instead (``POST /peers/run``).
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .locks import try_lock
from .peers import peers_of, select

log = logging.getLogger(__name__)
JOB_FUNC = "sync.scheduler:scheduled_harvest"
ADMIN_FILE = "sync-admin.json"
_runtime: dict = {}


def scheduled_harvest(peer_ids: list[str] | None = None) -> None:
    """The job: harvest the given peers (None: those without their own schedule)."""
    from .harvest import harvest_all
    if not _runtime:
        log.warning("scheduled harvest skipped: this process has no store open")
        return
    cfg = _runtime["config"]
    peers = select(cfg, peer_ids) if peer_ids else [p for p in peers_of(cfg) if p.interval_minutes is None]
    results = harvest_all(_runtime["store"], _runtime["graphs"], cfg, peers)
    for r in results:
        if r.error:
            log.warning("harvest of %s failed: %s", r.peer, r.error)
        else:
            log.info("harvest of %s: %s, %d members, %d bytes", r.peer, r.mode, r.members, r.bytes)


def acquire_lock(data_dir: str | Path):
    """An open file holding the hub's scheduler lock (with this process's id in it), or None if
    another process has it."""
    fd = try_lock(Path(data_dir) / "scheduler.lock")
    if fd is not None:
        fd.seek(0)
        fd.truncate()
        fd.write(str(os.getpid()))
        fd.flush()
    return fd


def wanted_jobs(cfg: dict) -> dict[str, tuple[float, list | None]]:
    default = float(cfg.get("sync", {}).get("interval_minutes", 60))
    peers = peers_of(cfg)
    jobs: dict[str, tuple[float, list | None]] = {}
    if any(p.interval_minutes is None for p in peers):
        jobs["harvest"] = (default, None)
    for p in peers:
        if p.interval_minutes is not None:
            jobs[f"harvest:{p.id}"] = (p.interval_minutes, [p.id])
    return jobs


class HubScheduler:
    """The scheduler with its lock; :meth:`stop` releases both."""

    def __init__(self, cfg: dict, lock):
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore  # heavy: only where it runs
        from apscheduler.schedulers.background import BackgroundScheduler
        data_dir = Path(cfg["node"]["data_dir"])
        interval = float(cfg.get("sync", {}).get("interval_minutes", 60))
        self.lock = lock
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{data_dir / 'jobs.sqlite'}")},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": max(60, int(interval * 60))},
            timezone=UTC)
        self.cfg = cfg

    def start(self) -> None:
        from apscheduler.triggers.interval import IntervalTrigger
        s = self.scheduler
        s.start(paused=True)  # job store open, nothing runs while the jobs are reconciled
        wanted, now = wanted_jobs(self.cfg), datetime.now(UTC)
        for job in s.get_jobs():
            if job.id.startswith("harvest") and job.id not in wanted:
                job.remove()
        for job_id, (minutes, args) in wanted.items():
            job, interval = s.get_job(job_id), timedelta(minutes=minutes)
            if job and isinstance(job.trigger, IntervalTrigger) and job.trigger.interval == interval \
                    and list(job.args) == list([args] if args else []):
                if job.next_run_time and job.next_run_time < now - interval:
                    job.modify(next_run_time=now)  # down for longer than an interval: catch up now
                continue
            s.add_job(JOB_FUNC, "interval", minutes=minutes, id=job_id, name=f"s3fed {job_id}",
                      args=[args] if args else [], replace_existing=True,
                      next_run_time=job.next_run_time if job else now)
        s.resume()

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.lock:
            self.lock.close()
            self.lock = None


def start(store, graphs, cfg: dict) -> HubScheduler | None:
    """Start the hub's scheduler in this process, unless another process already runs it."""
    if not cfg.get("peers"):
        return None
    lock = acquire_lock(cfg["node"]["data_dir"])
    if lock is None:
        log.warning("another process runs this hub's scheduler (%s); not scheduling here",
                    Path(cfg["node"]["data_dir"]) / "scheduler.lock")
        return None
    _runtime.update(store=store, graphs=graphs, config=cfg)
    hub = HubScheduler(cfg, lock)
    hub.start()
    atexit.register(hub.stop)
    return hub


def start_for_app(app, admin_url: str | None = None) -> HubScheduler | None:
    """Start the scheduler for a Flask app (``node serve``) and open the local admin door."""
    cfg = app.config["S3FED"]
    hub = start(app.extensions["s3fed.store"], app.extensions["s3fed.graphs"], cfg)
    if hub is not None:
        app.extensions["s3fed.scheduler"] = hub
        if admin_url:
            write_admin_file(app, admin_url)
    return hub


def write_admin_file(app, url: str) -> Path:
    token = secrets.token_urlsafe(32)
    app.extensions["s3fed.sync_admin_token"] = token
    path = Path(app.config["S3FED"]["node"]["data_dir"]) / ADMIN_FILE
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "pid": os.getpid(), "token": token}, f)
    tmp.replace(path)

    def _remove():
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass
    atexit.register(_remove)
    return path


def read_admin_file(data_dir: str | Path) -> dict | None:
    """The running hub's admin door, if its process is alive."""
    path = Path(data_dir) / ADMIN_FILE
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info
