# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the site playbook the way AWX runs a job template, through ansible-runner.

AWX hands ansible-runner a private data directory: the project (a playbook importing
fleetfix.remediate.site), the inventory, and the credentials as AWX injects them: the vCenter
credential as the environment variables VMWARE_HOST, VMWARE_USER and VMWARE_PASSWORD, the Machine
credential as ``-u USER --ask-pass`` with the password prompt answered from ``env/passwords``.
With job slicing, each of N jobs gets the inventory's hosts number, number + N, ... (by name).

``run`` runs the job (or its slices) and checks each one from its job events and artifacts: the
job succeeded, every play ran, the credentials reached the modules, and neither password appears
in any artifact or report file. ``compare`` checks that two JSON reports have the same findings.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shlex
import sys

import ansible_runner
import yaml

SITE_PLAYS = [
    'ESXi hosts keep time with NTP',
    'Exchange servers stop logging DCOM 10009',
    'Federation DNS is published where Exchange partners look',
    'Compliance report',
]
# AWX's expect pattern for the Machine credential's password (--ask-pass).
SSH_PASSWORD_PROMPT = r'SSH password:\s*?$'
VCENTER_READ_TASK = "Read every host's clock before the run (for the report's before/after chart)"
WINRM_APPLY_TASK = 'Set IgnoreDelegationFailure = 1 on every host at once, without restarting'


class JobError(Exception):
    pass


def awx_inventory(testbed_inventory):
    """The testbed's inventory as an AWX inventory: no credential in it.

    Returns the inventory and the credentials AWX would inject instead.
    """
    inventory = copy.deepcopy(testbed_inventory)
    groups = inventory['all']['children']
    global_vars = inventory['all'].get('vars', {})
    vcenter_hosts = groups.get('vcenters', {}).get('hosts', {})
    if len(vcenter_hosts) != 1:
        raise JobError('the testbed inventory should have one vCenter, not %d' % len(vcenter_hosts))
    vcenter_vars = next(iter(vcenter_hosts.values()))
    credentials = {
        'vcenter': {
            'VMWARE_HOST': vcenter_vars.pop('esxi_time_vcenter_hostname'),
            'VMWARE_USER': vcenter_vars.pop('esxi_time_vcenter_username'),
            'VMWARE_PASSWORD': vcenter_vars.pop('esxi_time_vcenter_password'),
        },
        'machine': {'username': global_vars['testbed_winrm_user'], 'password': global_vars['testbed_winrm_password']},
    }
    for group in groups.values():
        for host_vars in (group.get('hosts') or {}).values():
            if host_vars.get('ansible_connection') == 'winrm':
                for name in ('ansible_user', 'ansible_password'):
                    host_vars.pop(name, None)
    # The launcher's own copies of the passwords are not part of the estate's inventory.
    for name in ('testbed_vcsim_password', 'testbed_winrm_password'):
        global_vars.pop(name, None)
    return inventory, credentials


def host_names(inventory):
    return sorted({name for group in inventory['all']['children'].values() for name in (group.get('hosts') or {})})


def slice_inventory(inventory, number, count):
    """AWX job slicing: slice ``number`` (1-based) of ``count`` keeps hosts number-1, number-1+count, ..."""
    keep = set(host_names(inventory)[number - 1::count])
    sliced = copy.deepcopy(inventory)
    for group in sliced['all']['children'].values():
        group['hosts'] = {name: host_vars for name, host_vars in (group.get('hosts') or {}).items() if name in keep}
    return sliced, sorted(keep)


