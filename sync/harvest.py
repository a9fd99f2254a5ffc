"""Harvesting peers: gather (HTTP) → check (ownership, SHACL) → apply (one transaction).

For each peer, a run:

1. ``GET /feed`` with the ETag kept from the last run: 304 means nothing changed — one tiny
   request, done.
2. First harvest only: ``GET /dump?format=nt`` with ``X-S3fed-Sequence``, the feed position the
   dump reflects; the checkpoint starts there.
3. The members after the checkpoint K: ``GET /feed/{n}?from=K``, n = (K-1) // P the page holding
   K (P from ``s3:pageSize``) — only the members K… of that page, not the whole page (which costs
   more than the changes: P = 250 members, and 1 % of a 2 000-entity node is 20) — then
   ``tree:relation`` links onward until the newest page. Member K was applied by the last run; it
   comes again so the hub can check it hashes as then (a peer restored from an old backup
   reuses sequence numbers: refused, as are gaps, duplicates and a feed that ends before its
   advertised last sequence). A peer that ignores ``from`` sends the whole page: also accepted.
   What the last run ended on is asked for conditionally.
4. :mod:`sync.apply` builds and checks the changes; data, checkpoint and provenance are written
   all or nothing (:func:`sync.apply.commit`: one update, or for a large first dump one bulk
   load). Any failure before that changes nothing but the error in the state.

Runs of different peers go in parallel threads (``sync.workers``): while the store applies one
write at a time, other peers' bodies are downloaded, parsed and validated (the native parts
release the GIL). Memory stays bounded by the runs in flight — a dump and its triples, a few
MB a peer — because a first harvest's bulk load keeps nothing in the engine's memtables (see
:mod:`sync.apply`). A peer already being harvested (by any thread or process of this hub, a
file lock in ``{data_dir}/locks``) is skipped, not queued.
"""
from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox

from node.store import Graphs, Store

from . import apply, ldes, state
from .http import FetchError, PeerClient
from .locks import try_lock
from .peers import Peer

NT, NQ = "application/n-triples", "application/n-quads"
RDF_ACCEPT = f"{NT}, text/turtle;q=0.9, application/ld+json;q=0.8"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Result:
    peer: str
    ok: bool = False
    error: str | None = None
    mode: str = ""                 # "dump", "feed", "unchanged", "skipped"
    changed: bool = False
    checkpoint: int | None = None
    members: int = 0               # members applied this run
    entities: int = 0              # entities written or deleted
    deleted: int = 0
    foreign: int = 0
    invalid: int = 0
    pages: int = 0
    requests: int = 0
    bytes: int = 0
    not_modified: int = 0
    seconds: float = 0.0
    started: str = ""
    ended: str = ""
    used: list[str] = field(default_factory=list)
    note: str = ""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Gathered:
    dump: list | None = None
    members: list[ldes.Member] = field(default_factory=list)
    checkpoint: int | None = None
    feed_etag: str | None = None
    page_url: str | None = None
    page_etag: str | None = None
    page_digest: str | None = None
    page_size: int | None = None
    unchanged: bool = False


def _lock(cfg: dict, peer_id: str):
    """An exclusive lock on one peer's harvest, across threads *and* processes (the scheduler's
    worker and an on-demand run may be different gunicorn workers on an external store). None
    if another harvest of the peer holds it."""
    return try_lock(Path(cfg["node"]["data_dir"]) / "locks" / f"harvest-{peer_id}.lock")


