#!/usr/bin/env bash
# Private to this repository's build. Build the collection tarball from a clean copy and check
# that it carries no test output, virtual environment, cache or testbed state.
set -euo pipefail
collection=${1:?usage: build-check.sh STAGED_COLLECTION_DIR}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --force --output-path "$out" "$collection" >/dev/null
tarball=$(ls "$out"/fleetfix-remediate-*.tar.gz)
listing=$(tar -tzf "$tarball")
unwanted=$(echo "$listing" | grep -E '(^|/)(\.venv|venv|build|tests/output|\.state|__pycache__|\.pytest_cache|\.git)(/|$)|\.pyc$' || true)
if [ -n "$unwanted" ]; then
  echo "build-check: the tarball carries files it must not:" >&2
  echo "$unwanted" | head -20 >&2
  exit 1
fi
for required in MANIFEST.json FILES.json meta/runtime.yml plugins/modules README.md; do
  # grep reads the whole listing (no early exit of grep -q killing tar under pipefail)
  grep -c "^$required" <<<"$listing" >/dev/null || { echo "build-check: $required missing from the tarball" >&2; exit 1; }
done
echo "build-check: $(basename "$tarball") has $(wc -l <<<"$listing") entries, no test output, venv or cache"
