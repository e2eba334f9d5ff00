#!/usr/bin/env bash
# Private to this repository's benchmarks. A separate virtual environment with PyPI's
# ansible==12.3.0 (which bundles community.vmware, community.dns, ansible.windows, ...)
# so the benchmarks can run the peer collections beside ours. Prints the venv path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${PEER_VENV:-$root/build/peer-venv}
if [ ! -x "$venv/bin/ansible-playbook" ] || [ ! -f "$venv/.complete" ]; then
  echo "== peer environment $venv (ansible==12.3.0)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check ansible==12.3.0 pyvmomi==9.1.1.0 \
    pywinrm==0.5.0 dnspython==2.9.2 >&2
  touch "$venv/.complete"
fi
echo "$venv"
