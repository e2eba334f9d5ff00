#!/usr/bin/env bash
# Private to this repository's build. `ansible-builder introspect` on the INSTALLED collection
# (COLLECTIONS_DIR/ansible_collections/fleetfix/remediate, as `make collection` installs it), as an
# execution environment build that lists fleetfix.remediate runs it: every runtime requirement in
# requirements.txt, the optional WinRM transports and the system packages of bindep.txt must come out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
collections=${1:?usage: ee-introspect.sh COLLECTIONS_DIR}
venv="$root/.venv/bin"
out=$(mktemp -d "${TMPDIR:-/tmp}/fleetfix-introspect.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail() { echo "ee-introspect: $*" >&2; exit 1; }

[ -f "$collections/ansible_collections/fleetfix/remediate/meta/execution-environment.yml" ] \
  || fail "no installed collection with meta/execution-environment.yml under $collections"
echo "== ansible-builder introspect --sanitize $collections"
"$venv/ansible-builder" introspect --sanitize --write-pip "$out/requirements.txt" --write-bindep "$out/bindep.txt" \
  "$collections" > "$out/stdout" 2>&1 || { cat "$out/stdout" >&2; fail "introspection failed"; }
! grep -q 'Expected requirements file not present' "$out/stdout" || { cat "$out/stdout" >&2; fail "a declared file is missing"; }
# every runtime requirement, by name
sed -e 's/#.*//' -e 's/[<>=!~;[ ].*//' "$root/requirements.txt" | grep . | while read -r name; do
  grep -qi "^$name" "$out/requirements.txt" || fail "the runtime requirement $name is missing"
done
for extra in 'pywinrm\[kerberos\]' 'pywinrm\[credssp\]'; do
  grep -qi "^$extra" "$out/requirements.txt" || fail "the optional transport $extra is missing"
done
sed -e 's/#.*//' -e 's/ .*//' "$root/bindep.txt" | grep . | while read -r package; do
  grep -q "^$package " "$out/bindep.txt" || fail "the system requirement $package is missing"
done
grep -q 'from collection fleetfix.remediate' "$out/requirements.txt" || fail "the requirements are not attributed to the collection"
echo "ee-introspect: $(grep -c . "$out/requirements.txt") Python and $(grep -c . "$out/bindep.txt") system requirements from fleetfix.remediate:"
sed 's/^/  /' "$out/requirements.txt" "$out/bindep.txt"
