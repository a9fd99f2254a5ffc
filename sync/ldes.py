"""Reading a peer's LDES: the stream description and its pages, checked before anything is used.

Bodies are parsed with :func:`node.formats.parse` (native parsers, nothing fetched remotely: no
JSON-LD remote contexts, no XML entities). A page is accepted only if it is *complete and
consistent*, because an incremental harvest trusts it to be the whole story after a checkpoint:

* its own description (``tree:Node``, first sequence) is present — it comes last in the
  document, so a body cut at a line boundary fails here;
* its members carry sequences ``n*P+1 …`` without gaps or duplicates, each with one
  ``dcterms:isVersionOf`` IRI and one timestamp;
* a page that links onward is full, and links to the next page of the same feed (never off-site).

Resuming after a checkpoint K, the harvester asks for ``/feed/{n}?from=K`` (n the page holding K;
see :mod:`node.feed`): the members ``K …`` of that page, a node of its own whose
``s3:firstSequence`` is K. A peer that does not know ``from`` (an older s3fed, another server)
answers with the whole page, described as ``/feed/{n}``: :func:`parse_page` accepts either; the
harvester drops the members it already has.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pyoxigraph as ox

from node.formats import BY_MEDIA_TYPE, RdfSyntaxError, parse
from vocab import AS, DCTERMS, LDES, PROV, RDF, S3, TREE

from .http import Fetched
from .peers import Peer

META = {str(DCTERMS.isVersionOf), str(PROV.generatedAtTime), str(S3.sequence)}


class FeedError(Exception):
    """The peer's feed is not usable as published; the message says what is wrong."""


@dataclass
class Stream:
    iri: str
    page_size: int
    last_sequence: int


@dataclass
class Member:
    seq: int
    entity: str
    time: str
    triples: list[ox.Triple] = field(default_factory=list)  # re-subjected to the entity
    deleted: bool = False

    def digest_lines(self) -> list[str]:
        return [f"{self.seq} {self.entity} {self.deleted}"] + sorted(
            f"{t.predicate} {t.object}" for t in self.triples if not isinstance(t.object, ox.BlankNode))


@dataclass
class Page:
    n: int
    members: list[Member]
    next_url: str | None


def page_url(peer: Peer, n: int, start: int | None = None) -> str:
    """Page n of the peer's feed, or (``start``) its members from that sequence on."""
    return f"{peer.url}/feed/{n}" + ("" if start is None else f"?from={start}")


def quads(f: Fetched, what: str) -> list[ox.Quad]:
    fmt = BY_MEDIA_TYPE.get(f.media_type)
    if fmt is None:
        raise FeedError(f"{what} {f.url} came as {f.media_type or 'no Content-Type'}, not RDF")
    try:
        return parse(f.body, fmt, base_iri=f.url, source=f.url)
    except RdfSyntaxError as e:
        detail = str(e).split(f"{fmt.media_type}: ", 1)[-1][:300]
        raise FeedError(f"{what} {f.url} does not parse as {fmt.media_type} (a truncated or garbage "
                        f"body): {detail}") from None


def _index(qs: list[ox.Quad]) -> dict[str, dict[str, list]]:
    by_s: dict[str, dict[str, list]] = {}
    for q in qs:
        by_s.setdefault(str(q.subject), {}).setdefault(q.predicate.value, []).append(q.object)
    return by_s


def _one_int(values, what: str) -> int:
    if not values or len(values) != 1 or not isinstance(values[0], ox.Literal):
        raise FeedError(f"{what}: expected one number, found {len(values or [])}")
    try:
        return int(values[0].value)
    except ValueError:
        raise FeedError(f"{what}: {values[0].value!r} is not a number") from None


def parse_stream(f: Fetched, peer: Peer) -> Stream:
    idx = _index(quads(f, "the feed"))
    iri = peer.feed
    desc = idx.get(f"<{iri}>")
    if not desc or str(LDES.EventStream) not in [o.value for o in desc.get(str(RDF.type), [])]:
        found = [s for s, d in idx.items() if str(LDES.EventStream) in [o.value for o in d.get(str(RDF.type), [])]]
        hint = (f"it describes {found[0]} instead: the peer's base_url differs from the url in this hub's "
                "[[peers]] entry — they must be the same") if found else "no ldes:EventStream found"
        raise FeedError(f"{f.url} is not the feed <{iri}>: {hint}")
    size = _one_int(desc.get(str(S3.pageSize)), f"{f.url} s3:pageSize")
    last = _one_int(desc.get(str(S3.lastSequence)), f"{f.url} s3:lastSequence")
    if size < 1 or last < 0:
        raise FeedError(f"{f.url}: page size {size} / last sequence {last} make no sense")
    return Stream(iri, size, last)


