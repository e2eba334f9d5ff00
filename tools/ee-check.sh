#!/usr/bin/env bash
# Private to this repository's build. Check that meta/execution-environment.yml is a valid
# ansible-builder definition: `ansible-builder create` writes a build context into a temporary
# directory, and the context holds the Python and system requirements and the collection
# tarball, and its Containerfile installs the collection. (Building the image needs podman or
# docker and a registry; this check needs neither.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv="$root/.venv/bin"
context=$(mktemp -d "${TMPDIR:-/tmp}/fleetfix-ee.XXXXXX")
trap 'rm -rf "$context"' EXIT
fail() { echo "ee-check: $*" >&2; exit 1; }

if ! compgen -G "build/fleetfix-remediate-*.tar.gz" >/dev/null; then
  echo "== building the collection tarball the execution environment installs"
  "$venv/ansible-galaxy" collection build --force --output-path build/ . >/dev/null
fi
echo "== ansible-builder create -f meta/execution-environment.yml -c $context"
"$venv/ansible-builder" create -f meta/execution-environment.yml -c "$context" --output-filename Containerfile >/dev/null

containerfile="$context/Containerfile"
[ -s "$containerfile" ] || fail "no Containerfile written"
grep -q '^ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' "$containerfile" || fail "the base image is not the one the definition names"
for requirement in pyvmomi pywinrm dnspython; do
  grep -qi "^$requirement" "$context/_build/requirements.txt" || fail "$requirement is missing from the Python requirements"
done
grep -q 'krb5' "$context/_build/bindep.txt" || fail "the system requirements (bindep.txt) were not copied"
compgen -G "$context/_build/collections/fleetfix-remediate-*.tar.gz" >/dev/null || fail "the collection tarball is not in the build context"
grep -q 'ansible-galaxy collection install --offline -p /usr/share/ansible/collections /tmp/fleetfix-collections/' "$containerfile" \
  || fail "the Containerfile does not install the collection"
grep -q 'ansible-core>=2.16' "$containerfile" || fail "the Containerfile does not install ansible-core"
echo "ee-check: the build context is complete ($(ls "$context/_build/collections"), Python and system requirements, Containerfile)"
