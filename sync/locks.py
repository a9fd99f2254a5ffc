"""Exclusive, non-blocking locks on files: one harvest per peer, one scheduler per hub.

``flock`` rather than a threading lock: the holders may be threads of one process or different
processes (gunicorn workers on an external store), and the kernel releases the lock when its
holder dies, so a crash never leaves a hub locked.
"""
from __future__ import annotations

import fcntl
from pathlib import Path
from typing import IO


def try_lock(path: Path) -> IO | None:
    """The open lock file, held until it is closed; None if another holder has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open(path, "a+")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fd.close()
        return None
    return fd
