"""The JSON API (``/api/v1``): one resource per kind, generated from the profiles, and bulk import.

flask-smorest ``Blueprint`` + ``MethodView``: each kind's generated marshmallow schema
(:mod:`node.schemas`) validates the request, serialises the response and documents both in
``/openapi.json``. Every write takes the road an RDF import takes — schema, identity check,
SHACL, then :func:`node.changes.commit` (one transaction with its feed event) — so the JSON
door and the RDF door accept exactly the same data, and a refused write changes nothing.
Reads are public; writes need a bearer token (:func:`node.auth.require_token`). Errors are
RFC 9457 problems (:mod:`node.problems`), never flask-smorest's own error format.
"""
from __future__ import annotations

import json
from http import HTTPStatus

from flask import Flask, current_app, g, render_template, request
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request

import vocab
from vocab.kinds import KINDS

from . import api_ops as ops
from . import csv_import, settings
from .auth import require_token
from .backup import backup_blueprint
from .formats import BY_NAME, TRIPLE_FORMATS, UnsupportedMediaType, format_for_upload, json_depth
from .importer import MAX_IMPORT_TRIPLES, ImportRefused, run_import
from .problems import PROBLEM_JSON, Problem
from .schemas import (
    EntitySchema,
    ImportResultSchema,
    ProblemSchema,
    entity_schema,
    flatten,
    list_args_schema,
    page_schema,
)

BEARER = [{"bearerAuth": []}]
CSV = "text/csv"
UPLOAD_TYPES = [f.media_type for f in TRIPLE_FORMATS] + [CSV]


