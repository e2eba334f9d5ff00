#!/usr/bin/env bash
# Private to this repository's build. Run ansible-test integration on the staged collection.
# Each target's setup_* dependency starts the part of the testbed it needs (idempotent);
# whatever was started is stopped when this script ends, however it ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
collection=${1:?usage: integration.sh COLLECTION_DIR [TARGET...]}
shift
python="$root/.venv/bin/python"
state=${FLEETFIX_TESTBED_STATE:-$root/tests/testbed/.state}
mkdir -p "$state"
# One integration run per testbed state folder at a time: the parts and their stop-at-exit
# bookkeeping belong to the run holding the lock (another folder, with other ports, runs beside it).
exec 9>"$state/.integration.lock"
if ! flock -n 9; then
  echo "== another integration run uses $state; waiting for it"
  flock 9
fi
testbed() { PYTHONPATH="$root/tests/testbed" FLEETFIX_TESTBED_STATE="$state" "$python" -m testbed "$@"; }
# Stop only what this run started: parts that were already up (someone's testbed-up) stay up.
running_before=$(testbed status | awk '$2 == "up" {print $1}' | tr '\n' ' ')
stop_started() {
  local started=()
  for part in $(testbed status | awk '$2 != "down" {print $1}'); do
    [[ " $running_before " == *" $part "* ]] || started+=("$part")
  done
  if [ ${#started[@]} -gt 0 ]; then
    echo "== stopping the testbed parts this run started: ${started[*]}"
    testbed down --only "$(IFS=,; echo "${started[*]}")"
  fi
}
trap stop_started EXIT

# ansible-test hands targets a filtered environment; integration_config.yml is how they learn
# where the testbed launcher and its state live.
cat > "$collection/tests/integration/integration_config.yml" <<YAML
---
fleetfix_repo_root: $root
fleetfix_testbed_dir: $root/tests/testbed
fleetfix_testbed_state: $state
fleetfix_testbed_python: $python
YAML
cd "$collection"
ansible-test integration --local --python 3.11 --requirements --color no "$@"
