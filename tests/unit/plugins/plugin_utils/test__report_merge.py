# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.fleetfix.remediate.plugins.plugin_utils import _report_merge as merge
from ansible_collections.fleetfix.remediate.plugins.plugin_utils import _report_model as model

DNS = {'ok': True, 'domains': [{'name': 'contoso.lab', 'zone': 'contoso.lab', 'found_on': ['ns1'], 'ok': True}],
       'autodiscover': [{'name': 'partner.lab', 'ok': False, 'errors': ['none'], 'methods': []}]}


def esxi(names):
    return {'hosts': [{'name': name, 'changed': name.endswith('1'), 'actions': ['update_ntp'] if name.endswith('1') else [],
                       'offset_seconds': 0.1} for name in names]}


def estate(vcenters, servers, check_mode=False):
    """The model a run over these vCenters and Exchange servers (None: no result) makes, with the DNS check."""
    inputs = {'esxi_time': vcenters, 'dcom_10009': servers, 'federation_dns': {'localhost': DNS}}
    return model.build(inputs, check_mode=check_mode, generated='2026-12-01T10:00:00Z')


def comparable(report):
    return ([list(area['rows']) for area in report['areas']], report['totals'],
            report['findings'])


def test_three_slices_equal_the_unsliced_run():
    unsliced = estate({'vc1': esxi(['a1', 'a2']), 'vc2': esxi(['b1']), 'vc3': None},
                      {'ex1': {'changed': True}, 'ex2': {'failed': True, 'msg': 'denied'}, 'ex3': None})
    # each slice ran its own hosts; with --limit the others are in the groups without a result
    slices = [
        estate({'vc1': esxi(['a1', 'a2']), 'vc2': None, 'vc3': None}, {'ex1': {'changed': True}, 'ex2': None, 'ex3': None}),
        estate({'vc1': None, 'vc2': esxi(['b1']), 'vc3': None}, {'ex1': None, 'ex2': {'failed': True, 'msg': 'denied'}, 'ex3': None}),
        estate({'vc3': None}, {'ex3': None}),
    ]
    merged = merge.merge([json.dumps(item) for item in slices], names=['s1.json', 's2.json', 's3.json'], generated='2026-12-01T11:00:00Z')
    assert comparable(merged) == comparable(unsliced)
    # the federation check every slice ran is counted once
    assert merged['areas'][2]['counts']['total'] == 2
    assert merged['totals']['subjects'] == unsliced['totals']['subjects'] == 9
    assert [source['name'] for source in merged['sources']] == ['s1.json', 's2.json', 's3.json']
    assert merged['generated'] == '2026-12-01T11:00:00Z'
    assert merged['schema_version'] == model.SCHEMA_VERSION


def test_disagreeing_duplicates_keep_the_more_severe_status():
    good = estate({}, {})
    bad = estate({}, {})
    bad['areas'][2]['rows'][0] = dict(bad['areas'][2]['rows'][0], status='failed', problem='timeout', needs_human=True)
    merged = merge.merge([good, bad])
    assert merged['areas'][2]['rows'][0]['status'] == 'failed'
    assert 'Federation DNS contoso.lab: timeout' in [finding['text'] for finding in merged['findings']]
    assert merge.merge([bad, good])['areas'][2]['rows'][0]['status'] == 'failed'


def test_history_of_slices_is_dropped():
    one = estate({'vc1': esxi(['a1'])}, {})
    one['areas'][0]['rows'][0]['history'] = {'runs': 3}
    assert 'history' not in merge.merge([one])['areas'][0]['rows'][0]


@pytest.mark.parametrize('models, message', [
    ([], 'nothing to merge'),
    (['{not json'], 's1 is not a compliance report JSON file'),
    (['{"schema": "other"}'], 's1 is not a compliance report model'),
    ([dict(estate({}, {}), schema_version=99)], 's1 has schema_version 99; this collection reads version 1'),
    ([estate({}, {}), estate({}, {}, check_mode=True)], 'the slices mix check mode and remediation runs: s1 (remediation), s2 (check mode)'),
])
def test_bad_slices(models, message):
    with pytest.raises(merge.MergeError, match=message.replace('(', r'\(').replace(')', r'\)')):
        merge.merge(models, names=['s1', 's2'][:len(models)])


def test_default_names():
    with pytest.raises(merge.MergeError, match='slice 2 is not'):
        merge.merge([estate({}, {}), 'junk'])
