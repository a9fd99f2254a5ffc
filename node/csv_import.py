"""CSV import: the spreadsheets regions already keep, read through the same profiles as the API.

Regional agencies keep their domains, clusters and members in spreadsheets. Rather than a
second mapping, each row becomes the JSON form of one entity (columns are the profile's field
names, see docs/csv-import.md), is checked by the kind's generated marshmallow schema and turned
into triples by :func:`vocab.profiles.to_graph` — so a CSV row, a JSON API call and a Turtle file
describing the same entity give the same triples and meet the same checks. The triples then go
through :func:`node.importer.run_import` like any other upload (identity, SHACL, all or
nothing); :meth:`CsvUpload.locate` puts row and column numbers on the problems it reports.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import marshmallow as ma
from rdflib import Graph, URIRef

from vocab.kinds import KINDS
from vocab.profiles import PROFILES, to_graph

from .importer import MAX_IMPORT_TRIPLES, SLUG, ImportRefused
from .schemas import entity_schema, flatten

SEPARATOR = "|"
FIELDS = {f.name: f for fs in PROFILES.values() for f in fs}
_PREDICATE_FIELD = {str(f.predicate): f.name for f in FIELDS.values()}


@dataclass
class CsvUpload:
    graph: Graph = field(default_factory=Graph)
    rows: dict[str, int] = field(default_factory=dict)          # subject IRI -> row
    columns: dict[str, list[int]] = field(default_factory=dict)  # field name -> columns

    def ntriples(self) -> bytes:
        return self.graph.serialize(format="nt", encoding="utf-8")

    def locate(self, errors: list[dict]) -> list[dict]:
        """Add ``row`` (and ``column`` when the property is one column) to import problems."""
        out = []
        for e in errors:
            e = dict(e)
            if e.get("focus") in self.rows:
                e["row"] = self.rows[e["focus"]]
                name = _PREDICATE_FIELD.get(str(e.get("path", "")))
                if name and len(self.columns.get(name, [])) == 1:
                    e["column"], e["field"] = self.columns[name][0], name
            out.append(e)
        return out


def _delimiter(first_line: str) -> str:
    """Spreadsheets save CSV with ',' or, in French or German locales, ';' (or tabs)."""
    return max(",;\t", key=first_line.count) if first_line else ","


def _header(names: list[str]) -> tuple[list[tuple[str, str | None]], list[dict]]:
    cols, errors = [], []
    for i, raw in enumerate(names, 1):
        name, _, lang = raw.strip().partition("@")
        f = FIELDS.get(name)
        if name in ("kind", "slug") and not lang:
            pass
        elif f is None:
            errors.append({"row": 1, "column": i, "message": f"unknown column {raw!r}; columns are kind, slug "
                           "and the field names of docs/csv-import.md"})
        elif lang and f.shape not in ("langmap", "langlist"):
            errors.append({"row": 1, "column": i, "message": f"{name} takes no language suffix"})
        elif not lang and f.shape == "langmap":
            errors.append({"row": 1, "column": i, "message": f"{name} needs a language: {name}@fr, {name}@en…"})
        cols.append((name, lang.lower() or None))
    return cols, errors


def _link(value: str, base: str, prefixes: dict) -> str:
    """An IRI from a cell: a full IRI, a prefixed name (nace:30) or this node's kind/slug."""
    prefix, _, local = value.partition(":")
    if ":" in value and prefix in prefixes and not local.startswith("//"):
        return str(prefixes[prefix]) + local
    if "://" in value or value.startswith("urn:"):
        return value
    m = re.fullmatch(rf"([a-z-]+)/({SLUG})", value)
    if m and m.group(1) in KINDS:
        return f"{base}/id/{value}"
    raise ValueError(f"{value!r} is not an IRI, a prefixed name such as nace:30, or kind/slug of this node")


def _value(shape: str, cell: str, base: str, prefixes: dict):
    if shape in ("links", "langlist"):
        parts = [p.strip() for p in cell.split(SEPARATOR) if p.strip()]
        return [_link(p, base, prefixes) for p in parts] if shape == "links" else parts
    if shape == "link":
        return _link(cell, base, prefixes)
    if shape == "integer":
        if not re.fullmatch(r"\d+", cell):
            raise ValueError(f"{cell!r} is not a whole number ≥ 0")
        return int(cell)
    if shape == "decimal":
        try:
            return Decimal(cell.replace(" ", "").replace(",", "."))
        except InvalidOperation:
            raise ValueError(f"{cell!r} is not a number") from None
    return cell


