# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import json

from ansible_collections.fleetfix.remediate.plugins.plugin_utils import _report_history as history
from ansible_collections.fleetfix.remediate.plugins.plugin_utils import _report_model as model


def run(statuses, generated, check_mode=False, offsets=None):
    """A model with one ESXi host per name: statuses {name: status}."""
    hosts = []
    for name, status in statuses.items():
        offset = (offsets or {}).get(name, 0.5)
        host = dict(name=name, changed=status == 'changed', skipped='off' if status == 'skipped' else None,
                    failed='boom' if status == 'failed' else None, drifted=status == 'attention',
                    before={}, after={}, actions=['update_ntp'] if status == 'changed' else [],
                    offset_seconds=None if status == 'skipped' else offset)
        hosts.append(host)
    return model.build({'esxi_time': {'vc': {'hosts': hosts}}}, check_mode=check_mode, generated=generated)


def encoded(text):
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def chain(sequence, **options):
    """Runs one after the other through the history; returns the last update."""
    content = ''
    result = None
    for number, statuses in enumerate(sequence):
        result = history.update(run(statuses, '2026-12-%02dT10:00:00Z' % (number + 1)), content, path='/r/h.jsonl', **options)
        content = encoded(result['text'])
    return result


def row_of(result, name):
    return next(row for row in result['model']['areas'][0]['rows'] if row['subject'] == name)


def test_first_run_without_a_file():
    result = history.update(run({'a': 'compliant'}, '2026-12-01T10:00:00Z'), '', path='/r/h.jsonl')
    assert result['warnings'] == [] and not result['corrupted']
    lines = result['text'].splitlines()
    assert len(lines) == 1
    document = json.loads(lines[0])
    assert document['schema'] == history.HISTORY_SCHEMA and document['schema_version'] == 1
    assert document['rows'] == {'esxi_time/vc/a': ['compliant', 0.5]}
    assert row_of(result, 'a')['history'] == {'runs': 1, 'compliant_since': '2026-12-01T10:00:00Z', 'not_compliant_since': None,
                                              'drifts': 0, 'statuses': ['compliant'], 'offsets': [0.5]}
    assert result['model']['history']['runs'] == 1 and result['model']['history']['file'] == '/r/h.jsonl'


def test_since_when_compliant_and_drifts_back():
    result = chain([{'a': 'changed', 'b': 'compliant'}, {'a': 'compliant', 'b': 'failed'}, {'a': 'changed', 'b': 'failed'},
                    {'a': 'compliant', 'b': 'compliant'}, {'a': 'compliant', 'b': 'attention'}])
    a = row_of(result, 'a')['history']
    # fixed on day 1, drifted again on day 3 (fixed then), compliant since day 3
    assert (a['compliant_since'], a['not_compliant_since'], a['drifts'], a['runs']) == ('2026-12-03T10:00:00Z', None, 1, 5)
    assert a['statuses'] == ['changed', 'compliant', 'changed', 'compliant', 'compliant']
    b = row_of(result, 'b')['history']
    assert (b['compliant_since'], b['not_compliant_since'], b['drifts']) == (None, '2026-12-05T10:00:00Z', 2)


def test_check_mode_would_change_is_not_compliant():
    first = history.update(run({'a': 'compliant'}, '2026-12-01T10:00:00Z'), '')
    second = history.update(run({'a': 'changed'}, '2026-12-02T10:00:00Z', check_mode=True), encoded(first['text']))
    entry = row_of(second, 'a')['history']
    assert (entry['compliant_since'], entry['not_compliant_since'], entry['drifts']) == (None, '2026-12-02T10:00:00Z', 1)


def test_unknown_runs_break_the_streak_and_do_not_count_as_drift():
    result = chain([{'a': 'compliant'}, {'a': 'skipped'}, {'a': 'compliant'}])
    entry = row_of(result, 'a')['history']
    assert (entry['compliant_since'], entry['drifts']) == ('2026-12-03T10:00:00Z', 0)
    skipped = row_of(chain([{'a': 'compliant'}, {'a': 'skipped'}]), 'a')['history']
    assert (skipped['compliant_since'], skipped['not_compliant_since']) == (None, None)


def test_window_limits_the_drift_count_and_max_runs_the_file():
    sequence = [{'a': 'compliant'}, {'a': 'changed'}] * 6
    result = chain(sequence, max_runs=5, window=3)
    assert len(result['text'].splitlines()) == 5
    assert result['model']['history']['runs'] == 5
    entry = row_of(result, 'a')['history']
    assert entry['runs'] == 3 and entry['drifts'] == 1
    assert [point['generated'] for point in result['model']['history']['trend']] == [
        '2026-12-%02dT10:00:00Z' % day for day in range(8, 13)]


