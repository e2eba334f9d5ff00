#!/usr/bin/env python
# Private to this repository's benchmarks.
"""ESXi time at fleet scale: fleetfix.remediate.esxi_ntp beside community.vmware's way.

For each fleet size, starts its own vCenter simulator (launcher part ``vcsim``, own port and
state folder), then measures whole ansible-playbook runs: check mode, the remediating run and
the second (idempotent) run, with the number of HTTP requests the simulator served. The peer
does the same work with vmware_host_ntp + vmware_host_service_manager +
vmware_host_firewall_manager in cluster_name mode, from the peer venv (tools/peer-venv.sh).

    .venv/bin/python bench/bench_esxi_time.py [--sizes 200,2000] [--fleets uniform,mixed] [--skip-peer] [--repeat 3]

Fleets: ``uniform`` (every host ESXi 6.7.0, where every way of writing works) and ``mixed``
(ESXi 6.7.0, 7.0.3 and 8.0.3 in turn; 1 % of the hosts on 7.0.3 and later with time
services disabled; 8.0.3 hosts with the ntpClient ruleset owned by ntpd).

With ``--repeat N`` every way runs N rounds (reset, check, remediate, second run), taking turns
with the other way, and each figure is the median of its N values. Beside wall seconds it
records the CPU seconds of ansible-playbook and its children (the module) and of the
simulator, which the shared machine's load distorts less than wall time.
"""

import argparse
import json
import os
import resource
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from _common import PYTHON, ROOT, launcher, stage_collection, write_results

# the testbed's two good chronyd instances (launcher part ntp): ours asks them before configuring
SERVERS = ['127.0.0.61', '127.0.0.65']
NO_CHECK = 'check_sources=false fleetfix.remediate.esxi_ntp'
NTP_PORT_OFFSET = 100  # the ntp part's port: the bench's base port + this (its own, beside a running testbed)
HOSTS_PER_CLUSTER = 100
FLEETS = {
    'uniform': lambda size: dict(versions='6.7.0', ptp_hosts=0, disabled_hosts=0),
    'mixed': lambda size: dict(versions='6.7.0,7.0.3,8.0.3', ptp_hosts=0, disabled_hosts=max(1, size // 100)),
}
USERNAME = 'administrator@vsphere.local'
PASSWORD = 'FleetFix-vcsim-1!'


def control(port, path, method='GET'):
    context = ssl._create_unverified_context()  # pylint: disable=protected-access
    request = urllib.request.Request('https://127.0.0.1:%d/fleetfix/%s' % (port, path), method=method,
                                     data=b'{}' if method == 'POST' else None)
    with urllib.request.urlopen(request, context=context, timeout=120) as response:
        return json.load(response)


def ours_playbook(port, check, ntp_port, check_sources=True):
    return '''
- hosts: localhost
  gather_facts: false
  tasks:
    - fleetfix.remediate.esxi_ntp:
        hostname: 127.0.0.1
        port: %d
        username: %s
        password: %s
        validate_certs: false
        ntp_servers: %s
        step_clock: true
        check_sources: %s
        ntp_port: %d
      check_mode: %s
''' % (port, USERNAME, PASSWORD, json.dumps(SERVERS), 'true' if check_sources else 'false', ntp_port,
       'true' if check else 'false')


def peer_playbook(port, clusters, check):
    tasks = []
    for cluster in clusters:
        common = '''        hostname: 127.0.0.1
        port: %d
        username: %s
        password: %s
        validate_certs: false
        cluster_name: %s
''' % (port, USERNAME, PASSWORD, cluster)
        tasks.append('''    - community.vmware.vmware_host_ntp:
%s        ntp_servers: %s
        state: present
    - community.vmware.vmware_host_service_manager:
%s        service_name: ntpd
        service_policy: 'on'
        state: start
    - community.vmware.vmware_host_firewall_manager:
%s        rules:
          - name: ntpClient
            enabled: true
''' % (common, json.dumps(SERVERS), common, common))
    return '''
- hosts: localhost
  gather_facts: false
  check_mode: %s
  tasks:
%s''' % ('true' if check else 'false', ''.join(tasks))


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid):
    """CPU seconds used so far by process ``pid`` (all its threads)."""
    with open('/proc/%d/stat' % pid, encoding='ascii') as handle:
        fields = handle.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def simulator_pid(port):
    completed = subprocess.run(['pgrep', '-f', 'vcsim -listen 127.0.0.1:%d ' % port], capture_output=True, text=True, check=False)
    pids = completed.stdout.split()
    return int(pids[0]) if pids else None


def timed_run(ansible_playbook, playbook_text, port, env, may_fail=False):
    with tempfile.NamedTemporaryFile('w', suffix='.yml', delete=False) as handle:
        handle.write(playbook_text)
    simulator = simulator_pid(port)
    try:
        control(port, 'stats/reset', 'POST')
        cpu_before, simulator_before = children_cpu(), process_cpu(simulator) if simulator else 0.0
        started = time.monotonic()
        completed = subprocess.run([ansible_playbook, handle.name], env=env, capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - started
        cpu, simulator_cpu = children_cpu() - cpu_before, (process_cpu(simulator) if simulator else 0.0) - simulator_before
        requests = control(port, 'stats')['requests']
    finally:
        os.unlink(handle.name)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-3000:] + completed.stderr[-2000:])
        if not may_fail:
            raise SystemExit('ansible-playbook failed (%d)' % completed.returncode)
    return dict(s=round(elapsed, 2), requests=requests, cpu=round(cpu, 2), sim_cpu=round(simulator_cpu, 2),
                ok=completed.returncode == 0)


