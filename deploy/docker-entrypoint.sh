#!/bin/sh
# Container entry: on the first start, create the node in $S3FED_CONFIG's folder from
#   S3FED_NODE_REGION, S3FED_NODE_NAME, S3FED_NODE_BASE_URL   (required for a new node)
#   S3FED_PEERS="ID=URL ID=URL"                              (a hub's [[peers]])
#   S3FED_DEMO_IMPORT=CODE and S3FED_DEMO_BASES="CODE=URL …" (import deploy/demo/CODE.ttl once,
#                                                             its placeholder IRIs pointed at URL)
# then run the command (gunicorn by default). Every other key comes from s3fed.toml or from
# S3FED_<SECTION>_<KEY> variables (S3FED_STORE_KIND=sparql, S3FED_STORE_QUERY_URL=…), read by
# the node at each start.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
: "${S3FED_CONFIG:=/srv/s3fed/node/s3fed.toml}"
export S3FED_CONFIG

if [ ! -f "$S3FED_CONFIG" ]; then
    dir=$(dirname "$S3FED_CONFIG")
    s3fed node init --dir "$dir" --region "${S3FED_NODE_REGION:?set S3FED_NODE_REGION for a new node}" \
        --name "${S3FED_NODE_NAME:-$S3FED_NODE_REGION}" \
        --base-url "${S3FED_NODE_BASE_URL:?set S3FED_NODE_BASE_URL (the public URL) for a new node}"
    for peer in ${S3FED_PEERS:-}; do
        printf '\n[[peers]]\nid = "%s"\nurl = "%s"\n' "${peer%%=*}" "${peer#*=}" >> "$S3FED_CONFIG"
    done
    if [ -n "${S3FED_DEMO_IMPORT:-}" ]; then
        data="$dir/$S3FED_DEMO_IMPORT.ttl"
        python - "$here/demo/$S3FED_DEMO_IMPORT.ttl" "$data" <<'PY'
import os, sys
from sync.demo import rebase
bases = dict(item.split("=", 1) for item in os.environ.get("S3FED_DEMO_BASES", "").split())
with open(sys.argv[1], encoding="utf-8") as src, open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write(rebase(src.read(), bases))
PY
        s3fed node import "$data"
    fi
fi

exec "$@"
