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

# Until the merge step (branch report: playbooks/compliance_report_merge.yml) is on main, only the single
# job runs; the slices below passed against that branch merged in (awx at 97d4f5e + report at e95f4c8).
if ! ansible-playbook --syntax-check fleetfix.remediate.compliance_report_merge >/dev/null 2>&1; then
  echo "awx_runner: SLICES NOT RUN: the collection has no merge step (fleetfix.remediate.compliance_report_merge) yet" >&2
  exit 0
fi

# 2. The same run as 3 slices (AWX job slicing: hosts 1, 4, ... / 2, 5, ... / 3, 6, ... by name), from
# the same start state; each slice writes its own JSON report (no history: the merge adds the run).
ansible-playbook setup.yml -e "@$config"
"$python" awx_job.py run --inventory "$inventory" --work "$work/sliced" --slices 3 \
  -e '{"dcom_10009_settle_seconds": 1, "dcom_10009_reboot_timeout": 30, "compliance_report_history": false}'

# 3. The documented merge step: one report from the slices' JSON files (awx_job.py listed them in
# merge-vars.json), whose findings are the single job's: the federation check, which every slice
# runs on localhost, counted once.
ansible-playbook fleetfix.remediate.compliance_report_merge -e "@$work/sliced/merge-vars.json" \
  -e "compliance_report_output_dir=$work/merged"
"$python" awx_job.py compare "$work/single/job/reports/fleetfix-compliance.json" "$work/merged/fleetfix-compliance.json"
