#!/usr/bin/env python
# Private to this repository's benchmarks.
"""DCOM 10009 at fleet scale: win_ignore_delegation_failure beside the protocol's floor.

Starts its own WinRM peer (launcher part ``winrm``, own state folder and ports, 100 hosts),
then measures, for each concurrency (5 and 25):

- the floor: a minimal pywinrm script, one ``Session.run_cmd('reg', ['query', ...])`` per
  host in N threads (what reading the value over WinRM costs at the least), timed two ways:
  the reads alone inside this process, and the whole script as its own process (interpreter
  start-up and imports included, as every ``ansible-playbook`` figure includes them);
- our audit's own work in-process: ``_winrm.WinRMClient`` + ``_rpc_delegation.manage`` in
  check mode, in N threads (the module without Ansible around it);
- Ansible alone: an ``ansible-playbook`` run with no task (start-up), one with
  ``ansible.builtin.debug`` on every host (Ansible's own cost of a task per host) and one with
  ``ansible.builtin.ping`` on every host over the local connection (the cost of one Python
  module run per host, forks N);
- the audit (check mode) and the fix (no reboot) as whole ``ansible-playbook`` runs of
  ``fleetfix.remediate.win_ignore_delegation_failure`` on the exchange_servers group of the
  launcher's inventory, forks N, a task per host (its action plugin does the task inside the
  Ansible worker, no module process per host); the peer is reset (``POST /reset``) before every run.

The figure to hold: the audit, a task per host, at no more than 1.2x of (the ``debug`` run, Ansible's
own per-host cost, plus the floor's reads), both measured in the same run.

HTTP requests come from the peer's ``GET /stats`` (zeroed before every run). Every run is
checked: the floor and the audit must find the value missing on every host and leave it so,
the fix must leave 1 on every host. ansible.windows (ansible 12.3.0 peer venv,
``tools/peer-venv.sh``) is tried once on one host: its modules run through ansible-core's
PowerShell bootstrap, which needs PowerShell 5.1 on the host; stock Windows Server 2008 R2 has
2.0 and the peer runs no PowerShell script at all (only a GroupPolicy subset), so it fails
(recorded, not counted as a figure).

    .venv/bin/python bench/bench_dcom_10009.py [--hosts 100] [--forks 5,25] [--repeat 1] [--skip-peer]
"""

import argparse
import concurrent.futures
import inspect
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
import urllib.request

import yaml

from _common import PYTHON, ROOT, launcher, stage_collection, write_results

MODULE = 'fleetfix.remediate.win_ignore_delegation_failure'
POLICY_KEY = r'HKLM\Software\Policies\Microsoft\Windows NT\Rpc'
VALUE_NAME = 'IgnoreDelegationFailure'
RECAP = re.compile(r'^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)', re.M)


class Peer:
    """The control API of the WinRM peer."""

    def __init__(self, url):
        self.url = url.rstrip('/')

    def call(self, path, method='GET'):
        request = urllib.request.Request('%s/%s' % (self.url, path), method=method,
                                         data=b'{}' if method == 'POST' else None)
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.load(response)

    def fresh(self):
        """Every host back to its start state (value missing), counters zeroed."""
        self.call('reset', 'POST')
        self.call('stats/reset', 'POST')

    def requests_per_host(self, names):
        counts = self.call('stats')['hosts']
        per_host = [counts.get(name, 0) for name in names]
        return dict(requests=sum(per_host), per_host_min=min(per_host), per_host_max=max(per_host),
                    per_host=round(sum(per_host) / len(names), 2))

    def values(self, names):
        hosts = dict((host['name'], host) for host in self.call('hosts'))
        return [hosts[name]['registry'].get(VALUE_NAME) for name in names]


def host_options(testbed, name):
    variables = testbed['exchange_servers']['hosts'][name]
    return dict(winrm_host=variables['ansible_host'], winrm_port=variables['ansible_port'],
                winrm_user=variables['ansible_user'], winrm_password=variables['ansible_password'],
                winrm_transport=variables['ansible_winrm_transport'], winrm_scheme=variables['ansible_winrm_scheme'],
                winrm_server_cert_validation=variables['ansible_winrm_server_cert_validation'],
                winrm_ca_trust_path=variables['ansible_winrm_ca_trust_path'])


