# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: compliance_report_merge
short_description: One compliance report model from the JSON models of several slices of a run
version_added: 0.1.0
description:
  - AWX may slice a large inventory into several jobs; each writes its own JSON model. This merges them into
    one whose rows and findings equal those of an unsliced run.
  - A row is identified by its area, scope and subject. A play that every slice runs (the federation DNS check
    on localhost) gives the same rows in every slice and is counted once; when two slices disagree on such a
    row, the more severe status is kept.
  - A V(missing) (no result) row of an inventory host is dropped when another slice has that host's results.
  - All slices must be of the same schema version and the same mode (check mode or remediation).
author:
  - Fleetfix contributors (@fleetfix)
options:
  _input:
    description: The slices' models, as dictionaries or as the text of their JSON files.
    type: list
    elements: raw
    required: true
  names:
    description: A name per slice (for example its file), used in error messages and in the model's C(sources).
    type: list
    elements: str
    default: []
  title:
    description: The merged report's title (default the first slice's).
    type: str
  files:
    description: The merged report's file paths by kind.
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Merge three slices' JSON models
  ansible.builtin.set_fact:
    report: >-
      {{ [lookup('ansible.builtin.file', 'slice1/fleetfix-compliance.json'),
          lookup('ansible.builtin.file', 'slice2/fleetfix-compliance.json'),
          lookup('ansible.builtin.file', 'slice3/fleetfix-compliance.json')]
         | fleetfix.remediate.compliance_report_merge }}
'''

RETURN = r'''
_value:
  description: The merged model, of the same schema as P(fleetfix.remediate.compliance_report_model#filter)'s.
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetfix.remediate.plugins.plugin_utils._report_merge import MergeError, merge


def compliance_report_merge(models, names=None, title=None, files=None):
    if not isinstance(models, (list, tuple)):
        raise AnsibleFilterError('compliance_report_merge expects a list of models, not %s' % type(models).__name__)
    try:
        return merge(list(models), names=names, title=title, files=files)
    except MergeError as error:
        raise AnsibleFilterError(str(error))


class FilterModule:
    def filters(self):
        return {'compliance_report_merge': compliance_report_merge}
