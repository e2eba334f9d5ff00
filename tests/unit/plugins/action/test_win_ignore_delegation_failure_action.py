# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.fleetfix.remediate.plugins.action.win_ignore_delegation_failure import (
    connection_vars,
    host_connection_options,
    merge_module_args,
)

HOST_VARS = {
    'inventory_hostname': 'ex01',
    'ansible_host': '127.0.0.1',
    'ansible_port': 15990,
    'ansible_user': 'FLEETFIX\\administrator',
    'ansible_password': '{{ vault_password }}',
    'ansible_winrm_transport': ['ntlm', 'kerberos'],
    'ansible_winrm_scheme': 'https',
    'ansible_winrm_server_cert_validation': 'validate',
    'ansible_winrm_ca_trust_path': '/ca.pem',
    'ansible_winrm_message_encryption': 'always',
    'ansible_winrm_operation_timeout_sec': 15,
    'ansible_winrm_read_timeout_sec': 25,
}


def template(value):
    return 'secret' if value == '{{ vault_password }}' else value


def test_host_variables_become_module_options():
    options = host_connection_options(HOST_VARS, template)
    assert options == {
        'winrm_host': '127.0.0.1', 'winrm_port': 15990, 'winrm_user': 'FLEETFIX\\administrator',
        'winrm_password': 'secret', 'winrm_transport': 'ntlm', 'winrm_scheme': 'https',
        'winrm_server_cert_validation': 'validate', 'winrm_ca_trust_path': '/ca.pem',
        'winrm_message_encryption': 'always', 'winrm_operation_timeout': 15, 'winrm_read_timeout': 25,
    }


def test_inventory_name_when_no_ansible_host_and_task_options_win():
    options = host_connection_options({'inventory_hostname': 'ex02.example.com'}, template)
    assert options == {'winrm_host': 'ex02.example.com'}
    merged = merge_module_args({'winrm_host': 'other', 'state': 'absent', 'winrm_port': None},
                               host_connection_options(HOST_VARS, template))
    assert merged['winrm_host'] == 'other' and merged['state'] == 'absent' and merged['winrm_port'] == 15990


DC_VARS = {'ansible_connection': 'ansible.builtin.winrm', 'ansible_port': 15994, 'ansible_user': 'FLEETFIX\\gpoadmin'}


def test_delegated_to_a_windows_host_uses_its_variables():
    task_vars = dict(HOST_VARS, ansible_connection='winrm', ansible_delegated_vars={'dc01': DC_VARS})
    chosen = connection_vars(task_vars, 'dc01', template)
    assert chosen['ansible_port'] == 15994 and chosen['ansible_user'] == 'FLEETFIX\\gpoadmin'
    # no ansible_host on the domain controller: its inventory name is the address
    assert host_connection_options(chosen, template)['winrm_host'] == 'dc01'


def test_delegated_to_localhost_keeps_the_windows_task_host():
    task_vars = dict(HOST_VARS, ansible_connection='winrm',
                     ansible_delegated_vars={'localhost': {'ansible_connection': 'local'}})
    assert connection_vars(task_vars, 'localhost', template) is task_vars
    assert connection_vars(dict(HOST_VARS), None, template)['ansible_port'] == 15990


def test_a_task_host_that_is_not_windows_gives_no_connection_variables():
    linux_host = {'inventory_hostname': 'jump01', 'ansible_connection': 'ssh', 'ansible_user': 'deploy',
                  'ansible_port': 22}
    assert connection_vars(linux_host, None, template) == {}
    assert host_connection_options(connection_vars(linux_host, None, template), template) == {}
    local = {'inventory_hostname': 'localhost', 'ansible_connection': 'local'}
    assert connection_vars(local, None, template) == {}