def gather(client: PeerClient, peer: Peer, st: state.PeerState, res: Result) -> Gathered:
    """Everything the run needs from the peer, checked for completeness. Raises on any doubt."""
    out = Gathered(feed_etag=st.feed_etag, page_url=st.page_url, page_etag=st.page_etag,
                   page_digest=st.page_digest, page_size=st.page_size, checkpoint=st.checkpoint)
    fresh = st.checkpoint is None
    f = client.get(peer.feed, RDF_ACCEPT, None if fresh else st.feed_etag)
    res.used.append(peer.feed)
    if f.not_modified:
        out.unchanged = True
        return out
    stream = ldes.parse_stream(f, peer)
    out.feed_etag, out.page_size = f.etag, stream.page_size
    checkpoint = st.checkpoint
    if fresh:
        out.dump, checkpoint = _dump(client, peer, res)
    if not fresh and stream.last_sequence < checkpoint:  # (a dump may be newer than /feed was)
        raise ldes.FeedError(f"the peer's feed ends at sequence {stream.last_sequence}, before this hub's "
                             f"checkpoint {checkpoint}: the peer was reset or restored from an older "
                             "backup; its data here is kept unchanged")
    # the page holding the checkpoint, from the checkpoint on (see the module doc, step 3)
    n, start = ((checkpoint - 1) // stream.page_size, checkpoint) if checkpoint else (0, None)
    url, reached = ldes.page_url(peer, n, start), checkpoint
    while url:
        conditional = st.page_etag if url == st.page_url and not fresh else None
        p = client.get(url, RDF_ACCEPT, conditional)
        res.pages += 1
        if p.not_modified:  # what the last run ended on, still the same: nothing after it
            out.page_url, out.page_etag = url, conditional
            break
        page = ldes.parse_page(p, peer, stream, n, start)
        _check_unchanged(url, page, checkpoint, None if fresh else st.page_digest)
        out.members += [m for m in page.members if m.seq > checkpoint]
        if page.members and page.members[-1].seq > reached:
            reached = page.members[-1].seq
        if page.members and page.members[-1].seq == reached:
            out.page_digest = _member_digest(page.members[-1])
        out.page_url, out.page_etag = url, p.etag
        url, n, start = page.next_url, n + 1, None
    if reached < stream.last_sequence:
        raise ldes.FeedError(f"the feed announced {stream.last_sequence} members but its pages end at "
                             f"sequence {reached}: pages are missing or changed under the client")
    out.checkpoint = reached
    return out


def _dump(client: PeerClient, peer: Peer, res: Result) -> tuple[list, int]:
    """The peer's dump and the feed sequence it reflects. Asked for as N-Triples (``?format=nt``;
    the graph name of N-Quads is a quarter of the bytes and means nothing here)."""
    d = client.get(f"{peer.dump}?format=nt", f"{NT}, {NQ};q=0.9, text/turtle;q=0.8")
    res.used.append(peer.dump)
    seq = d.headers.get("X-S3fed-Sequence", "")
    if not seq.isdigit():
        raise ldes.FeedError(f"{peer.dump} has no X-S3fed-Sequence header: cannot tell where the feed "
                             "continues after it (is the peer an s3fed node?)")
    dump = ldes.quads(d, "the dump")
    if d.media_type == NQ:  # a peer that ignored ?format=nt: its graph name means nothing here
        dump = [ox.Quad(q.subject, q.predicate, q.object) for q in dump]
    expected = d.headers.get("X-S3fed-Triples", "")
    if expected.isdigit() and len(dump) != int(expected):
        raise ldes.FeedError(f"{peer.dump} holds {len(dump)} triples but announced {expected}: "
                             "the body is incomplete")
    return dump, int(seq)


def _member_digest(m: ldes.Member) -> str:
    """What the state keeps of the member at the checkpoint: its sequence and content digest."""
    return f"{m.seq}:{ldes.digest([m])}"


def _check_unchanged(url: str, page: ldes.Page, checkpoint: int, kept: str | None) -> None:
    """The member at the checkpoint, applied by an earlier run, must be what it was then (a peer
    restored from an older backup reuses sequence numbers for other changes). States written
    before this check (a bare digest, no ``seq:``) are not compared."""
    if not kept or ":" not in kept or not kept.startswith(f"{checkpoint}:"):
        return
    for m in page.members:
        if m.seq == checkpoint and _member_digest(m) != kept:
            raise ldes.FeedError(f"{url}: member {checkpoint}, already applied here, is not what the peer "
                                 "published before — its feed was rewritten")


def harvest_peer(store: Store, graphs: Graphs, cfg: dict, peer: Peer, progress=None) -> Result:
    """Harvest one peer; never raises for the peer's faults (they go to the result and state)."""
    res = Result(peer.id, started=now())
    lock = _lock(cfg, peer.id)
    if lock is None:
        res.mode, res.ok, res.note = "skipped", True, "a harvest of this peer is already running"
        _emit(progress, peer.id, "done", result=res.as_dict())
        return res
    t0 = time.monotonic()
    client = PeerClient(cfg.get("sync", {}), on_fetch=lambda url, n: _emit(progress, peer.id, "fetch", url=url,
                                                                           bytes=n))
    try:
        _emit(progress, peer.id, "start", url=peer.url)
        st = state.load(store, graphs, peer.id)
        st.last_attempt = res.started
        try:
            got = gather(client, peer, st, res)
            changes = None if got.unchanged else apply.build(peer, got.dump, got.members)
        except (FetchError, ldes.FeedError) as e:
            res.error = str(e)
        except Exception as e:  # a bug or an unforeseen body: still the peer's run only
            res.error = f"unexpected {type(e).__name__}: {e}"
        _count(res, client, t0)
        if res.error:
            st.last_error = res.error
            st.last_run = res.as_dict()
            state.save(store, graphs, peer, st)
        else:
            try:
                _commit(store, graphs, peer, st, got, changes, res, client, t0)
                res.ok = True
            except Exception as e:  # the store refused the update: nothing was applied
                res.error = f"could not apply the harvest to the store: {e}"
                st = state.load(store, graphs, peer.id)  # _commit moved the checkpoint in memory only
                st.last_attempt, st.last_error, st.last_run = res.started, res.error, res.as_dict()
                state.save(store, graphs, peer, st)
    finally:
        client.close()
        lock.close()
    _emit(progress, peer.id, "done", result=res.as_dict())
    return res


def _count(res: Result, client: PeerClient, t0: float) -> None:
    res.requests, res.bytes, res.not_modified = client.requests, client.bytes, client.not_modified
    res.seconds = round(time.monotonic() - t0, 3)
    res.ended = now()


def _commit(store, graphs, peer, st, got: Gathered, changes, res: Result, client, t0) -> None:
    res.mode = "unchanged" if got.unchanged else ("dump" if got.dump is not None else "feed")
    st.last_error = None
    st.last_success = st.last_attempt
    st.feed_etag, st.page_url = got.feed_etag, got.page_url
    st.page_etag, st.page_digest, st.page_size = got.page_etag, got.page_digest, got.page_size
    if changes is not None:
        res.changed = changes.changed
        res.members, res.entities, res.deleted = changes.members_applied, len(changes.entities), changes.deleted
        res.foreign, res.invalid = len(changes.foreign), len(changes.invalid)
        st.checkpoint = got.checkpoint
        st.members_applied += changes.members_applied
        st.dropped_foreign = apply.named(changes.foreign)
        st.dropped_foreign_count = len(changes.foreign)
        st.dropped_invalid = changes.invalid[:apply.MAX_NAMED]
    res.checkpoint = st.checkpoint
    _count(res, client, t0)
    sync = state.SyncWrite([], [])
    if res.changed:
        run = f"{graphs.base}/sync/run/{peer.id}/{res.started.replace(':', '').replace('.', '')}-{uuid.uuid4().hex[:8]}"
        st.generated_by = run
        sync += state.provenance_write(graphs, peer, run, res.started, res.ended, res.used)
    st.last_run = res.as_dict()
    apply.commit(store, graphs, peer, changes, sync + state.state_write(graphs, peer, st))  # the state last


def harvest_all(store: Store, graphs: Graphs, cfg: dict, peers: list[Peer], progress=None,
                after_change=None) -> list[Result]:
    """Harvest ``peers`` concurrently; then, if any peer's graph changed, ``after_change()``."""
    if not peers:
        return []
    workers = max(1, min(int(cfg.get("sync", {}).get("workers", 8)), len(peers)))
    def one(peer: Peer) -> Result:
        try:
            return harvest_peer(store, graphs, cfg, peer, progress)
        except Exception as e:  # the hub's own store failed: this peer's run failed, the others go on
            res = Result(peer.id, error=f"the hub could not record this harvest: {type(e).__name__}: {e}")
            _emit(progress, peer.id, "done", result=res.as_dict())
            return res
    with ThreadPoolExecutor(workers, thread_name_prefix="s3fed-harvest") as pool:
        results = list(pool.map(one, peers))
    if any(r.changed for r in results):
        (after_change or run_hooks)(store, graphs, cfg)
    return results


def run_hooks(store: Store, graphs: Graphs, cfg: dict) -> None:
    """Rebuild what depends on harvested data (the cooperation index). A failure is logged:
    a harvest's result never depends on it."""
    import logging

    from .index import build  # late: the index needs scipy, a harvest does not
    try:
        build(store, graphs, cfg)
    except Exception:
        logging.getLogger(__name__).exception("the cooperation index could not be rebuilt after a harvest")


def _emit(progress, peer_id: str, event: str, **info) -> None:
    if progress:
        try:
            progress(peer_id, event, info)
        except Exception:  # a broken progress display must not break a harvest
            pass
