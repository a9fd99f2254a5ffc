"""RFC 9457 problem details: every error the node answers is one of these.

A problem says what went wrong in words a person can act on; validation problems carry the
full list of violations in ``errors`` (field or SHACL focus node, path, message), never just
the first one — up to :data:`MAX_ERRORS`, past which the rest are counted.
"""
from __future__ import annotations

from flask import Flask, json, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://w3id.org/s3fed/problems/"
MAX_ERRORS = 1000  # violations listed in one problem; more are counted, not copied


def cap_errors(errors: list) -> list:
    """The first :data:`MAX_ERRORS` violations and a line counting the rest: a body with 100 000
    bad keys must get a problem document, not a 15 MB copy of itself."""
    if len(errors) <= MAX_ERRORS:
        return errors
    more = len(errors) - MAX_ERRORS
    return [*errors[:MAX_ERRORS], {"message": f"… and {more} more problem(s) like these: "
                                              f"only the first {MAX_ERRORS} are listed"}]


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str = "", *, errors: list | None = None,
                 kind: str | None = None, headers: dict | None = None):
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.errors, self.kind, self.headers = errors, kind, headers or {}

    def body(self) -> dict:
        doc = {"type": TYPE_BASE + (self.kind or str(self.status)), "title": self.title,
               "status": self.status, "detail": self.detail or self.title, "instance": request.path}
        if self.errors is not None:
            doc["errors"] = cap_errors(self.errors)
        return doc


def problem_response(p: Problem):
    from flask import current_app
    resp = current_app.response_class(json.dumps(p.body(), ensure_ascii=False, indent=1) + "\n",
                                      status=p.status, mimetype=PROBLEM_JSON)
    resp.headers.update(p.headers)
    return resp


def register(app: Flask) -> None:
    """Turn Problems and every werkzeug HTTP error into problem+json."""
    app.register_error_handler(Problem, problem_response)

    @app.before_request
    def _whole_body_or_413():
        """A body without Content-Length (chunked) is cut at MAX_CONTENT_LENGTH by werkzeug's
        ``get_data()`` without an error: refuse it instead, lest an import store the first part."""
        limit = app.config.get("MAX_CONTENT_LENGTH")
        if limit and request.content_length is None and request.method in ("POST", "PUT", "PATCH"):
            if len(request.get_data(cache=True)) >= limit:
                raise RequestEntityTooLarge()

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        detail = e.description or e.name
        if e.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            detail = f"The request body is larger than this node accepts ({limit} bytes)."
        p = Problem(e.code or 500, e.name, detail, headers=dict(e.get_headers()[1:]) if e.code == 405 else None)
        return problem_response(p)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        app.logger.exception("unhandled error")
        return problem_response(Problem(500, "Internal Server Error",
                                        "The node failed to answer this request; the error is in its log."))
