# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
from unittest.mock import MagicMock

import pytest

from ansible_collections.fleetfix.remediate.plugins.action import win_ignore_delegation_failure as action
from ansible_collections.fleetfix.remediate.plugins.action.win_ignore_delegation_failure import (
    connection_vars,
    host_connection_options,
    merge_module_args,
)
from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_task as rpc_task
from ansible_collections.fleetfix.remediate.plugins.module_utils import _winrm
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import AUTHENTICATION, WinRMError
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.rpc_delegation_samples import (
    REG_MISSING,
    REG_SET,
    GPO_VIEW,
    FakeClient,
    audit_output,
    ok,
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


# -- the work, run in the worker --------------------------------------------------------------
SECRET = 'S3cret-Passw0rd!'
CONNECTION = dict(winrm_host='127.0.0.1', winrm_port=15990, winrm_user='FLEETFIX\\administrator', winrm_password=SECRET)
MASKED = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def test_invalid_arguments_fail_with_the_validators_messages_before_connecting(fake):
    result = action.execute(dict(CONNECTION, state='enabled', reboot_timeout='soon', colour='blue'))
    assert result['failed'] is True
    assert 'value of state must be one of: present, absent, got: enabled.' in result['msg']
    assert "argument 'reboot_timeout' is of type str" in result['msg']
    assert ('Unsupported parameters for (fleetfix.remediate.win_ignore_delegation_failure) module: colour. '
            'Supported parameters include:') in result['msg']
    assert 'options' not in fake
    assert result['invocation']['module_args']['winrm_password'] == MASKED
    assert SECRET not in json.dumps(result)


def test_the_modules_own_checks_apply_too(fake):
    result = action.execute(dict(CONNECTION, method='gpo', reboot=True))
    assert result['failed'] is True and 'error_kind' not in result
    assert result['msg'].startswith('reboot applies to method registry only')
    assert 'options' not in fake


def test_check_mode_reads_and_writes_nothing_with_the_diff(fake):
    fake['client'] = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    result = action.execute(dict(CONNECTION), check_mode=True, diff=True)
    assert result['changed'] is True and 'failed' not in result
    assert result['before'] == {'value': None} and result['after'] == {'value': 1}
    assert result['diff'] == {'before': {'value': None}, 'after': {'value': 1}}
    assert len(fake['client'].commands) == 1 and not fake['client'].commands[0].startswith('reg add')
    assert fake['client'].closed
    # validated: the defaults are filled in, the values converted
    assert fake['options']['winrm_scheme'] == 'https' and fake['options']['events_limit'] == 50
    assert result['invocation']['module_args']['winrm_password'] == MASKED
    assert result['invocation']['module_args']['state'] == 'present'


def test_the_fix_writes_and_keeps_every_return_value(fake):
    fake['client'] = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False)), ok('The operation completed successfully.\r\n')])
    result = action.execute(dict(CONNECTION, winrm_port='15990'))
    assert fake['options']['winrm_port'] == 15990
    assert fake['client'].commands[1].startswith('reg add')
    assert 'diff' not in result and 'warnings' not in result
    assert set(result) == {'changed', 'method', 'before', 'after', 'reboot_required', 'rebooted', 'os', 'boot_time',
                           'dcom_10009', 'invocation'}
    assert result['changed'] is True and result['reboot_required'] is True and result['rebooted'] is False


def test_warnings_are_returned_as_a_module_returns_them(fake):
    output = audit_output(reg=REG_SET, events='Failed to read events. The specified query is invalid.\r\n', events_ok=False)
    fake['client'] = FakeClient([ok(output)])
    result = action.execute(dict(CONNECTION), check_mode=True)
    assert result['changed'] is False
    assert result['warnings'] == ['wevtutil on ex01 failed: Failed to read events. The specified query is invalid.']