def in_threads(function, items, threads):
    started = time.monotonic()
    cpu = time.process_time()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(function, items))
    return time.monotonic() - started, time.process_time() - cpu, results


def floor_read(options):
    """The least a reader does: one pywinrm Session.run_cmd of reg query on the host."""
    import winrm  # pylint: disable=import-outside-toplevel
    session = winrm.Session('%s://%s:%s/wsman' % (options['winrm_scheme'], options['winrm_host'], options['winrm_port']),
                            auth=(options['winrm_user'], options['winrm_password']),
                            transport=options['winrm_transport'],
                            server_cert_validation=options['winrm_server_cert_validation'],
                            ca_trust_path=options['winrm_ca_trust_path'])
    result = session.run_cmd('reg', ['query', '"%s"' % POLICY_KEY, '/v', VALUE_NAME])
    if result.status_code == 0:
        return 'present'
    if b'unable to find' in result.std_err:
        return 'missing'
    return 'failed: %r' % result.std_err[:200]


FLOOR_SCRIPT_MAIN = """

if __name__ == '__main__':
    with open(sys.argv[1], encoding='utf-8') as handle:
        testbed = yaml.safe_load(handle)['all']['children']
    hosts = [host_options(testbed, name) for name in sorted(testbed['exchange_servers']['hosts'])]
    with concurrent.futures.ThreadPoolExecutor(int(sys.argv[2])) as pool:
        found = set(pool.map(floor_read, hosts))
    sys.exit(0 if found == {'missing'} else 3)
"""


def floor_script():
    """The floor as a script of its own: this file's ``floor_read`` and ``host_options``, run in threads."""
    return ''.join(['import concurrent.futures\nimport sys\n\nimport yaml\n\n',
                    'POLICY_KEY = %r\nVALUE_NAME = %r\n\n\n' % (POLICY_KEY, VALUE_NAME),
                    inspect.getsource(host_options), '\n\n', inspect.getsource(floor_read), FLOOR_SCRIPT_MAIN])


def measure_floor_script(peer, names, workdir, inventory, threads, repeat):
    """The floor as a whole process, measured like ansible-playbook: interpreter start, imports, the reads."""
    path = os.path.join(workdir, 'floor.py')
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(floor_script())
    times = []
    requests = None
    for _round in range(repeat):
        peer.fresh()
        started = time.monotonic()
        process = subprocess.run([PYTHON, path, inventory, str(threads)], capture_output=True, text=True, check=False)
        times.append(time.monotonic() - started)
        requests = peer.requests_per_host(names)
        if process.returncode:
            raise SystemExit('the floor script (%d threads) did not find the value missing everywhere: %s'
                             % (threads, process.stderr[-1000:]))
    return dict(seconds=median(times), runs=[round(value, 2) for value in times], **requests)


def ours_read(options):
    """Our audit without Ansible: the module's client and decisions, check mode."""
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation, _winrm
    client = _winrm.WinRMClient(dict(_winrm_defaults(), **options))
    try:
        result = _rpc_delegation.manage(client, dict(state='present', check_events=True, events_limit=50),
                                        check_mode=True)
    finally:
        client.close()
    return 'present' if result['before']['value'] == 1 else 'missing'


def _winrm_defaults():
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.fleetfix.remediate.plugins.module_utils import _winrm
    return dict((name, spec.get('default')) for name, spec in _winrm.winrm_argument_spec().items())


