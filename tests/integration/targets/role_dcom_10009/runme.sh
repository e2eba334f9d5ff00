#!/usr/bin/env bash
# The dcom_10009 role and playbook against the WinRM peer, run the way an administrator runs them:
# ansible-playbook with the inventory the testbed launcher writes (exchange_servers, domain_controllers).
# integration_config.yml (written by tools/integration.sh, copied by ansible-test two levels up)
# says where the testbed lives; every playbook gets it as extra vars.
set -euxo pipefail
export ANSIBLE_ROLES_PATH=..
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
config=$(cd ../.. && pwd)/integration_config.yml
state=$(sed -n 's/^fleetfix_testbed_state: *//p' "$config")
set -- -e "@$config" "$@"
inventory="$state/inventory.yml"
logs="${OUTPUT_DIR:-$(mktemp -d)}"
fast=(-e dcom_10009_settle_seconds=1 -e dcom_10009_reboot_timeout=30)

recap_changes() {  # the sum of changed= over the PLAY RECAP lines of a log
  awk '/^PLAY RECAP/ {recap = 1; next} recap && /changed=/ {
         for (i = 1; i <= NF; i++) if ($i ~ /^changed=/) { split($i, kv, "="); sum += kv[2] } }
       END {print sum + 0}' "$1"
}

# Start the peer (if needed), reset every host and GPO.
ansible-playbook setup.yml "$@"

# 1. Audit: check mode changes nothing and restarts nothing.
ansible-playbook -i "$inventory" check.yml --check "${fast[@]}" "$@"
# The audit playbook (a task per host): every host read, each needs the fix, nothing written.
ansible-playbook -i "$inventory" fleetfix.remediate.dcom_10009_audit "$@" | tee "$logs/dcom_audit.log"
for host in ex01 ex02 ex03 ex04; do
  grep -Eq "\"$host +- +[0-9]+ +(affected|not affected) +needs the fix\"" "$logs/dcom_audit.log"
done
# ex04's OS is not affected by the fault: it needs no restart.
grep -q 'total=4, needs_fix=4, failed=0, reboot_required=3, affected=3, logging_10009=4' "$logs/dcom_audit.log"
[ "$(recap_changes "$logs/dcom_audit.log")" -eq 0 ]

# 2. The playbook fixes every ex* host, restarting them one at a time; then a second run changes nothing.
ansible-playbook -i "$inventory" fix.yml -e fix_run=first "${fast[@]}" "$@" | tee "$logs/dcom_first.log"
ansible-playbook -i "$inventory" fix.yml -e fix_run=second "${fast[@]}" "$@" | tee "$logs/dcom_second.log"
[ "$(recap_changes "$logs/dcom_second.log")" -eq 0 ]
ansible-playbook -i "$inventory" fleetfix.remediate.dcom_10009_audit "$@" | tee "$logs/dcom_audit_after.log"
[ "$(grep -c ' compliant"' "$logs/dcom_audit_after.log")" -eq 4 ]

# 3. Two at a time: the pairs restart together, the second pair after the first is back.
ansible-playbook setup.yml "$@"
ansible-playbook -i "$inventory" batch2.yml "${fast[@]}" "$@"

# 4. ex02 never comes back: the playbook stops the rollout there and fails naming it.
ansible-playbook setup.yml -e never_returns=ex02 "$@"
if ansible-playbook -i "$inventory" fleetfix.remediate.dcom_10009 "${fast[@]}" "$@" >"$logs/dcom_never.log" 2>&1; then
  cat "$logs/dcom_never.log"
  echo "the playbook should have failed on ex02" >&2
  exit 1
fi
cat "$logs/dcom_never.log"
grep -q 'ex02: .* did not come back within reboot_timeout (30 seconds) after the restart' "$logs/dcom_never.log"
grep -q 'DCOM 10009 fix failed on: ex02\.' "$logs/dcom_never.log"
grep -q 'Not restarted because the rollout stopped: ex03, ex04\.' "$logs/dcom_never.log"
ansible-playbook -i "$inventory" never_returns.yml "$@"

# 4b. ex03 comes back but still logs 10009 events: the proof fails, the rollout stops there, naming it.
# The peer logs one event every 5 s, so the role settles 6 s before it counts them.
ansible-playbook setup.yml -e keeps_logging=ex03 "$@"
if ansible-playbook -i "$inventory" fleetfix.remediate.dcom_10009 -e dcom_10009_settle_seconds=6 -e dcom_10009_reboot_timeout=30 \
    "$@" >"$logs/dcom_keeps_logging.log" 2>&1; then
  cat "$logs/dcom_keeps_logging.log"
  echo "the playbook should have failed on ex03" >&2
  exit 1
fi
cat "$logs/dcom_keeps_logging.log"
grep -Eq 'ex03: [0-9]+ DCOM 10009 events since the restart \(newest [^)]+\): the policy is not in effect' "$logs/dcom_keeps_logging.log"
grep -q 'DCOM 10009 fix failed on: ex03\.' "$logs/dcom_keeps_logging.log"
grep -q 'Not restarted because the rollout stopped: ex04\.' "$logs/dcom_keeps_logging.log"

# 5. The same fault through the site playbook: every host is in the compliance report.
ansible-playbook setup.yml -e never_returns=ex02 "$@"
# The testbed inventory has no vcenters group; ansible-test makes an unmatched pattern an error.
if ANSIBLE_HOST_PATTERN_MISMATCH=warning ansible-playbook -i "$inventory" fleetfix.remediate.site -e "compliance_report_output_dir=$logs/reports" \
    "${fast[@]}" "$@" >"$logs/dcom_site.log" 2>&1; then
  cat "$logs/dcom_site.log"
  echo "the site playbook should have failed on its findings" >&2
  exit 1
fi
cat "$logs/dcom_site.log"
ansible-playbook -i "$inventory" site_report.yml -e "report=$logs/reports/fleetfix-compliance.md" "$@"

# 6. GPO method: the value is set once, in the GPO, through dc01; the hosts are not touched.
ansible-playbook setup.yml "$@"
ansible-playbook -i "$inventory" gpo.yml "$@"

# Leave the peer as the next target expects it.
ansible-playbook setup.yml "$@"
