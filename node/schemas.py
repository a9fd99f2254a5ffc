"""Marshmallow schemas of the JSON API, generated from :data:`vocab.profiles.PROFILES`.

Each kind's profile already says which JSON field maps to which predicate and what shape its
value has; here every shape becomes one marshmallow field, so a kind gets its schema — and so
its validation, its serialisation and its OpenAPI description — without being written out by
hand. A field added to a profile appears in the API, its docs and its checks at once.

Two schemas per kind: ``ClusterSchema`` (create, replace, read) with the profile's required
fields, and ``ClusterPatchSchema`` (JSON merge patch, RFC 7396) where nothing is required and
``null`` removes a value. Both refuse unknown fields.
"""
from __future__ import annotations

import re
import sys
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import ClassVar

import marshmallow as ma
import pyoxigraph as ox
from marshmallow import fields, validate

from vocab.kinds import KINDS
from vocab.profiles import PROFILES, Field

from .importer import MAX_IRI, MAX_TEXT

SLUG = r"[A-Za-z0-9][A-Za-z0-9._~-]{0,199}"
LANG_TAG = r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$"
YEAR = r"^[12][0-9]{3}$"
DATE = r"^[12][0-9]{3}-[0-9]{2}-[0-9]{2}$"
IRI_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]+$"  # documentation; the check is the RDF library's
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _clean_text(value: str) -> None:
    if _BAD_CHARS.search(value):
        raise ma.ValidationError("Text may not contain control characters or unpaired surrogates.")


class Text(fields.String):
    """A non-empty string without control characters (they cannot be published as RDF)."""

    def __init__(self, **kw):
        kw.setdefault("validate", [])
        kw["validate"] = [_clean_text, validate.Length(min=1, max=MAX_TEXT), *_as_list(kw["validate"])]
        super().__init__(**kw)


class IRI(fields.String):
    """An absolute IRI, checked by the same RDF library that stores it."""

    def __init__(self, **kw):
        kw.setdefault("metadata", {}).setdefault("format", "iri")
        kw["metadata"].setdefault("pattern", IRI_PATTERN)
        super().__init__(validate=[validate.Length(max=MAX_IRI), self._check], **kw)

    @staticmethod
    def _check(value: str) -> None:
        try:
            ox.NamedNode(value)
        except (ValueError, UnicodeError):
            raise ma.ValidationError("Not an absolute IRI (e.g. https://example.org/thing).") from None


class LangTag(fields.String):
    """A BCP 47 language tag used as a key ("fr", "en", "de-CH"); lower-cased as RDF stores it."""

    def __init__(self, allow_untagged: bool = False, **kw):
        pattern = LANG_TAG if not allow_untagged else LANG_TAG.replace("^", "^$|^", 1)
        super().__init__(validate=validate.Regexp(pattern, error="Not a language tag (fr, en, de-CH…)."), **kw)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).lower()


def _one_language(value: dict) -> None:
    if not value:
        raise ma.ValidationError('Give it in at least one language, e.g. {"fr": "…"}.')


def _check_year(value: str) -> None:
    if not re.fullmatch(YEAR, value):
        raise ma.ValidationError("A year is four digits, e.g. 2021.")


def _check_date(value: str) -> None:
    try:
        ok = re.fullmatch(DATE, value) and date.fromisoformat(value)
    except ValueError:
        ok = False
    if not ok:
        raise ma.ValidationError("A date is YYYY-MM-DD, e.g. 2021-09-30.")


def _check_date_or_year(value: str) -> None:
    if not re.fullmatch(YEAR, value):
        _check_date(value)


