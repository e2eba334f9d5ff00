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
    UNREACHABLE,
    WinRMError,
)
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.rpc_delegation_samples import (
    REG_SET,
    REG_ZERO,
    REG_MISSING,
    WMIC,
    events_xml,
    audit_output,
    FakeClient,
    ok,
    PARAMS,
)


def test_manage_sets_the_value_with_one_audit_and_one_write():
    client = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False)), ok('The operation completed successfully.\r\n\r\n')])
    result = rpc.manage(client, PARAMS)
    assert result['changed'] is True
    assert result['before'] == {'value': None} and result['after'] == {'value': 1}
    assert result['reboot_required'] is True and result['rebooted'] is False
    assert result['os']['affected'] is True
    assert result['dcom_10009']['since_boot'] == 1
    assert client.commands[1] == ('reg add "HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc" /v '
                                  'IgnoreDelegationFailure /t REG_DWORD /d 1 /f')


def test_manage_check_mode_writes_nothing():
    client = FakeClient([ok(audit_output(reg=REG_ZERO))])
    result = rpc.manage(client, PARAMS, check_mode=True)
    assert result['changed'] is True and result['after'] == {'value': 1}
    assert len(client.commands) == 1


def test_manage_unchanged_when_set_and_quiet():
    client = FakeClient([ok(audit_output(events=events_xml('2026-11-20T10:00:00.0Z')))])
    result = rpc.manage(client, dict(PARAMS, reboot=True))
    assert result['changed'] is False and result['reboot_required'] is False
    assert result['dcom_10009']['since_boot'] == 0
    assert len(client.commands) == 1


def test_manage_force_reboot_restarts_a_quiet_host_whose_value_is_set():
    old_boot = audit_output(events=events_xml('2026-11-20T10:00:00.0Z'))
    new_wmic = WMIC.replace('20261124102833', '20261124104000')
    clock = iter(range(0, 1000, 2))
    client = FakeClient([
        ok(old_boot),                             # value 1, no event since boot
        ok(''),                                   # shutdown /r
        ok(new_wmic),                             # back, new boot time
        ok(old_boot.replace('20261124102833', '20261124104000')),
    ])
    result = rpc.manage(client, dict(PARAMS, force_reboot=True), sleep=lambda seconds: None, clock=lambda: next(clock))
    assert result['rebooted'] is True and result['changed'] is True and result['reboot_required'] is False
    assert result['before'] == {'value': 1} and result['after'] == {'value': 1}
    assert client.commands[1].startswith('shutdown /r /t 2 /c "')


def test_manage_force_reboot_in_check_mode_only_says_so():
    client = FakeClient([ok(audit_output(events=events_xml('2026-11-20T10:00:00.0Z')))])
    result = rpc.manage(client, dict(PARAMS, force_reboot=True), check_mode=True)
    assert result['changed'] is False and result['reboot_required'] is True and result['rebooted'] is False
    assert len(client.commands) == 1


def test_manage_value_set_but_events_since_boot_means_restart_pending():
    client = FakeClient([ok(audit_output())])
    result = rpc.manage(client, PARAMS)
    assert result['changed'] is False and result['reboot_required'] is True


def test_manage_absent_deletes():
    client = FakeClient([ok(audit_output(reg=REG_SET)), ok('The operation completed successfully.\r\n\r\n')])
    result = rpc.manage(client, dict(PARAMS, state='absent'))
    assert result['after'] == {'value': None}
    assert client.commands[1].startswith('reg delete "HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc" /v')
    quiet = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    assert rpc.manage(quiet, dict(PARAMS, state='absent'))['changed'] is False


def test_manage_access_denied_writing():
    client = FakeClient([ok(audit_output(reg=REG_ZERO)), ok('', 1, 'ERROR: Access is denied.\r\n')])
    with pytest.raises(WinRMError) as caught:
        rpc.manage(client, PARAMS)
    assert caught.value.kind == ACCESS_DENIED
    assert caught.value.message.startswith('Access denied writing HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc')


def test_manage_reboots_and_waits_for_a_new_boot_time():
    new_wmic = WMIC.replace('20261124102833', '20261124104000')
    after = audit_output(events=events_xml('2026-11-24T10:31:33.7191170Z'))
    after = after.replace(REG_SET, REG_SET).replace('20261124102833', '20261124104000')
    clock = iter(range(0, 1000, 2))
    client = FakeClient([
        ok(audit_output(reg=REG_MISSING, reg_ok=False)),
        ok('The operation completed successfully.\r\n\r\n'),
        ok(''),                                   # shutdown /r
        ok(WMIC),                                 # still the old boot
        WinRMError('Host unreachable: refused', UNREACHABLE),
        ok(new_wmic),                             # back, new boot time
        ok(after),                                # audit after the restart
    ])
    result = rpc.manage(client, dict(PARAMS, reboot=True), sleep=lambda seconds: None, clock=lambda: next(clock))
    assert result['rebooted'] is True and result['changed'] is True and result['reboot_required'] is False
    assert result['boot_time'] == '2026-11-24T10:40:00.719117Z'
    assert result['dcom_10009']['since_boot'] == 0
    assert client.commands[2].startswith('shutdown /r /t 2 /c "')
    assert client.resets >= 2


def test_manage_fails_when_the_host_never_comes_back():
    clock = iter(range(0, 1000, 5))
    already_scheduled = ok('', 1190, 'A system shutdown has already been scheduled.(1190)\r\n')
    answers = [ok(audit_output(reg=REG_MISSING, reg_ok=False)), ok(''), already_scheduled]
    answers += [WinRMError('Host unreachable: connection refused.', UNREACHABLE)] * 10
    client = FakeClient(answers)
    with pytest.raises(errors.DelegationError) as caught:
        rpc.manage(client, dict(PARAMS, reboot=True, reboot_timeout=20), sleep=lambda seconds: None,
                   clock=lambda: next(clock))
    assert caught.value.kind == errors.NOT_BACK
    assert caught.value.message.endswith(
        'did not come back within reboot_timeout (20 seconds) after the restart (last error: Host unreachable: connection refused).')


def test_messages_name_the_host_by_its_label():
    client = FakeClient([ok(audit_output(reg=REG_ZERO)), ok('', 1, 'ERROR: Access is denied.\r\n')])
    client.label = '127.0.0.1:15992'
    with pytest.raises(WinRMError) as caught:
        rpc.manage(client, PARAMS)
    assert 'IgnoreDelegationFailure on 127.0.0.1:15992:' in caught.value.message
