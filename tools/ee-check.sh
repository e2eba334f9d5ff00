#!/usr/bin/env bash
# Private to this repository's build. Check the image definition ee/execution-environment.yml:
# `ansible-builder create` writes a build context into a temporary directory; the context holds
# the collection tarball and requirements.yml, and its Containerfile installs the collection in
# the galaxy stage and then introspects it. The galaxy and builder stages are then replayed on
# this machine: the context's requirements.yml installs the context's tarball, and the context's
# own introspect.py (the script the image runs) must find the collection's dependencies.
# (Building the image needs podman or docker and a registry; this check needs neither.)
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
echo "== ansible-builder create -f ee/execution-environment.yml -c $context/context"
"$venv/ansible-builder" create -f ee/execution-environment.yml -c "$context/context" --output-filename Containerfile >/dev/null

build="$context/context/_build"
containerfile="$context/context/Containerfile"
[ -s "$containerfile" ] || fail "no Containerfile written"
grep -q '^ARG EE_BASE_IMAGE="quay.io/centos/centos:stream9"' "$containerfile" || fail "the base image is not the one the definition names"
grep -q 'ansible-core>=2.16' "$containerfile" || fail "the Containerfile does not install ansible-core"
tarballs=("$build"/collections/fleetfix-remediate-*.tar.gz)
if [ ${#tarballs[@]} -ne 1 ] || [ ! -f "${tarballs[0]}" ]; then fail "not exactly one collection tarball in the build context"; fi
grep -q '^COPY _build/collections/ /tmp/fleetfix-collections/' "$containerfile" || fail "the galaxy stage does not copy the tarball"
grep -q 'ansible-galaxy collection install .*-r requirements.yml' "$containerfile" || fail "the galaxy stage does not install requirements.yml"
grep -q 'introspect.py introspect' "$containerfile" || fail "the builder stage does not introspect the collections"

echo "== replaying the galaxy stage (requirements.yml) and the builder stage (introspect.py) here"
mkdir "$context/fleetfix-collections" "$context/installed"
cp "${tarballs[0]}" "$context/fleetfix-collections/fleetfix-remediate.tar.gz"
sed "s|/tmp/fleetfix-collections/|$context/fleetfix-collections/|" "$build/requirements.yml" > "$context/requirements.yml"
"$venv/ansible-galaxy" collection install --offline --force -r "$context/requirements.yml" -p "$context/installed" >/dev/null 2>&1 \
  || fail "requirements.yml does not install the collection tarball"
[ -f "$context/installed/ansible_collections/fleetfix/remediate/MANIFEST.json" ] || fail "the collection was not installed"
"$venv/python" "$build/scripts/introspect.py" introspect --sanitize \
  --write-pip "$context/requirements.txt" --write-bindep "$context/bindep.txt" "$context/installed" >/dev/null
for requirement in pyvmomi pywinrm 'pywinrm\[kerberos\]' dnspython; do
  grep -qi "^$requirement" "$context/requirements.txt" || fail "the image would miss the Python requirement $requirement"
done
grep -q '^krb5-devel' "$context/bindep.txt" || fail "the image would miss the system requirement krb5-devel"
echo "ee-check: the build context is complete ($(basename "${tarballs[0]}"), requirements.yml, Containerfile) and the image would install $(grep -c . "$context/requirements.txt") Python and $(grep -c . "$context/bindep.txt") system requirements"
