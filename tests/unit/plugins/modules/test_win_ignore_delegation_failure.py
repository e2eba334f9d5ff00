# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module file is documentation only (its action plugin always runs): its options must be the argument spec.

validate-modules compares a module's documentation with the spec its AnsibleModule gets; a
documentation-only module has none, so this test does that comparison.
"""

from __future__ import annotations

import yaml

from ansible_collections.fleetfix.remediate.plugins.doc_fragments.winrm import ModuleDocFragment as WinRMFragment
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_task import argument_spec
from ansible_collections.fleetfix.remediate.plugins.modules import win_ignore_delegation_failure as module


def documented_options():
    documentation = yaml.safe_load(module.DOCUMENTATION)
    assert 'fleetfix.remediate.winrm' in documentation['extends_documentation_fragment']
    options = dict(yaml.safe_load(WinRMFragment.DOCUMENTATION)['options'])
    options.update(documentation['options'])
    return options


def described(option):
    return {'type': option.get('type', 'str'), 'default': option.get('default'), 'choices': option.get('choices'),
            'elements': option.get('elements'), 'required': option.get('required', False),
            'aliases': option.get('aliases')}


def test_the_documented_options_are_the_argument_spec():
    documented = documented_options()
    spec = argument_spec()
    assert sorted(documented) == sorted(spec)
    for name, option in spec.items():
        assert described(documented[name]) == described(option), name


def test_the_module_file_holds_no_code():
    assert not hasattr(module, 'main')
    assert yaml.safe_load(module.RETURN) and yaml.safe_load(module.EXAMPLES)
