"""A fake s3fed node for harvest tests: serves a small, valid LDES (``/feed``, pages, ``/dump``)
on a loopback port, and misbehaves on request.

It starts healthy so a hub can harvest it once; a test then sets ``fault`` and the next harvest
meets a peer that is down, slow, failing, lying or rewriting history. Faults (``fault=…``):

``flaky``          the first page request answers 503 with Retry-After: 1 (a retry heals it)
``500``            pages answer HTTP 500 with a problem document
``slow``           every answer waits ``delay`` seconds (past the hub's timeout)
``garbage``        pages are 200 ``application/n-triples`` that do not parse
``truncated``      pages announce a Content-Length and close half-way
``cut``            pages without Content-Length, cut after a whole line (parses, but incomplete)
``oversize``       a page announces more bytes than the hub accepts
``oversize-stream`` the same without Content-Length: only counting while reading catches it
``redirect-loop``  ``/feed`` redirects to itself through two URLs, for ever
``foreign``        new members describe another node's entity (and one of its own): harvest goes on
``invalid``        a new member violates the shapes (a cluster without region): harvest goes on
``rewrite``        an already-published member is changed on the newest page
``gap``            a new member's sequence skips a number
``down``           call :meth:`stop`: the port is closed
"""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

S3 = "https://w3id.org/s3fed/vocab#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
XSD = "http://www.w3.org/2001/XMLSchema#"


def _nt(s: str, p: str, o: str) -> str:
    return f"<{s}> <{p}> {o} .\n"


class FaultyPeer:
    def __init__(self, name: str, clusters: int = 4, page_size: int = 3):
        self.name, self.page_size, self.fault, self.delay, self.flaked = name, page_size, None, 3.0, False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a hub hanging up is expected here
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.members: list[dict] = []  # seq-ordered: {"entity", "triples": [(p, o)], "deleted", "time"}
        self.requests: list[str] = []
        self.add(f"{self.base}/id/region/{name}", [(RDF_TYPE, f"<{S3}Region>"), (f"{S3}nutsCode", f'"{name}"'),
                                                   (f"{S3}country", f'"{name[:2]}"'),
                                                   (f"{SKOS}prefLabel", f'"Region {name}"@en')])
        for i in range(clusters):
            self.add_cluster(f"c{i}")
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # -- data ------------------------------------------------------------------------------
    def add(self, entity: str, triples: list[tuple[str, str]] | None, seq: int | None = None) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        self.members.append({"entity": entity, "triples": triples or [], "deleted": triples is None,
                             "time": stamp, "seq": seq or len(self.members) + 1})

    def add_cluster(self, slug: str, label: str | None = None, base: str | None = None, region: bool = True) -> str:
        base = base or self.base
        uri = f"{base}/id/cluster/{slug}"
        triples = [(RDF_TYPE, f"<{S3}Cluster>"), (f"{SKOS}prefLabel", f'"{label or slug}"@en')]
        if region:
            triples.append((f"{S3}region", f"<{self.base}/id/region/{self.name}>"))
        self.add(uri, triples)
        return uri

    @property
    def last(self) -> int:
        return max((m["seq"] for m in self.members), default=0)

    def member_nt(self, m: dict) -> str:
        v = f"{self.base}/feed/member/{m['seq']}"
        out = _nt(v, "http://purl.org/dc/terms/isVersionOf", f"<{m['entity']}>")
        out += _nt(v, "http://www.w3.org/ns/prov#generatedAtTime", f'"{m["time"]}"^^<{XSD}dateTime>')
        out += _nt(v, f"{S3}sequence", f'"{m["seq"]}"^^<{XSD}integer>')
        if m["deleted"]:
            out += _nt(v, RDF_TYPE, "<https://www.w3.org/ns/activitystreams#Delete>")
        for p, o in m["triples"]:
            out += _nt(v, p, o)
        return out + _nt(f"{self.base}/feed", "https://w3id.org/tree#member", f"<{v}>")

    def stream_nt(self) -> str:
        f = f"{self.base}/feed"
        return (_nt(f, RDF_TYPE, "<https://w3id.org/ldes#EventStream>")
                + _nt(f, f"{S3}pageSize", f'"{self.page_size}"^^<{XSD}integer>')
                + _nt(f, f"{S3}lastSequence", f'"{self.last}"^^<{XSD}integer>')
                + _nt(f, "https://w3id.org/tree#view", f"<{self.base}/feed/0>"))

    def page_nt(self, n: int) -> tuple[str, bool]:
        size, page = self.page_size, f"{self.base}/feed/{n}"
        on_page = [m for m in self.members if n * size < m["seq"] <= (n + 1) * size]
        body = "".join(self.member_nt(m) for m in on_page)
        body += self.stream_nt()
        body += _nt(page, RDF_TYPE, "<https://w3id.org/tree#Node>")
        body += _nt(page, f"{S3}firstSequence", f'"{n * size + 1}"^^<{XSD}integer>')
        full = self.last >= (n + 1) * size
        if full:
            rel = f"{page}#next"
            body += _nt(page, "https://w3id.org/tree#relation", f"<{rel}>")
            body += _nt(rel, "https://w3id.org/tree#node", f"<{self.base}/feed/{n + 1}>")
        return body, full

    def dump_nt(self) -> str:
        latest: dict[str, dict] = {}
        for m in sorted(self.members, key=lambda m: m["seq"]):
            latest[m["entity"]] = m
        return "".join(_nt(m["entity"], p, o) for m in latest.values() if not m["deleted"] for p, o in m["triples"])

    # -- life --------------------------------------------------------------------------------
    def start(self) -> FaultyPeer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