def write_private_data_dir(path, inventory, credentials, extra_vars):
    """The private data directory AWX writes for a job (process isolation off)."""
    for sub in ('project', 'inventory', 'env'):
        os.makedirs(os.path.join(path, sub), exist_ok=True)

    def dump(relative, data):
        with open(os.path.join(path, relative), 'w', encoding='utf-8') as stream:
            stream.write(data if isinstance(data, str) else json.dumps(data, indent=2))

    dump('project/site.yml', '---\n- name: Fleet run\n  ansible.builtin.import_playbook: fleetfix.remediate.site\n')
    dump('inventory/hosts.json', inventory)
    dump('env/envvars', credentials['vcenter'])
    dump('env/passwords', {SSH_PASSWORD_PROMPT: credentials['machine']['password']})
    dump('env/cmdline', ' '.join(shlex.quote(arg) for arg in ['-u', credentials['machine']['username'], '--ask-pass']))
    dump('env/extravars', extra_vars)
    dump('env/settings', {'process_isolation': False, 'suppress_ansible_output': True, 'job_timeout': 900})


def events_of(runner):
    return [event for event in runner.events if event.get('event')]


def check_job(name, runner, hosts, inventory):
    """The job's events say it succeeded, every play ran and the credentials reached the modules."""
    problems = []
    if runner.status != 'successful' or runner.rc != 0:
        problems.append('status %s, rc %s' % (runner.status, runner.rc))
    events = events_of(runner)
    plays = [event['event_data'].get('play') for event in events if event['event'] == 'playbook_on_play_start']
    if plays != SITE_PLAYS:
        problems.append('plays %s, expected %s' % (plays, SITE_PLAYS))
    stats = [event['event_data'] for event in events if event['event'] == 'playbook_on_stats']
    if len(stats) != 1:
        problems.append('%d playbook_on_stats events' % len(stats))
    else:
        for key in ('failures', 'dark'):
            if stats[0].get(key):
                problems.append('%s in the stats: %s' % (key, stats[0][key]))
    groups = inventory['all']['children']

    def results(task):
        return {event['event_data']['host']: event['event_data'].get('res', {})
                for event in events if event['event'] == 'runner_on_ok' and event['event_data'].get('task') == task}

    read = results(VCENTER_READ_TASK)
    for host in sorted(groups['vcenters']['hosts']):
        # the vCenter credential (VMWARE_* environment) reached the module: the read succeeded
        if not read.get(host, {}).get('hosts'):
            problems.append('%s: the vCenter read failed or did not run: %s' % (host, read.get(host, {}).get('msg', 'no event')))
    applied = results(WINRM_APPLY_TASK)
    for host in sorted(groups['exchange_servers']['hosts']):
        # the Machine credential (-u, password prompt) reached WinRM: the host answered
        if 'before' not in applied.get(host, {}):
            problems.append('%s: the WinRM fix failed or did not run: %s' % (host, applied.get(host, {}).get('msg', 'no event')))
    ran = {event['event_data'].get('host') for event in events if event['event'].startswith('runner_on_')}
    ran.discard(None)
    strays = ran - set(hosts) - {'localhost'}
    if strays:
        problems.append('tasks ran on hosts outside the job: %s' % sorted(strays))
    if problems:
        raise JobError('%s: %s' % (name, '; '.join(problems)))
    return len(events)


def check_no_secret(name, artifacts, reports, secrets):
    """No password in any file the job wrote: the artifacts (stdout, job events, fact cache, status) and the reports.

    Not scanned: ansible-runner's ``command`` file, its record of the command line and the
    environment it was handed (the credentials AWX injected, as ``env/envvars`` holds them).
    """
    leaks = []
    scanned = 0
    for directory in (artifacts, reports):
        for root, _dirs, files in os.walk(directory):
            for file_name in files:
                path = os.path.join(root, file_name)
                if file_name == 'command' and os.path.dirname(root) == artifacts:
                    continue
                with open(path, 'rb') as stream:
                    content = stream.read()
                scanned += 1
                for label, secret in secrets.items():
                    if secret.encode('utf-8') in content:
                        leaks.append('%s in %s' % (label, os.path.relpath(path, directory)))
    if leaks:
        raise JobError('%s: secrets in the artifacts: %s' % (name, ', '.join(leaks)))
    if not scanned:
        raise JobError('%s: no artifact to scan' % name)
    return scanned


