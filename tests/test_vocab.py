"""The shared vocabulary: its files agree with each other and with DESIGN.md, the reference
classifications are complete and correct, and the validator reports what people need to fix.

Pure in-process tests (no node, no network): the vocabulary is what every node and peer relies on,
so a broken term, a missing concept or a silent shape must fail here first.
"""
from __future__ import annotations

import dataclasses
import json
import re
import time

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, FOAF, ORG, OWL, PROV, RDF, RDFS, SH, SKOS

import vocab
from vocab import NACE, S3, S3C

DATA = vocab.VOCAB_DIR.parent / "tests" / "data" / "vocab"
EXPECTED = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))
REUSED = [str(ns) for ns in (ORG, SKOS, DCTERMS, vocab.DCAT, PROV, FOAF)]  # DCAT via vocab: pytest trips over it

CORE_CLASSES = ["Region", "Strategy", "PriorityDomain", "Cluster", "Actor", "WorkingGroup", "Action", "Funding",
                "Collaboration", "CriterionAssessment", "CooperationOpportunity"]
CORE_PROPERTIES = ["nutsCode", "country", "region", "periodStart", "periodEnd", "governanceBody", "strategy",
                   "naceActivity", "scientificField", "policyObjective", "technology", "clusterType",
                   "contributesTo", "foundingYear", "memberCount", "actorType", "domain", "coAnimator", "partner",
                   "startDate", "endDate", "funding", "instrument", "amount", "collaborationType", "topic",
                   "criterion", "fulfilment", "evidence", "between", "score", "sharedConcept"]
CONCEPT_CLASSES = {"actor-role": "ActorRole", "cluster-type": "ClusterType", "funding-instrument": "FundingInstrument",
                   "policy-objective": "PolicyObjective", "criterion": "GovernanceCriterion",
                   "fulfilment": "FulfilmentLevel", "collaboration-type": "CollaborationType",
                   "technology": "Technology", "scientific-field": "ScientificField", "helix": "HelixSphere"}
# Links to other entities: checked as IRIs, never with sh:class (they may live on another node).
# Terms of the hub's machinery: harvest state and provenance, the comparative study, the index run.
HUB_CLASSES = {"HarvestState": None, "HarvestRun": PROV.Activity, "StudyRun": PROV.Activity,
               "Indicator": SKOS.Concept, "IndicatorValue": None}
HUB_PROPERTIES = ["pageSize", "firstSequence", "peerId", "peerUrl", "checkpoint", "lastAttempt", "lastSuccess",
                  "lastError", "membersApplied", "harvestDetails", "harvestOf", "indicator", "value", "query",
                  "explanation", "indexParameters"]
LINKS = [S3.region, S3.strategy, S3.governanceBody, S3.contributesTo, S3.domain, S3.coAnimator, S3.partner,
         S3.funding, S3.between, ORG.organization, ORG.member, ORG.hasMembership, PROV.wasGeneratedBy]


def graph_of(path) -> Graph:
    return Graph().parse(path, format="turtle")


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return graph_of(vocab.VOCAB_DIR / "ontology.ttl")


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return vocab.load_shapes()


@pytest.fixture(scope="module")
def concepts() -> dict[str, Graph]:
    return {f.stem: graph_of(f) for f in vocab.concept_files()}


def s3_terms(*graphs: Graph) -> set[URIRef]:
    return {t for g in graphs for triple in g for t in triple if isinstance(t, URIRef) and t.startswith(str(S3))}


def defined_terms(ontology: Graph) -> set[URIRef]:
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, RDF.Property, OWL.AnnotationProperty)
    return {s for k in kinds for s in ontology.subjects(RDF.type, k) if isinstance(s, URIRef)}


def context_iris() -> dict[str, str]:
    """term → expanded IRI of every term of the context."""
    ctx = vocab.context()["@context"]
    prefixes = {k: v for k, v in ctx.items() if isinstance(v, str) and v.endswith(("#", "/"))}

    def expand(value: str) -> str:
        prefix, _, local = value.partition(":")
        return prefixes[prefix] + local if prefix in prefixes and not local.startswith("//") else value
    out = {}
    for term, definition in ctx.items():
        if term.startswith("@") or term in prefixes:
            continue
        iri = definition if isinstance(definition, str) else definition["@id"]
        out[term] = expand(iri)
    return out


