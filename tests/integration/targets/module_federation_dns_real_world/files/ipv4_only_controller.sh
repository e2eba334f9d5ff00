#!/usr/bin/env bash
# Run one federation_dns task from a controller without IPv6: a network namespace of its own
# with IPv6 disabled and its own DNS testbed on its own loopback. Creates and deletes both.
#   ipv4_only_controller.sh NAMESPACE PYTHON TESTBED_DIR COLLECTIONS_PATH MODULE_ARGS_JSON
set -euo pipefail
name=$1
python=$2
testbed_dir=$3
collections=$4
module_args=$5
state=$(mktemp -d)

in_namespace() {
  ip netns exec "$name" "$@"
}

cleanup() {
  in_namespace env PYTHONPATH="$testbed_dir" "$python" -m testbed down --only dns --state-dir "$state" >/dev/null 2>&1 || true
  ip netns del "$name" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT

ip netns del "$name" 2>/dev/null || true
ip netns add "$name"
in_namespace sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.lo.disable_ipv6=1
in_namespace ip link set lo up
if ! in_namespace env PYTHONPATH="$testbed_dir" "$python" -m testbed up --only dns --state-dir "$state" >"$state/up.log" 2>&1; then
  cat "$state/up.log" >&2
  exit 1
fi
# The ad-hoc command prints "localhost | SUCCESS => {...}": the JSON after "=> " is the result.
in_namespace env ANSIBLE_COLLECTIONS_PATH="$collections" ANSIBLE_NOCOLOR=1 ANSIBLE_LOCALHOST_WARNING=false \
  ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
  "$python" -c 'import sys; from ansible.cli.adhoc import main; main(sys.argv)' localhost -c local \
  -e "ansible_python_interpreter=$python" -m fleetfix.remediate.federation_dns -a "$module_args" >"$state/run.out" || true
sed -n '/ => {/,$p' "$state/run.out" | sed '1s/^.* => {/{/'
