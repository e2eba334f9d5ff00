# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_task as task
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import WinRMError
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.rpc_delegation_samples import (
    PARAMS,
    REG_MISSING,
    FakeClient,
    audit_output,
    ok,
)


@pytest.mark.parametrize('changes, expected', [
    (dict(method='gpo', gpo_name=' '), 'gpo_name must not be empty'),
    (dict(method='gpo', gpo_name='a\x00b'), 'control character, which no GPO name has'),
    (dict(state='absent', force_reboot=True), 'force_reboot applies to state present only'),
    (dict(method='gpo', gpo_name='X', reboot=True), 'reboot applies to method registry only'),
    (dict(method='gpo', gpo_name='X', force_reboot=True), 'reboot applies to method registry only'),
    (dict(reboot_timeout=5), 'reboot_timeout must be at least 10 seconds'),
    (dict(post_reboot_delay=-1), 'post_reboot_delay must be between 0 and 3600 seconds, not -1.'),
    (dict(events_limit=0), 'events_limit must be between 1 and 10000'),
])
def test_validate_params(changes, expected):
    problems = task.validate_params(dict(PARAMS, **changes))
    assert any(expected in problem for problem in problems), problems
    assert task.validate_params(PARAMS) == []


@pytest.mark.parametrize('changes, expected', [
    (dict(method='gpo', gpo_name='two\nlines'), "holds a line break"),
    (dict(method='gpo', gpo_name='two\r\nlines'), "holds a line break"),
    (dict(method='gpo', gpo_name='tab\there'), "another control character"),
    (dict(state='absent', force_reboot=True, reboot=True), 'with state absent use reboot'),
    (dict(reboot_timeout=5), 'reboot_timeout must be at least 10 seconds, not 5'),
    (dict(events_limit=10001), 'events_limit must be between 1 and 10000, not 10001'),
])
def test_validate_params_more(changes, expected):
    problems = task.validate_params(dict(PARAMS, **changes))
    assert any(expected in problem for problem in problems), problems


def test_validate_params_accepts_the_defaults_and_quoted_gpo_names():
    assert task.validate_params(PARAMS) == []
    assert task.validate_params(dict(PARAMS, method='gpo', gpo_name="Exchange's (CAS) Policy")) == []


GPO_DONE = {'changed': True, 'failed': False, 'method': 'gpo', 'gpo_name': 'Exchange Servers Policy', 'gpo_id': '{31B2F340}',
            'before': {'value': None}, 'after': {'value': 1},
            'invocation': {'module_args': {'winrm_host': 'dc01.example.com', 'winrm_password': '********'}}}
MEMBER = dict(PARAMS, method='gpo', gpo_name='Exchange Servers Policy', winrm_host='ex01.example.com',
              winrm_user='EXAMPLE\\admin', winrm_password='secret', winrm_transport='ntlm', winrm_scheme='https')


class ClosingClient(FakeClient):
    def __init__(self, answers, options=None):
        super().__init__(answers, host=(options or {}).get('winrm_host', 'ex01'))
        self.label = self.host
        self.closed = False

    def close(self):
        self.closed = True


def member_client(monkeypatch, answers):
    clients = []

    def build(options):
        clients.append(ClosingClient(answers, options))
        return clients[-1]

    monkeypatch.setattr(task, 'WinRMClient', build)
    return clients


def test_a_member_server_of_the_gpo_is_only_read_and_its_record_carries_the_gpo_change(monkeypatch):
    clients = member_client(monkeypatch, [ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    result = task.run_task(dict(MEMBER, gpo_result=GPO_DONE), check_mode=False, diff=True)
    assert len(clients[0].commands) == 1 and clients[0].commands[0].startswith('echo __FLEETFIX_BEGIN_reg__')
    assert not any('reg add' in command for command in clients[0].commands) and clients[0].closed
    assert result['changed'] is True and result['failed'] is False and 'msg' not in result
    assert (result['method'], result['gpo_name'], result['gpo_id']) == ('gpo', 'Exchange Servers Policy', '{31B2F340}')
    assert result['gpo'] == {'before': {'value': None}, 'after': {'value': 1}}
    assert result['before'] == result['after'] == {'value': None}  # the server's own value, until its refresh
    assert result['reboot_required'] is True and result['restart'] == 'after refresh'
    assert result['os']['affected'] is True and result['dcom_10009']['newest']
    assert result['diff'] == result['gpo']


def test_a_member_of_a_gpo_already_set_needs_no_change_and_a_failed_gpo_fails_every_member(monkeypatch):
    member_client(monkeypatch, [ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    unchanged = task.run_task(dict(MEMBER, gpo_result=dict(GPO_DONE, changed=False, before={'value': 1})))
    assert unchanged['changed'] is False and unchanged['gpo']['before'] == {'value': 1}
    member_client(monkeypatch, [ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    failed = task.run_task(dict(MEMBER, gpo_result={'failed': True, 'changed': False, 'msg': 'Get-GPO failed: not found.',
                                                    'error_kind': 'gpo_not_found',
                                                    'invocation': GPO_DONE['invocation']}))
    assert failed['failed'] is True and failed['changed'] is False and failed['error_kind'] == 'gpo_not_found'
    assert failed['msg'] == 'GPO Exchange Servers Policy through dc01.example.com: Get-GPO failed: not found.'
    assert failed['os'] is not None and failed['restart'] == 'after refresh'  # the server itself was still read


def test_a_member_server_that_cannot_be_read_fails_with_its_own_message(monkeypatch):
    member_client(monkeypatch, [WinRMError('Host unreachable: cannot connect to WinRM at ex01.', 'unreachable')])
    result = task.run_task(dict(MEMBER, gpo_result=GPO_DONE))
    assert result['failed'] is True and result['error_kind'] == 'unreachable'
    assert result['msg'].startswith('Host unreachable') and result['restart'] == '-'
    assert result['gpo_id'] == '{31B2F340}' and result['changed'] is True


def test_gpo_result_applies_to_method_gpo_only():
    problems = task.validate_params(dict(PARAMS, gpo_result=GPO_DONE))
    assert any('gpo_result applies to method gpo only' in problem for problem in problems)