def test_max_bytes_drops_the_oldest_runs_first():
    one_run = len(chain([{'a': 'compliant', 'b': 'compliant'}])['text'])
    result = chain([{'a': 'compliant', 'b': 'compliant'}] * 4, max_bytes=one_run * 2 + 10)
    runs = [json.loads(line)['generated'] for line in result['text'].splitlines()]
    assert runs == ['2026-12-03T10:00:00Z', '2026-12-04T10:00:00Z']
    assert len(result['text']) <= one_run * 2 + 10
    assert result['warnings'] == []


def test_a_single_run_larger_than_max_bytes_is_kept_with_a_warning():
    result = chain([{'a': 'compliant'}, {'a': 'compliant'}], max_bytes=10)
    assert len(result['text'].splitlines()) == 1
    assert 'more than the history limit of 10 bytes' in result['warnings'][0]


def test_corrupted_file_warns_and_starts_afresh_without_losing_the_report():
    good = chain([{'a': 'compliant'}])['text']
    for text in (good + '{"truncated', 'not json at all\n', good + '{"schema": "other"}\n', '[1, 2]\n'):
        result = history.update(run({'a': 'failed'}, '2026-12-09T10:00:00Z'), encoded(text), path='/r/h.jsonl')
        assert result['corrupted']
        assert len(result['warnings']) == 1
        assert result['warnings'][0].startswith('/r/h.jsonl is corrupted (line ')
        assert 'starting a fresh history (the old file is kept as /r/h.jsonl.unreadable)' in result['warnings'][0]
        assert len(result['text'].splitlines()) == 1
        assert result['model']['history']['runs'] == 1
        assert result['model']['history']['warnings'] == result['warnings']
        assert result['model']['totals']['failed'] == 1


def test_undecodable_and_unreadable_files():
    result = history.update(run({'a': 'compliant'}, '2026-12-01T10:00:00Z'), '!!!', path='/r/h.jsonl')
    assert result['corrupted'] and 'cannot be read' in result['warnings'][0]
    binary = history.update(run({'a': 'compliant'}, '2026-12-01T10:00:00Z'), base64.b64encode(b'\xff\xfe').decode(), path='/r/h')
    assert binary['corrupted']
    denied = history.update(run({'a': 'compliant'}, '2026-12-01T10:00:00Z'), '', path='/r/h.jsonl', unreadable='Permission denied')
    assert not denied['corrupted']
    assert denied['warnings'] == ['/r/h.jsonl cannot be read (Permission denied); starting a fresh history']
    assert denied['text'].count('\n') == 1


def test_blank_lines_are_ignored():
    text = chain([{'a': 'compliant'}])['text']
    result = history.update(run({'a': 'compliant'}, '2026-12-02T10:00:00Z'), encoded('\n' + text + '\n\n'))
    assert not result['warnings'] and result['model']['history']['runs'] == 2


def test_disabled_history_annotates_from_this_run_alone():
    result = history.update(run({'a': 'changed'}, '2026-12-01T10:00:00Z'), encoded('garbage'), enabled=False)
    assert result['text'] == '' and result['warnings'] == []
    assert result['model']['history']['enabled'] is False and result['model']['history']['runs'] == 1
    assert row_of(result, 'a')['history']['compliant_since'] == '2026-12-01T10:00:00Z'


def test_offset_trend_figures():
    offsets = {'h%d' % number: float(number) for number in range(1, 21)}
    offsets['h20'] = -300.0
    result = history.update(run(dict.fromkeys(offsets, 'compliant'), '2026-12-01T10:00:00Z', offsets=offsets), '')
    point = result['model']['history']['trend'][0]
    assert point['hosts'] == 20
    assert point['max_abs_after'] == 300.0 and point['max_abs_before'] == 300.0
    assert point['p95_abs_after'] == 19.0 and point['median_abs_after'] == 11.0
    assert (point['attention'], point['failed'], point['check_mode']) == (0, 0, False)
    empty = history.offset_figures(model.build({}))
    assert empty == {'hosts': 0, 'max_abs_before': None, 'max_abs_after': None, 'p95_abs_after': None, 'median_abs_after': None}


def test_rows_of_other_areas_are_recorded_without_offsets():
    report = model.build({'dcom_10009': {'ex01': None}}, generated='2026-12-01T10:00:00Z')
    assert history.record(report)['rows'] == {'dcom_10009//ex01': ['missing']}
    result = history.update(report, '')
    assert result['model']['areas'][1]['rows'][0]['history']['offsets'] == []
