#!/usr/bin/env bash
# Private to this repository's build. Install what the tests, demo and benchmarks need on a
# fresh Debian/Ubuntu machine: Debian packages only when missing, then a virtual
# environment with the pinned tool versions (reinstalled when the pins change).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-.venv}
# the pinned tools; tests/requirements-2.16.txt for the second environment (make setup-2.16)
requirements=${2:-tests/requirements-dev.txt}
cd "$root"

# Debian packages: Go and govmomi build the vCenter simulator, NSD and Unbound serve DNS,
# nginx is the Autodiscover endpoint (HTTPS), chrony serves NTP (faketime runs one instance 10 minutes wrong),
# Chromium and its chromedriver (Selenium) render the compliance report in its test, shellcheck is a sanity test, rsync
# stages the collection; krb5-kdc and krb5-admin-server (kdb5_util, kadmin.local) run the testbed's
# KDC, krb5-user and libkrb5-dev (with gcc and python3-dev) build and feed pykerberos/gssapi/krb5.
packages=(golang-go golang-github-vmware-govmomi-dev nsd unbound nginx chrony faketime chromium chromium-driver shellcheck rsync
          krb5-kdc krb5-admin-server krb5-user libkrb5-dev gcc python3-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

stamp="$venv/.requirements.sha256"
want=$(cat "$requirements" requirements.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== virtual environment $venv with pinned tools"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
fi