def run_jobs(args):
    with open(args.inventory, encoding='utf-8') as stream:
        inventory, credentials = awx_inventory(yaml.safe_load(stream))
    secrets = {'the vCenter password': credentials['vcenter']['VMWARE_PASSWORD'],
               'the Machine credential password': credentials['machine']['password']}
    jobs = []
    slices = args.slices or 1
    for number in range(1, slices + 1):
        name = 'slice %d of %d' % (number, slices) if args.slices else 'job'
        job_inventory, hosts = slice_inventory(inventory, number, slices)
        pdd = os.path.join(args.work, 'slice%d' % number if args.slices else 'job')
        reports = os.path.join(pdd, 'reports')
        extra_vars = dict(args.extra_vars, compliance_report_output_dir=reports, site_fail_on_findings=False)
        write_private_data_dir(pdd, job_inventory, credentials, extra_vars)
        runner = ansible_runner.run(private_data_dir=pdd, playbook='site.yml', ident=name.replace(' ', '-'),
                                    verbosity=args.verbosity, quiet=True)
        event_count = check_job(name, runner, hosts, job_inventory)
        scanned = check_no_secret(name, os.path.join(pdd, 'artifacts'), reports, secrets)
        print('%s: %s, hosts %s: %d events, every play ran, both credentials used, no secret in %d files'
              % (name, runner.status, ', '.join(hosts) or '-', event_count, scanned))
        jobs.append({'name': name, 'hosts': hosts, 'reports': reports})
    with open(os.path.join(args.work, 'jobs.json'), 'w', encoding='utf-8') as stream:
        json.dump(jobs, stream, indent=2)
    # the extra variables of the merge step (fleetfix.remediate.compliance_report_merge)
    with open(os.path.join(args.work, 'merge-vars.json'), 'w', encoding='utf-8') as stream:
        json.dump({'compliance_report_merge_files': [os.path.join(job['reports'], 'fleetfix-compliance.json') for job in jobs]},
                  stream, indent=2)


def load_model(path):
    with open(path, encoding='utf-8') as stream:
        return json.load(stream)


def outcome(model):
    """What the report says: its findings, its counts, and each area's rows by key and status."""
    return {
        'findings': sorted(json.dumps(finding, sort_keys=True) for finding in model['findings']),
        'totals': model['totals'],
        'rows': {area['id']: sorted((row['key'], row['status']) for row in area['rows']) for area in model['areas']},
    }


def compare(args):
    single, merged = load_model(args.single), load_model(args.merged)
    expected, got = outcome(single), outcome(merged)
    differences = [part for part in ('findings', 'totals', 'rows') if expected[part] != got[part]]
    if differences:
        raise JobError('the merged slices differ from the single run in %s:\nsingle: %s\nmerged: %s' % (
            ', '.join(differences), json.dumps({part: expected[part] for part in differences}, indent=1),
            json.dumps({part: got[part] for part in differences}, indent=1)))
    if len(merged.get('sources', [])) < 2:
        raise JobError('the merged report names %d sources, not the slices' % len(merged.get('sources', [])))
    print('the merged report of %d slices equals the single run: %d findings, %d hosts/domains, rows %s'
          % (len(merged['sources']), len(expected['findings']), expected['totals']['subjects'],
             ', '.join('%s %d' % (area, len(rows)) for area, rows in expected['rows'].items())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    commands = parser.add_subparsers(dest='command', required=True)
    run = commands.add_parser('run', help='run the site playbook as an AWX job (or its slices) and check it')
    run.add_argument('--inventory', required=True, help="the testbed's inventory.yml")
    run.add_argument('--work', required=True, help='where the private data directories go')
    run.add_argument('--slices', type=int, default=0, help='AWX job slicing: the number of slices')
    run.add_argument('--verbosity', type=int, default=0)
    run.add_argument('-e', dest='extra_vars', type=json.loads, default={}, help='extra variables (JSON)')
    comparison = commands.add_parser('compare', help='two JSON reports have the same findings')
    comparison.add_argument('single')
    comparison.add_argument('merged')
    args = parser.parse_args()
    try:
        if args.command == 'run':
            run_jobs(args)
        else:
            compare(args)
    except JobError as error:
        print('awx_job: %s' % error, file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
