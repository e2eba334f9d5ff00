#!/usr/bin/env python
# Private to this repository's benchmarks.
"""ESXi time at fleet scale: fleetfix.remediate.esxi_ntp beside community.vmware's way.

For each fleet size, starts its own vCenter simulator (launcher part ``vcsim``, own port and
state folder), then measures whole ansible-playbook runs: check mode, the remediating run and
the second (idempotent) run, with the number of HTTP requests the simulator served. The peer
does the same work with vmware_host_ntp + vmware_host_service_manager +
vmware_host_firewall_manager in cluster_name mode, from the peer venv (tools/peer-venv.sh).

    .venv/bin/python bench/bench_esxi_time.py [--sizes 200,2000] [--skip-peer]
"""

import argparse
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')
SERVERS = ['ntp1.example.com', '192.0.2.10']
HOSTS_PER_CLUSTER = 100
USERNAME = 'administrator@vsphere.local'
PASSWORD = 'FleetFix-vcsim-1!'


def launcher(state_dir, *args):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'tests', 'testbed'), FLEETFIX_TESTBED_STATE=state_dir)
    subprocess.run([PYTHON, '-m', 'testbed'] + list(args), cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def control(port, path, method='GET'):
    context = ssl._create_unverified_context()  # pylint: disable=protected-access
    request = urllib.request.Request('https://127.0.0.1:%d/fleetfix/%s' % (port, path), method=method,
                                     data=b'{}' if method == 'POST' else None)
    with urllib.request.urlopen(request, context=context, timeout=120) as response:
        return json.load(response)


def stage_collection(workdir):
    subprocess.run(['make', '-s', 'stage', 'STAGE_ROOT=%s' % workdir], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return workdir


def ours_playbook(port, check):
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
      check_mode: %s
''' % (port, USERNAME, PASSWORD, json.dumps(SERVERS), 'true' if check else 'false')


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


def timed_run(ansible_playbook, playbook_text, port, env):
    with tempfile.NamedTemporaryFile('w', suffix='.yml', delete=False) as handle:
        handle.write(playbook_text)
    try:
        control(port, 'stats/reset', 'POST')
        started = time.monotonic()
        completed = subprocess.run([ansible_playbook, handle.name], env=env, capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - started
        requests = control(port, 'stats')['requests']
    finally:
        os.unlink(handle.name)
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-3000:] + completed.stderr[-2000:])
        raise SystemExit('ansible-playbook failed (%d)' % completed.returncode)
    return round(elapsed, 1), requests


def compliant(port):
    hosts = control(port, 'hosts')
    return all(host['ntp_servers'] == SERVERS and host['service_running'] and host['service_policy'] == 'on'
               and host['firewall_enabled'] for host in hosts)


def measure(size, port, workdir, peer_venv):
    clusters_count = max(1, size // HOSTS_PER_CLUSTER)
    state_dir = os.path.join(workdir, 'state-%d' % size)
    launcher(state_dir, 'up', '--only', 'vcsim', '--set', 'vcsim.port=%d' % port,
             '--set', 'vcsim.clusters=%d' % clusters_count, '--set', 'vcsim.hosts_per_cluster=%d' % HOSTS_PER_CLUSTER,
             '--set', 'vcsim.standalone_hosts=0', '--set', 'vcsim.drifted=%d' % max(1, size // 100))
    rows = []
    try:
        clusters = ['DC0_C%d' % index for index in range(clusters_count)]
        ours_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=workdir, ANSIBLE_PYTHON_INTERPRETER=PYTHON)
        ours = os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook')
        ways = [('fleetfix.remediate.esxi_ntp', ours, lambda check: ours_playbook(port, check), ours_env)]
        if peer_venv:
            peer_env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=os.path.join(peer_venv, 'bin', 'python'))
            peer_env.pop('ANSIBLE_COLLECTIONS_PATH', None)
            ways.append(('community.vmware (3 modules x cluster)', os.path.join(peer_venv, 'bin', 'ansible-playbook'),
                         lambda check: peer_playbook(port, clusters, check), peer_env))
        for name, ansible_playbook, playbook, env in ways:
            control(port, 'reset', 'POST')
            check_time, check_requests = timed_run(ansible_playbook, playbook(True), port, env)
            first_time, first_requests = timed_run(ansible_playbook, playbook(False), port, env)
            fixed = compliant(port)
            second_time, second_requests = timed_run(ansible_playbook, playbook(False), port, env)
            rows.append(dict(size=size, way=name, check_s=check_time, check_requests=check_requests,
                             first_s=first_time, first_requests=first_requests, second_s=second_time,
                             second_requests=second_requests, compliant_after=fixed))
            print('  %s' % json.dumps(rows[-1]), flush=True)
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
    parser.add_argument('--port', type=int, default=18470)
    parser.add_argument('--skip-peer', action='store_true')
    args = parser.parse_args()
    workdir = os.path.join(ROOT, 'build', 'bench-esxi-time')
    os.makedirs(workdir, exist_ok=True)
    stage_collection(workdir)
    peer_venv = None if args.skip_peer else peer_environment()
    rows = []
    for offset, size in enumerate(int(size) for size in args.sizes.split(',')):
        rows.extend(measure(size, args.port + offset, workdir, peer_venv))
    print('\n| hosts | way | check mode s (requests) | remediating run s (requests) | second run s (requests) | all hosts fixed |')
    print('|---|---|---|---|---|---|')
    for row in rows:
        print('| {size} | {way} | {check_s} ({check_requests}) | {first_s} ({first_requests}) | '
              '{second_s} ({second_requests}) | {compliant_after} |'.format(**row))
    by_size = {}
    for row in rows:
        by_size.setdefault(row['size'], {})[row['way'].split(' ')[0]] = row
    for size, ways in sorted(by_size.items()):
        if len(ways) == 2:
            ours, peer = ways['fleetfix.remediate.esxi_ntp'], ways['community.vmware']
            print('%d hosts: remediating run %.1fx faster, second run %.1fx faster, check mode %.1fx faster' % (
                size, peer['first_s'] / ours['first_s'], peer['second_s'] / ours['second_s'],
                peer['check_s'] / ours['check_s']))
    results = os.path.join(HERE, '.results')
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, 'esxi_time.json'), 'w', encoding='utf-8') as handle:
        json.dump(rows, handle, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