def read(data: bytes, base: str, default_kind: str | None = None, prefixes: dict | None = None,
         max_rows: int = MAX_IMPORT_TRIPLES) -> CsvUpload:
    """Rows of ``data`` as one graph; raises :class:`ImportRefused` with every row's problems."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImportRefused([{"message": f"the CSV is not UTF-8 (invalid byte at offset {e.start}); "
                              "save it as 'CSV UTF-8'"}]) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text.split("\n", 1)[0]))
    try:
        records = []
        for record in reader:  # every row is at least one triple: stop before building a graph too big
            records.append(record)
            if len(records) > max_rows + 1:
                raise ImportRefused([{"row": reader.line_num, "message": f"more than {max_rows} rows, more than one "
                                      "import takes (limits.max_import_triples): split the file"}])
    except csv.Error as e:
        raise ImportRefused([{"row": reader.line_num, "message": f"unreadable CSV: {e}"}]) from None
    if not records:
        raise ImportRefused([{"row": 1, "message": "the CSV is empty; the first row names the columns"}])
    cols, errors = _header(records[0])
    if "slug" not in [c for c, _ in cols]:
        errors.append({"row": 1, "message": "a slug column is required"})
    if "kind" not in [c for c, _ in cols] and not default_kind:
        errors.append({"row": 1, "message": "a kind column is required (or ?kind= on the request)"})
    if errors:
        raise ImportRefused(errors)
    up = CsvUpload()
    for i, (name, _) in enumerate(cols, 1):
        up.columns.setdefault(name, []).append(i)
    for row_no, cells in enumerate(records[1:], 2):
        errors += _row(up, row_no, cols, cells, base, default_kind, prefixes or {})
    if errors:
        raise ImportRefused(errors)
    return up


def _row(up: CsvUpload, row_no: int, cols, cells: list[str], base, default_kind, prefixes) -> list[dict]:
    if not any(c.strip() for c in cells):
        return []
    if len(cells) > len(cols):
        return [{"row": row_no, "column": len(cols) + 1, "message": f"{len(cells)} cells but {len(cols)} columns"}]
    row = {c: (cells[i].strip() if i < len(cells) else "") for i, (c, _) in enumerate(cols) if c in ("kind", "slug")}
    kind = row.get("kind") or default_kind
    if kind not in PROFILES:
        return [{"row": row_no, "column": up.columns.get("kind", [None])[0], "field": "kind",
                 "message": f"unknown kind {kind!r}; kinds are " + ", ".join(KINDS)}]
    slug = row.get("slug", "")
    if not re.fullmatch(SLUG, slug):
        return [{"row": row_no, "column": up.columns["slug"][0], "field": "slug",
                 "message": f"slug {slug!r}: letters, digits, '-', '_', '.', '~', starting with a letter or digit"}]
    uri = f"{base}/id/{kind}/{slug}"
    if uri in up.rows:
        return [{"row": row_no, "message": f"{kind}/{slug} is already described on row {up.rows[uri]}"}]
    profile = {f.name: f for f in PROFILES[kind]}
    doc, errors, where = {}, [], {}
    for i, (name, lang) in enumerate(cols, 1):
        cell = cells[i - 1].strip() if i <= len(cells) else ""
        if not cell or name in ("kind", "slug"):
            continue
        f = profile.get(name)
        if f is None:
            errors.append({"row": row_no, "column": i, "field": name, "message": f"a {kind} has no {name}"})
            continue
        where.setdefault(f"/{name}", i)
        if lang:
            where[f"/{name}/{lang}"] = i
        try:
            value = _value(f.shape, cell, base, prefixes)
        except ValueError as e:
            errors.append({"row": row_no, "column": i, "field": name, "message": str(e)})
            continue
        if f.shape in ("langmap", "langlist"):
            doc.setdefault(name, {})[lang or ""] = value
        else:
            doc[name] = value
    try:
        data = entity_schema(kind)().load(doc)
    except ma.ValidationError as e:
        for item in flatten(e.messages):
            path = item.get("path", "")
            name = item.get("field", "")
            column = (where.get(path) or where.get("/".join(path.split("/")[:3])) or where.get(f"/{name}")
                      or up.columns.get(name, [None])[0])
            errors.append({"row": row_no, **({"column": column} if column else {}), **item})
        data = None
    if errors:
        return errors
    up.rows[uri] = row_no
    up.graph += to_graph(data, URIRef(uri), kind)
    return []
