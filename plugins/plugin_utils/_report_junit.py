# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the compliance report as JUnit XML, one test case per host or domain.

One test suite per area. A row that is not in the desired state after the run is a test that did
not pass: ``<error>`` when the run failed on it, ``<failure>`` when it needs a human, has no result,
or (in check mode) would change; ``<skipped>`` when it was skipped.
"""

from __future__ import annotations

from xml.etree import ElementTree


def _outcome(row, check_mode):
    status = row['status']
    if status == 'failed':
        return 'error', row['problem']
    if status in ('attention', 'missing'):
        return 'failure', row['problem']
    if status == 'skipped':
        return 'skipped', row.get('skip_reason') or 'skipped'
    if status == 'changed' and check_mode:
        return 'failure', 'would change: %s' % row['action']
    return None, ''


def to_junit(model):
    check_mode = bool(model.get('check_mode'))
    suites = ElementTree.Element('testsuites', name=str(model.get('title') or 'compliance report'))
    totals = {'tests': 0, 'failures': 0, 'errors': 0, 'skipped': 0}
    for area in model.get('areas', []):
        counts = {'tests': 0, 'failures': 0, 'errors': 0, 'skipped': 0}
        suite = ElementTree.SubElement(suites, 'testsuite', name=area['title'], timestamp=str(model.get('generated') or ''))
        for row in area['rows']:
            counts['tests'] += 1
            case = ElementTree.SubElement(suite, 'testcase', name=str(row['subject']), time='0',
                                          classname='%s.%s' % (area['id'], row['scope'] or area['id']))
            kind, message = _outcome(row, check_mode)
            if kind:
                counts['failures' if kind == 'failure' else 'errors' if kind == 'error' else 'skipped'] += 1
                element = ElementTree.SubElement(case, kind, message=message)
                if kind != 'skipped':
                    element.set('type', row['status'] if row['status'] != 'changed' else 'would_change')
                    element.text = 'before: %s\naction: %s\nafter: %s' % (row['before'], row['action'], row['after'])
            out = ['status: %s' % model['status_labels'][row['status']]]
            if row['action'] and row['action'] != 'none':
                out.append('action: %s' % row['action'])
            out.extend('note: %s' % note for note in row.get('notes', []))
            ElementTree.SubElement(case, 'system-out').text = '\n'.join(out)
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
    for key, value in totals.items():
        suites.set(key, str(value))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding='unicode') + '\n'
