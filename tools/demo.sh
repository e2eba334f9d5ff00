#!/usr/bin/env bash
# Private to this repository's build (make demo). Start the embedded testbed, run the site
# playbook from the installed collection twice (remediate, then prove nothing changes), print a
# summary and where the report is, and stop what this script started, however it ends.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python="$root/.venv/bin/python"
export PATH="$root/.venv/bin:$PATH"
export FLEETFIX_TESTBED_STATE=${FLEETFIX_TESTBED_STATE:-$root/tests/testbed/.state}
export ANSIBLE_COLLECTIONS_PATH=${ANSIBLE_COLLECTIONS_PATH:-$root/collections}
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1
installed="$root/collections/ansible_collections/fleetfix/remediate"
reports="$root/reports"
logs="$root/build/demo"
mkdir -p "$logs"
testbed() { PYTHONPATH="$root/tests/testbed" "$python" -m testbed "$@"; }

[ -f "$installed/playbooks/site.yml" ] || { echo "demo: the collection is not installed in ./collections (run: make collection)" >&2; exit 1; }

# Stop only the parts this script started: a testbed someone already had up stays up.
running_before=$(testbed status | awk '$2 == "up" {print $1}' | tr '\n' ' ')
stop_started() {
  local started=() part
  for part in $(testbed status | awk '$2 != "down" {print $1}'); do
    [[ " $running_before " == *" $part "* ]] || started+=("$part")
  done
  if [ ${#started[@]} -gt 0 ]; then
    echo "== stopping the testbed parts the demo started: ${started[*]}"
    testbed down --only "$(IFS=,; echo "${started[*]}")" >/dev/null
  fi
}
trap stop_started EXIT

echo "== starting the testbed (vCenter simulator, WinRM peer, DNS servers)"
testbed up
inventory="$FLEETFIX_TESTBED_STATE/inventory.yml"

# Run the areas whose role is installed (the collection grows role by role).
# A skipped area's hosts are left out of the report too.
declare -A report_hosts=([esxi_time]=compliance_report_vcenter_hosts [dcom_10009]=compliance_report_exchange_hosts
                         [federation_dns]=compliance_report_dns_hosts)
skip=()
skip_args=()
for role in esxi_time dcom_10009 federation_dns; do
  if [ ! -d "$installed/roles/$role" ]; then
    skip+=("$role")
    skip_args+=(-e "{\"${report_hosts[$role]}\": []}")
    echo "== $role: role not in this build, area skipped"
  fi
done
[ ${#skip[@]} -eq 0 ] || skip_args+=(--skip-tags "$(IFS=,; echo "${skip[*]}")")

run_site() {  # label, log file, extra arguments
  local label=$1 log=$2
  shift 2
  echo "== $label: ansible-playbook fleetfix.remediate.site -i $inventory $*"
  # Findings (a host that failed, a DNS record that is missing) are what the report is for:
  # the demo shows them instead of stopping on them.
  if ! ansible-playbook fleetfix.remediate.site -i "$inventory" -e site_fail_on_findings=false \
      "${skip_args[@]}" "$@" >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "demo: $label failed; the whole log is $log" >&2
    exit 1
  fi
}
changed_total() {  # the sum of changed= over the PLAY RECAP lines of a log
  awk '/^PLAY RECAP/ {recap = 1; next} recap && /changed=/ {
         for (i = 1; i <= NF; i++) if ($i ~ /^changed=/) { split($i, kv, "="); sum += kv[2] } }
       END {print sum + 0}' "$1"
}

# Both runs add to one history, which the second run's report shows (a history of two runs).
history="$reports/fleetfix-compliance-history.jsonl"
rm -f "$history" "$history.unreadable"
skip_args+=(-e "compliance_report_history_file=$history")

run_site "first run (remediate)" "$logs/first-run.log"
first_changed=$(changed_total "$logs/first-run.log")
echo "   changed: $first_changed (log: $logs/first-run.log)"

run_site "second run (nothing left to change)" "$logs/second-run.log" -e compliance_report_basename=fleetfix-compliance-second-run
second_changed=$(changed_total "$logs/second-run.log")
echo "   changed: $second_changed (log: $logs/second-run.log)"
if [ "$second_changed" -ne 0 ]; then
  echo "demo: the second run changed $second_changed things; it should change nothing:" >&2
  grep -E '^(changed|TASK)' "$logs/second-run.log" | grep -B1 '^changed' >&2 || true
  exit 1
fi

if [ "$(wc -l < "$history")" -ne 2 ]; then
  echo "demo: the history $history should hold the two runs; it has $(wc -l < "$history")" >&2
  exit 1
fi

echo
echo "== what the collection did to the simulated estate (first run's summary)"
sed -n '/^| Hosts and domains/,/^$/p; /^## Needs a human/,/^## ESXi time/p' "$reports/fleetfix-compliance.md" | grep -v '^## ESXi time' | sed 's/^/   /'
awk '/Show the counts and where the report is/ {show = 1; next}
     show && /^ *"/ && !/"msg"/ {gsub(/^ *"|",?$/, ""); print "   " $0}
     show && /^\}/ {exit}' "$logs/first-run.log"
echo
echo "Report of the first run:  $reports/fleetfix-compliance.html (open it in a browser)"
echo "Its Markdown summary:     $reports/fleetfix-compliance.md"
echo "Report of the second run: $reports/fleetfix-compliance-second-run.html (with the history of both runs)"
echo "Machine-readable:         $reports/fleetfix-compliance.json (model), $reports/fleetfix-compliance.junit.xml (JUnit)"
echo "History:                  $history ($(wc -l < "$history") runs)"
echo "demo: passed (first run changed $first_changed, second run changed 0)"