def _handler(peer: FaultyPeer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: closing is how bodies end

        def log_message(self, *args):
            pass

        def send(self, status: int, body: bytes, ctype="application/n-triples", headers=None, length=True):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            if length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            peer.requests.append(self.path)
            fault, path = peer.fault, self.path.split("?")[0]
            if fault == "slow":
                time.sleep(peer.delay)
            if fault == "redirect-loop" and path.startswith("/feed"):
                target = "/loop-b" if path != "/loop-b" else "/feed"
                return self.send(302, b"", headers={"Location": peer.base + target})
            if path == "/loop-b" and fault == "redirect-loop":
                return self.send(302, b"", headers={"Location": peer.base + "/feed"})
            if path == "/feed":
                return self.send(200, peer.stream_nt().encode(), headers={"ETag": f'"{peer.last}-{fault}"'})
            if path == "/dump":
                body = peer.dump_nt().encode()
                return self.send(200, body, headers={"X-S3fed-Sequence": str(peer.last),
                                                     "X-S3fed-Triples": str(body.count(b"\n"))})
            if path.startswith("/feed/") and path[6:].isdigit():
                return self.page(int(path[6:]), fault)
            self.send(404, b"not here", "text/plain")

        def page(self, n: int, fault):
            body, full = peer.page_nt(n)
            data = body.encode()
            headers = {"ETag": f'"p{n}-{len(data)}"',
                       "Cache-Control": "public, max-age=31536000, immutable" if full else "max-age=1"}
            if fault == "flaky" and not peer.flaked:  # one 503, then fine: retries heal it
                peer.flaked = True
                return self.send(503, b"busy", "text/plain", headers={"Retry-After": "1"})
            if fault == "500":
                return self.send(500, b'{"title": "Internal Server Error", "detail": "database on fire"}',
                                 "application/problem+json")
            if fault == "garbage":
                return self.send(200, b"<<<this is not RDF>>> \x00\x01 {[}", headers=headers)
            if fault == "truncated":
                self.send_response(200)
                self.send_header("Content-Type", "application/n-triples")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.connection.shutdown(2)
                return
            if fault == "cut":
                lines = data.splitlines(keepends=True)
                return self.send(200, b"".join(lines[: len(lines) // 2]), headers=headers, length=False)
            if fault in ("oversize", "oversize-stream"):
                padding = b"# " + b"x" * 1000 + b"\n"
                big = data + padding * 400
                return self.send(200, big, headers=headers, length=fault == "oversize")
            self.send(200, data, headers=headers)

    return Handler
