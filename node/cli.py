"""The ``s3fed`` command: a thin shell over the library, as pySHACL's CLI is over pyshacl.

Exit codes: 0 done, 1 the data was refused (validation, syntax), 2 usage or configuration
errors (click's convention), 3 the store or a peer could not be reached.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .config import ConfigError, load_config, write_config


def _fail(message: str, code: int = 2):
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


class Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._config = None

    @property
    def config(self) -> dict:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as e:
                _fail(str(e))
        return self._config

    def open_store(self):
        from .store import open_store
        try:
            return open_store(self.config)
        except OSError as e:
            _fail(f"cannot open the store in {self.config['node']['data_dir']}: {e}\n"
                  "If the node is running, it holds the store: stop it, or import through the API "
                  "(POST /api/v1/import with a token).", 3)


@click.group()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="S3FED_CONFIG",
              help="The node's s3fed.toml (default: $S3FED_CONFIG).")
@click.version_option(package_name="s3fed")
@click.pass_context
def main(ctx, config_path):
    """s3fed: a federated data exchange for regional smart specialisation strategies."""
    ctx.obj = Context(config_path)


@main.group()
def node():
    """Create, run and feed a region's node."""


@node.command("init")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False), help="Node directory to create.")
@click.option("--region", required=True, help="NUTS code of the region, e.g. FRJ.")
@click.option("--name", required=True, help="Name of the region, e.g. Occitanie.")
@click.option("--base-url", required=True, help="Public URL of the node, e.g. https://s3.example.org.")
def node_init(directory, region, name, base_url):
    """Create a node's configuration and data directory."""
    try:
        path = write_config(directory, region, name, base_url)
    except ConfigError as e:
        _fail(str(e))
    click.echo(f"Created {path}\nNext: s3fed --config {path} node import YOUR-DATA.ttl\n"
               f"      s3fed --config {path} node serve")


@node.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5100, show_default=True, type=int)
@click.pass_obj
def node_serve(obj: Context, host, port):
    """Run the node with the development server (production: gunicorn, see deploy/)."""
    from werkzeug.serving import run_simple

    from . import create_app
    try:
        app = create_app(obj.config)
    except OSError as e:
        hint = "is another process serving this node?" if obj.config["store"]["kind"] == "embedded" \
            else "is the SPARQL server running?"
        _fail(f"cannot open the store: {e} ({hint})", 3)
    if obj.config["peers"]:  # a hub: this process owns the store, so it runs the harvests
        from sync.scheduler import start_for_app
        start_for_app(app, f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}")
    click.echo(f"Serving {obj.config['node']['name'] or 'node'} on http://{host}:{port}/ "
               f"(entity URIs under {obj.config['node']['base_url']})")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@node.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def node_import(obj: Context, files):
    """Validate FILES (Turtle, JSON-LD, N-Triples, RDF/XML) and import them, all or nothing."""
    from .formats import UnsupportedMediaType, format_for_upload
    from .importer import ImportRefused, run_import
    from .store import Graphs
    cfg = obj.config
    sources = []
    for f in files:
        try:
            sources.append((f, Path(f).read_bytes(), format_for_upload(None, f)))
        except UnsupportedMediaType as e:
            _fail(str(e))
    store = obj.open_store()
    try:
        changes = run_import(store, Graphs(cfg["node"]["base_url"]), sources, cfg["node"]["base_url"],
                             cfg["limits"]["max_json_depth"])
    except ImportRefused as e:
        click.secho(f"Nothing was imported: {len(e.errors)} problem(s) found.", fg="red", err=True)
        click.echo(e.text(), err=True)
        sys.exit(1)
    except OSError as e:  # an external store that is down, a full disk
        _fail(f"nothing was imported: the store could not be written: {e}", 3)
    finally:
        store.close()
    click.echo(f"Imported {len(changes.subjects)} entities ({len(changes.triples)} triples) from {len(files)} file(s).")


@node.group("token")
def token():
    """Write tokens for the JSON API."""


@token.command("create")
@click.argument("name")
@click.pass_obj
def token_create(obj: Context, name):
    """Issue a write token for NAME; it is printed once, only its hash is kept."""
    from .auth import create_token
    tok = create_token(obj.config["node"]["data_dir"], name)
    click.echo(f"Token for {name} (shown once, store it safely): {tok}")


@main.group("vocab")
def vocab_group():
    """The shared vocabulary."""


@vocab_group.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--engine", type=click.Choice(["native", "pyshacl"]), default="native", show_default=True,
              help="native: the shapes compiled to SPARQL (fast); pyshacl: the reference implementation.")
def vocab_check(files, engine):
    """Validate FILES against the shared SHACL shapes; exit 1 on any violation."""
    import vocab

    from .formats import RdfSyntaxError, UnsupportedMediaType, format_for_upload, parse
    failed = False
    for f in files:
        try:
            quads = parse(Path(f).read_bytes(), format_for_upload(None, f), base_iri=Path(f).resolve().as_uri(),
                          source=f)
        except (RdfSyntaxError, UnsupportedMediaType) as e:
            where = f"{f}:{e.line}:{e.column}" if getattr(e, "line", None) else f
            click.secho(f"✗ {where}: {e}", fg="red")
            failed = True
            continue
        report = vocab.validate(quads, engine=engine)
        if report.conforms:
            click.secho(f"✓ {f}: {len(quads)} triples conform to the s3fed shapes", fg="green")
        else:
            failed = True
            click.secho(f"✗ {f}: {len(report.violations)} violation(s)", fg="red")
            click.echo(report.text())
    sys.exit(1 if failed else 0)


@main.command("demo")
@click.option("--dir", "directory", default="demo-data", show_default=True, type=click.Path(file_okay=False),
              help="Where the demo nodes keep their data (recreated on each run).")
@click.option("--port", default=5101, show_default=True, type=int, help="First port; one per node.")
def demo(directory, port):
    """Start a local federation on loopback with the real demo data."""
    from sync import demo as demo_federation
    demo_federation.run(Path(directory).resolve(), port)


from sync.cli import register as _register_sync  # noqa: E402  (the `s3fed sync …` verbs)

_register_sync(main)

if __name__ == "__main__":
    main()
