"""Configuration is data: one TOML file per node, every key overridable from the environment.

``s3fed.toml`` sits in the node's directory. ``S3FED_<SECTION>_<KEY>`` overrides a key
(``S3FED_NODE_BASE_URL=https://s3.example.org``), its value read as a TOML value when it parses
as one (numbers, booleans, arrays) and as a plain string otherwise. The file is read once, by
:func:`load_config`, and the resulting dict is handed to ``create_app``.
"""
from __future__ import annotations

import copy
import os
import re
import tomllib
from pathlib import Path

CONFIG_FILE = "s3fed.toml"

DEFAULTS: dict = {
    "node": {"region": "", "name": "", "base_url": "http://127.0.0.1:5100", "data_dir": "data",
             "languages": ["en", "fr", "de", "it", "sl"],
             "hub_url": ""},  # the federation's hub, for "opportunities in other regions" on pages
    "store": {"kind": "embedded", "query_url": "", "update_url": "", "store_url": ""},
    "limits": {"max_body_bytes": 20_000_000, "page_size": 50, "max_page_size": 1000,
               "sparql_timeout_s": 20.0, "sparql_max_results": 100_000, "max_json_depth": 64,
               "sparql_max_concurrent": 0,  # 0: one per CPU
               "sparql_isolation": "process",  # or "thread"; see node/sparql.py
               "sparql_max_tokens": 4000, "sparql_max_nesting": 64, "max_import_triples": 200_000},
    "feed": {"page_size": 250, "max_age_s": 5},
    "sync": {"interval_minutes": 60, "timeout_s": 30.0, "max_bytes": 200_000_000, "retries": 3,
             "backoff_s": 0.5, "workers": 8},
    "peers": [],
}


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""


def _merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_value(raw: str):
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply_env(cfg: dict, env) -> None:
    for name, raw in env.items():
        m = re.fullmatch(r"S3FED_([A-Z]+)_([A-Z0-9_]+)", name)
        if not m or name == "S3FED_CONFIG":
            continue
        section, key = m.group(1).lower(), m.group(2).lower()
        if isinstance(cfg.get(section), dict):
            cfg[section][key] = _env_value(raw)


def load_config(path: str | os.PathLike | None = None, env=None, overrides: dict | None = None) -> dict:
    """Read ``s3fed.toml`` (path, else ``$S3FED_CONFIG``, else defaults), then env overrides.

    Relative ``data_dir`` is resolved against the config file's folder so a node directory
    can be moved as a whole.
    """
    env = os.environ if env is None else env
    path = path or env.get("S3FED_CONFIG")
    cfg = copy.deepcopy(DEFAULTS)
    root = Path.cwd()
    if path:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"No configuration file at {path}. Create one with "
                              "`s3fed node init --dir DIR --region CODE --name NAME --base-url URL`.")
        try:
            cfg = _merge(cfg, tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path} is not valid TOML: {e}") from e
        root = path.resolve().parent
    _apply_env(cfg, env)
    if overrides:
        cfg = _merge(cfg, overrides)
    return _check(cfg, root)


def _check(cfg: dict, root: Path) -> dict:
    node = cfg["node"]
    base = str(node["base_url"]).rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", base):
        raise ConfigError(f"node.base_url must be an http(s) URL such as https://s3.example.org, got {base!r}")
    node["base_url"] = base
    node["data_dir"] = str((root / node["data_dir"]).resolve())
    if cfg["limits"].get("sparql_isolation") not in ("process", "thread"):
        raise ConfigError('limits.sparql_isolation must be "process" (queries in worker processes, killed at '
                          f'the timeout) or "thread", got {cfg["limits"].get("sparql_isolation")!r}')
    ids = set()
    for peer in cfg["peers"]:
        if not {"id", "url"} <= set(peer):
            raise ConfigError(f"every [[peers]] entry needs an id and a url, got {peer!r}")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", str(peer["id"])):
            raise ConfigError(f"peer id {peer['id']!r} must be letters, digits, '-' or '_' (e.g. a NUTS code)")
        if peer["id"] in ids:
            raise ConfigError(f"peer id {peer['id']!r} is listed twice")
        ids.add(peer["id"])
        peer["url"] = str(peer["url"]).rstrip("/")
    return cfg


def write_config(directory: str | os.PathLike, region: str, name: str, base_url: str) -> Path:
    """Create a node directory with its ``s3fed.toml`` (the ``node init`` verb)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CONFIG_FILE
    if path.exists():
        raise ConfigError(f"{path} already exists; edit it or choose another --dir")
    text = (
        "# s3fed node configuration. Every key can be overridden by S3FED_<SECTION>_<KEY>.\n"
        "[node]\n"
        f"region = {_toml_str(region)}      # NUTS code of the region this node publishes\n"
        f"name = {_toml_str(name)}\n"
        f"base_url = {_toml_str(base_url.rstrip('/'))}  # public URL: entity URIs are minted under it\n"
        'data_dir = "data"               # store, tokens and sync state, relative to this file\n'
        "\n[limits]\nmax_body_bytes = 20000000\nsparql_timeout_s = 20.0\n"
        "\n# A hub lists the nodes it harvests:\n# [[peers]]\n# id = \"DE1\"\n# url = \"https://s3.bw.example\"\n"
    )
    _check(_merge(DEFAULTS, tomllib.loads(text)), directory)
    path.write_text(text, encoding="utf-8")
    (directory / "data").mkdir(exist_ok=True)
    return path


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