# --- the Python API ------------------------------------------------------------------------------

def test_version_matches_the_ontology(ontology):
    assert vocab.VERSION == "1.1.0"
    assert str(ontology.value(URIRef("https://w3id.org/s3fed/vocab"), OWL.versionInfo)) == vocab.VERSION


def test_loaders_are_cached_and_complete(ontology, concepts):
    assert vocab.load_vocabulary() is vocab.load_vocabulary()
    assert vocab.load_shapes() is vocab.load_shapes()
    assert vocab.context() is vocab.context()
    assert len(vocab.load_vocabulary()) == len(ontology) + sum(len(g) for g in concepts.values())


def test_package_reexports_namespaces_and_kinds():
    assert vocab.S3 == S3 and vocab.SKOS == SKOS and "s3" in vocab.PREFIXES
    assert vocab.KINDS["cluster"].rdf_class == S3.Cluster and vocab.KIND_OF_CLASS[S3.Cluster].name == "cluster"
    assert vocab.Kind is type(vocab.KINDS["region"])


# --- the ontology --------------------------------------------------------------------------------

def test_ontology_header(ontology):
    onto = URIRef("https://w3id.org/s3fed/vocab")
    assert (onto, RDF.type, OWL.Ontology) in ontology
    langs = {lit.language for lit in ontology.objects(onto, DCTERMS.title)}
    assert {"en", "fr"} <= langs and ontology.value(onto, DCTERMS.description) is not None


def test_every_core_term_is_defined_with_labels_and_comments_in_en_and_fr(ontology):
    concept_classes = list(CONCEPT_CLASSES.values())
    for name in [*CORE_CLASSES, *concept_classes, "IndexRun", *CORE_PROPERTIES, "helix", "sequence", "lastSequence",
                 *HUB_CLASSES, *HUB_PROPERTIES]:
        term = S3[name]
        assert term in defined_terms(ontology), f"s3:{name} is not defined"
        for p in (RDFS.label, RDFS.comment):
            langs = {lit.language for lit in ontology.objects(term, p)}
            assert {"en", "fr"} <= langs, f"s3:{name} needs {p.n3()} in en and fr, has {langs}"
    for name in CORE_CLASSES + concept_classes:
        assert (S3[name], RDF.type, OWL.Class) in ontology
    for name in concept_classes:
        assert (S3[name], RDFS.subClassOf, SKOS.Concept) in ontology, name
    assert (S3.Cluster, RDFS.subClassOf, ORG.FormalOrganization) in ontology
    assert (S3.Actor, RDFS.subClassOf, ORG.Organization) in ontology
    assert (S3.WorkingGroup, RDFS.subClassOf, ORG.OrganizationalUnit) in ontology
    assert (S3.IndexRun, RDFS.subClassOf, PROV.Activity) in ontology
    for name, parent in HUB_CLASSES.items():
        assert (S3[name], RDF.type, OWL.Class) in ontology, name
        if parent is not None:
            assert (S3[name], RDFS.subClassOf, parent) in ontology, name


def test_properties_have_domains_and_ranges(ontology):
    no_domain = {S3.sequence, S3.lastSequence}  # feed bookkeeping: any feed or member
    no_range = {S3.topic, S3.evidence, S3.value}  # text or IRI (value: a number, a concept, an entity)
    props = defined_terms(ontology) - set(ontology.subjects(RDF.type, OWL.Class))
    for p in props:
        if p not in no_domain:
            assert ontology.value(p, RDFS.domain) is not None, f"{p} has no rdfs:domain"
        if p not in no_range:
            assert ontology.value(p, RDFS.range) is not None, f"{p} has no rdfs:range"
    # several classes share a property: a union, never several rdfs:domain triples (= intersection)
    for p in props:
        assert len(list(ontology.objects(p, RDFS.domain))) <= 1, p


def test_reused_terms_are_not_redefined(ontology):
    for s in set(ontology.subjects()):
        assert not any(str(s).startswith(ns) for ns in REUSED), f"{s} belongs to a reused vocabulary"


