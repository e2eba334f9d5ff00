# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_errors as errors
from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_host as host
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import (
    ACCESS_DENIED,
)
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.rpc_delegation_samples import (
    REG_MISSING,
    REG_MISSING_DE,
    REG_MISSING_FR,
    REG_PARENT_WITH_RPC,
    WMIC,
    audit_output,
    FakeClient,
    ok,
)


def test_read_state_missing_value_and_reg_failures():
    client = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    assert host.read_state(client, True, 50, 'ex01')['value'] is None
    denied = FakeClient([ok(audit_output(reg='ERROR: Access is denied.\r\n', reg_ok=False,
                                         ancestors=[(REG_PARENT_WITH_RPC, True)]))])
    with pytest.raises(errors.DelegationError) as caught:
        host.read_state(denied, True, 50, 'ex01')
    assert caught.value.kind == ACCESS_DENIED
    assert 'reg query HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc on ex01 failed: ERROR: Access is denied.' \
        in caught.value.message
    # cmd.exe itself failed: no section markers at all
    broken = FakeClient([ok('', 1, "'reg' is not recognized as an internal or external command,\r\n")])
    with pytest.raises(errors.DelegationError, match="did not run as expected \\(exit 1\\): 'reg' is not recognized"):
        host.read_state(broken, True, 50, 'ex01')


def test_read_state_tolerates_failing_wmic_and_wevtutil_with_warnings():
    wmic_error = 'Node - EX01\r\r\nERROR:\r\r\nDescription = Invalid query\r\r\n\r\r\n'
    output = audit_output(events='Failed to read events. The specified query is invalid.\r\n', events_ok=False)
    output = output.replace('__FLEETFIX_BEGIN_os__\r\n' + WMIC + '__FLEETFIX_OK__',
                            '__FLEETFIX_BEGIN_os__\r\n' + wmic_error + '__FLEETFIX_FAILED__')
    state = host.read_state(FakeClient([ok(output)]), True, 50, 'ex01')
    assert state['value'] == 1
    assert state['os'] is None and state['boot_time'] is None and state['events'] is None
    assert state['warnings'] == ['Reading the OS and boot time on ex01 (wmic, then Get-WmiObject) failed: '
                                 'Node - EX01 ERROR: Description = Invalid query',
                                 'wevtutil on ex01 failed: Failed to read events. The specified query is invalid.']


@pytest.mark.parametrize('missing', [REG_MISSING_DE, REG_MISSING_FR])
def test_localized_windows_missing_value_is_read_as_missing(missing):
    """The seed matched "unable to find": German and French hosts failed with command_failed."""
    client = FakeClient([ok(audit_output(reg=missing, reg_ok=False))])
    assert host.read_state(client, True, 50, 'exde01')['value'] is None


@pytest.mark.parametrize('missing', [REG_MISSING, REG_MISSING_DE, REG_MISSING_FR])
def test_delete_of_a_value_already_gone_is_the_wanted_state_in_any_language(missing):
    client = FakeClient([ok('', 1, missing), ok(audit_output(reg=missing, reg_ok=False))])
    host.write_value(client, 'delete', 'exfr01')
    assert client.commands[1].startswith('echo __FLEETFIX_BEGIN_reg__')


def test_delete_refused_quotes_windows_in_its_language():
    denied = 'FEHLER: Zugriff verweigert\r\n'
    client = FakeClient([ok('', 1, denied)])
    with pytest.raises(errors.DelegationError) as caught:
        host.write_value(client, 'delete', 'exde01')
    assert caught.value.kind == ACCESS_DENIED and 'Windows said: FEHLER: Zugriff verweigert' in caught.value.message


def test_a_host_without_wmic_still_reports_os_and_boot_time():
    fallback = ("'wmic' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
                '\r\nCaption        : Microsoft Windows Server 2025 Standard\r\nVersion        : 10.0.26100\r\n'
                'LastBootUpTime : 20261124102833.719117+000\r\n\r\n\r\n')
    state = host.read_state(FakeClient([ok(audit_output(wmic=fallback))]), True, 50, 'exnowmic01')
    assert state['os'] == {'caption': 'Microsoft Windows Server 2025 Standard', 'version': '10.0.26100',
                           'affected': False, 'source': 'Get-WmiObject'}
    assert state['boot_time'].isoformat() == '2026-11-24T10:28:33.719117+00:00' and state['warnings'] == []
