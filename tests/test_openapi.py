"""The OpenAPI document tells the truth: schemathesis generates requests from /openapi.json and
checks a real node never fails (5xx) and never answers outside the documented schemas. /docs is
readable offline."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_node, sample_text

from vocab import KINDS

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A node of its own: schemathesis writes whatever the schema allows."""
    n = make_node(tmp_path_factory.mktemp("openapi"))
    assert n.import_text(sample_text(n)).returncode == 0
    n.auth_token = n.token()
    n.start()
    yield n
    n.stop()


def test_document_covers_every_kind_and_the_bearer_scheme(node):
    spec = node.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    for kind in KINDS:
        assert {"get", "post"} <= set(spec["paths"][f"/api/v1/{kind}"])
        assert {"get", "put", "patch", "delete"} <= set(spec["paths"][f"/api/v1/{kind}/{{slug}}"])
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A token from `s3fed node token create NAME`"}
    post = spec["paths"]["/api/v1/import"]["post"]
    assert post["security"] == [{"bearerAuth": []}] and "text/csv" in post["requestBody"]["content"]
    assert "security" not in spec["paths"]["/api/v1/cluster"]["get"]
    cluster = spec["components"]["schemas"]["Cluster"]
    assert set(cluster["required"]) == {"label", "region"} and cluster["additionalProperties"] is False
    assert cluster["properties"]["foundingYear"]["x-predicate"] == "https://w3id.org/s3fed/vocab#foundingYear"


def test_docs_page_works_offline(node):
    r = node.get("/docs")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    page = r.text
    assert "<script" not in page and "cdn" not in page.lower()  # nothing fetched from elsewhere
    for text in ("/api/v1/working-group/{slug}", "PATCH", "foundingYear", "s3:foundingYear", "Bearer",
                 "Import RDF or CSV", "Page number, from 1"):
        assert text in page, text


@pytest.mark.parametrize("phase", [
    # every operation, a few generated cases each
    ["--phases", "examples,fuzzing", "--max-examples", "5"],
    # the systematic edge cases (boundaries, wrong types, missing fields) for one kind — every kind's
    # resources come from the same generator; funding has text, links and numbers — and for import
    ["--phases", "coverage", "--include-tag-regex", "^(funding|import)$"],
], ids=["fuzzing", "coverage"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(node, tmp_path, phase):
    cmd = [str(SCHEMATHESIS), "run", f"{node.base}/openapi.json", *phase,
           "--checks", "not_a_server_error,response_schema_conformance",
           "--workers", "1", "--seed", "20260101", "--generation-database", "none", "--no-color",
           "--request-timeout", "10", "-H", f"Authorization: Bearer {node.auth_token}"]
    p = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    failures = p.stdout[p.stdout.find("FAILURES"):] if "FAILURES" in p.stdout else p.stdout[-4000:]
    assert p.returncode == 0, failures[:8000] + p.stderr[-2000:]