def test_the_password_is_scrubbed_from_the_whole_result(fake):
    # A host whose error text, and a warning, carry the password: neither reaches the result.
    fake['client'] = FakeClient([WinRMError('Authentication failed for %s' % SECRET, AUTHENTICATION)])
    failed = action.execute(dict(CONNECTION))
    assert failed['failed'] is True and failed['error_kind'] == AUTHENTICATION
    assert failed['msg'] == 'Authentication failed for ********'
    output = audit_output(reg=REG_SET, events='Access to %s denied\r\n' % SECRET, events_ok=False)
    fake['client'] = FakeClient([ok(output)])
    warned = action.execute(dict(CONNECTION), check_mode=True)
    assert '********' in warned['warnings'][0]
    for result in (failed, warned):
        assert SECRET not in json.dumps(result)
        assert result['invocation']['module_args']['winrm_password'] == MASKED
    # booleans and None survive the scrubbing, as with AnsibleModule
    assert warned['changed'] is False and warned['rebooted'] is False


def test_an_unexpected_error_is_a_failed_result_not_a_traceback(fake):
    fake['client'] = FakeClient([TypeError('bad answer with %s' % SECRET)])
    result = action.execute(dict(CONNECTION))
    assert result['failed'] is True
    assert result['msg'].startswith('Unexpected TypeError while managing HKLM\\Software\\Policies')
    assert 'exception' not in result and 'Traceback' not in json.dumps(result)
    assert SECRET not in json.dumps(result) and fake['client'].closed


def test_even_a_crashing_validation_cannot_show_the_password(monkeypatch):
    class CrashingValidator:
        def __init__(self, spec):
            self.spec = spec

        def validate(self, parameters):
            raise RuntimeError('cannot handle %s' % parameters['winrm_password'])
    monkeypatch.setattr(action, 'ArgumentSpecValidator', CrashingValidator)
    result = action.execute(dict(CONNECTION))
    assert result['failed'] is True
    assert result['msg'] == 'fleetfix.remediate.win_ignore_delegation_failure failed on the controller: RuntimeError: cannot handle ********'
    assert result['invocation']['module_args']['winrm_password'] == MASKED
    assert SECRET not in json.dumps(result)


def test_missing_pywinrm_on_the_controller_is_named(fake, monkeypatch):
    monkeypatch.setattr(_winrm, 'HAS_PYWINRM', False)
    monkeypatch.setattr(_winrm, 'PYWINRM_IMPORT_ERROR', 'Traceback (most recent call last): ModuleNotFoundError')
    result = action.execute(dict(CONNECTION))
    assert result['failed'] is True
    assert result['msg'].startswith('Failed to import the required Python library (pywinrm)')
    assert 'Traceback' not in json.dumps(result) and 'options' not in fake


# -- the action as Ansible calls it -------------------------------------------------------------
def make_action(args, delegate_to=None, check_mode=False, diff=False, remote_user=None, password=None):
    task = MagicMock(args=args, delegate_to=delegate_to, check_mode=check_mode, diff=diff, async_val=0, action=action.MODULE)
    connection = MagicMock()
    connection._shell.tmpdir = None
    templar = MagicMock()
    templar.template.side_effect = template
    play_context = MagicMock(remote_user=remote_user, password=password)
    return action.ActionModule(task, connection, play_context, MagicMock(), templar), connection


def assert_connection_unused(connection):
    """No command, no file and no temporary folder went through the task's (Windows) connection."""
    for method in ('exec_command', 'put_file', 'fetch_file', '_connect'):
        assert getattr(connection, method).call_count == 0, method


def test_run_uses_the_task_hosts_variables_in_check_and_diff_mode(fake):
    fake['client'] = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    plugin, connection = make_action({'winrm_read_timeout': 40}, check_mode=True, diff=True)
    result = plugin.run(task_vars=dict(HOST_VARS, ansible_connection='winrm'))
    assert result['changed'] is True and result['diff']['after'] == {'value': 1}
    assert len(fake['client'].commands) == 1
    options = fake['options']
    assert (options['winrm_host'], options['winrm_port'], options['winrm_password']) == ('127.0.0.1', 15990, 'secret')
    assert options['winrm_read_timeout'] == 40 and options['winrm_operation_timeout'] == 15
    assert 'secret' not in json.dumps(result)
    assert_connection_unused(connection)


