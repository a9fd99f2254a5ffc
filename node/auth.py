"""Write tokens: issued once by the CLI, stored only as SHA-256 hashes, checked in constant time.

Tokens are 32 random bytes, so an unsalted hash is enough: nothing can be guessed from it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path

from flask import current_app, request

from .problems import Problem


def _path(data_dir: str) -> Path:
    return Path(data_dir) / "tokens.json"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(data_dir: str, name: str) -> str:
    """Issue a token for ``name``; only its hash is written to disk."""
    path = _path(data_dir)
    tokens = json.loads(path.read_text()) if path.exists() else []
    token = "s3fed_" + secrets.token_urlsafe(32)
    tokens.append({"name": name, "sha256": _hash(token), "created": datetime.now(UTC).isoformat()})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(tokens, indent=1))
    tmp.chmod(0o600)
    tmp.replace(path)
    return token


def check_token(data_dir: str, token: str) -> str | None:
    """The name of the token's holder, or None. Every stored hash is compared in constant time."""
    path = _path(data_dir)
    if not path.exists():
        return None
    digest, found = _hash(token), None
    for entry in json.loads(path.read_text()):
        if hmac.compare_digest(entry["sha256"], digest):
            found = entry["name"]
    return found


def require_token(view):
    """401 without a bearer token, 403 with one this node did not issue."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(401, "Unauthorized", "Writes need `Authorization: Bearer <token>`; "
                          "a node administrator issues one with `s3fed node token create NAME`.",
                          headers={"WWW-Authenticate": 'Bearer realm="s3fed"'})
        if check_token(current_app.config["S3FED"]["node"]["data_dir"], token.strip()) is None:
            raise Problem(403, "Forbidden", "This token is not valid on this node.")
        return view(*args, **kwargs)
    return wrapper
