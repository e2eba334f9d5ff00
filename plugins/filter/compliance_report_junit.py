# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: compliance_report_junit
short_description: The compliance report as JUnit XML, one test case per host or domain
version_added: 0.1.0
description:
  - One test suite per area, one test case per row (C(classname) is the area and scope, C(name) the host or domain).
  - A row that failed is an C(error); one that needs a human, has no result or, in check mode, would change is a
    C(failure); a skipped row is C(skipped); compliant and changed rows pass.
author:
  - Fleetfix contributors (@fleetfix)
options:
  _input:
    description: The model, from P(fleetfix.remediate.compliance_report_model#filter).
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Write the JUnit file
  ansible.builtin.copy:
    content: "{{ report | fleetfix.remediate.compliance_report_junit }}"
    dest: reports/fleetfix-compliance.junit.xml
    mode: "0644"
'''

RETURN = r'''
_value:
  description: The XML document.
  type: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetfix.remediate.plugins.plugin_utils._report_junit import to_junit


def compliance_report_junit(model):
    if not isinstance(model, dict) or 'areas' not in model:
        raise AnsibleFilterError('compliance_report_junit expects the model of compliance_report_model')
    return to_junit(model)


class FilterModule:
    def filters(self):
        return {'compliance_report_junit': compliance_report_junit}
