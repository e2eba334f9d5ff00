# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: compliance_report_history
short_description: Append a compliance report run to its history and show the history in the report
version_added: 0.1.0
description:
  - The history file holds one JSON document per run, one per line, oldest first (each row's status, an ESXi
    host's clock offset, the run's totals and offset figures), bounded by O(max_runs) and O(max_bytes).
  - Adds to each row of the model C(history) (C(compliant_since) or C(not_compliant_since), C(drifts), how
    often it drifted back, that is was found needing a change or a human after a run that had left it
    compliant, within the last O(window) runs) and to the model C(history) with the trend of the ESXi offsets.
  - A history file that cannot be read (not JSON, another schema) gives a warning and a fresh start; the report
    is written all the same.
author:
  - Fleetfix contributors (@fleetfix)
options:
  _input:
    description: The model of this run, from P(fleetfix.remediate.compliance_report_model#filter).
    type: dict
    required: true
  previous:
    description: The history file's content as M(ansible.builtin.slurp) returns it (base64), empty when there is none.
    type: str
    default: ''
  path:
    description: The history file's path (for messages and the model).
    type: str
    default: ''
  max_runs:
    description: How many runs the history keeps.
    type: int
    default: 20
  max_bytes:
    description: The largest size of the history file; the oldest runs are dropped to stay below it.
    type: int
    default: 10485760
  window:
    description: How many of the newest runs the rows' drift counts look at.
    type: int
    default: 10
  unreadable:
    description: Why reading the history file failed (for example the message of M(ansible.builtin.slurp)), empty when it did not.
    type: str
    default: ''
  text:
    description:
      - Return the new content of the history file instead of the model (the same computation, so a role can
        keep the model in one fact and write the file from a template without a second copy of the model).
    type: bool
    default: false
  enabled:
    description: Whether to keep a history; when false the model still gets the fields, from this run alone.
    type: bool
    default: true
'''

EXAMPLES = r'''
- name: Read the history
  ansible.builtin.slurp:
    src: reports/fleetfix-compliance-history.jsonl
  register: history
  failed_when: false

- name: Add the history to the report
  ansible.builtin.set_fact:
    report: >-
      {{ report | fleetfix.remediate.compliance_report_history(previous=history.content | default(''),
                                                               path='reports/fleetfix-compliance-history.jsonl') }}

- name: Write the history with this run
  ansible.builtin.copy:
    content: >-
      {{ report | fleetfix.remediate.compliance_report_history(previous=history.content | default(''),
                                                               path='reports/fleetfix-compliance-history.jsonl', text=true) }}
    dest: reports/fleetfix-compliance-history.jsonl
    mode: "0644"
'''

RETURN = r'''
_value:
  description:
    - The model with its history fields (C(history) with C(runs), C(warnings), C(corrupted) and C(trend); each row's
      C(history)), or with O(text=true) the new content of the history file.
    - C(history.corrupted) says the previous history file could be read but not understood (a fresh history was started).
  type: raw
'''

import copy

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.utils.display import Display

from ansible_collections.fleetfix.remediate.plugins.plugin_utils._report_history import update


def compliance_report_history(model, previous='', path='', max_runs=20, max_bytes=10485760, window=10, enabled=True, unreadable='',
                              text=False):
    if not isinstance(model, dict) or 'areas' not in model:
        raise AnsibleFilterError('compliance_report_history expects the model of compliance_report_model')
    if int(max_runs) < 1 or int(max_bytes) < 1 or int(window) < 1:
        raise AnsibleFilterError('max_runs, max_bytes and window must each be 1 or more')
    result = update(copy.deepcopy(model), previous or '', path=path or '', max_runs=int(max_runs), max_bytes=int(max_bytes),
                    window=int(window), enabled=boolean(enabled, strict=False), unreadable=unreadable or '')
    if boolean(text, strict=False):
        return result['text']
    for warning in result['warnings']:
        Display().warning(warning)
    return result['model']


class FilterModule:
    def filters(self):
        return {'compliance_report_history': compliance_report_history}
