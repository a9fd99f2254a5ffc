"""The peer registry: which nodes a hub harvests, read from its ``s3fed.toml``.

::

    [[peers]]
    id = "ITC4"                      # names the peer's graph: {hub}/graph/peer/ITC4
    url = "http://127.0.0.1:5102"    # the peer's base_url: it may only describe {url}/id/…
    interval_minutes = 15            # optional: its own schedule instead of sync.interval_minutes

The id becomes part of IRIs, so it is restricted to IRI-safe characters here, once, with a message.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class PeerConfigError(ValueError):
    """A ``[[peers]]`` entry cannot be used; the message names it."""


@dataclass(frozen=True)
class Peer:
    id: str
    url: str
    interval_minutes: float | None = None

    @property
    def owned_prefix(self) -> str:
        """Subjects this peer may describe (DESIGN.md: a peer describes only its own entities)."""
        return f"{self.url}/id/"

    @property
    def feed(self) -> str:
        return f"{self.url}/feed"

    @property
    def dump(self) -> str:
        return f"{self.url}/dump"


def peers_of(cfg: dict) -> list[Peer]:
    out = []
    for entry in cfg.get("peers", []):
        pid, url = str(entry["id"]), str(entry["url"]).rstrip("/")
        if not ID.fullmatch(pid):
            raise PeerConfigError(f"peer id {pid!r} must be letters, digits, '.', '_' or '-' "
                                  "(it names the peer's graph)")
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
            raise PeerConfigError(f"peer {pid}: url must be the node's http(s) base URL, got {url!r}")
        interval = entry.get("interval_minutes")
        out.append(Peer(pid, url, float(interval) if interval else None))
    return out


def select(cfg: dict, ids: list[str] | tuple[str, ...] | None) -> list[Peer]:
    """The configured peers, or those named in ``ids`` (unknown names are an error)."""
    peers = peers_of(cfg)
    if not ids:
        return peers
    known = {p.id: p for p in peers}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise PeerConfigError(f"no peer {', '.join(unknown)} in this hub's configuration; peers are: "
                              + (", ".join(known) or "none"))
    return [known[i] for i in ids]