def compliant(port):
    """Every host by its release's rules: servers, ntpd on and running, ruleset open, and on
    7.0.3 and later NTP with time services enabled."""
    hosts = control(port, 'hosts')
    return all(host['ntp_servers'] == SERVERS and host['service_running'] and host['service_policy'] == 'on'
               and host['firewall_enabled'] and host.get('protocol') in (None, 'ntp')
               and host.get('time_services_enabled') in (None, True) for host in hosts)


def one_round(ansible_playbook, playbook, port, env):
    control(port, 'reset', 'POST')
    check = timed_run(ansible_playbook, playbook(True), port, env)
    first = timed_run(ansible_playbook, playbook(False), port, env, may_fail=True)
    fixed = compliant(port)
    second = timed_run(ansible_playbook, playbook(False), port, env)
    row = dict(compliant_after=fixed)
    for run, figures in (('check', check), ('first', first), ('second', second)):
        row.update({'%s_%s' % (run, key): value for key, value in figures.items()})
    return row


def median_row(rounds):
    row = {}
    for key in rounds[0]:
        values = [one[key] for one in rounds]
        if key == 'compliant_after' or key.endswith('_ok'):
            row[key] = all(values)
        else:
            middle = statistics.median(values)
            row[key] = int(middle) if all(isinstance(value, int) for value in values) and middle == int(middle) else round(middle, 2)
            row[key + '_all'] = values
    return row