def test_run_delegated_to_a_domain_controller_uses_its_variables(fake):
    fake['client'] = FakeClient([ok(GPO_VIEW, 1, 'Get-GPRegistryValue : ... UnableToRetrievePolicyRegistryItem')])
    dc_vars = dict(DC_VARS, ansible_password='{{ vault_password }}')
    plugin, connection = make_action({'method': 'gpo', 'gpo_name': 'Exchange Servers Policy'}, delegate_to='dc01',
                                     check_mode=True)
    result = plugin.run(task_vars=dict(HOST_VARS, ansible_connection='winrm', ansible_delegated_vars={'dc01': dc_vars}))
    assert 'failed' not in result, result.get('msg')
    assert result['method'] == 'gpo' and result['changed'] is True
    assert fake['options']['winrm_host'] == 'dc01' and fake['options']['winrm_port'] == 15994
    assert fake['options']['winrm_user'] == 'FLEETFIX\\gpoadmin'
    assert_connection_unused(connection)


def test_run_delegated_to_localhost_uses_the_task_host(fake):
    fake['client'] = FakeClient([ok(audit_output(reg=REG_SET))])
    plugin, connection = make_action({}, delegate_to='localhost')
    result = plugin.run(task_vars=dict(HOST_VARS, ansible_connection='winrm',
                                       ansible_delegated_vars={'localhost': {'ansible_connection': 'local'}}))
    assert result['changed'] is False
    assert fake['options']['winrm_host'] == '127.0.0.1' and fake['options']['winrm_port'] == 15990
    assert_connection_unused(connection)


def test_run_reports_bad_host_variables_as_a_failed_task(fake):
    plugin, connection = make_action({})
    result = plugin.run(task_vars=dict(HOST_VARS, ansible_connection='winrm', ansible_winrm_scheme='ftp'))
    assert result['failed'] is True
    assert 'value of winrm_scheme must be one of: https, http, got: ftp' in result['msg']
    assert 'options' not in fake
    assert_connection_unused(connection)


def test_run_takes_user_and_password_from_the_command_line_when_no_variable_gives_them(fake):
    """AWX passes a Machine credential as -u and --ask-pass, which land in the play context."""
    fake['client'] = FakeClient([ok(audit_output(reg=REG_SET))])
    plugin, connection = make_action({}, remote_user='FLEETFIX\\awx', password='from-ask-pass')
    host_vars = dict((name, value) for name, value in HOST_VARS.items() if name not in ('ansible_user', 'ansible_password'))
    result = plugin.run(task_vars=dict(host_vars, ansible_connection='winrm'))
    assert result['changed'] is False
    assert (fake['options']['winrm_user'], fake['options']['winrm_password']) == ('FLEETFIX\\awx', 'from-ask-pass')
    assert 'from-ask-pass' not in json.dumps(result)
    assert_connection_unused(connection)


def test_run_prefers_the_hosts_variables_to_the_command_line(fake):
    fake['client'] = FakeClient([ok(audit_output(reg=REG_SET))])
    plugin, connection = make_action({}, remote_user='someone-else', password='other')
    plugin.run(task_vars=dict(HOST_VARS, ansible_connection='winrm'))
    assert fake['options']['winrm_user'] == HOST_VARS['ansible_user'] and fake['options']['winrm_password'] == 'secret'
    assert_connection_unused(connection)


def test_run_on_a_non_windows_task_host_ignores_the_command_line_user(fake):
    """An SSH user of a Linux task host is no WinRM account: the task must say winrm_user."""
    plugin, connection = make_action({'winrm_host': 'ex01.example.com'}, remote_user='deploy', password='ssh-pass')
    result = plugin.run(task_vars={'ansible_connection': 'ssh', 'inventory_hostname': 'jump01'})
    assert result['failed'] is True
    assert 'options' not in fake or fake['options'].get('winrm_user') != 'deploy'
    assert 'ssh-pass' not in json.dumps(result)
    assert_connection_unused(connection)