class NonNegativeDecimal(fields.Number):
    """A JSON number ≥ 0, kept exact: loaded as a plain decimal string (never 1E+20). Within what
    the store's SPARQL engine computes with as xsd:decimal (below 10^20, at most 18 digits after
    the point): past that, FILTER and the shapes could not compare it."""

    num_type = float
    default_error_messages: ClassVar[dict] = {
        "invalid": "Not a valid number.", "negative": "Must be 0 or more.",
        "too_large": "Too large: decimals must be below 1e20.",
        "too_precise": "Too precise: at most 18 digits after the decimal point."}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):  # Decimal: from CSV
            raise self.make_error("invalid")
        try:
            d = Decimal(str(value))
        except InvalidOperation:
            raise self.make_error("invalid") from None
        if not d.is_finite():
            raise self.make_error("invalid")
        if d < 0:
            raise self.make_error("negative")
        if d >= 10**20:
            raise self.make_error("too_large")
        text = format(d, "f")
        if len(text.partition(".")[2].rstrip("0")) > 18:
            raise self.make_error("too_precise")
        return text


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v] if v else []


def field_for(f: Field, patch: bool = False) -> fields.Field:
    """The marshmallow field of one profile field (``patch``: nothing required, null removes)."""
    required = f.required and not patch
    kw = {"required": required, "allow_none": not f.required,  # null: absent, or removed by a patch
          "metadata": {"description": f.doc or f.name, "x-predicate": str(f.predicate)}}
    shape = f.shape
    if shape == "langmap":
        if f.required:
            kw["validate"], kw["metadata"]["minProperties"] = _one_language, 1
        return fields.Dict(keys=LangTag(), values=Text(allow_none=patch), **kw)
    if shape == "langlist":
        return fields.Dict(keys=LangTag(allow_untagged=True),
                           values=fields.List(Text(), validate=validate.Length(min=1)), **kw)
    if shape == "link":
        return IRI(**kw)
    if shape == "links":
        return fields.List(IRI(), **kw)
    if shape == "string":
        return Text(**kw)
    if shape == "integer":
        return fields.Integer(strict=True, validate=validate.Range(min=0, max=sys.float_info.max), **kw)  # as imports
    if shape == "decimal":
        kw["metadata"] |= {"minimum": 0}
        return NonNegativeDecimal(**kw)
    if shape == "year":
        kw["metadata"] |= {"pattern": YEAR, "example": "2021"}
        return fields.String(validate=_check_year, **kw)
    if shape == "date":
        kw["metadata"] |= {"format": "date"}
        return fields.String(validate=_check_date, **kw)
    if shape == "dateOrYear":
        kw["metadata"] |= {"pattern": f"{YEAR}|{DATE}", "example": "2021-09-30"}
        return fields.String(validate=_check_date_or_year, **kw)
    raise ValueError(f"profile field {f.name!r} has an unknown shape {shape!r}")


class EntitySchema(ma.Schema):
    """Base of every kind's schema: ``id``, ``type`` and ``slug`` come back on reads and may be
    sent back unchanged on writes (the view checks they match the resource)."""

    kind: str = ""
    patch: bool = False

    class Meta:
        unknown = ma.RAISE

    id = IRI(metadata={"description": "The entity's URI, {base}/id/{kind}/{slug} (read-only)"})
    slug = fields.String(validate=validate.Regexp(f"^{SLUG}$", error="A slug is letters, digits, '-', '_', "
                                                  "'.', '~', starting with a letter or digit."),
                         metadata={"description": "Last segment of the URI; on create, derived from the "
                                   "label when not given"})


@cache
def entity_schema(kind: str, patch: bool = False) -> type[EntitySchema]:
    """The schema class of ``kind`` (``patch``: the merge-patch variant)."""
    attrs: dict = {f.name: field_for(f, patch) for f in PROFILES[kind]}
    attrs["type"] = fields.String(validate=validate.OneOf([kind]), metadata={"description": "The kind, "
                                  f"always {kind!r} (read-only)"})
    attrs |= {"kind": kind, "patch": patch,
              "__doc__": f"{KINDS[kind].label} ({'merge patch: null removes a field' if patch else 'JSON form'})."}
    name = "".join(p.title() for p in kind.split("-")) + ("PatchSchema" if patch else "Schema")
    return type(name, (EntitySchema,), attrs)


