"""Import is validated and all-or-nothing, whatever the door (CLI here, API in test_api.py)."""
import pytest
from conftest import sample_text

from node.config import load_config
from node.store import Graphs, open_store


def triples_in(node) -> int:
    store = open_store(load_config(node.config))
    try:
        return store.count(Graphs(node.base).data)
    finally:
        store.close()


def test_valid_import_stores_everything(new_node):
    node = new_node()
    r = node.import_text(sample_text(node))
    assert r.returncode == 0, r.stderr
    assert "Imported 15 entities" in r.stdout
    assert triples_in(node) > 50


def test_one_bad_entity_stores_nothing(new_node):
    node = new_node()
    bad = sample_text(node).replace('skos:prefLabel "Mipyrail"@fr ;', "")   # a cluster without a label
    r = node.import_text(bad)
    assert r.returncode == 1
    assert "Nothing was imported" in r.stderr
    assert f"{node.base}/id/cluster/mipyrail" in r.stderr and "prefLabel" in r.stderr
    assert triples_in(node) == 0


def test_every_violation_is_listed(new_node):
    node = new_node()
    bad = (sample_text(node).replace('skos:prefLabel "Mipyrail"@fr ;', "")
           .replace('s3:strategy <id/strategy/sri-si-2014-2020> ;\n  skos:prefLabel "Petit', 'skos:prefLabel "Petit'))
    bad = bad.replace("<https://w3id.org/s3fed/concept/funding-instrument/fui>", "<https://example.org/not-an-instrument>")
    r = node.import_text(bad)
    assert r.returncode == 1
    for focus in ("/id/cluster/mipyrail", "/id/domain/eau", "/id/funding/fui"):
        assert node.base + focus in r.stderr, r.stderr


def test_syntax_error_names_line_and_column(new_node):
    node = new_node()
    path = node.write("broken.ttl", '@prefix s3: <https://w3id.org/s3fed/vocab#> .\n\n<a> s3:x "unterminated .\n')
    r = node.cli("node", "import", path)
    assert r.returncode == 1
    assert "broken.ttl:3" in r.stderr


def test_import_across_files_is_one_transaction(new_node):
    node = new_node()
    good = node.write("good.ttl", sample_text(node))
    bad = node.write("bad.nt", f'<{node.base}/id/cluster/x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> '
                     '<https://w3id.org/s3fed/vocab#Cluster> .\n')
    r = node.cli("node", "import", good, bad)
    assert r.returncode == 1 and triples_in(node) == 0


@pytest.mark.parametrize("name,body,expected", [
    ("xxe.rdf", '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "DOCTYPE"),
    ("laughs.rdf", '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
                   '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', "DOCTYPE"),
    ("remote.jsonld", '{"@context": "https://example.org/context.jsonld", "@id": "x", "name": "y"}', "remote context"),
    ("deep.jsonld", '{"@id": "x", "http://p": ' + '{"http://p": ' * 200 + '1' + '}' * 200 + '}', "nested deeper"),
])
def test_hostile_files_are_refused_without_fetching_or_expanding(new_node, name, body, expected):
    node = new_node()
    r = node.cli("node", "import", node.write(name, body))
    assert r.returncode == 1 and expected.lower() in r.stderr.lower(), r.stderr
    assert triples_in(node) == 0


def test_other_nodes_subjects_and_blank_nodes_are_refused(new_node):
    node = new_node()
    text = (sample_text(node) + '\n<https://other.example/id/cluster/x> a s3:Cluster ; skos:prefLabel "X"@en ;'
            f' s3:region <{node.base}/id/region/FRJ> .\n[] a s3:Actor ; skos:prefLabel "Anonymous"@en .\n')
    r = node.import_text(text)
    assert r.returncode == 1
    assert "https://other.example/id/cluster/x" in r.stderr and "blank node" in r.stderr
    assert triples_in(node) == 0


def test_reimport_replaces_descriptions(new_node):
    node = new_node()
    node.import_text(sample_text(node))
    before = triples_in(node)
    fixed = sample_text(node).replace('"Mipyrail"@fr', '"Mipyrail"@fr, "Mipyrail rail cluster"@en')
    assert node.import_text(fixed).returncode == 0
    assert triples_in(node) == before + 1