def measure(size, port, workdir, peer_venv, ntp_port, repeat=1, fleet='uniform'):
    clusters_count = max(1, size // HOSTS_PER_CLUSTER)
    state_dir = os.path.join(workdir, 'state-%d-%s' % (size, fleet))
    releases = [argument for item in sorted(FLEETS[fleet](size).items()) for argument in ('--set', 'vcsim.%s=%s' % item)]
    launcher(state_dir, 'up', '--only', 'vcsim', '--set', 'vcsim.port=%d' % port,
             '--set', 'vcsim.clusters=%d' % clusters_count, '--set', 'vcsim.hosts_per_cluster=%d' % HOSTS_PER_CLUSTER,
             '--set', 'vcsim.standalone_hosts=0', '--set', 'vcsim.drifted=%d' % max(1, size // 100), *releases)
    rows = []
    try:
        clusters = ['DC0_C%d' % index for index in range(clusters_count)]
        ours_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=workdir, ANSIBLE_PYTHON_INTERPRETER=PYTHON)
        ours = os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook')
        ways = [('fleetfix.remediate.esxi_ntp', ours, lambda check: ours_playbook(port, check, ntp_port), ours_env),
                (NO_CHECK, ours, lambda check: ours_playbook(port, check, ntp_port, check_sources=False), ours_env)]
        if peer_venv:
            peer_env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=os.path.join(peer_venv, 'bin', 'python'))
            peer_env.pop('ANSIBLE_COLLECTIONS_PATH', None)
            ways.append(('community.vmware (3 modules x cluster)', os.path.join(peer_venv, 'bin', 'ansible-playbook'),
                         lambda check: peer_playbook(port, clusters, check), peer_env))
        rounds = {name: [] for name, _ansible_playbook, _playbook, _env in ways}
        for round_index in range(repeat):
            for name, ansible_playbook, playbook, env in ways:
                rounds[name].append(one_round(ansible_playbook, playbook, port, env))
                print('  %d hosts (%s), round %d, %s: %s' % (
                    size, fleet, round_index + 1, name, json.dumps(rounds[name][-1])), flush=True)
        for name, _ansible_playbook, _playbook, _env in ways:
            rows.append(dict(size=size, fleet=fleet, way=name, rounds=len(rounds[name]), **median_row(rounds[name])))
    finally:
        launcher(state_dir, 'down', '--only', 'vcsim')
    return rows


def peer_environment():
    completed = subprocess.run(['bash', os.path.join(ROOT, 'tools', 'peer-venv.sh')], capture_output=True, text=True,
                               check=True)
    return completed.stdout.strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='200,2000')
    parser.add_argument('--fleets', default='uniform,mixed', help='uniform (ESXi 6.7) and/or mixed (6.7, 7.0.3, 8.0.3)')
    parser.add_argument('--port', type=int, default=18470)
    parser.add_argument('--skip-peer', action='store_true')
    parser.add_argument('--repeat', type=int, default=1, help='rounds per way; figures are medians')
    args = parser.parse_args()
    workdir = os.path.join(ROOT, 'build', 'bench-esxi-time')
    os.makedirs(workdir, exist_ok=True)
    stage_collection(workdir)
    peer_venv = None if args.skip_peer else peer_environment()
    rows = []
    ntp_state = os.path.join(workdir, 'state-ntp')
    ntp_port = args.port + NTP_PORT_OFFSET
    launcher(ntp_state, 'up', '--only', 'ntp', '--set', 'ntp.port=%d' % ntp_port)
    cases = [(int(size), fleet) for size in args.sizes.split(',') for fleet in args.fleets.split(',')]
    try:
        for offset, (size, fleet) in enumerate(cases):
            rows.extend(measure(size, args.port + offset, workdir, peer_venv, ntp_port, args.repeat, fleet))
    finally:
        launcher(ntp_state, 'down', '--only', 'ntp')
    print('\nMedians of %d round(s); wall s (HTTP requests) [CPU s of ansible-playbook + module / of the simulator]' % args.repeat)
    print('| hosts | fleet | way | check mode | remediating run | second run | all hosts fixed |')
    print('|---|---|---|---|---|---|---|')
    for row in rows:
        print('| {size} | {fleet} | {way} | {check_s} ({check_requests}) [{check_cpu} / {check_sim_cpu}] | '
              '{first_s} ({first_requests}) [{first_cpu} / {first_sim_cpu}]{failed} | '
              '{second_s} ({second_requests}) [{second_cpu} / {second_sim_cpu}] | {compliant_after} |'.format(
                  failed='' if row['first_ok'] else ' (task failed)', **row))
    by_size = {}
    for row in rows:
        by_size.setdefault((row['size'], row['fleet']), {})[row['way'].split(' ')[0]] = row
    for (size, fleet), ways in sorted(by_size.items()):
        ours, unchecked = ways['fleetfix.remediate.esxi_ntp'], ways['check_sources=false']
        for run, label in (('check', 'check mode'), ('first', 'remediating run'), ('second', 'second run')):
            costs = [checked_s - unchecked_s for checked_s, unchecked_s in zip(ours[run + '_s_all'], unchecked[run + '_s_all'])]
            print('%d hosts, %s: the NTP source check costs %+.2f s (median of per-round differences %s)' % (
                size, label, statistics.median(costs), ', '.join('%+.2f' % cost for cost in costs)))
        if 'community.vmware' in ways:
            ours, peer = ways['fleetfix.remediate.esxi_ntp'], ways['community.vmware']
            for run, label in (('check', 'check mode'), ('first', 'remediating run'), ('second', 'second run')):
                per_round = [peer_s / ours_s for peer_s, ours_s in zip(peer[run + '_s_all'], ours[run + '_s_all'])]
                print('%d hosts (%s), %s: %.1fx faster (ratio of medians), %.1fx (median of per-round ratios %s)' % (
                    size, fleet, label, peer[run + '_s'] / ours[run + '_s'], statistics.median(per_round),
                    ', '.join('%.1f' % ratio for ratio in per_round)))
    write_results('esxi_time', rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