@cache
def page_schema(kind: str) -> type[ma.Schema]:
    """A page of a collection: the entities, the total and the links to other pages."""
    item = entity_schema(kind)
    attrs = {"items": fields.List(fields.Nested(item), required=True),
             "total": fields.Integer(required=True, metadata={"description": "Entities matching the filters"}),
             "page": fields.Integer(required=True), "per_page": fields.Integer(required=True)}
    for rel in ("self", "first", "last", "next", "previous"):
        attrs[rel] = fields.String(allow_none=True, metadata={"format": "uri", "description": f"URL of the {rel} page"})
    return type(item.__name__.replace("Schema", "PageSchema"), (ma.Schema,), attrs)


def filter_fields(kind: str) -> list[Field]:
    """The link fields a collection can be filtered by (a strategy's ``page`` is paging, not a filter)."""
    return [f for f in PROFILES[kind] if f.shape in ("link", "links") and f.name not in ("page", "per_page", "q")]


def list_args_schema(kind: str, page_size: int, max_page_size: int) -> type[ma.Schema]:
    """Query parameters of a collection: paging, ``q`` label text, and one per link field."""
    attrs = {
        "page": fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000),
                               metadata={"description": "Page number, from 1"}),
        "per_page": fields.Integer(load_default=page_size, validate=validate.Range(min=1, max=max_page_size),
                                   metadata={"description": f"Entities per page (default {page_size})"}),
        "q": fields.String(validate=[_clean_text, validate.Length(max=200)],
                           metadata={"description": "Text the label contains (any language, any case)"}),
    }
    for f in filter_fields(kind):
        attrs[f.name] = IRI(metadata={"description": f"Only entities whose {f.name} is this IRI"})
    return type(entity_schema(kind).__name__.replace("Schema", "ListArgsSchema"), (ma.Schema,), attrs)


class ProblemItemSchema(ma.Schema):
    """One violation: a JSON field (or CSV row/column), or a SHACL focus node and path."""

    class Meta:
        unknown = ma.INCLUDE

    field = fields.String(metadata={"description": "JSON field at fault"})
    focus = fields.String(metadata={"description": "RDF node at fault (SHACL focus node)"})
    path = fields.String(metadata={"description": "JSON pointer of the value, or the RDF property"})
    message = fields.String(required=True)
    row = fields.Integer(metadata={"description": "CSV row (the header is row 1)"})
    column = fields.Integer(metadata={"description": "CSV column, from 1 (or a parser's column)"})
    line = fields.Integer(metadata={"description": "Line in an RDF upload"})


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details (``application/problem+json``)."""

    class Meta:
        unknown = ma.INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    errors = fields.List(fields.Nested(ProblemItemSchema), metadata={"description": "Every violation found"})


class ImportResultSchema(ma.Schema):
    imported = fields.Integer(required=True, metadata={"description": "Entities whose description was replaced"})
    triples = fields.Integer(required=True, metadata={"description": "Triples written"})


def flatten(messages, prefix: str = "") -> list[dict]:
    """marshmallow's nested error dict as a list of ``{field, path, message}`` (path: JSON pointer)."""
    out: list[dict] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                out += flatten(value, prefix)
            elif key in ("key", "value") and prefix.count("/") >= 2:  # Dict's key/value error layer
                out += [{**e, "message": (f"language key: {e['message']}" if key == "key" else e["message"])}
                        for e in flatten(value, prefix)]
            else:
                out += flatten(value, f"{prefix}/{_safe(str(key)).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(messages, list):
        for m in messages:
            out += flatten(m, prefix) if isinstance(m, (dict, list)) else [_item(prefix, m)]
    else:
        out.append(_item(prefix, messages))
    return out


def _item(pointer: str, message) -> dict:
    item = {"path": pointer or "/", "message": _safe(str(message))}
    if pointer:
        item = {"field": pointer.split("/")[1].replace("~1", "/").replace("~0", "~"), **item}
    return item


def _safe(text: str) -> str:
    """Text that survives UTF-8 encoding (invalid JSON keys may carry lone surrogates)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