def parse_page(f: Fetched, peer: Peer, stream: Stream, n: int, start: int | None = None) -> Page:
    """Page n, asked for whole or (``start``) from that sequence on; either answer is accepted."""
    url, size = page_url(peer, n, start), stream.page_size
    idx = _index(quads(f, "feed page"))
    expected, node = start, idx.get(f"<{url}>") if start is not None else None
    if node is None:  # the whole page (also what a peer that ignores ?from= sends)
        url, expected = page_url(peer, n), n * size + 1
        node = idx.get(f"<{url}>")
    if not node or str(TREE.Node) not in [o.value for o in node.get(str(RDF.type), [])]:
        raise FeedError(f"{url} is incomplete: its tree:Node description (at the end of the page) is "
                        "missing — the body was cut off, or this is not an s3fed feed page")
    first = _one_int(node.get(str(S3.firstSequence)), f"{url} s3:firstSequence")
    if first != expected:
        raise FeedError(f"{url} starts at sequence {first}, expected {expected} (page size {size}): "
                        "the peer's pages changed under the client")
    members = []
    for m in idx.get(f"<{stream.iri}>", {}).get(str(TREE.member), []):
        members.append(_member(m, idx.get(str(m), {}), url))
    members.sort(key=lambda m: m.seq)
    seqs = [m.seq for m in members]
    if seqs != list(range(first, first + len(seqs))):
        raise FeedError(f"{url} has member sequences {_ranges(seqs)}, expected {first}…{first + len(seqs) - 1} "
                        "without gaps or duplicates: the page changed under the client or is corrupt")
    if seqs and seqs[-1] > (n + 1) * size:
        raise FeedError(f"{url} has members up to sequence {seqs[-1]}, past page {n}'s last, {(n + 1) * size}")
    next_url = None
    for rel in node.get(str(TREE.relation), []):
        targets = idx.get(str(rel), {}).get(str(TREE.node), [])
        for t in targets:
            next_url = t.value
    if next_url is not None:
        if next_url != page_url(peer, n + 1):
            raise FeedError(f"{url} links to {next_url}, not to the next page of this feed")
        if first + len(seqs) - 1 != (n + 1) * size:
            raise FeedError(f"{url} links onward but holds {len(seqs)} of its {(n + 1) * size - first + 1} members")
    return Page(n, members, next_url)


def _member(m, desc: dict, url: str) -> Member:
    if not isinstance(m, ox.NamedNode):
        raise FeedError(f"{url}: a member is a blank node; members must be version IRIs")
    seq = _one_int(desc.get(str(S3.sequence)), f"{url} member <{m.value}> s3:sequence")
    of = desc.get(str(DCTERMS.isVersionOf), [])
    times = desc.get(str(PROV.generatedAtTime), [])
    if len(of) != 1 or not isinstance(of[0], ox.NamedNode) or len(times) != 1:
        raise FeedError(f"{url}: member <{m.value}> needs one dcterms:isVersionOf IRI and one prov:generatedAtTime")
    entity = of[0]
    deleted = str(AS.Delete) in [o.value for o in desc.get(str(RDF.type), [])]
    triples = [] if deleted else [ox.Triple(entity, ox.NamedNode(p), o)
                                  for p, objs in desc.items() if p not in META for o in objs]
    return Member(seq, entity.value, times[0].value, triples, deleted)


def _ranges(seqs: list[int]) -> str:
    return ", ".join(map(str, seqs[:12])) + (" …" if len(seqs) > 12 else "") if seqs else "none"


def digest(members: list[Member]) -> str:
    h = hashlib.sha256()
    for m in sorted(members, key=lambda m: m.seq):
        for line in m.digest_lines():
            h.update(line.encode() + b"\n")
    return h.hexdigest()
