"""A synthetic federation in the core vocabulary, for benchmarks at EU scale and beyond.

Why synthetic: the demo has six regions; the index, the harvester and the study must be measured
at ≈ 250 regions (every EU NUTS-2 region) and 10× that. Why *skewed*: real strategies are not
uniform — most regions pick agrifood, health and ICT, few pick space or photonics — and the index's
cost and quality both depend on that skew (common concepts make large candidate sets; rare ones
make the strong matches). So domains and clusters draw from profiles with Zipf-like popularity,
each profile carrying the NACE codes (down to 4-digit classes the vocabulary does not list, to
exercise the derived hierarchy), FORD fields, technologies, policy objectives and multilingual
keywords a real domain of that kind carries, plus a long tail of random concepts and keywords.

``generate(n)`` is deterministic for a seed. Each :class:`Region` has its N-Triples (entities under
``{base}/id/{kind}/{slug}``, valid against the shapes); ``members=True`` adds actors and
memberships (20–150 per cluster: ≈ 2.3 million triples and ≈ 1 900 entities per region at 250
regions, the harvest benchmark's federation), ``collaborations=False`` leaves out the
inter-regional s3:Collaboration evidence.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

BASE = "https://bench.s3fed.invalid/"
S3, C = "https://w3id.org/s3fed/vocab#", "https://w3id.org/s3fed/concept/"
NACE, NUTS = "http://data.europa.eu/ux2/nace2/", "http://data.europa.eu/nuts/code/"
SKOS, ORG = "http://www.w3.org/2004/02/skos/core#", "http://www.w3.org/ns/org#"
RDF_TYPE, KW = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type", "http://www.w3.org/ns/dcat#keyword"
XSD = "http://www.w3.org/2001/XMLSchema#"
COUNTRIES = {"AT": "de", "BE": "fr", "BG": "en", "CZ": "en", "DE": "de", "DK": "en", "EL": "en", "ES": "en",
             "FI": "en", "FR": "fr", "HR": "en", "HU": "en", "IE": "en", "IT": "it", "NL": "en", "PL": "en",
             "PT": "en", "RO": "en", "SE": "en", "SI": "sl", "SK": "en"}

# name, popularity, NACE codes, FORD fields, technologies, policy objectives, keywords (en + local)
PROFILES = [
    ("agrifood", 10, "01 011 0111 012 10 101 105 1051 107 11 1102 110", "4-1 4-2 4-5 2-11", "industrial-biotechnology",
     "po1 po2", "agrifood|agri-food|food|nutrition|dairy|wine|agroalimentaire|lebensmittel|agroalimentare"),
    ("health", 9, "21 211 2110 212 325 3250 86 861 862 266 2660", "3-1 3-2 3-4 3-5 2-6", "micro-nano-electronics",
     "po1 po4", "health|medtech|pharma|biotech|medical devices|santé|gesundheit|salute|e-health"),
    ("ict", 9, "62 620 6201 6202 63 631 61 26 261 58", "1-2 2-2", "artificial-intelligence security-connectivity",
     "po1", "ict|digital|software|data|cybersecurity|numérique|digitalisierung|digitale"),
    ("energy", 7, "35 351 3511 352 27 271 272 2720", "2-2 2-7", "advanced-materials", "po2",
     "energy|renewable energy|hydrogen|smart grids|batteries|énergie|energie|energia"),
    ("manufacturing", 6, "25 28 281 2822 33 22 222", "2-3 2-5", "advanced-manufacturing advanced-materials", "po1",
     "industry 4.0|manufacturing|mechatronics|robotics|industrie|produktion|manifattura"),
    ("automotive", 5, "29 291 2910 293 2932 221", "2-3", "advanced-manufacturing", "po1 po3",
     "automotive|mobility|e-mobility|suppliers|automobile|automobil|mobilità"),
    ("tourism-culture", 5, "55 56 79 90 91 59", "5-3 6-1 6-4", "", "po4 po5",
     "tourism|culture|creative industries|heritage|tourisme|tourismus|turismo"),
    ("construction", 4, "41 42 43 71 23", "2-1", "advanced-materials", "po2",
     "construction|green building|building|bâtiment|bauen|edilizia"),
    ("environment", 3, "36 37 38 39 383", "1-5 2-7", "", "po2",
     "water|circular economy|recycling|waste|eau|wasser|acqua"),
    ("chemicals", 3, "20 201 2016 24 241", "1-4 2-4 2-5", "advanced-materials nanotechnology", "po1",
     "chemistry|materials|plastics|chimie|chemie|chimica"),
    ("logistics", 2, "52 49 53 494", "2-11", "", "po3", "logistics|transport|logistique|logistik|logistica"),
    ("maritime", 2, "50 301 3011 03 031", "1-5 2-11", "", "po2", "blue economy|maritime|shipbuilding|mer|meer|mare"),
    ("textiles", 2, "13 14 15 1413", "2-5 5-8", "", "po1", "textile|fashion|design|mode|moda"),
    ("forestry", 1.5, "02 16 161 17", "4-1 4-4", "industrial-biotechnology", "po2",
     "wood|forestry|bioeconomy|bois|holz|legno"),
    ("rail", 1.5, "302 3020 49 491", "2-3", "advanced-manufacturing", "po3", "rail|railway|ferroviaire|bahn|ferrovia"),
    ("aerospace", 1.5, "30 303 3030 51 511", "2-3 2-5", "advanced-materials advanced-manufacturing", "po1",
     "aerospace|aviation|aéronautique|luftfahrt|aerospazio"),
    ("finance", 1, "64 66 70", "5-2", "artificial-intelligence", "po1", "fintech|finance|services"),
    ("space", 0.5, "3030 303 6130 7219", "1-3 2-2", "photonics", "po1",
     "space|satellite|earth observation|spatial|raumfahrt|spazio"),
    ("photonics", 0.5, "267 2670 2731", "1-3", "photonics nanotechnology", "po1", "photonics|optics|quantum|optique"),
    ("nuclear", 0.3, "2446 7120 3511", "2-7 1-3", "", "po2", "nuclear|fusion|nucléaire"),
]
MEMBERS = (20, 150)  # members per cluster with ``members=True``
LONG_TAIL_NACE = ["05", "06", "07", "08", "09", "12", "18", "19", "31", "32", "45", "46", "47", "60", "65", "68",
                  "69", "72", "721", "722", "73", "74", "75", "77", "78", "80", "81", "82", "84", "85", "87", "88",
                  "92", "93", "94", "95", "96", "264", "265", "268", "304", "309", "353", "512", "869"]


@dataclass
class Item:
    uri: str
    profile: int
    label: str
    concepts: list[tuple[str, str]]   # (predicate IRI, object in N-Triples)
    extra: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Region:
    code: str
    base: str
    domains: list[Item] = field(default_factory=list)
    clusters: list[Item] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def ntriples(self) -> bytes:
        return ("\n".join(self.lines) + "\n").encode("utf-8")


def _codes(n: int, rng: random.Random) -> list[str]:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    width = 2 if n <= len(COUNTRIES) * 36 ** 2 // 2 else 3
    seen, out = set(), []
    while len(out) < n:
        code = rng.choice(sorted(COUNTRIES)) + "".join(rng.choice(alphabet) for _ in range(width))
        if code not in seen:
            seen.add(code)
            out.append(code)
    return out


def _lit(text: str, lang: str | None = None, dtype: str | None = None) -> str:
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"@{lang}' if lang else f'"{text}"^^<{dtype}>' if dtype else f'"{text}"'


def _concepts(rng: random.Random, p: int, share: float, tail: list[str]) -> list[tuple[str, str]]:
    _, _, nace, ford, tech, po, kws = PROFILES[p]
    pick = [(S3 + "naceActivity", f"<{NACE}{c}>") for c in nace.split() if rng.random() < share]
    pick += [(S3 + "scientificField", f"<{C}scientific-field/{c}>") for c in ford.split() if rng.random() < share]
    pick += [(S3 + "technology", f"<{C}technology/{c}>") for c in tech.split() if rng.random() < share]
    pick += [(S3 + "policyObjective", f"<{C}policy-objective/{c}>") for c in po.split() if rng.random() < share]
    pick += [(KW, _lit(k, "en")) for k in kws.split("|") if rng.random() < share * 0.6]
    for _ in range(rng.randint(0, 2)):
        pick.append((S3 + "naceActivity", f"<{NACE}{rng.choice(LONG_TAIL_NACE)}>"))
    for _ in range(rng.randint(0, 2)):
        pick.append((KW, _lit(rng.choice(tail), "en")))
    return list(dict.fromkeys(pick))


def generate(n_regions: int, seed: int = 0, *, base: str = BASE, collaborations: bool = True,
             members: bool = False) -> list[Region]:
    """``n_regions`` regions with 6-12 priority domains and 5-25 clusters each."""
    rng = random.Random(seed)
    weights = [p[1] for p in PROFILES]
    tail = [f"topic {i}" for i in range(4000)]
    tail_w = [1 / (i + 1) for i in range(len(tail))]
    tail = rng.choices(tail, tail_w, k=20000)  # drawn once: a Zipf-like pool of long-tail keywords
    regions = [Region(code, f"{base}{code}") for code in _codes(n_regions, rng)]
    for r in regions:
        cc, b = r.code[:2], r.base
        lang = COUNTRIES[cc]
        reg, strat = f"{b}/id/region/{r.code.lower()}", f"{b}/id/strategy/s3-2021-2027"
        r.lines += [f"<{reg}> <{RDF_TYPE}> <{S3}Region> .", f"<{reg}> <{S3}nutsCode> {_lit(r.code)} .",
                    f"<{reg}> <{S3}country> {_lit(cc)} .",
                    f"<{reg}> <{SKOS}prefLabel> {_lit('Region ' + r.code, 'en')} .",
                    f"<{reg}> <{SKOS}exactMatch> <{NUTS}{r.code}> .",
                    f"<{strat}> <{RDF_TYPE}> <{S3}Strategy> .", f"<{strat}> <{S3}region> <{reg}> .",
                    f"<{strat}> <{SKOS}prefLabel> {_lit('S3 of ' + r.code, 'en')} .",
                    f"<{strat}> <{S3}periodStart> {_lit('2021', dtype=XSD + 'gYear')} ."]
        chosen: list[int] = []
        while len(chosen) < rng.randint(6, 12):
            p = rng.choices(range(len(PROFILES)), weights)[0]
            if p not in chosen or rng.random() < 0.1:
                chosen.append(p)
        for n, p in enumerate(chosen):
            concepts = _concepts(rng, p, rng.uniform(0.5, 1.0), tail)
            if rng.random() < 0.3:  # cross-cutting domains mix a second profile
                concepts += _concepts(rng, rng.choices(range(len(PROFILES)), weights)[0], 0.3, tail)
            d = Item(f"{b}/id/domain/{PROFILES[p][0]}-{n}", p, f"{PROFILES[p][0].title()} {r.code} {n}", concepts)
            d.extra = [(S3 + "strategy", f"<{strat}>")]
            r.domains.append(d)
        for n in range(rng.randint(5, 25)):
            p = rng.choices(range(len(PROFILES)), weights)[0]
            name = PROFILES[p][0]
            c = Item(f"{b}/id/cluster/{name}-cluster-{n}", p, f"{name.title()} cluster {r.code} {n}",
                     _concepts(rng, p, rng.uniform(0.4, 0.9), tail))
            c.extra = [(S3 + "region", f"<{reg}>"), (S3 + "clusterType", f"<{C}cluster-type/cluster>"),
                       (S3 + "memberCount", _lit(str(rng.randint(10, 400)), dtype=XSD + "integer"))]
            c.extra += [(S3 + "contributesTo", f"<{d.uri}>") for d in r.domains if d.profile == p][:1]
            r.clusters.append(c)
        for item, cls in [(d, "PriorityDomain") for d in r.domains] + [(c, "Cluster") for c in r.clusters]:
            r.lines.append(f"<{item.uri}> <{RDF_TYPE}> <{S3}{cls}> .")
            r.lines.append(f"<{item.uri}> <{SKOS}prefLabel> {_lit(item.label, 'en')} .")
            if lang != "en":
                r.lines.append(f"<{item.uri}> <{SKOS}prefLabel> {_lit(item.label + ' (' + lang + ')', lang)} .")
            r.lines += [f"<{item.uri}> <{p}> {o} ." for p, o in item.concepts + item.extra]
        if members:
            _members(r, rng, reg)
    if collaborations:
        _collaborations(regions, rng)
    return regions


def _members(r: Region, rng: random.Random, reg: str) -> None:
    """20–150 members per cluster, log-uniform: many clusters near 20, few near 150 (real
    registries are skewed that way), which makes ≈ 2.3 million triples at 250 regions."""
    roles = ["sme", "large-company", "research-organisation", "higher-education", "public-body", "intermediary"]
    for c in r.clusters:
        for m in range(int(MEMBERS[0] * (MEMBERS[1] / MEMBERS[0]) ** rng.random())):
            actor = f"{r.base}/id/actor/{c.uri.rsplit('/', 1)[1]}-a{m}"
            ms = f"{c.uri.replace('/cluster/', '/membership/')}-m{m}"
            role = f"<{C}actor-role/{rng.choice(roles)}>"
            r.lines += [f"<{actor}> <{RDF_TYPE}> <{S3}Actor> .",
                        f"<{actor}> <{SKOS}prefLabel> {_lit('Actor ' + str(m), 'en')} .",
                        f"<{actor}> <{S3}actorType> {role} .", f"<{actor}> <{S3}region> <{reg}> .",
                        f"<{ms}> <{RDF_TYPE}> <{ORG}Membership> .", f"<{ms}> <{ORG}organization> <{c.uri}> .",
                        f"<{ms}> <{ORG}member> <{actor}> .", f"<{ms}> <{ORG}role> {role} .",
                        f"<{c.uri}> <{ORG}hasMembership> <{ms}> ."]


def _collaborations(regions: list[Region], rng: random.Random) -> None:
    """A few inter-regional collaborations per region, mostly between clusters of one profile."""
    by_profile: dict[int, list[Item]] = {}
    for r in regions:
        for c in r.clusters:
            by_profile.setdefault(c.profile, []).append(c)
    for r in regions:
        for n in range(rng.choice([0, 0, 1, 1, 2, 3])):
            own = rng.choice(r.clusters)
            pool = by_profile[own.profile] if rng.random() < 0.8 else [c for cs in by_profile.values() for c in cs]
            partners = {c.uri for c in rng.sample(pool, min(len(pool), rng.randint(1, 3)))
                        if not c.uri.startswith(r.base + "/")}
            if not partners:
                continue
            co = f"{r.base}/id/collaboration/collab-{n}"
            r.lines += [f"<{co}> <{RDF_TYPE}> <{S3}Collaboration> .",
                        f"<{co}> <{SKOS}prefLabel> {_lit(f'Collaboration {r.code} {n}', 'en')} .",
                        f"<{co}> <{S3}collaborationType> <{C}collaboration-type/inter-clustering> .",
                        *(f"<{co}> <{S3}partner> <{u}> ." for u in sorted(partners | {own.uri}))]


def write(regions: list[Region], directory: str | Path) -> list[Path]:
    """One ``{code}.nt`` per region (for a harvest benchmark that serves them from real nodes)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for r in regions:
        (path := directory / f"{r.code}.nt").write_bytes(r.ntriples)
        out.append(path)
    return out