def test_every_s3_term_used_anywhere_is_defined(ontology, shapes, concepts):
    defined = defined_terms(ontology)
    used = s3_terms(shapes, *concepts.values())
    used |= {URIRef(iri) for iri in context_iris().values() if iri.startswith(str(S3))}
    assert used - defined == set()


def test_every_ontology_term_is_in_the_shapes_or_the_context(ontology, shapes):
    covered = s3_terms(shapes) | {URIRef(iri) for iri in context_iris().values()}
    assert defined_terms(ontology) - covered == set()


# Where the code and data use s3: terms. A line containing IGNORE_MARK is skipped (e.g. a test fixture
# that uses an undefined term on purpose).
USAGE_GLOBS = ["node/**/*.py", "node/templates/**/*.html", "sync/**/*.py", "sync/queries/*.rq", "deploy/demo/*.ttl",
               "tests/data/**/*.ttl"]
IGNORE_MARK = "vocab: not a term"
_USAGE = re.compile(
    r"\bS3\.(?P<attr>[A-Za-z_]\w*)(?P<call>\s*\()?"            # S3.name (S3.name(...) is a str method)
    r"|\bS3\[\s*(?P<q>[\"'])(?P<key>[^\"'{}]+)(?P=q)\s*\]"       # S3["name"], S3['name'] (not S3[f"..."])
    r"|(?<![\w:/#.\-])s3:(?P<curie>[A-Za-z_][\w\-]*)")          # s3:name (not "@prefix s3: <…>", s3://…)


def s3_usages(root) -> dict[str, list[str]]:
    """s3 local name → ["path:line", …] of every use in the code, queries, demo data and test data."""
    not_terms = set(dir(S3))  # S3.startswith, S3.term, …: attributes of the Namespace (a str), not terms
    found: dict[str, list[str]] = {}
    files = sorted({f for pattern in USAGE_GLOBS for f in root.glob(pattern) if f.is_file()})
    assert files, f"no code found under {root}"
    for f in files:
        for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if IGNORE_MARK in line:
                continue
            for m in _USAGE.finditer(line):
                if m["attr"] and (m["call"] or m["attr"].startswith("_")):
                    continue
                name = m["attr"] or m["key"] or m["curie"]
                if m["attr"] in not_terms:  # S3.index is str.index, not s3:index: must be S3["index"]
                    name = f'{name} (S3.{name} is a str method, not a term: write S3["{name}"])'
                found.setdefault(name, []).append(f"{f.relative_to(root)}:{n}")
    return found


def test_usage_scanner_finds_every_form(tmp_path):
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "x.py").write_text(
        'a = S3.Cluster; b = S3["pageSize"]; c = S3[f"x/{y}"]; d = S3.startswith("h"); e = S3.term("z")\n'
        'q = "PREFIX s3: <https://w3id.org/s3fed/vocab#> SELECT * { ?s s3:region ?r ; a s3:Region . }"\n'
        'u = "s3://bucket/key"; v = S3C["actor-role/sme"]; w = "xs3:nope"\n'
        'z = S3.noSuchTerm  # vocab: not a term\n'
        'bad = S3.index; ok = S3["index"]\n', encoding="utf-8")
    assert {k: len(v) for k, v in s3_usages(tmp_path).items()} == \
        {"Cluster": 1, "pageSize": 1, "region": 1, "Region": 1, "index": 1,
         'index (S3.index is a str method, not a term: write S3["index"])': 1}
    assert s3_usages(tmp_path)["region"] == ["node/x.py:2"]


def test_every_s3_term_the_code_and_data_use_is_defined(ontology):
    """Code, SPARQL queries and data may only use s3: terms the ontology defines: a new term gets
    its definition (labels and comments in en and fr, domain and range) in vocab/ontology.ttl."""
    root = vocab.VOCAB_DIR.parent
    defined = {str(t).removeprefix(str(S3)) for t in defined_terms(ontology)}
    usages = s3_usages(root)
    assert {"Cluster", "pageSize", "HarvestState", "IndicatorValue"} <= set(usages)  # the scan sees the code
    missing = {name: where for name, where in usages.items() if name not in defined}
    report = "\n".join(f"  s3:{name}  used at {', '.join(where[:5])}{' …' if len(where) > 5 else ''}"
                       for name, where in sorted(missing.items()))
    assert not missing, f"{len(missing)} s3: term(s) used but not defined in vocab/ontology.ttl:\n{report}"


