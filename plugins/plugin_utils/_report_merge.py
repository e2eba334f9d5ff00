# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: one report from the JSON models of several slices of one run.

AWX may slice an inventory into several jobs; each writes its own model. The merged model's
rows equal those of an unsliced run:

- a row is identified by its key (area, scope, subject); a play every slice runs (the federation
  check on localhost) gives the same keys in every slice and is counted once, keeping the most
  severe status when two slices disagree;
- a "no result" row stands for an inventory host a slice did not run (``--limit``, another
  slice's host): it is dropped when another slice has rows from that host (its ``source``).
"""

from __future__ import annotations

import json

from ansible_collections.fleetfix.remediate.plugins.plugin_utils._report_model import (
    SCHEMA,
    SCHEMA_VERSION,
    STATUSES,
    row_order,
    summarize,
    utc_timestamp,
)


class MergeError(Exception):
    pass


def load(model, name):
    if isinstance(model, (bytes, str)):
        try:
            model = json.loads(model)
        except ValueError as error:
            raise MergeError('%s is not a compliance report JSON file: %s' % (name, error))
    if not isinstance(model, dict) or model.get('schema') != SCHEMA:
        raise MergeError('%s is not a compliance report model (no "schema": "%s")' % (name, SCHEMA))
    if model.get('schema_version') != SCHEMA_VERSION:
        raise MergeError('%s has schema_version %s; this collection reads version %s'
                         % (name, model.get('schema_version'), SCHEMA_VERSION))
    return model


def merge(models, names=None, title=None, files=None, generated=None):
    names = list(names or [])
    names += ['slice %d' % (index + 1) for index in range(len(names), len(models))]
    if not models:
        raise MergeError('nothing to merge: give the JSON files of the slices')
    loaded = [load(model, name) for model, name in zip(models, names)]
    modes = set(bool(model.get('check_mode')) for model in loaded)
    if len(modes) > 1:
        raise MergeError('the slices mix check mode and remediation runs: %s' % ', '.join(
            '%s (%s)' % (name, 'check mode' if model.get('check_mode') else 'remediation')
            for model, name in zip(loaded, names)))
    reported = set()
    for model in loaded:
        for area in model['areas']:
            for row in area['rows']:
                if row['status'] != 'missing':
                    reported.add((area['id'], row.get('source', '')))
    areas = []
    by_id = {}
    for model in loaded:
        for area in model['areas']:
            if area['id'] not in by_id:
                merged_area = dict((key, value) for key, value in area.items() if key not in ('rows', 'counts'))
                merged_area['rows'] = {}
                by_id[area['id']] = merged_area
                areas.append(merged_area)
            rows = by_id[area['id']]['rows']
            for row in area['rows']:
                if row['status'] == 'missing' and (area['id'], row.get('source', '')) in reported:
                    continue
                kept = rows.get(row['key'])
                if kept is None or STATUSES.index(row['status']) < STATUSES.index(kept['status']):
                    row = dict(row)
                    row.pop('history', None)
                    rows[row['key']] = row
    for area in areas:
        area['rows'] = sorted(area['rows'].values(), key=row_order)
    first = loaded[0]
    merged = {
        'schema': SCHEMA,
        'schema_version': SCHEMA_VERSION,
        'title': title or first.get('title'),
        'generated': generated or utc_timestamp(),
        'check_mode': modes.pop(),
        'areas': areas,
        'files': dict(files or {}),
        'sources': [{'name': name, 'generated': model.get('generated'),
                     'subjects': model.get('totals', {}).get('subjects')} for model, name in zip(loaded, names)],
    }
    return summarize(merged)
