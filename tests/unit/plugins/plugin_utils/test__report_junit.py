# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from xml.etree import ElementTree

from ansible_collections.fleetfix.remediate.plugins.plugin_utils import _report_junit as junit
from ansible_collections.fleetfix.remediate.plugins.plugin_utils import _report_model as model


def report(check_mode=False):
    hosts = [
        {'name': 'ok', 'offset_seconds': 0.1},
        {'name': 'fixed', 'changed': True, 'actions': ['update_ntp'], 'offset_seconds': 0.1},
        {'name': 'broken', 'failed': 'fault <x> & "y"'},
        {'name': 'off', 'skipped': 'host is disconnected'},
        {'name': 'late', 'drifted': True, 'offset_seconds': 12.0},
    ]
    return model.build({'esxi_time': {'vc': {'hosts': hosts}}, 'dcom_10009': {'ex1': None},
                        'federation_dns': {'localhost': {'domains': [{'name': 'd.lab', 'zone': 'd.lab', 'ok': True,
                                                                      'found_on': ['ns1'], 'stale_on': ['ns2']}]}}},
                       check_mode=check_mode, title='Report & co', generated='2026-12-01T10:00:00Z')


def cases(root):
    return {case.get('name'): case for case in root.iter('testcase')}


def test_one_test_case_per_row_with_the_status_as_outcome():
    root = ElementTree.fromstring(junit.to_junit(report()))
    assert root.tag == 'testsuites' and root.get('name') == 'Report & co'
    assert (root.get('tests'), root.get('failures'), root.get('errors'), root.get('skipped')) == ('7', '2', '1', '1')
    suites = root.findall('testsuite')
    assert [suite.get('name') for suite in suites] == ['ESXi time', 'DCOM 10009', 'Federation DNS']
    assert [suite.get('tests') for suite in suites] == ['5', '1', '1']
    found = cases(root)
    assert found['ok'].find('failure') is None and found['ok'].find('error') is None
    assert found['ok'].get('classname') == 'esxi_time.vc'
    assert found['fixed'].find('system-out').text == 'status: changed\naction: set the NTP servers'
    assert found['broken'].find('error').get('message') == 'fault <x> & "y"'
    assert found['broken'].find('error').get('type') == 'failed'
    assert found['off'].find('skipped').get('message') == 'host is disconnected'
    assert found['late'].find('failure').get('message') == 'clock still 12.0 s off after the run'
    assert found['ex1'].find('failure').get('type') == 'missing'
    assert found['d.lab'].find('failure') is None
    assert 'note: older SOA serial on ns2' in found['d.lab'].find('system-out').text


def test_check_mode_would_change_is_a_failure():
    found = cases(ElementTree.fromstring(junit.to_junit(report(check_mode=True))))
    failure = found['fixed'].find('failure')
    assert failure.get('type') == 'would_change'
    assert failure.get('message') == 'would change: would: set the NTP servers'