# --- the concept schemes ---------------------------------------------------------------------------

def test_every_concept_is_in_exactly_one_scheme_with_an_english_label(concepts):
    everything = vocab.load_vocabulary()
    for c in set(everything.subjects(RDF.type, SKOS.Concept)):
        schemes = list(everything.objects(c, SKOS.inScheme))
        assert len(schemes) == 1, f"{c} is in {len(schemes)} schemes"
        assert (schemes[0], RDF.type, SKOS.ConceptScheme) in everything
        assert any(lbl.language == "en" for lbl in everything.objects(c, SKOS.prefLabel)), c
        assert everything.value(c, SKOS.notation) is not None, c
        labels = [lbl.language for lbl in everything.objects(c, SKOS.prefLabel)]
        assert len(labels) == len(set(labels)), f"{c} has two prefLabels in one language"
        for b in everything.objects(c, SKOS.broader):
            assert everything.value(b, SKOS.inScheme) == schemes[0], f"{c} broader {b} is in another scheme"


@pytest.mark.parametrize("scheme", sorted(CONCEPT_CLASSES))
def test_s3_scheme_conventions(concepts, scheme):
    g = concepts[scheme]
    scheme_iri = S3C[scheme]
    assert (scheme_iri, RDF.type, SKOS.ConceptScheme) in g
    assert {lbl.language for lbl in g.objects(scheme_iri, SKOS.prefLabel)} >= {"en", "fr"}
    members = set(g.subjects(SKOS.inScheme, scheme_iri))
    assert members
    for c in members:
        assert (c, RDF.type, SKOS.Concept) in g and (c, RDF.type, S3[CONCEPT_CLASSES[scheme]]) in g, c
        code = str(c).removeprefix(str(scheme_iri) + "/")
        assert code != str(c) and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", code), f"bad concept URI {c}"
        assert {lbl.language for lbl in g.objects(c, SKOS.prefLabel)} >= {"en", "fr"}, c
    tops = set(g.objects(scheme_iri, SKOS.hasTopConcept))
    assert tops == {c for c in members if g.value(c, SKOS.broader) is None}


def codes(g: Graph, scheme: str) -> set[str]:
    return {str(c).rsplit("/", 1)[-1] for c in g.subjects(SKOS.inScheme, S3C[scheme])}


def test_the_required_codes_are_there(concepts):
    assert codes(concepts["actor-role"], "actor-role") == {
        "sme", "large-company", "research-organisation", "higher-education", "training", "public-body", "intermediary"}
    assert {"pole-de-competitivite", "cluster", "network", "innovation-hub", "technology-platform"} <= \
        codes(concepts["cluster-type"], "cluster-type")
    assert codes(concepts["funding-instrument"], "funding-instrument") >= {
        "erdf", "esf-plus", "horizon-europe", "horizon-2020", "interreg", "fui", "france-2030", "regional",
        "national", "private"}
    assert codes(concepts["policy-objective"], "policy-objective") == {"po1", "po2", "po3", "po4", "po5"}
    assert codes(concepts["fulfilment"], "fulfilment") == {"fulfilled", "partly", "not-fulfilled"}
    assert codes(concepts["collaboration-type"], "collaboration-type") >= {
        "inter-clustering", "joint-project", "interreg-project", "memorandum", "network-membership"}
    assert codes(concepts["technology"], "technology") == {
        "advanced-manufacturing", "advanced-materials", "nanotechnology", "micro-nano-electronics", "photonics",
        "industrial-biotechnology", "artificial-intelligence", "security-connectivity"}