def playbook_text(kind):
    if kind == 'empty':
        return '- name: Ansible start-up only\n  hosts: exchange_servers\n  gather_facts: false\n  tasks: []\n'
    if kind == 'debug':
        return '''- name: An action that only returns a message, per host
  hosts: exchange_servers
  gather_facts: false
  tasks:
    - name: Debug
      ansible.builtin.debug:
        msg: nothing
'''
    if kind == 'ping':
        return '''- name: One Python module per host on the controller
  hosts: exchange_servers
  gather_facts: false
  vars:
    ansible_connection: local
    ansible_python_interpreter: %s
  tasks:
    - name: Ping
      ansible.builtin.ping:
''' % PYTHON
    return '''- name: DCOM 10009 %s
  hosts: exchange_servers
  gather_facts: false
  tasks:
    - name: Ignore Delegation Failure
      %s:
        state: present
      check_mode: %s
''' % (kind, MODULE, 'true' if kind == 'audit' else 'false')


def run_playbook(workdir, collections, inventory, kind, forks):
    path = os.path.join(workdir, '%s.yml' % kind)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(playbook_text(kind))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections, ANSIBLE_NOCOLOR='1', ANSIBLE_PYTHON_INTERPRETER=PYTHON,
               ANSIBLE_RETRY_FILES_ENABLED='false')
    started = time.monotonic()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.run([os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), '-i', inventory, '-f', str(forks),
                              path], env=env, capture_output=True, text=True, cwd=workdir, check=False)
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The controller's CPU (ansible-playbook and its workers; the peer is not a child): less bent by a loaded machine.
    cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    recap = RECAP.findall(process.stdout)
    failed = [name for name, _ok, _changed, unreachable, failed in recap if int(unreachable) or int(failed)]
    if process.returncode or failed:
        sys.stderr.write(process.stdout[-3000:] + process.stderr[-2000:])
        raise SystemExit('ansible-playbook %s (forks %d) failed on %s' % (kind, forks, ', '.join(failed) or 'start-up'))
    return elapsed, cpu, dict((name, int(changed)) for name, _ok, changed, _unreachable, _failed in recap)


def median(values):
    return round(statistics.median(values), 2)


def measure_threads(peer, names, function, options, threads, repeat):
    times = []
    cpus = []
    found = None
    requests = None
    for _round in range(repeat):
        peer.fresh()
        elapsed, cpu, found = in_threads(function, options, threads)
        requests = peer.requests_per_host(names)
        times.append(elapsed)
        cpus.append(cpu)
    if set(found) != {'missing'}:
        raise SystemExit('reading the value did not find it missing everywhere: %s' % sorted(set(found)))
    return dict(seconds=median(times), runs=[round(value, 2) for value in times], cpu_seconds=median(cpus), **requests)


def measure_playbook(peer, names, workdir, collections, inventory, kind, forks, repeat):
    times = []
    cpus = []
    requests = None
    for _round in range(repeat):
        peer.fresh()
        elapsed, cpu, changed = run_playbook(workdir, collections, inventory, kind, forks)
        requests = peer.requests_per_host(names)
        times.append(elapsed)
        cpus.append(cpu)
        if kind in ('audit', 'fix'):
            values = peer.values(names)
            expected = 1 if kind == 'fix' else None
            if len(changed) != len(names) or set(changed.values()) != {1} or set(values) != {expected}:
                raise SystemExit('%s run (forks %d): changed %s, values on the hosts %s, expected %s everywhere'
                                 % (kind, forks, sorted(set(changed.values())), sorted(set(map(str, values))), expected))
    return dict(seconds=median(times), runs=[round(value, 2) for value in times], cpu_seconds=median(cpus), **requests)


