# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetfix.remediate.plugins.filter import compliance_report_history as history_filter
from ansible_collections.fleetfix.remediate.plugins.filter import compliance_report_junit as junit_filter
from ansible_collections.fleetfix.remediate.plugins.filter import compliance_report_merge as merge_filter
from ansible_collections.fleetfix.remediate.plugins.filter import compliance_report_model as model_filter

HOSTS = {'esxi_time': ['vc'], 'dcom_10009': ['ex1'], 'federation_dns': ['localhost']}
HOSTVARS = {'vc': {'esxi_time_result': {'hosts': [{'name': 'esx1', 'offset_seconds': 0.2}]}}, 'ex1': {}, 'localhost': {}}


def test_each_file_exposes_its_filter():
    assert set(model_filter.FilterModule().filters()) == {'compliance_report_model'}
    assert set(merge_filter.FilterModule().filters()) == {'compliance_report_merge'}
    assert set(history_filter.FilterModule().filters()) == {'compliance_report_history'}
    assert set(junit_filter.FilterModule().filters()) == {'compliance_report_junit'}


def test_model_filter():
    report = model_filter.compliance_report_model(HOSTVARS, hosts=HOSTS, check_mode=True, title='T', files={'json': '/r.json'})
    assert report['totals']['subjects'] == 2 and report['totals']['missing'] == 1
    assert report['check_mode'] and report['title'] == 'T' and report['files'] == {'json': '/r.json'}
    with pytest.raises(AnsibleFilterError, match='expects hostvars'):
        model_filter.compliance_report_model(['x'], hosts=HOSTS)
    with pytest.raises(AnsibleFilterError, match='needs hosts'):
        model_filter.compliance_report_model(HOSTVARS)


def test_merge_filter():
    report = model_filter.compliance_report_model(HOSTVARS, hosts=HOSTS)
    merged = merge_filter.compliance_report_merge([json.dumps(report), report], names=['a', 'b'], title='M')
    assert merged['totals'] == report['totals'] and merged['title'] == 'M'
    with pytest.raises(AnsibleFilterError, match='expects a list'):
        merge_filter.compliance_report_merge('x')
    with pytest.raises(AnsibleFilterError, match='nothing to merge'):
        merge_filter.compliance_report_merge([])


def test_history_filter_warns(mocker):
    warning = mocker.patch('ansible.utils.display.Display.warning')
    report = model_filter.compliance_report_model(HOSTVARS, hosts=HOSTS)
    result = history_filter.compliance_report_history(report, previous='bm90IGpzb24=', path='/r/h.jsonl', max_runs='5', enabled='True')
    assert result['history']['corrupted'] and result['history']['max_runs'] == 5
    warning.assert_called_once_with(result['history']['warnings'][0])
    assert 'history' not in report
    text = history_filter.compliance_report_history(result, previous='bm90IGpzb24=', path='/r/h.jsonl', text='yes')
    assert len(text.splitlines()) == 1 and warning.call_count == 1
    assert history_filter.compliance_report_history(report, enabled='False', text=True) == ''
    with pytest.raises(AnsibleFilterError, match='must each be 1 or more'):
        history_filter.compliance_report_history(report, max_runs=0)
    with pytest.raises(AnsibleFilterError, match='expects the model'):
        history_filter.compliance_report_history({})


def test_junit_filter():
    report = model_filter.compliance_report_model(HOSTVARS, hosts=HOSTS)
    assert junit_filter.compliance_report_junit(report).startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    with pytest.raises(AnsibleFilterError, match='expects the model'):
        junit_filter.compliance_report_junit('x')