def test_criteria_are_the_seven_of_annex_iv(concepts):
    g = concepts["criterion"]
    notations = {str(g.value(S3C[f"criterion/c{i}"], SKOS.notation)) for i in range(1, 8)}
    assert notations == {str(i) for i in range(1, 8)} and len(codes(g, "criterion")) == 7
    c4 = g.value(S3C["criterion/c4"], SKOS.prefLabel)
    assert "entrepreneurial discovery process" in str(c4)


def test_every_actor_role_has_one_triple_helix_sphere(concepts):
    roles, helix = concepts["actor-role"], concepts["helix"]
    spheres = set(helix.subjects(SKOS.inScheme, S3C.helix))
    assert {str(s).rsplit("/", 1)[-1] for s in spheres} == {"industry", "research", "public", "other"}
    for role in roles.subjects(SKOS.inScheme, S3C["actor-role"]):
        found = list(roles.objects(role, S3.helix))
        assert len(found) == 1 and found[0] in spheres, role
    assert roles.value(S3C["actor-role/sme"], S3.helix) == S3C["helix/industry"]
    assert roles.value(S3C["actor-role/higher-education"], S3.helix) == S3C["helix/research"]


def test_ford_has_6_broad_fields_and_42_fields(concepts):
    g = concepts["scientific-field"]
    members = set(g.subjects(SKOS.inScheme, S3C["scientific-field"]))
    broad = {c for c in members if g.value(c, SKOS.broader) is None}
    assert len(broad) == 6 and len(members - broad) == 42
    mech = S3C["scientific-field/2-3"]
    assert str(g.value(mech, SKOS.notation)) == "2.3" and g.value(mech, SKOS.broader) == S3C["scientific-field/2"]
    assert str(g.value(mech, SKOS.prefLabel)) in ("Mechanical engineering",) or \
        Literal("Mechanical engineering", lang="en") in set(g.objects(mech, SKOS.prefLabel))
    assert Literal("Humanities and the arts", lang="en") in set(g.objects(S3C["scientific-field/6"], SKOS.prefLabel))
    assert Literal("Nano-technology", lang="en") in set(g.objects(S3C["scientific-field/2-10"], SKOS.prefLabel))


def test_nace_has_21_sections_and_88_divisions_with_eu_uris(concepts):
    g = concepts["nace2"]
    scheme = NACE.nace2
    assert (scheme, RDF.type, SKOS.ConceptScheme) in g
    sections = {c for c in g.subjects(SKOS.inScheme, scheme) if re.fullmatch(r"[A-U]", str(g.value(c, SKOS.notation)))}
    assert sections == {NACE[letter] for letter in "ABCDEFGHIJKLMNOPQRSTU"}
    assert set(g.objects(scheme, SKOS.hasTopConcept)) == sections
    divisions = {c for c in g.subjects(SKOS.inScheme, scheme) if re.fullmatch(r"\d\d", str(g.value(c, SKOS.notation)))}
    assert len(divisions) == 88
    missing = {"04", "34", "40", "44", "48", "54", "57", "67", "76", "83", "89"}  # not used by NACE Rev. 2
    expected = {f"{n:02d}" for n in range(1, 100)} - missing
    assert divisions == {NACE[code] for code in expected}
    for d in divisions:
        assert g.value(d, SKOS.broader) in sections and str(g.value(d, SKOS.notation)) == str(d).rsplit("/", 1)[-1]
    assert g.value(NACE["30"], SKOS.broader) == NACE.C and g.value(NACE["62"], SKOS.broader) == NACE.J
    assert g.value(NACE["35"], SKOS.broader) == NACE.D and g.value(NACE["99"], SKOS.broader) == NACE.U
    assert Literal("Manufacture of other transport equipment", lang="en") in set(g.objects(NACE["30"], SKOS.prefLabel))
    assert Literal("Manufacturing", lang="en") in set(g.objects(NACE.C, SKOS.prefLabel))


