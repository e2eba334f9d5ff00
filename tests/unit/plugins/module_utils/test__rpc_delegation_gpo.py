# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_errors as errors
from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation as rpc
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import (
    ACCESS_DENIED,
    decode_clixml,
)
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.rpc_delegation_samples import (
    FakeClient,
    ok,
    PARAMS,
    GPO_VIEW,
    GPO_VALUE,
    GPO_DENIED_CLIXML,
)


def test_gpo_set_when_missing_and_unchanged_when_set():
    not_set = 'Get-GPRegistryValue : The following Group Policy registry setting was not found ... UnableToRetrievePolicyRegistryItem'
    client = FakeClient([ok(GPO_VIEW, 1, not_set), ok(GPO_VIEW)])
    result = rpc.manage(client, dict(PARAMS, method='gpo', gpo_name="Exchange's Policy"))
    assert result['changed'] is True and result['before'] == {'value': None} and result['after'] == {'value': 1}
    assert result['gpo_id'] == '31b2f340-016d-11d2-945f-00c04fb984f9'
    assert "Get-GPO -Name 'Exchange''s Policy'" in client.commands[0][1]
    assert "Set-GPRegistryValue -Name 'Exchange''s Policy' -Key 'HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc' " \
           "-ValueName IgnoreDelegationFailure -Type DWord -Value 1" in client.commands[1][1]
    again = FakeClient([ok(GPO_VIEW + GPO_VALUE)])
    assert rpc.manage(again, dict(PARAMS, method='gpo', gpo_name='Default Domain Policy'))['changed'] is False


def test_gpo_not_found():
    stderr = ('Get-GPO : A GPO with the name "Nope" could not be found in the fleetfix.local domain.\n'
              '    + FullyQualifiedErrorId : GpoWithNameNotFound,Microsoft.GroupPolicy.Commands.GetGPOCommand')
    client = FakeClient([ok('', 1, stderr)])
    with pytest.raises(errors.DelegationError) as caught:
        rpc.manage(client, dict(PARAMS, method='gpo', gpo_name='Nope'))
    assert caught.value.kind == errors.GPO_NOT_FOUND
    assert caught.value.message.startswith("GPO not found: no Group Policy Object named 'Nope'")
    # Windows' own sentence, without the position and category lines
    assert caught.value.message.endswith('Windows said: Get-GPO : A GPO with the name "Nope" could not be found in '
                                         'the fleetfix.local domain.')


def test_gpo_access_denied_names_the_gpo_and_quotes_windows_decoded():
    client = FakeClient([ok(GPO_VIEW, 1, 'Get-GPRegistryValue : ... UnableToRetrievePolicyRegistryItem'),
                         ok('', 1, decode_clixml(GPO_DENIED_CLIXML))], host='dc01')
    with pytest.raises(errors.DelegationError) as caught:
        rpc.manage(client, dict(PARAMS, method='gpo', gpo_name='Default Domain Policy'))
    assert caught.value.kind == ACCESS_DENIED
    assert caught.value.message.startswith("Access denied writing HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc"
                                           "\\IgnoreDelegationFailure in GPO 'Default Domain Policy' through dc01")
    assert caught.value.message.endswith('Windows said: Set-GPRegistryValue : Access is denied. (Exception from HRESULT: '
                                         '0x80070005 (E_ACCESSDENIED))')
    assert 'CLIXML' not in caught.value.message and '_x000D_' not in caught.value.message


def test_gpo_on_a_member_server_without_the_grouppolicy_module():
    missing = ("Import-Module : The specified module 'GroupPolicy' was not loaded because no valid module file was "
               "found in any module directory.\n    + FullyQualifiedErrorId : Modules_ModuleNotFound,...")
    client = FakeClient([ok('', 1, missing)], host='ex01')
    with pytest.raises(errors.DelegationError) as caught:
        rpc.manage(client, dict(PARAMS, method='gpo'))
    assert caught.value.message.startswith('ex01 has no GroupPolicy PowerShell module')
    assert "Windows said: Import-Module : The specified module 'GroupPolicy' was not loaded" in caught.value.message
