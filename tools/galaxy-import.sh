#!/usr/bin/env bash
# Private to this repository's build. Run galaxy-importer (what Galaxy and Automation Hub run on
# upload) on the collection tarball built from a clean copy, configured by tests/galaxy-importer.cfg
# to do what runs offline without a container runtime (ansible-test, which runs in a container
# there, is skipped; `make sanity` runs it). The import must succeed and report no warning other
# than those listed below.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
collection=${1:?usage: galaxy-import.sh STAGED_COLLECTION_DIR}
out=$(mktemp -d "${TMPDIR:-/tmp}/fleetfix-galaxy-import.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail() { echo "galaxy-import: $*" >&2; exit 1; }

ansible-galaxy collection build --force --output-path "$out" "$collection" >/dev/null
tarball=$(ls "$out"/fleetfix-remediate-*.tar.gz)
echo "== galaxy-importer $(basename "$tarball") (ansible-doc, ansible-lint, flake8; ansible-test skipped: it needs a container)"
mkdir "$out/tmp"
# (it writes importer_result.json into the directory it runs in)
if ! (cd "$out" && GALAXY_IMPORTER_CONFIG="$root/tests/galaxy-importer.cfg" GALAXY_IMPORTER_TMP_ROOT_DIR="$out/tmp" \
    python -m galaxy_importer.main "$tarball" > "$out/log" 2>&1) \
    || ! grep -q '^Importer processing completed successfully' "$out/log"; then
  grep -v '^Loading \|^Linting \|^Running ansible-doc' "$out/log" | tail -40 >&2
  fail "the import failed"
fi
# Warnings Galaxy shows without rejecting, accepted here:
#  - sanity ignore files exist (they are empty: "with 0 statement(s)");
#  - flake8 W503 (line break before a binary operator), which contradicts W504 and which
#    ansible-test's pep8 test does not select.
warnings=$(grep '^WARNING' "$out/log" \
  | grep -v 'found ignore-[0-9.]*\.txt with 0 statement(s)' \
  | grep -v ': W503 line break before binary operator' || true)
[ -z "$warnings" ] || { echo "$warnings" >&2; fail "galaxy-importer warns about the collection"; }
echo "galaxy-importer: $(basename "$tarball") imports ($(grep -c '^Loading ' "$out/log") contents loaded)"