def test_nace_groups_hang_under_their_division(concepts):
    g = concepts["nace2"]
    groups = {c for c in g.subjects(SKOS.inScheme, NACE.nace2)
              if re.fullmatch(r"\d\d\.\d", str(g.value(c, SKOS.notation)))}
    for wanted in ("30.1", "30.2", "30.3", "29.1", "29.2", "29.3", "21.1", "21.2", "10.1", "26.1", "62.0", "72.1"):
        assert NACE[wanted.replace(".", "")] in groups, wanted
    for grp in groups:
        notation = str(g.value(grp, SKOS.notation))
        assert str(grp) == str(NACE) + notation.replace(".", "")
        assert g.value(grp, SKOS.broader) == NACE[notation[:2]]
    assert Literal("Manufacture of air and spacecraft and related machinery", lang="en") in \
        set(g.objects(NACE["303"], SKOS.prefLabel))


# --- the shapes ------------------------------------------------------------------------------------

def test_one_node_shape_per_core_class(shapes):
    targets = {t for s in shapes.subjects(RDF.type, SH.NodeShape) for t in shapes.objects(s, SH.targetClass)}
    assert targets == {S3[c] for c in CORE_CLASSES} | {ORG.Membership}


def test_every_property_shape_speaks_to_people(shapes):
    property_shapes = set(shapes.objects(None, SH.property))
    assert len(property_shapes) > 50
    for ps in property_shapes:
        name, message = shapes.value(ps, SH.name), shapes.value(ps, SH.message)
        assert name is not None and message is not None, f"{shapes.value(ps, SH.path)} needs sh:name and sh:message"
        assert message.language in (None, "en") and "(" in message, message  # names the property in brackets


def test_links_to_entities_are_iris_not_classes(shapes):
    for ps in set(shapes.objects(None, SH.property)):
        if shapes.value(ps, SH.path) in LINKS:
            assert shapes.value(ps, SH["class"]) is None, shapes.value(ps, SH.path)
            assert shapes.value(ps, SH.nodeKind) == SH.IRI, shapes.value(ps, SH.path)


# --- validation ----------------------------------------------------------------------------------

def test_good_fixture_covers_every_core_class_and_conforms():
    g = graph_of(DATA / "good.ttl")
    assert {S3[c] for c in CORE_CLASSES} | {ORG.Membership} <= set(g.objects(None, RDF.type))
    before = len(g)
    report = vocab.validate(g)
    assert report.conforms, report.text()
    assert report.violations == [] and report.text() == ""
    assert len(g) == before, "validate must not modify its input"


