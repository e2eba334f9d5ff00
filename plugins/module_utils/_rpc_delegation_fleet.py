# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""One win_ignore_delegation_failure task for a whole fleet (the action plugin's ``fleet`` option).

What such a task cannot do, and its result: every host reported, the failed ones named.
"""

from __future__ import annotations

from ansible_collections.fleetfix.remediate.plugins.module_utils._fleet import FleetReport, HostResult


# What each host's entry of a fleet result keeps of its own task result.
FLEET_HOST_KEYS = ('method', 'before', 'after', 'reboot_required', 'rebooted', 'os', 'boot_time', 'dcom_10009',
                   'error_kind')


def fleet_problems(params, run_once, play_hosts):
    """Why the validated ``params`` of a task with ``fleet`` cannot run as one task for those hosts."""
    problems = []
    if not run_once and play_hosts > 1:
        problems.append('fleet acts on every host it names from one task: add run_once: true to the task, or each of '
                        'the %d hosts of the play would act on the whole fleet.' % play_hosts)
    if params.get('reboot') or params.get('force_reboot'):
        problems.append('fleet does not restart hosts: restart them a batch at a time with the '
                        'fleetfix.remediate.dcom_10009 role, or with reboot on a task of each host.')
    if params.get('method') == 'gpo':
        problems.append('fleet applies to method registry: method gpo writes one GPO through one domain controller, '
                        'a task of that host without fleet.')
    if params.get('winrm_host'):
        problems.append('winrm_host names one host; with fleet each host is reached at its own ansible_host '
                        '(or inventory name).')
    if params.get('max_workers') is not None and params['max_workers'] < 1:
        problems.append('max_workers must be 1 or more, not %s.' % params['max_workers'])
    return problems


def fleet_result(host_results):
    """``[(host, that host's task result)]`` -> the fleet task's result, every host reported.

    ``hosts`` has one entry per host in the given order, ``summary`` the counts; the task
    fails after all of them ran, naming each host that failed and why. Warnings and diffs
    (of the hosts that changed) name their host.
    """
    report = FleetReport()
    warnings = []
    diffs = []
    for name, result in host_results:
        entry = report.add(HostResult(name, **dict((key, result[key]) for key in FLEET_HOST_KEYS if key in result)))
        entry.changed = bool(result.get('changed'))
        if result.get('failed'):
            entry.fail(result.get('msg') or 'failed without a message')
        warnings.extend('%s: %s' % (name, warning) for warning in result.get('warnings') or ())
        if entry.changed and result.get('diff'):
            diffs.append(dict(result['diff'], before_header='%s (before)' % name, after_header='%s (after)' % name))
    entries = [result.fields for result in report.results if result.failed is None]
    summary = report.summary(
        reboot_required=sum(1 for fields in entries if fields.get('reboot_required')),
        affected=sum(1 for fields in entries if (fields.get('os') or {}).get('affected')),
        logging_10009=sum(1 for fields in entries if ((fields.get('dcom_10009') or {}).get('since_boot') or 0) > 0),
    )
    result = {'changed': report.changed, 'hosts': report.as_list(), 'summary': summary, 'warnings': warnings}
    if diffs:
        result['diff'] = diffs
    message = report.failure_message()
    if message:
        result.update(failed=True, msg=message)
    return result
