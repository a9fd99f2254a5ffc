"""The OpenAPI document, flattened for the /docs page.

Nodes may run offline, so /docs cannot load Swagger UI or ReDoc from a CDN; instead the page is
rendered on the server from the very document at /openapi.json: every operation with its
parameters, bodies and responses, and every schema with its fields, their docs and the RDF
property each one maps to (``x-predicate``, from the profiles).
"""
from __future__ import annotations

import re

from markupsafe import Markup, escape

METHODS = ("get", "post", "put", "patch", "delete")


def md(text: str) -> Markup:
    """The little Markdown the descriptions use: `code`."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text or ""))))


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(s: dict) -> str:
    """A schema's type in a few words: "string (iri)", "array of Cluster", "map of string"."""
    if "$ref" in s:
        return _ref_name(s["$ref"])
    t = s.get("type", "any")
    if t == "array":
        return f"array of {type_of(s.get('items', {}))}"
    if t == "object" and isinstance(s.get("additionalProperties"), dict):
        return f"map of {type_of(s['additionalProperties'])}"
    text = t + (f" ({s['format']})" if s.get("format") else "")
    limits = [f"≥ {s['minimum']}" if "minimum" in s else "", f"≤ {s['maximum']}" if "maximum" in s else "",
              f"one of {', '.join(map(str, s['enum']))}" if s.get("enum") else "",
              f"pattern {s['pattern']}" if s.get("pattern") and not s.get("format") else ""]
    return ", ".join([text, *[x for x in limits if x]])


def _response(spec: dict, value: dict) -> dict:
    if "$ref" in value:
        value = spec["components"]["responses"][_ref_name(value["$ref"])]
    content = value.get("content", {})
    return {"description": value.get("description", ""),
            "content": [(ct, type_of(c.get("schema", {}))) for ct, c in content.items()]}


def schema_fields(schema: dict) -> list[dict]:
    required = set(schema.get("required", []))
    return [{"name": name, "type": type_of(p), "required": name in required, "nullable": p.get("nullable", False),
             "doc": md(p.get("description", "")), "predicate": p.get("x-predicate", "")}
            for name, p in schema.get("properties", {}).items()]


def operations(spec: dict) -> dict:
    """Template data: operations grouped by tag, then the schemas they use."""
    tags = {t["name"]: {"name": t["name"], "description": md(t.get("description", "")), "ops": []}
            for t in spec.get("tags", [])}
    for path, item in spec.get("paths", {}).items():
        common = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                       "type": type_of(p.get("schema", {})), "doc": md(p.get("description", ""))}
                      for p in [*common, *op.get("parameters", [])]]
            body = op.get("requestBody", {}).get("content", {})
            entry = {"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                     "description": md(op.get("description", "")), "secured": bool(op.get("security")),
                     "params": params, "body": [(ct, type_of(c.get("schema", {}))) for ct, c in body.items()],
                     "responses": [(code, _response(spec, r)) for code, r in sorted(op.get("responses", {}).items())],
                     "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "")}
            for tag in op.get("tags", ["other"]):
                tags.setdefault(tag, {"name": tag, "description": "", "ops": []})["ops"].append(entry)
    schemas = [{"name": name, "description": md(s.get("description", "")), "fields": schema_fields(s)}
               for name, s in sorted(spec.get("components", {}).get("schemas", {}).items())]
    return {"groups": [t for t in tags.values() if t["ops"]], "schemas": schemas,
            "schema_names": {s["name"] for s in schemas},
            "security": spec.get("components", {}).get("securitySchemes", {})}