class NodeApi(Api):
    """flask-smorest's Api, answering and documenting errors as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self):
        """Nothing: node.problems already turns every error into problem+json."""

    def _register_responses(self):
        for status in [s for s in HTTPStatus if s >= 400] + ["DEFAULT_ERROR"]:
            name = getattr(status, "name", status)
            self.spec.components.response(name, {
                "description": getattr(status, "phrase", "Any other error, as RFC 9457 problem details"),
                "content": {PROBLEM_JSON: {"schema": ProblemSchema}}}, lazy=True)


class Parser(FlaskParser):
    """webargs' parser, with the node's limits on JSON and every field error in one problem."""

    def load_json(self, req, schema):
        body = req.get_data(cache=True)
        if not body:
            return missing
        if not is_json_request(req):
            raise Problem(415, "Unsupported Media Type", f"Send this body as application/json, not {req.mimetype!r}.")
        limit = settings()["limits"]["max_json_depth"]
        too_deep = Problem(400, "Bad Request", f"JSON nested deeper than {limit} levels is refused.")
        try:
            doc = json.loads(body)
        except RecursionError:
            raise too_deep from None
        except (ValueError, UnicodeDecodeError) as e:  # includes ints longer than Python accepts
            raise Problem(400, "Bad Request", f"The body is not valid JSON: {e}") from None
        if json_depth(doc) > limit:
            raise too_deep
        g.s3fed_json = doc
        return doc

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        """Field errors of a body also get the SHACL report of the fields that were valid."""
        status = error_status_code or 422
        messages = error.messages  # webargs nests them under the location ("json", "query")
        if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in self.__location_map__:
            error.messages = messages = next(iter(messages.values()))
        errors = ops.refusal_errors(schema, error) if isinstance(schema, EntitySchema) else flatten(messages)
        raise Problem(status, HTTPStatus(status).phrase, f"{len(errors)} problem(s) in the request; "
                      "nothing was changed.", errors=errors)


class ApiBlueprint(Blueprint):
    ARGUMENTS_PARSER = Parser()


def _writes(blp: Blueprint, *statuses: int):
    """Auth first (so a stranger gets 401, not a validation report), then the documentation of
    the bearer scheme and of the problems a write can answer."""
    def decorator(fn):
        for status in (401, 403, *statuses):
            fn = blp.alt_response(status, HTTPStatus(status).name)(fn)
        return require_token(blp.doc(security=BEARER)(fn))
    return decorator


def kind_blueprint(kind: str, limits: dict) -> Blueprint:
    """The ``/api/v1/{kind}`` resources of one kind, generated from its profile."""
    k = KINDS[kind]
    schema, patch_schema = entity_schema(kind), entity_schema(kind, patch=True)
    args = list_args_schema(kind, limits["page_size"], limits["max_page_size"])
    blp = ApiBlueprint(kind, __name__, url_prefix=f"/api/v1/{kind}",
                       description=f"{k.plural} ({k.rdf_class}). The JSON form is the '{kind}' profile.")
    one = f"one {k.label.lower()}"

    @blp.route("")
    class Collection(MethodView):
        @blp.doc(summary=f"List {k.plural.lower()}", description="Paged; filter by link fields "
                 "(`?region=IRI`) and by label text (`?q=`). Links to other pages are in the body "
                 "and in the `Link` header.")
        @blp.arguments(args, location="query", error_status_code=400)
        @blp.response(200, page_schema(kind), headers={"Link": {"description": "RFC 8288 first/last/next/prev",
                                                                 "schema": {"type": "string"}}})
        def get(self, query):
            body = ops.list_page(kind, query)
            return body, 200, {"Link": ops.link_header(body)}

        @_writes(blp, 400, 409, 413, 415)
        @blp.doc(summary=f"Create {one}", description="The slug comes from `slug`, else from the label "
                 "(or the required links). 409 if it exists. Checked like an import: schema, identity, SHACL.")
        @blp.arguments(schema)
        @blp.response(201, schema, headers={"Location": {"description": "The new resource",
                                                          "schema": {"type": "string"}}})
        def post(self, data):
            body = ops.create(kind, data)
            return body, 201, {"Location": f"{settings()['node']['base_url']}/api/v1/{kind}/{body['slug']}"}

    @blp.route("/<slug>")
    class Item(MethodView):
        @blp.doc(summary=f"Read {one}")
        @blp.alt_response(404, "NOT_FOUND")
        @blp.response(200, schema)
        def get(self, slug):
            return ops.read(kind, slug)

        @_writes(blp, 400, 404, 413, 415)
        @blp.doc(summary=f"Replace {one}", description="The whole JSON form; `id`, `type` and `slug` may be "
                 "sent back unchanged. Triples outside the profile (from RDF imports) are kept.")
        @blp.arguments(schema)
        @blp.response(200, schema)
        def put(self, data, slug):
            return ops.replace(kind, slug, data)

        @_writes(blp, 400, 404, 413, 415)
        @blp.doc(summary=f"Change {one}", description="JSON merge patch (RFC 7396): the fields sent replace "
                 "the current ones, `null` removes one; the result is then checked as a whole and replaces it.")
        @blp.arguments(patch_schema)
        @blp.response(200, schema)
        def patch(self, data, slug):
            return ops.merge(kind, slug, g.get("s3fed_json") or {})

        @_writes(blp, 404, 409)
        @blp.doc(summary=f"Delete {one}", description="Removes it, the memberships whose organization "
                 "or member it is, and the links this node's other entities have to it. 409 (nothing deleted) "
                 "if one of them needs the link, e.g. a strategy its region.")
        @blp.response(204)
        def delete(self, slug):
            ops.delete(kind, slug)
            return "", 204

    return blp


def import_blueprint() -> Blueprint:
    blp = ApiBlueprint("import", __name__, url_prefix="/api/v1/import",
                       description="Bulk import of RDF or CSV: validated with SHACL, all or nothing.")
    from marshmallow import Schema, fields, validate

    class ImportArgs(Schema):
        kind = fields.String(validate=validate.OneOf(list(KINDS)),
                             metadata={"description": "CSV only: the kind of rows without a kind column"})

    @blp.route("")
    class Import(MethodView):
        @_writes(blp, 400, 413, 415, 422)
        @blp.doc(summary="Import RDF or CSV", description=(
            "Replaces the description of every entity in the body, or changes nothing and lists every "
            "problem. RDF by Content-Type (" + ", ".join(UPLOAD_TYPES[:-1]) + "); `text/csv` with the "
            "column layout of docs/csv-import.md (`kind,slug,label@fr,…`, multi-values separated by `|`)."),
            requestBody={"required": True, "content": {t: {"schema": {"type": "string"}} for t in UPLOAD_TYPES}})
        @blp.arguments(ImportArgs, location="query", error_status_code=400)
        @blp.response(200, ImportResultSchema)
        def post(self, query):
            return import_body(request.get_data(), request.mimetype, query.get("kind"))

    return blp


def import_body(body: bytes, mimetype: str, default_kind: str | None) -> dict:
    from . import graphs, store
    cfg = settings()
    base, located = cfg["node"]["base_url"], (lambda errors: errors)
    max_triples = int(cfg["limits"].get("max_import_triples") or MAX_IMPORT_TRIPLES)
    if mimetype == CSV:
        try:
            upload = csv_import.read(body, base, default_kind, getattr(vocab, "PREFIXES", {}), max_triples)
        except ImportRefused as e:
            raise _refused(e.errors) from None
        sources, located = [("upload.csv", upload.ntriples(), BY_NAME["nt"])], upload.locate
    else:
        try:
            fmt = format_for_upload(mimetype or None)
        except UnsupportedMediaType:
            raise Problem(415, "Unsupported Media Type", f"Cannot import {mimetype or 'a body without Content-Type'}; "
                          "send one of: " + ", ".join(UPLOAD_TYPES),
                          headers={"Accept-Post": ", ".join(UPLOAD_TYPES)}) from None
        sources = [("upload", body, fmt)]
    try:
        changes = run_import(store(), graphs(), sources, base, cfg["limits"]["max_json_depth"], max_triples)
    except ImportRefused as e:
        raise _refused(located(e.errors)) from None
    return {"imported": len(changes.subjects), "triples": len(changes.triples)}


def _refused(errors: list[dict]) -> Problem:
    return Problem(422, "Import refused", f"Nothing was imported: {len(errors)} problem(s).",
                   errors=[ops.clean(e) for e in errors])


def docs_page():
    """/docs: the OpenAPI document as a plain HTML page (no JavaScript, no CDN)."""
    from .api_docs import md, operations
    spec = current_app.extensions["s3fed.api"].spec.to_dict()
    return render_template("docs.html", spec=spec, md=md, **operations(spec))


def register(app: Flask) -> None:
    cfg = app.config["S3FED"]
    app.config.update(API_TITLE=f"s3fed node API — {cfg['node']['name'] or cfg['node']['region'] or 'node'}",
                      API_VERSION="1", OPENAPI_VERSION="3.0.3", OPENAPI_URL_PREFIX="/",
                      OPENAPI_JSON_PATH="openapi.json")
    api = NodeApi(app, spec_kwargs={"servers": [{"url": cfg["node"]["base_url"]}], "info": {"description": (
        "JSON API of an s3fed node: one resource per kind of the shared vocabulary, bulk import, backups. "
        "Reads are public; writes need `Authorization: Bearer <token>` (`s3fed node token create NAME`). "
        "Errors are RFC 9457 problem details.")}})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer",
                                                       "description": "A token from `s3fed node token create NAME`"})
    for kind in KINDS:
        api.register_blueprint(kind_blueprint(kind, cfg["limits"]), name=kind)  # name = OpenAPI tag
    api.register_blueprint(import_blueprint(), name="import")
    api.register_blueprint(backup_blueprint(_writes), name="backups")
    app.extensions["s3fed.api"] = api
    app.add_url_rule("/docs", "api_docs_page", docs_page)
