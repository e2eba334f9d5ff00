# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the compliance report's history across runs.

The history file holds one JSON document per run, one per line (JSON Lines), oldest first:
the run's time and mode, its totals, each row's status (and an ESXi host's clock offset), and
the ESXi offsets' figures for the trend chart. It is bounded by a number of runs and a size in
bytes; the oldest runs go first. A file that cannot be read gives a warning and a fresh start;
the report itself never depends on it.
"""

from __future__ import annotations

import base64
import binascii
import json

HISTORY_SCHEMA = 'fleetfix.remediate/compliance-history'
HISTORY_SCHEMA_VERSION = 1

# After the run: in the desired state. Found: the run had to change it or could not.
_FOUND_DRIFTED = ('changed', 'attention', 'failed')
_UNKNOWN = ('skipped', 'missing')


def _left_compliant(status, check_mode):
    return status == 'compliant' or (status == 'changed' and not check_mode)


def _percentile(sorted_values, share):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(round(share * (len(sorted_values) - 1))))
    return sorted_values[index]


def offset_figures(model):
    """Figures of the ESXi hosts' offsets in one run (seconds; ``None`` without a measured host)."""
    before, after = [], []
    for area in model.get('areas', []):
        if area.get('id') != 'esxi_time':
            continue
        for row in area['rows']:
            details = row.get('details') or {}
            if details.get('offset_after') is not None:
                after.append(abs(details['offset_after']))
            if details.get('offset_before') is not None:
                before.append(abs(details['offset_before']))
    before.sort()
    after.sort()
    return {
        'hosts': len(after),
        'max_abs_before': before[-1] if before else None,
        'max_abs_after': after[-1] if after else None,
        'p95_abs_after': _percentile(after, 0.95),
        'median_abs_after': _percentile(after, 0.5),
    }


def record(model):
    """The history document of one run."""
    rows = {}
    for area in model.get('areas', []):
        for row in area['rows']:
            offset = (row.get('details') or {}).get('offset_after')
            rows[row['key']] = [row['status'], offset] if offset is not None else [row['status']]
    return {
        'schema': HISTORY_SCHEMA,
        'schema_version': HISTORY_SCHEMA_VERSION,
        'generated': model.get('generated'),
        'check_mode': bool(model.get('check_mode')),
        'totals': dict(model.get('totals') or {}),
        'esxi_offsets': offset_figures(model),
        'rows': rows,
    }


def _valid(document):
    return (isinstance(document, dict) and document.get('schema') == HISTORY_SCHEMA
            and document.get('schema_version') == HISTORY_SCHEMA_VERSION
            and isinstance(document.get('rows'), dict) and isinstance(document.get('generated'), str))


def parse(text, path='the history file'):
    """The runs of a history file's text; ``(runs, warning)``, a warning meaning a fresh start."""
    if text is None or text == '':
        return [], None
    runs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError as error:
            return [], ('%s is corrupted (line %d is not JSON: %s); starting a fresh history'
                        % (path, number, error))
        if not _valid(document):
            return [], ('%s is corrupted (line %d is not a fleetfix compliance history run of schema version %d); '
                        'starting a fresh history' % (path, number, HISTORY_SCHEMA_VERSION))
        runs.append(document)
    return runs, None


def decode(content, path='the history file'):
    """The text of a history file from slurp's base64 ``content``; ``(text, warning)``."""
    if not content:
        return '', None
    try:
        return base64.b64decode(content, validate=True).decode('utf-8'), None
    except (binascii.Error, ValueError) as error:
        return '', '%s cannot be read (%s); starting a fresh history' % (path, error)


def bound(runs, max_runs, max_bytes):
    """The newest runs that fit in ``max_runs`` and ``max_bytes``, and their text."""
    runs = runs[-max_runs:] if max_runs > 0 else runs[-1:]
    lines = [json.dumps(run, sort_keys=True, separators=(',', ':')) for run in runs]
    size = sum(len(line.encode('utf-8')) + 1 for line in lines)
    while len(lines) > 1 and size > max_bytes:
        size -= len(lines[0].encode('utf-8')) + 1
        lines.pop(0)
        runs = runs[1:]
    return runs, ''.join(line + '\n' for line in lines)


def annotate(model, runs, window):
    """Per row: since when it is compliant (or not), how often it drifted back in the last ``window`` runs."""
    recent = runs[-window:] if window > 0 else runs
    for area in model.get('areas', []):
        for row in area['rows']:
            row['history'] = row_history(row['key'], recent)


def row_history(key, runs):
    seen = [(run['generated'], run['rows'][key][0], bool(run.get('check_mode'))) for run in runs if key in run['rows']]
    known = [entry for entry in seen if entry[1] not in _UNKNOWN]
    drifts = 0
    for previous, current in zip(known, known[1:]):
        if _left_compliant(previous[1], previous[2]) and current[1] in _FOUND_DRIFTED:
            drifts += 1
    since = None
    compliant_now = None
    if seen and seen[-1][1] not in _UNKNOWN:
        compliant_now = _left_compliant(seen[-1][1], seen[-1][2])
        for generated, status, check_mode in reversed(seen):
            if status in _UNKNOWN or _left_compliant(status, check_mode) != compliant_now:
                break
            since = generated
            if compliant_now and status == 'changed':
                break  # it had drifted and this run fixed it: compliant since then
    return {
        'runs': len(seen),
        'compliant_since': since if compliant_now else None,
        'not_compliant_since': since if compliant_now is False else None,
        'drifts': drifts,
        'statuses': [entry[1] for entry in seen],
        'offsets': [run['rows'][key][1] if len(run['rows'][key]) > 1 else None for run in runs if key in run['rows']]
        if key.startswith('esxi_time/') else [],
    }


def update(model, previous_content, path='', max_runs=20, max_bytes=10485760, window=10, enabled=True, unreadable=''):
    """Append this run to the history and annotate the model.

    ``previous_content`` is the history file's content as slurp returns it (base64), or empty
    when there is none; ``unreadable`` why reading the file failed. Returns ``{'model', 'text',
    'warnings', 'corrupted'}``; ``text`` is the new history file (empty when ``enabled`` is false);
    ``corrupted`` says the old file could be read but not understood (the role keeps a copy).
    """
    warnings = []
    corrupted = False
    runs = []
    if enabled and unreadable:
        warnings.append('%s cannot be read (%s); starting a fresh history' % (path or 'the history file', unreadable))
    elif enabled:
        text, warning = decode(previous_content, path or 'the history file')
        if warning is None:
            runs, warning = parse(text, path or 'the history file')
        if warning:
            warnings.append(warning + (' (the old file is kept as %s.unreadable)' % path if path else ''))
            corrupted = True
    runs = runs + [record(model)]
    runs, text = bound(runs, max_runs, max_bytes)
    if len(text.encode('utf-8')) > max_bytes:
        warnings.append('one run alone is %d bytes, more than the history limit of %d bytes: the history keeps only this run'
                        % (len(text.encode('utf-8')), max_bytes))
    if not enabled:
        runs, text = runs[-1:], ''
    annotate(model, runs, window)
    model['history'] = {
        'enabled': bool(enabled),
        'corrupted': corrupted,
        'file': path if enabled else '',
        'runs': len(runs),
        'window': window,
        'max_runs': max_runs,
        'warnings': warnings,
        'trend': [dict(run.get('esxi_offsets') or {}, generated=run['generated'], check_mode=bool(run.get('check_mode')),
                       attention=(run.get('totals') or {}).get('attention', 0), failed=(run.get('totals') or {}).get('failed', 0))
                  for run in runs],
    }
    return {'model': model, 'text': text, 'warnings': warnings, 'corrupted': corrupted}
