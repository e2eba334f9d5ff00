# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: compliance_report_model
short_description: The compliance report's model from the capability roles' results
version_added: 0.1.0
description:
  - Turns the results the P(fleetfix.remediate.esxi_time#role), P(fleetfix.remediate.dcom_10009#role) and
    P(fleetfix.remediate.federation_dns#role) roles leave as facts into the report's areas, rows and counts.
  - Each row (one ESXi host, Exchange server, federated or Autodiscover domain) gets one status, decided in one
    place from what its result says; the text beside it (what failed and why, notes) comes from the same
    decision, so the two never disagree.
  - "Statuses, most severe first: V(missing) (no result), V(failed), V(attention) (needs a human), V(skipped),
    V(changed) (V(would change) in check mode) and V(compliant)."
  - Used by the P(fleetfix.remediate.compliance_report#role) role; the JSON file it writes is this model
    (schema C(roles/compliance_report/files/compliance-report.schema.json)).
author:
  - Fleetfix contributors (@fleetfix)
options:
  _input:
    description:
      - Ansible's C(hostvars), where the capability roles left their results.
      - Each ESXi vCenter host of O(hosts.esxi_time) gives its C(esxi_time_result) (and C(esxi_time_info_result),
        the offsets read before the run); each Exchange server of O(hosts.dcom_10009) its C(dcom_10009_result); each
        host of O(hosts.federation_dns) its C(federation_dns_result). A host without its result is reported as
        V(missing) (no result).
    type: dict
    required: true
  hosts:
    description: The inventory hosts of each area.
    type: dict
    required: true
    suboptions:
      esxi_time:
        description: The vCenter hosts.
        type: list
        elements: str
      dcom_10009:
        description: The Exchange servers.
        type: list
        elements: str
      federation_dns:
        description: The hosts that ran the federation DNS check (usually V(localhost)).
        type: list
        elements: str
  check_mode:
    description: Whether the results come from a check-mode run (changes are then reported as V(would change)).
    type: bool
    default: false
  title:
    description: The report's title.
    type: str
    default: Fleetfix compliance report
  files:
    description: The report's file paths by kind (C(html), C(markdown), C(json), C(junit), C(history)), kept in the model.
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Build the model of the hosts of this inventory
  ansible.builtin.set_fact:
    report: >-
      {{ hostvars | fleetfix.remediate.compliance_report_model(
           hosts={'esxi_time': groups['vcenters'], 'dcom_10009': groups['exchange_servers'], 'federation_dns': ['localhost']},
           check_mode=ansible_check_mode) }}
'''

RETURN = r'''
_value:
  description: The model.
  type: dict
  contains:
    schema:
      description: V(fleetfix.remediate/compliance-report).
      type: str
    schema_version:
      description: The version of the model's schema (V(1)).
      type: int
    areas:
      description: One entry per area with C(id), C(title), C(columns), C(counts) and C(rows).
      type: list
      elements: dict
    totals:
      description: Counts of rows by status, and C(subjects), the number of rows.
      type: dict
    findings:
      description: The rows that need a human (C(area), C(key), C(status), C(text)).
      type: list
      elements: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetfix.remediate.plugins.plugin_utils._report_model import build, collect


def compliance_report_model(hostvars, hosts=None, check_mode=False, title='Fleetfix compliance report', files=None):
    if not hasattr(hostvars, 'get') or not hasattr(hostvars, '__contains__'):
        raise AnsibleFilterError('compliance_report_model expects hostvars, not %s' % type(hostvars).__name__)
    if not isinstance(hosts, dict):
        raise AnsibleFilterError('compliance_report_model needs hosts: the inventory hosts of each area '
                                 '(esxi_time, dcom_10009, federation_dns)')
    return build(collect(hostvars, hosts), check_mode=check_mode, title=title, files=files)


class FilterModule:
    def filters(self):
        return {'compliance_report_model': compliance_report_model}