@pytest.mark.parametrize("engine", ["native", "pyshacl"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_fixture_fails_with_one_kind_of_violation(name, engine):
    want = EXPECTED[name]
    report = vocab.validate(graph_of(DATA / name), engine=engine)
    severity = want.get("severity", "Violation")
    assert report.conforms == (severity != "Violation")
    assert {(v.focus, v.path, v.severity) for v in report.violations} == {(want["focus"], want["path"], severity)}, \
        report.text()
    for v in report.violations:
        assert want["message"] in v.message
        if want["value"] is not None:
            assert v.value == want["value"]


@pytest.mark.parametrize("engine", ["native", "pyshacl"])
def test_report_api(engine):
    report = vocab.validate(graph_of(DATA / "bad-cluster-no-region.ttl"), engine=engine)
    v = report.violations[0]
    assert dataclasses.is_dataclass(v) and dataclasses.fields(v)
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.focus = "x"  # type: ignore[misc]
    [problem] = report.to_problems()
    assert problem == {"focus": "https://frj.s3.example.org/id/cluster/mipyrail", "path": "s3:region",
                       "message": v.message, "value": None, "severity": "Violation"}
    assert report.text().startswith(
        "<https://frj.s3.example.org/id/cluster/mipyrail> (Cluster 'Mipyrail'): s3:region — A cluster needs")
    assert (None, RDF.type, SH.ValidationReport) in report.graph


def test_text_groups_results_by_focus_node():
    g = graph_of(DATA / "bad-region-country.ttl") + graph_of(DATA / "bad-cluster-no-region.ttl")
    mipyrail = URIRef("https://frj.s3.example.org/id/cluster/mipyrail")
    g.add((mipyrail, S3.memberCount, Literal(-1)))
    lines = vocab.validate(g).text().splitlines()
    assert len(lines) == 3
    head = "<https://frj.s3.example.org/id/cluster/mipyrail> (Cluster 'Mipyrail'): "
    assert lines[0].startswith(head + "s3:memberCount — ") and lines[1].startswith(head + "s3:region — ")
    assert lines[2].startswith("<https://frj.s3.example.org/id/region/frj> (Region 'Occitanie'): s3:country — ")
    assert lines[0].endswith("[value: -1]")


def test_concepts_from_the_wrong_scheme_are_refused():
    g = graph_of(DATA / "good.ttl")
    cluster = URIRef("https://frj.s3.example.org/id/cluster/mipyrail")
    g.set((cluster, S3.clusterType, S3C["actor-role/sme"]))
    report = vocab.validate(g)
    assert not report.conforms and [(v.focus, v.path) for v in report.violations] == [(str(cluster), "s3:clusterType")]


def test_links_to_other_nodes_need_not_be_in_the_data():
    g = Graph()
    c = URIRef("https://frj.s3.example.org/id/collaboration/eacp")
    g.add((c, RDF.type, S3.Collaboration))
    g.add((c, S3.partner, URIRef("https://frj.s3.example.org/id/cluster/aerospace-valley")))
    g.add((c, S3.partner, URIRef("https://de2.s3.example.org/id/cluster/bavairia")))
    g.add((c, S3.collaborationType, S3C["collaboration-type/network"]))
    assert vocab.validate(g).conforms


def test_blank_nodes_and_warnings_do_not_break_the_report():
    g = Graph()
    b = BNode()
    g.add((b, RDF.type, S3.Strategy))
    g.add((b, S3.region, URIRef("https://frj.s3.example.org/id/region/frj")))
    report = vocab.validate(g)
    assert report.conforms and [v.severity for v in report.violations] == ["Warning"]
    assert report.text().startswith("_:") and "Warning: A strategy should have a name" in report.text()


def test_demo_data_conforms():
    demo = sorted((vocab.VOCAB_DIR.parent / "deploy" / "demo").glob("*.ttl"))
    if not demo:
        pytest.skip("no demo data")
    for f in demo:
        report = vocab.validate(graph_of(f))
        assert report.conforms, f"{f.name}:\n{report.text()}"


def realistic_graph(size: int = 2000) -> Graph:
    """One region's data as an import sees it: the good fixture plus many actors and memberships."""
    g = graph_of(DATA / "good.ttl")
    base = "https://frj.s3.example.org/id/"
    roles = ["sme", "large-company", "research-organisation", "higher-education", "training", "public-body",
             "intermediary"]
    clusters = [URIRef(base + f"cluster/{c}") for c in ("aerospace-valley", "mipyrail", "automotech", "robotics-place")]
    i = 0
    while len(g) < size:
        actor, membership = URIRef(base + f"actor/a{i}"), URIRef(base + f"membership/m{i}")
        role = S3C["actor-role/" + roles[i % len(roles)]]
        g.add((actor, RDF.type, S3.Actor))
        g.add((actor, SKOS.prefLabel, Literal(f"Entreprise {i}", lang="fr")))
        g.add((actor, S3.actorType, role))
        g.add((membership, RDF.type, ORG.Membership))
        g.add((membership, ORG.organization, clusters[i % len(clusters)]))
        g.add((membership, ORG.member, actor))
        g.add((membership, ORG.role, role))
        g.add((clusters[i % len(clusters)], ORG.hasMembership, membership))
        i += 1
    return g


def test_validating_2000_triples_is_fast():
    """Imports and harvests validate every batch: ~2,000 triples of one region must take about a second."""
    g = realistic_graph()
    vocab.validate(Graph())  # warm the caches (parsing the vocabulary and shapes happens once per process)
    start = time.perf_counter()
    report = vocab.validate(g)
    elapsed = time.perf_counter() - start
    print(f"\nvalidated {len(g)} triples in {elapsed:.2f} s")
    assert report.conforms, report.text()[:2000]
    assert elapsed < 10, f"validation of {len(g)} triples took {elapsed:.1f} s"


# --- the JSON-LD context -------------------------------------------------------------------------

def test_context_is_local_and_maps_known_terms(ontology):
    ctx = vocab.context()
    assert set(ctx) == {"@context"} and isinstance(ctx["@context"], dict) and ctx["@context"]["@version"] == 1.1
    iris = context_iris()
    defined = defined_terms(ontology)
    for term, iri in iris.items():
        if iri.startswith(str(S3)):
            assert URIRef(iri) in defined, term
            assert term == iri.removeprefix(str(S3)) or term in ("startYear", "endYear"), term
    for name in CORE_CLASSES + CORE_PROPERTIES:
        assert name in iris, f"the context has no term for s3:{name}"


def test_context_expands_a_document_to_the_expected_triples():
    doc = {
        "@context": vocab.context()["@context"],
        "@graph": [
            {"id": "https://frj.s3.example.org/id/cluster/aerospace-valley", "type": "Cluster",
             "prefLabel": {"fr": "Aerospace Valley"},
             "region": "https://frj.s3.example.org/id/region/frj",
             "clusterType": "s3c:cluster-type/pole-de-competitivite",
             "naceActivity": ["nace:30", "nace:303"],
             "foundingYear": "2005", "memberCount": 40,
             "homepage": "https://www.aerospace-valley.com/",
             "keyword": {"fr": ["aéronautique", "espace"]}},
            {"id": "https://frj.s3.example.org/id/funding/erdf", "type": "Funding",
             "instrument": "s3c:funding-instrument/erdf", "amount": "1929500.00"},
            {"id": "https://frj.s3.example.org/id/action/s3-4alpclusters", "type": "Action",
             "startDate": "2016-11-01", "endYear": "2019"},
        ],
    }
    got = Graph().parse(data=json.dumps(doc), format="json-ld")
    expected = Graph().parse(format="turtle", data="""
        @prefix s3: <https://w3id.org/s3fed/vocab#> . @prefix skos: <http://www.w3.org/2004/02/skos/core#> .
        @prefix xsd: <http://www.w3.org/2001/XMLSchema#> . @prefix foaf: <http://xmlns.com/foaf/0.1/> .
        @prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix nace: <http://data.europa.eu/ux2/nace2/> .
        <https://frj.s3.example.org/id/cluster/aerospace-valley> a s3:Cluster ;
            skos:prefLabel "Aerospace Valley"@fr ;
            s3:region <https://frj.s3.example.org/id/region/frj> ;
            s3:clusterType <https://w3id.org/s3fed/concept/cluster-type/pole-de-competitivite> ;
            s3:naceActivity nace:30 , nace:303 ;
            s3:foundingYear "2005"^^xsd:gYear ; s3:memberCount 40 ;
            foaf:homepage <https://www.aerospace-valley.com/> ;
            dcat:keyword "aéronautique"@fr , "espace"@fr .
        <https://frj.s3.example.org/id/funding/erdf> a s3:Funding ;
            s3:instrument <https://w3id.org/s3fed/concept/funding-instrument/erdf> ;
            s3:amount "1929500.00"^^xsd:decimal .
        <https://frj.s3.example.org/id/action/s3-4alpclusters> a s3:Action ;
            s3:startDate "2016-11-01"^^xsd:date ; s3:endDate "2019"^^xsd:gYear .
    """)
    assert isomorphic(got, expected), sorted(set(got) ^ set(expected))


def test_context_compacts_and_round_trips_the_good_fixture():
    g = graph_of(DATA / "good.ttl")
    text = g.serialize(format="json-ld", context=vocab.context()["@context"], auto_compact=True)
    compact = json.loads(text)
    cluster = next(n for n in compact["@graph"] if n["id"].endswith("/cluster/aerospace-valley"))
    assert cluster["type"] == "Cluster" and cluster["prefLabel"] == {"fr": "Aerospace Valley"}
    assert isomorphic(Graph().parse(data=text, format="json-ld"), g)


def test_context_datatypes_are_the_ones_the_shapes_expect():
    for definition in vocab.context()["@context"].values():
        if isinstance(definition, dict) and definition.get("@type", "@id") != "@id":
            assert definition["@type"] in ("xsd:gYear", "xsd:date", "xsd:dateTime", "xsd:integer", "xsd:decimal",
                                           "@json")  # @json: an rdf:JSON literal