def peer_attempt(peer, workdir, inventory, name):
    """ansible.windows on one host, as an administrator would write it; returns what happened."""
    venv = subprocess.run([os.path.join(ROOT, 'tools', 'peer-venv.sh')], capture_output=True, text=True,
                          check=True).stdout.strip().splitlines()[-1]
    path = os.path.join(workdir, 'peer.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('''- name: ansible.windows on one host
  hosts: %s
  gather_facts: false
  tasks:
    - name: Read the value
      ansible.windows.win_reg_stat:
        path: HKLM:\\Software\\Policies\\Microsoft\\Windows NT\\Rpc
        name: %s
''' % (name, VALUE_NAME))
    env = dict(os.environ, ANSIBLE_NOCOLOR='1')
    env.pop('ANSIBLE_COLLECTIONS_PATH', None)
    peer.fresh()
    started = time.monotonic()
    process = subprocess.run([os.path.join(venv, 'bin', 'ansible-playbook'), '-i', inventory, path], env=env,
                             capture_output=True, text=True, cwd=workdir, check=False)
    elapsed = time.monotonic() - started
    text = process.stdout + process.stderr
    failure = re.search(r'winrm \w+ failed', text)
    unknown = re.search(r"The term '([^']{1,40})' is not recognized", text)
    if failure or unknown:
        reason = 'the peer runs no PowerShell script: %s' % '; '.join(
            part for part in (failure and failure.group(0), unknown and 'the bootstrap\'s %r is not recognized' % unknown.group(1))
            if part)
    else:
        reason = text[-300:]
    # ansible-core's bootstrap wrapper starts by refusing hosts older than this.
    needs = re.search(r'Ansible requires PowerShell v([\d.]+)', text)
    return dict(seconds=round(elapsed, 2), ok=process.returncode == 0, requests=peer.requests_per_host([name])['requests'],
                reason=reason, bootstrap_needs_powershell=needs.group(1) if needs else None)


def table(figures):
    rows = ['| way | forks / threads | wall s | HTTP requests per host | vs floor (reads only) | vs floor script |',
            '|---|---|---|---|---|---|']
    for forks in figures['forks']:
        floor = figures['floor'][str(forks)]['seconds']
        script = figures.get('floor_script', {}).get(str(forks), {}).get('seconds')
        for label, key in (('pywinrm run_cmd reg query (floor, the reads only)', 'floor'),
                           ('the same as a whole script (floor script: start-up, import, reads)', 'floor_script'),
                           ('our audit in-process (WinRMClient + manage, check mode)', 'in_process'),
                           ('ansible-playbook, no task (start-up)', 'empty'),
                           ('ansible-playbook, ansible.builtin.debug per host (Ansible\'s own per-host cost)', 'debug'),
                           ('ansible-playbook, ansible.builtin.ping per host (local)', 'ping'),
                           ('ansible-playbook audit, a task per host (check mode)', 'audit'),
                           ('ansible-playbook fix, a task per host (no reboot)', 'fix')):
            cell = figures.get(key, {}).get(str(forks))
            if not cell:
                continue
            per_host = '-' if key in ('empty', 'debug', 'ping') else '%g' % cell['per_host']
            rows.append('| %s | %d | %.2f | %s | %.1fx | %s |' % (
                label, forks, cell['seconds'], per_host, cell['seconds'] / floor,
                '%.1fx' % (cell['seconds'] / script) if script else '-'))
    return '\n'.join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=100)
    parser.add_argument('--forks', default='5,25', help='comma-separated forks (and threads for the scripts)')
    parser.add_argument('--repeat', type=int, default=1, help='runs per figure; the median is reported')
    parser.add_argument('--https-base-port', type=int, default=25000)
    parser.add_argument('--http-base-port', type=int, default=26000)
    parser.add_argument('--control-port', type=int, default=25990)
    parser.add_argument('--skip-peer', action='store_true', help='do not try ansible.windows')
    args = parser.parse_args()
    forks_list = [int(value) for value in args.forks.split(',')]

    workdir = os.path.join(ROOT, 'build', 'bench-dcom-10009')
    os.makedirs(workdir, exist_ok=True)
    state_dir = os.path.join(workdir, 'state')
    # Not named 'collections' and not beside the playbooks: ansible-playbook would search a
    # playbook-adjacent collections/ folder before ANSIBLE_COLLECTIONS_PATH.
    collections = stage_collection(os.path.join(workdir, 'stage'))
    playbooks = os.path.join(workdir, 'playbooks')
    os.makedirs(playbooks, exist_ok=True)
    sys.path.insert(0, collections)
    figures = dict(hosts=args.hosts, forks=forks_list, repeat=args.repeat, load_before=os.getloadavg()[0])
    launcher(state_dir, 'up', '--only', 'winrm', '--set', 'winrm.hosts=%d' % args.hosts,
             '--set', 'winrm.https_base_port=%d' % args.https_base_port,
             '--set', 'winrm.http_base_port=%d' % args.http_base_port,
             '--set', 'winrm.control_port=%d' % args.control_port)
    try:
        inventory = os.path.join(state_dir, 'inventory.yml')
        with open(inventory, encoding='utf-8') as handle:
            testbed = yaml.safe_load(handle)['all']['children']
        names = sorted(testbed['exchange_servers']['hosts'])
        options = [host_options(testbed, name) for name in names]
        with open(os.path.join(state_dir, 'vars.yml'), encoding='utf-8') as handle:
            peer = Peer(yaml.safe_load(handle)['testbed_winrm_control_url'])

        for key, function in (('floor', floor_read), ('in_process', ours_read)):
            figures[key] = {}
            for threads in forks_list:
                figures[key][str(threads)] = measure_threads(peer, names, function, options, threads, args.repeat)
                print('  %s, %d threads: %s' % (key, threads, json.dumps(figures[key][str(threads)])), flush=True)
        figures['floor_script'] = {}
        for threads in forks_list:
            figures['floor_script'][str(threads)] = measure_floor_script(peer, names, playbooks, inventory, threads,
                                                                         args.repeat)
            print('  floor script, %d threads: %s' % (threads, json.dumps(figures['floor_script'][str(threads)])),
                  flush=True)
        ways = [('empty', 'empty', collections), ('debug', 'debug', collections), ('ping', 'ping', collections),
                ('audit', 'audit', collections),
                ('fix', 'fix', collections)]
        for key, kind, path in ways:
            figures[key] = {}
            for forks in forks_list:
                figures[key][str(forks)] = measure_playbook(peer, names, playbooks, path, inventory, kind, forks, args.repeat)
                print('  %s, forks %d: %s' % (key, forks, json.dumps(figures[key][str(forks)])), flush=True)
        if not args.skip_peer:
            figures['ansible_windows'] = peer_attempt(peer, playbooks, inventory, names[0])
            print('  ansible.windows.win_reg_stat on %s: %s' % (names[0], json.dumps(figures['ansible_windows'])))
    finally:
        launcher(state_dir, 'down', '--only', 'winrm')
    figures['load_after'] = os.getloadavg()[0]

    print('\n' + table(figures))
    audit_requests = max(cell['per_host_max'] for cell in figures['audit'].values())
    figures['task_per_host_vs_ansible_and_floor'] = {}
    for forks in forks_list:
        audit = figures['audit'][str(forks)]['seconds']
        debug = figures['debug'][str(forks)]['seconds']
        floor = figures['floor'][str(forks)]['seconds']
        ratio = audit / (debug + floor)
        figures['task_per_host_vs_ansible_and_floor'][str(forks)] = round(ratio, 3)
        print('forks %d: audit, a task per host, %.2f s against debug per host %.2f s + floor %.2f s = %.2f s: %.2fx '
              '(goal 1.2x: %s)' % (forks, audit, debug, floor, debug + floor, ratio, 'met' if ratio <= 1.2 else 'missed'))
        cpu = [figures[key][str(forks)]['cpu_seconds'] for key in ('audit', 'debug', 'floor')]
        figures['task_per_host_vs_ansible_and_floor']['%s_cpu' % forks] = round(cpu[0] / (cpu[1] + cpu[2]), 3)
        print('forks %d, controller CPU: audit %.2f s against debug %.2f s + floor %.2f s = %.2f s: %.2fx'
              % (forks, cpu[0], cpu[1], cpu[2], cpu[1] + cpu[2], cpu[0] / (cpu[1] + cpu[2])))
    print('audit: at most %d HTTP requests per host (goal 8: %s)' % (audit_requests, 'met' if audit_requests <= 8 else 'missed'))
    if 'ansible_windows' in figures:
        attempt = figures['ansible_windows']
        print('ansible.windows.win_reg_stat: %s' % ('ok' if attempt['ok'] else 'failed: %s' % attempt['reason']))
    write_results('dcom_10009', figures)
    return 0


if __name__ == '__main__':
    sys.exit(main())
