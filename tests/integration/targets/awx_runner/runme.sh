#!/usr/bin/env bash
# The site playbook as AWX runs it: through ansible-runner (process isolation off), with the
# credentials as AWX injects them (awx_job.py says how), on the testbed. Once as one job, then
# as 3 slices (AWX job slicing) whose JSON reports one step merges; the merged findings must
# equal the single job's. integration_config.yml (written by tools/integration.sh) says where
# the testbed lives.
set -euxo pipefail
export ANSIBLE_ROLES_PATH=..
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
config=$(cd ../.. && pwd)/integration_config.yml
state=$(sed -n 's/^fleetfix_testbed_state: *//p' "$config")
inventory="$state/inventory.yml"
work="${OUTPUT_DIR:-$(mktemp -d)}/awx"
python=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python}
# A restart on the WinRM peer takes seconds, not the real world's minutes.
fast='{"dcom_10009_settle_seconds": 1, "dcom_10009_reboot_timeout": 30}'

# 1. One job: the whole inventory.
ansible-playbook setup.yml -e "@$config"
# At -vvv, as a job template with verbosity 3 runs: still no secret in any event.
"$python" awx_job.py run --inventory "$inventory" --work "$work/single" --verbosity 3 -e "$fast"
