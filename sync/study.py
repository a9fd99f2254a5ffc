"""The comparative stress test of the federation's regional strategies (``s3fed study stress-test``).

S3-4AlpClusters ran a "StressTest" of each Alpine region's S3 from a survey; here the same
questions are asked of the federation's live data, reproducibly. Every indicator is computed by a
SPARQL query kept in ``sync/queries/*.rq`` and shown in the report beside its figure, so a
researcher can rerun or change it on the hub's ``/sparql`` (whose default graph is the same union
of readable graphs used here). Python only pivots the results, derives the helix balance and
criteria score, and runs the sensitivity view (removing one cluster or one funding instrument at
a time) on the rows of two input queries, without re-querying per removal.

Rules the whole study follows (also in docs/stress-test.md and in each query's comments):
- Domain indicators look at each region's *latest* strategy (greatest ``s3:periodStart``).
- Missing is missing, never zero: a region absent from a query's results has no data for its
  indicators (typically because it publishes no X at all, in any period); 0 means it publishes X,
  but none that counts. The CSV leaves such cells empty, the RDF has no observation for them.

The report (``index.html`` with the charts inlined, ``indicators.csv``, ``sensitivity.csv``, PNG
charts, ``indicators.ttl``, ``summary.json``) goes to ``out_dir``; the same figures as RDF replace
the hub's study graph (``{base}/graph/study``) in one transaction.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, RDF, RDFS, SKOS, XSD

from vocab.namespaces import NUTS, S3, S3C

QUERIES = Path(__file__).resolve().parent / "queries"
TEMPLATES = Path(__file__).resolve().parent / "templates"
LEVELS = {"fulfilled": 1.0, "partly": 0.5, "not-fulfilled": 0.0}
CRITERIA = [f"c{i}" for i in range(1, 8)]
HELIX = ["industry", "research", "public", "other"]


@dataclass(frozen=True)
class Indicator:
    name: str
    group: str
    query: str  # the .rq file (stem) that computes it; "" for figures derived in Python
    label: str


def _i(group, query, *pairs):
    return [Indicator(n, group, query, label) for n, label in pairs]


INDICATORS: list[Indicator] = [
    *_i("Focus", "domains", ("domains", "Priority domains (latest strategy)")),
    *_i("Focus", "concentration", ("hhi_clusters", "Herfindahl of cluster links over domains"),
        ("hhi_members", "Herfindahl of cluster members over domains")),
    *_i("Embeddedness", "cluster_coverage", ("share_domains_with_cluster", "Share of domains with a cluster")),
    *_i("Embeddedness", "working_groups", ("share_domains_with_wg", "Share of domains with a working group")),
    *_i("Embeddedness", "actions", ("share_domains_with_action", "Share of domains with an action"),
        ("actions_per_domain_year", "Actions per domain per year")),
    *_i("Stakeholder involvement", "working_groups", ("working_groups", "Working groups"),
        ("members_per_group", "Members per working group")),
    *_i("Stakeholder involvement", "helix", *[(f"helix_{h}", f"Share of memberships: {h}") for h in HELIX],
        ("helix_n", "Memberships with a helix sphere")),
    *_i("Stakeholder involvement", "", ("helix_balance", "Helix balance (0 one sphere – 1 even)")),
    *_i("Openness", "collaborations", ("interregional_collaborations", "Inter-regional collaborations")),
    *_i("Openness", "opportunities", ("opportunities", "Cooperation opportunities (index)")),
    *_i("Openness", "foreign_partners", ("foreign_partners", "Partners outside the country (criterion 7)")),
    *_i("Alignment", "alignment", ("share_domains_with_policy_objective", "Share of domains with a policy objective")),
    *_i("Governance", "criteria", *[(c, f"Criterion {c[1]}") for c in CRITERIA]),
    *_i("Governance", "", ("criteria_fulfilled", "Criteria fulfilled"),
        ("criteria_score", "Criteria score (fulfilled 1, partly ½, not 0)")),
    *_i("Stress test", "", ("single_cluster_domains_share", "Share of domains carried by one cluster only"),
        ("max_cluster_coverage_drop", "Largest drop in cluster coverage from removing one cluster"),
        ("critical_cluster", "Cluster whose removal uncovers most domains"),
        ("top_instrument_share", "Share of funding from the largest instrument"),
        ("critical_instrument", "Largest funding instrument")),
]
COLUMNS = ["region", "name", "country", "period_start", "period_end"] + [i.name for i in INDICATORS]
#: Queries whose columns go straight into the table (one row per region), then the other inputs.
PIVOTED = ["regions", "domains", "concentration", "cluster_coverage", "working_groups", "actions", "helix",
           "collaborations", "opportunities", "foreign_partners", "alignment"]
DATA_QUERIES = PIVOTED + ["criteria", "cluster_links", "funding"]


def study_graph(graphs) -> str:
    return f"{graphs.base}/graph/study"


def dataset(store, graphs) -> list[str]:
    """The readable graphs, as the hub's /sparql sees them, minus the study's own previous output."""
    hidden = {graphs.feed, graphs.sync, study_graph(graphs)}
    return [g for g in store.named_graphs() if g not in hidden]


def query_text(name: str) -> str:
    return (QUERIES / f"{name}.rq").read_text(encoding="utf-8")


def _py(term):
    if term is None:
        return None
    if not hasattr(term, "datatype"):
        return term.value  # an IRI (or a blank node's id)
    dt = term.datatype.value
    if dt.endswith(("#integer", "#int", "#long", "#short", "Integer")):  # xsd:nonNegativeInteger & co
        return int(term.value)
    if dt.endswith(("#decimal", "#double", "#float")):
        return float(term.value)
    return term.value


def run_query(store, name: str, graphs_: list[str]) -> list[dict]:
    results = store.query(query_text(name), default_graph=graphs_)
    names = [v.value for v in results.variables]
    return [{n: _py(row[n]) for n in names} for row in results]


def _local(iri: str | None) -> str | None:
    return iri.rstrip("/").rsplit("/", 1)[-1] if iri else None


def compute(store, graphs, regions: list[str] | None = None) -> tuple[dict, dict]:
    """Run every query; returns ``(table, inputs)``: table[code][column] (None = no data) and the
    raw rows of every query (``inputs[name]``), which the sensitivity view and the RDF reuse."""
    ds = dataset(store, graphs)
    inputs = {name: run_query(store, name, ds) for name in DATA_QUERIES}
    codes = sorted({r["region"] for rows in inputs.values() for r in rows if r.get("region")})
    codes = [c.strip().upper() for c in regions] if regions else codes
    table = {c: {col: None for col in COLUMNS} | {"region": c} for c in codes}
    for name in PIVOTED:
        for r in inputs[name]:
            if r["region"] in table:
                table[r["region"]].update({k: v for k, v in r.items() if k in COLUMNS and k != "region"})
    if inputs["opportunities"]:  # the index exists: a region without opportunities has 0 of them
        for row in table.values():
            row["opportunities"] = row["opportunities"] or 0
    for r in inputs["criteria"]:
        row, c, level = table.get(r["region"]), _local(r["criterion"]), _local(r["fulfilment"])
        if row is not None and c in CRITERIA and level in LEVELS:  # conflicting assessments: keep the lowest
            row[c] = level if row[c] is None else min(row[c], level, key=LEVELS.get)
    for row in table.values():
        shares = [row[f"helix_{h}"] for h in HELIX]
        if None not in shares:
            row["helix_balance"] = (1 - sum(s * s for s in shares)) / (1 - 1 / len(HELIX))
        levels = [row[c] for c in CRITERIA if row[c]]
        if levels:
            row["criteria_fulfilled"] = levels.count("fulfilled")
            row["criteria_score"] = sum(LEVELS[v] for v in levels) / len(levels)
    return table, inputs


def _hhi(weights: list[float]) -> float | None:
    total = sum(weights)
    return sum(w * w for w in weights) / (total * total) if total else None


def sensitivity(table: dict, inputs: dict) -> tuple[list[dict], list[dict]]:
    """Remove each cluster, then each funding instrument, of each region in turn; fills the stress
    columns of ``table`` and returns the rows of the two sensitivity tables."""
    links: dict[str, dict[str, set]] = {}
    labels, members = {}, {}
    for r in inputs["cluster_links"]:
        links.setdefault(r["region"], {}).setdefault(r["domain"], set())
        labels[r["domain"]] = r["domain_label"] or r["domain"]
        if r["cluster"]:
            links[r["region"]][r["domain"]].add(r["cluster"])
            labels[r["cluster"]], members[r["cluster"]] = r["cluster_label"] or r["cluster"], r["cluster_members"]
    cluster_rows = []
    for code, row in table.items():
        domains = links.get(code)
        if row["share_domains_with_cluster"] is None or not domains:
            continue  # no cluster data: nothing to remove
        n = len(domains)
        row["single_cluster_domains_share"] = sum(len(cs) == 1 for cs in domains.values()) / n
        row["max_cluster_coverage_drop"] = 0.0
        for cl in sorted(set().union(*domains.values()), key=lambda c: labels[c]):
            left = {d: cs - {cl} for d, cs in domains.items()}
            sole = sorted(labels[d] for d, cs in domains.items() if cs == {cl})
            drop = len(sole) / n
            cluster_rows.append({
                "region": code, "cluster": labels[cl], "uri": cl, "members": members.get(cl),
                "domains": sum(cl in cs for cs in domains.values()), "sole_domains": sole,
                "coverage_after": sum(bool(cs) for cs in left.values()) / n, "coverage_drop": drop,
                "hhi_clusters_after": _hhi([len(cs) for cs in left.values()]),
                "hhi_members_after": _hhi([sum(members[c] for c in cs if members.get(c) is not None)
                                           for cs in left.values()])})
            if drop > row["max_cluster_coverage_drop"]:
                row["max_cluster_coverage_drop"], row["critical_cluster"] = drop, labels[cl]
    funding_rows = []
    by_region: dict[str, dict] = {}
    for r in inputs["funding"]:
        by_region.setdefault(r["region"], {})[r["funding"]] = r
    for code, fundings in sorted(by_region.items()):
        if code not in table:
            continue
        amounts, actions = {}, {}
        for f in fundings.values():
            amounts[f["instrument"]] = amounts.get(f["instrument"], 0.0) + (f["amount"] or 0.0)
            actions.setdefault(f["action"], set()).add(f["instrument"])
        total = sum(amounts.values())
        for inst, amount in sorted(amounts.items(), key=lambda kv: -kv[1]):
            label = next(f["instrument_label"] or _local(inst) for f in fundings.values() if f["instrument"] == inst)
            share = amount / total if total else None
            funding_rows.append({"region": code, "instrument": label, "uri": inst, "amount": amount, "share": share,
                                 "actions": sum(inst in i for i in actions.values()),
                                 "actions_unfunded": sum(i == {inst} for i in actions.values())})
            if share is not None and (table[code]["top_instrument_share"] or 0) < share:
                table[code]["top_instrument_share"], table[code]["critical_instrument"] = share, label
    return cluster_rows, funding_rows


def _cell(v) -> str:
    if v is None:
        return ""
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def write_csv(path: Path, rows: list[dict], columns: list[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([_cell("; ".join(r[c]) if isinstance(r.get(c), list) else r.get(c)) for c in columns])


def to_rdf(table: dict, inputs: dict, stress: tuple[list, list], run: URIRef, started: str, ended: str,
           used: list[str]) -> Graph:
    """The study run (PROV-O) and one s3:IndicatorValue per region and indicator with data."""
    g = Graph()
    for prefix, ns in (("s3", S3), ("s3c", S3C), ("prov", PROV), ("nuts", NUTS), ("dcterms", DCTERMS), ("skos", SKOS)):
        g.bind(prefix, ns)
    g.add((run, RDF.type, S3.StudyRun))
    g.add((run, RDF.type, PROV.Activity))
    g.add((run, RDFS.label, Literal(f"Comparative stress test of {len(table)} regions", lang="en")))
    g.add((run, PROV.startedAtTime, Literal(started, datatype=XSD.dateTime)))
    g.add((run, PROV.endedAtTime, Literal(ended, datatype=XSD.dateTime)))
    for u in used:
        g.add((run, PROV.used, URIRef(u)))
    region_uri = {r["region"]: r["uri"] for r in inputs["regions"]}
    refs = {(r["region"], r.get("cluster") or r.get("instrument")): r["uri"] for rows in stress for r in rows}
    for ind in INDICATORS:
        concept = S3C[f"criterion/{ind.name}"] if ind.name in CRITERIA else S3C[f"indicator/{ind.name}"]
        if ind.name not in CRITERIA:
            g.add((concept, RDF.type, S3.Indicator))
            g.add((concept, SKOS.prefLabel, Literal(ind.label, lang="en")))
            g.add((concept, SKOS.broader, S3C[f"indicator/group/{ind.group.lower().replace(' ', '-')}"]))
        if ind.query:
            g.add((concept, S3.query, Literal(query_text(ind.query))))
        for code, row in table.items():
            v = row[ind.name]
            if v is None:
                continue
            obs = URIRef(f"{run}#{code}-{ind.name}")
            g.add((obs, RDF.type, S3.IndicatorValue))
            g.add((obs, PROV.wasGeneratedBy, run))
            g.add((obs, DCTERMS.spatial, NUTS[code]))
            if region_uri.get(code):
                g.add((obs, S3.region, URIRef(region_uri[code])))
            g.add((obs, S3.indicator, concept))
            if ind.name in CRITERIA:
                v = S3C[f"fulfilment/{v}"]
            elif ind.name in ("critical_cluster", "critical_instrument"):
                v = URIRef(refs[code, v]) if (code, v) in refs else Literal(v)
            elif isinstance(v, float):
                v = Literal(Decimal(f"{v:.6f}"), datatype=XSD.decimal)
            else:
                v = Literal(v)
            g.add((obs, S3.value, v))
    return g


def stress_test(store, graphs, out_dir: Path, regions: list[str] | None = None) -> dict:
    """Compute every indicator, write the report to ``out_dir``, then (last, so the RDF always
    belongs to a complete report) replace the hub's study graph with the figures."""
    from .study_web import render  # charts and HTML: the presentation side
    started, out_dir = datetime.now(UTC), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    used = dataset(store, graphs)
    table, inputs = compute(store, graphs, regions)
    cluster_rows, funding_rows = sensitivity(table, inputs)
    write_csv(out_dir / "indicators.csv", [table[c] for c in sorted(table)], COLUMNS)
    write_csv(out_dir / "sensitivity.csv", [{"kind": "cluster", **r} for r in cluster_rows]
              + [{"kind": "funding instrument", **r} for r in funding_rows],
              ["region", "kind", "cluster", "instrument", "uri", "members", "domains", "sole_domains", "coverage_after",
               "coverage_drop", "hhi_clusters_after", "hhi_members_after", "amount", "share", "actions",
               "actions_unfunded"])
    run = URIRef(f"{graphs.base}/study/run/{started.strftime('%Y%m%dT%H%M%S%fZ')}")
    ended = datetime.now(UTC)
    g = to_rdf(table, inputs, (cluster_rows, funding_rows), run, started.isoformat(), ended.isoformat(), used)
    g.serialize(out_dir / "indicators.ttl", format="turtle")
    summary = {"run": str(run), "started": started.isoformat(), "ended": ended.isoformat(),
               "graph": study_graph(graphs), "sparql": f"{graphs.base}/sparql", "used": used,
               "regions": sorted(table), "columns": COLUMNS, "values": table, "triples": len(g),
               "sensitivity": {"clusters": cluster_rows, "funding": funding_rows}}
    summary["files"] = render(out_dir, summary, inputs) + ["indicators.csv", "sensitivity.csv", "indicators.ttl",
                                                          "summary.json"]
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False), encoding="utf-8")
    store.replace_graph(study_graph(graphs), g.serialize(format="nt", encoding="utf-8"))
    return summary
