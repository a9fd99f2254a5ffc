"""HTTP for harvests: one configured ``requests.Session`` per peer run, bounded in every way.

Why each bound exists — a peer is another organisation's server, and the hub must survive it:

* retries with back-off (urllib3 ``Retry``, ``sync.retries``) on connection errors, read timeouts and
  502/503/504 only, honouring ``Retry-After`` up to 30 s: transient trouble heals itself, a 500 or
  a bad body fails fast;
* ``sync.timeout_s`` for connecting and for each read, plus a whole-body deadline (ten times
  that, at least a minute), so a slow drip cannot hold a worker for ever;
* ``sync.max_bytes`` for everything one run of one peer downloads, counted while streaming
  (after decompression, so a gzip bomb stops too) and refused from ``Content-Length`` up front;
* at most 10 redirects (``TooManyRedirects`` becomes "redirect loop");
* conditional requests: the caller passes the ETag it kept, a 304 costs a few hundred bytes.

Every failure is a :class:`FetchError` whose message names the URL and the cause in words an
operator can act on; ``sync status`` shows it as is.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from node import __version__

CHUNK = 65536


class _Retry(Retry):
    """Honours ``Retry-After``, but never for longer than 30 s: a peer must not park a harvest."""

    MAX_WAIT = 30.0

    def get_retry_after(self, response):
        after = super().get_retry_after(response)
        return None if after is None else min(after, self.MAX_WAIT)


class FetchError(Exception):
    """A request to a peer failed; the message says where and why."""


@dataclass
class Fetched:
    url: str            # after redirects
    status: int         # 200 or 304
    body: bytes
    headers: dict
    etag: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def media_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def immutable(self) -> bool:
        return "immutable" in self.headers.get("Cache-Control", "")


class PeerClient:
    """Fetches from one peer within the run's budgets; counts requests, pages and bytes."""

    def __init__(self, sync_cfg: dict, on_fetch=None):
        self.timeout = float(sync_cfg.get("timeout_s", 30.0))
        self.budget = int(sync_cfg.get("max_bytes", 200_000_000))
        self.deadline_s = max(60.0, 10 * self.timeout)
        retries = int(sync_cfg.get("retries", 3))
        retry = _Retry(total=retries, connect=retries, read=retries, status=retries, other=0,
                      backoff_factor=float(sync_cfg.get("backoff_s", 0.5)), backoff_max=30,
                      status_forcelist=(502, 503, 504), allowed_methods=frozenset({"GET"}),
                      respect_retry_after_header=True, raise_on_status=False, raise_on_redirect=False)
        self.session = requests.Session()
        self.session.max_redirects = 10
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = f"s3fed/{__version__} (harvester; +https://w3id.org/s3fed)"
        self.requests = self.bytes = self.not_modified = 0
        self.on_fetch = on_fetch

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, accept: str, etag: str | None = None) -> Fetched:
        headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        self.requests += 1
        started = time.monotonic()
        try:
            with self.session.get(url, headers=headers, timeout=self.timeout, stream=True) as r:
                if r.status_code == 304:
                    self.not_modified += 1
                    self._count(url, 0)
                    return Fetched(r.url, 304, b"", dict(r.headers), r.headers.get("ETag") or etag)
                if r.status_code != 200:
                    raise FetchError(f"{url} answered HTTP {r.status_code} {r.reason or ''}".rstrip()
                                     + _detail(r))
                length = r.headers.get("Content-Length")
                if length and length.isdigit() and self.bytes + int(length) > self.budget:
                    raise FetchError(f"{url} is {int(length)} bytes, over this run's limit of "
                                     f"{self.budget} bytes (sync.max_bytes)")
                chunks = []
                for chunk in r.iter_content(CHUNK):
                    self.bytes += len(chunk)
                    if self.bytes > self.budget:
                        raise FetchError(f"{url}: the download passed this run's limit of {self.budget} "
                                         "bytes (sync.max_bytes); stopped reading")
                    if time.monotonic() - started > self.deadline_s:
                        raise FetchError(f"{url} was still sending after {self.deadline_s:g} s; stopped reading")
                    chunks.append(chunk)
                body = b"".join(chunks)
                self._count(url, len(body))
                return Fetched(r.url, 200, body, dict(r.headers), r.headers.get("ETag"))
        except FetchError:
            raise
        except requests.TooManyRedirects:
            raise FetchError(f"{url}: redirect loop (more than {self.session.max_redirects} redirects)") from None
        except requests.ConnectTimeout:
            raise FetchError(f"{url}: could not connect within {self.timeout:g} s") from None
        except (requests.ReadTimeout, requests.Timeout):
            raise FetchError(f"{url}: no answer within {self.timeout:g} s (sync.timeout_s)") from None
        except requests.exceptions.RetryError as e:
            raise FetchError(f"{url}: still failing after retries ({_reason(e)})") from None
        except requests.ConnectionError as e:  # also a read timeout once retries are spent
            reason = _reason(e)
            if "timed out" in reason.lower():
                raise FetchError(f"{url}: no answer within {self.timeout:g} s (sync.timeout_s)") from None
            raise FetchError(f"{url}: cannot connect ({reason})") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as e:
            raise FetchError(f"{url}: the body was cut off or corrupt ({_reason(e)})") from None
        except requests.RequestException as e:
            raise FetchError(f"{url}: {_reason(e)}") from None

    def _count(self, url: str, n: int) -> None:
        if self.on_fetch:
            self.on_fetch(url, n)


def _detail(r: requests.Response) -> str:
    """The first words of a problem document or error page, so status says more than '500'."""
    try:
        text = next(r.iter_content(2048), b"").decode("utf-8", "replace")
    except requests.RequestException:
        return ""
    text = " ".join(text.split())[:200]
    return f": {text}" if text else ""


def _reason(e: Exception) -> str:
    """The innermost cause of a requests/urllib3 error, without the object reprs."""
    inner = e
    while True:
        nxt = getattr(inner, "reason", None)
        if nxt is None and inner.args and isinstance(inner.args[0], Exception):
            nxt = inner.args[0]
        if nxt is None or nxt is inner or not isinstance(nxt, Exception):
            break
        inner = nxt
    text = str(inner)
    if "Connection refused" in text:
        return "connection refused: is the node running at that address?"
    if "IncompleteRead" in text or "incomplete" in text.lower():
        return "the connection closed before the announced length arrived"
    return text.split(": ", 1)[-1][:300]
