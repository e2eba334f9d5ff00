# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_fleet as fleet
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.rpc_delegation_samples import PARAMS


def test_fleet_problems_name_what_a_fleet_task_cannot_do():
    assert fleet.fleet_problems(dict(PARAMS, max_workers=16), run_once=True, play_hosts=40) == []
    # a play of one host needs no run_once
    assert fleet.fleet_problems(dict(PARAMS, max_workers=16), run_once=False, play_hosts=1) == []
    problems = fleet.fleet_problems(dict(PARAMS, reboot=True, method='gpo', winrm_host='ex01', max_workers=0),
                                    run_once=False, play_hosts=40)
    assert problems[0].startswith('fleet acts on every host it names from one task: add run_once: true')
    assert 'each of the 40 hosts of the play would act on the whole fleet' in problems[0]
    assert problems[1].startswith('fleet does not restart hosts')
    assert problems[2].startswith('fleet applies to method registry')
    assert problems[3].startswith('winrm_host names one host')
    assert problems[4] == 'max_workers must be 1 or more, not 0.'


def host_result(changed=True, since_boot=3, affected=True, **extra):
    result = {'changed': changed, 'method': 'registry', 'before': {'value': None}, 'after': {'value': 1},
              'reboot_required': changed, 'rebooted': False, 'os': {'affected': affected}, 'boot_time': 'T',
              'dcom_10009': {'since_boot': since_boot}, 'invocation': {'module_args': {}}, 'warnings': []}
    result.update(extra)
    return result


def test_fleet_result_reports_every_host_and_fails_naming_the_failed_ones():
    result = fleet.fleet_result([
        ('ex01', host_result(diff={'before': {'value': None}, 'after': {'value': 1}}, warnings=['wevtutil slow'])),
        ('ex02', {'failed': True, 'msg': 'Authentication failed for FLEETFIX\\administrator on ex02',
                  'error_kind': 'authentication'}),
        ('ex03', host_result(changed=False, since_boot=0, affected=False, reboot_required=False,
                             diff={'before': {'value': 1}, 'after': {'value': 1}})),
    ])
    assert result['changed'] is True and result['failed'] is True
    assert result['msg'] == ('1 of 3 hosts failed: ex02: Authentication failed for FLEETFIX\\administrator on ex02')
    assert [entry['name'] for entry in result['hosts']] == ['ex01', 'ex02', 'ex03']
    ex01, ex02, ex03 = result['hosts']
    assert ex01['changed'] is True and ex01['failed'] is None and ex01['after'] == {'value': 1}
    assert 'invocation' not in ex01 and 'warnings' not in ex01 and 'diff' not in ex01
    assert ex02 == {'name': 'ex02', 'changed': False, 'skipped': None, 'error_kind': 'authentication',
                    'failed': 'Authentication failed for FLEETFIX\\administrator on ex02'}
    assert ex03['changed'] is False and ex03['reboot_required'] is False
    assert result['summary'] == {'total': 3, 'changed': 1, 'ok': 2, 'skipped': 0, 'failed': 1,
                                 'reboot_required': 1, 'affected': 1, 'logging_10009': 1}
    assert result['warnings'] == ['ex01: wevtutil slow']
    # the diff of the host that changed, named
    assert result['diff'] == [{'before': {'value': None}, 'after': {'value': 1},
                               'before_header': 'ex01 (before)', 'after_header': 'ex01 (after)'}]


def test_a_fleet_with_nothing_to_do():
    result = fleet.fleet_result([('ex01', host_result(changed=False, since_boot=0))])
    assert result['changed'] is False and 'failed' not in result and 'diff' not in result
    assert fleet.fleet_result([])['summary']['total'] == 0