# -- one task for the fleet (fleet option) -------------------------------------------------------
def fleet_host(port, **extra):
    host = dict((name, value) for name, value in HOST_VARS.items() if name != 'inventory_hostname')
    host.update(ansible_connection='winrm', ansible_port=port, **extra)
    return host


FLEET_HOSTVARS = {
    'ex01': fleet_host(16001),
    'ex02': fleet_host(16002, ansible_password='wrong-one'),
    'ex03': fleet_host(16003, ansible_user=None),  # user from the play's vars, below
    'lin01': {'ansible_connection': 'ssh', 'ansible_user': 'deploy'},
}


@pytest.fixture
def clients(monkeypatch):
    """A FakeClient per host, found by port; records the options each one got."""
    holder = {'options': {}}

    def factory(options):
        holder['options'][options['winrm_port']] = options
        client = holder[options['winrm_port']]
        client.close = lambda: None
        return client
    monkeypatch.setattr(rpc_task, 'WinRMClient', factory)
    return holder


def fleet_action(args, run_once=True, check_mode=False, diff=False, remote_user=None, password=None):
    plugin, connection = make_action(args, check_mode=check_mode, diff=diff, remote_user=remote_user, password=password)
    plugin._task.run_once = run_once
    return plugin, connection


def fleet_task_vars(**extra):
    # ex01 runs the task; ansible_user comes from the play (hostvars say otherwise or nothing)
    # hostvars hold templated values, as Ansible's HostVarsVars give them
    hostvars = dict((name, dict((key, template(value)) for key, value in host.items() if value is not None))
                    for name, host in FLEET_HOSTVARS.items())
    task_vars = dict(FLEET_HOSTVARS['ex01'], inventory_hostname='ex01', ansible_user='FLEETFIX\\fromplay',
                     hostvars=hostvars, ansible_play_batch=['ex01', 'ex02', 'ex03'])
    task_vars.update(extra)
    return task_vars


def test_fleet_runs_every_host_with_its_own_variables_and_fails_naming_the_failed(clients):
    clients[16001] = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    clients[16002] = FakeClient([WinRMError('Authentication failed for FLEETFIX\\administrator on 127.0.0.1:16002 '
                                            '(password wrong-one)', AUTHENTICATION)])
    clients[16003] = FakeClient([ok(audit_output(reg=REG_SET))])
    plugin, connection = fleet_action({'fleet': ['ex01', 'ex02', 'ex03', 'ex01', 'nowhere', 'lin01'], 'max_workers': 2},
                                      check_mode=True, diff=True)
    result = plugin.run(task_vars=fleet_task_vars())
    assert [entry['name'] for entry in result['hosts']] == ['ex01', 'ex02', 'ex03', 'nowhere', 'lin01']
    ex01, ex02, ex03, nowhere, lin01 = result['hosts']
    assert ex01['changed'] is True and ex01['before'] == {'value': None} and ex01['failed'] is None
    assert ex02['error_kind'] == AUTHENTICATION and ex02['failed'].startswith('Authentication failed')
    assert ex03['changed'] is False and ex03['after'] == {'value': 1}
    assert nowhere['failed'] == 'not an inventory host: fleet names inventory hosts, whose variables give the connection.'
    assert lin01['failed'] == 'ansible_connection ssh is not a Windows connection (winrm or psrp).'
    assert result['failed'] is True and result['changed'] is True
    assert result['msg'].startswith('3 of 5 hosts failed: ex02: Authentication failed')
    assert 'nowhere: not an inventory host' in result['msg'] and 'lin01: ansible_connection ssh is not' in result['msg']
    assert result['summary']['total'] == 5 and result['summary']['changed'] == 1 and result['summary']['ok'] == 2
    assert result['diff'][0]['before_header'] == 'ex01 (before)' and len(result['diff']) == 1
    # each host's own port and password (ex01's inventory password is not the play's: ex02 keeps its own);
    # the play's ansible_user overrides the inventory's on every host, as in a task of each host
    options = clients['options']
    assert options[16001]['winrm_password'] == 'secret' and options[16002]['winrm_password'] == 'wrong-one'
    assert [options[port]['winrm_user'] for port in (16001, 16002, 16003)] == ['FLEETFIX\\fromplay'] * 3
    # check mode wrote nothing; every password is gone from the result
    assert all(len(clients[port].commands) == 1 for port in (16001, 16003))
    assert 'secret' not in json.dumps(result) and 'wrong-one' not in json.dumps(result)
    assert result['invocation']['module_args']['fleet'][0] == 'ex01'
    assert_connection_unused(connection)


