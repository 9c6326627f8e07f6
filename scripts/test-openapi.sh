#!/usr/bin/env bash
# Dumps the API's OpenAPI document with `postagram-api openapi` and validates it
# against the OpenAPI 3.1 schema with openapi-spec-validator (pinned in the venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${POSTAGRAM_VENV:-$ROOT/.venv}"
cd "$ROOT"
out="$(mktemp -d)/openapi.json"
cargo run --quiet -p postagram-api -- openapi > "$out"
"$VENV/bin/python" - "$out" <<'PY'
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator
doc = json.load(open(sys.argv[1]))
assert doc["openapi"].startswith("3.1"), doc["openapi"]
validate(doc, cls=OpenAPIV31SpecValidator)
ops = sum(len(v) for v in doc["paths"].values())
print(f"openapi: valid OpenAPI {doc['openapi']} document, {len(doc['paths'])} paths, {ops} operations")
PY
