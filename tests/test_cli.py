"""The CLI forms of DESIGN.md, their messages and exit codes."""
import subprocess
import sys
from pathlib import Path

from conftest import DATA, S3FED, sample_text

ROOT = Path(__file__).parent.parent


def run(*args):
    return subprocess.run([*S3FED, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_init_writes_config_and_refuses_to_overwrite(tmp_path):
    r = run("node", "init", "--dir", tmp_path / "n", "--region", "FRJ", "--name", "Occitanie",
            "--base-url", "https://s3.example.org/")
    assert r.returncode == 0 and (tmp_path / "n" / "s3fed.toml").exists()
    assert 'base_url = "https://s3.example.org"' in (tmp_path / "n" / "s3fed.toml").read_text()
    again = run("node", "init", "--dir", tmp_path / "n", "--region", "FRJ", "--name", "X", "--base-url", "https://x.org")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_bad_base_url_is_a_readable_error(tmp_path):
    r = run("node", "init", "--dir", tmp_path / "n", "--region", "FRJ", "--name", "O", "--base-url", "not a url")
    assert r.returncode == 2 and "base_url" in r.stderr


def test_missing_config_says_how_to_create_one(tmp_path):
    r = run("--config", tmp_path / "nope.toml", "node", "import", DATA / "sample.ttl")
    assert r.returncode == 2 and "s3fed node init" in r.stderr


def test_token_is_printed_last_and_stored_hashed(new_node):
    node = new_node()
    r = node.cli("node", "token", "create", "editor")
    token = r.stdout.split()[-1]
    assert r.returncode == 0 and len(token) > 30
    stored = (node.dir / "data" / "tokens.json").read_text()
    assert token not in stored and '"editor"' in stored


def test_env_overrides_config(new_node, monkeypatch):
    from node.config import load_config
    node = new_node()
    cfg = load_config(node.config, env={"S3FED_LIMITS_PAGE_SIZE": "7", "S3FED_NODE_NAME": "Occitanie / Pyrénées"})
    assert cfg["limits"]["page_size"] == 7 and cfg["node"]["name"] == "Occitanie / Pyrénées"


def test_vocab_check_good_and_bad(new_node):
    node = new_node()
    good = node.write("good.ttl", sample_text(node))
    r = run("vocab", "check", good)
    assert r.returncode == 0 and "conform" in r.stdout
    bad = node.write("bad.ttl", sample_text(node).replace('s3:region <id/region/FRJ> .\n<id/cluster/automotech>',
                                                          '.\n<id/cluster/automotech>'))
    r = run("vocab", "check", bad)
    assert r.returncode == 1
    assert "/id/cluster/mipyrail" in r.stdout and "region" in r.stdout


def test_vocab_check_syntax_error_has_position(tmp_path):
    f = tmp_path / "x.ttl"
    f.write_text("@prefix s3: <https://w3id.org/s3fed/vocab#> .\n<a> s3:b .\n")
    r = run("vocab", "check", f)
    assert r.returncode == 1 and "x.ttl:2" in r.stdout


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "s3fed"
    assert exe.exists(), "pip install -e . should install the s3fed console script"