def test_fleet_applies_the_fix_and_task_options_reach_every_host(clients):
    clients[16001] = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False)), ok('The operation completed successfully.\r\n')])
    clients[16003] = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False)), ok('The operation completed successfully.\r\n')])
    plugin, _connection = fleet_action({'fleet': ['ex01', 'ex03'], 'winrm_read_timeout': 44, 'winrm_password': SECRET})
    result = plugin.run(task_vars=fleet_task_vars())
    assert 'failed' not in result, result.get('msg')
    assert result['changed'] is True and result['summary']['changed'] == 2
    assert [clients[port].commands[1].startswith('reg add') for port in (16001, 16003)] == [True, True]
    assert all(clients['options'][port]['winrm_read_timeout'] == 44 for port in (16001, 16003))
    assert all(clients['options'][port]['winrm_password'] == SECRET for port in (16001, 16003))
    assert SECRET not in json.dumps(result)
    assert result['invocation']['module_args']['winrm_password'] == MASKED


def test_fleet_takes_the_command_line_credentials_when_no_variable_gives_them(clients):
    clients[16001] = FakeClient([ok(audit_output(reg=REG_SET))])
    plugin, _connection = fleet_action({'fleet': ['ex01']}, remote_user='FLEETFIX\\awx', password='from-ask-pass')
    bare = dict((name, value) for name, value in FLEET_HOSTVARS['ex01'].items() if name not in ('ansible_user', 'ansible_password'))
    result = plugin.run(task_vars=dict(bare, inventory_hostname='ex01', hostvars={'ex01': bare}, ansible_play_batch=['ex01']))
    assert result['changed'] is False and 'failed' not in result
    assert (clients['options'][16001]['winrm_user'], clients['options'][16001]['winrm_password']) == ('FLEETFIX\\awx', 'from-ask-pass')
    assert 'from-ask-pass' not in json.dumps(result)


def test_fleet_refuses_what_one_task_cannot_do_before_connecting(clients):
    plugin, _connection = fleet_action({'fleet': ['ex01', 'ex02'], 'reboot': True}, run_once=False)
    result = plugin.run(task_vars=fleet_task_vars())
    assert result['failed'] is True and clients['options'] == {}
    assert result['msg'].startswith('fleet acts on every host it names from one task: add run_once: true')
    assert 'fleet does not restart hosts' in result['msg']
    plugin, _connection = fleet_action({'fleet': 'ex01', 'max_workers': 'many'})
    result = plugin.run(task_vars=fleet_task_vars())
    assert result['failed'] is True and "argument 'max_workers' is of type str" in result['msg']
    assert clients['options'] == {}


def test_fleet_processes_one_per_cpu_and_per_sixteen_hosts(monkeypatch):
    monkeypatch.setattr(action.os, 'sched_getaffinity', lambda pid: {0, 1}, raising=False)
    assert [action.fleet_processes(hosts) for hosts in (1, 16, 17, 100)] == [1, 1, 2, 2]
    monkeypatch.setattr(action.os, 'sched_getaffinity', lambda pid: set(range(32)), raising=False)
    assert [action.fleet_processes(hosts) for hosts in (33, 1000)] == [3, 4]
