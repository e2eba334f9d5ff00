# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run win_ignore_delegation_failure in the Ansible worker, with the Windows host's WinRM settings.

The task host is a Windows host with no Python. The module talks WinRM itself from the
controller, so this action does its work right here, in the worker process Ansible forked for
the task, and always: the module file is documentation only. The task's connection is never
used to connect, so nothing (no temporary folder) is created on the Windows host.

The ``winrm_*`` options the task does not set come from the winrm connection plugin's own
settings, as Ansible resolves them for a task of that host: its options from the variables it
documents (``ansible_host``, ``ansible_user``, ``ansible_winrm_transport``...), the
``remote_user`` keyword, ``-u`` and ``--ask-pass``, and its pass-through ``ansible_winrm_*``
variables (pywinrm's arguments). When the task's connection is winrm, Ansible already resolved
it (for the ``delegate_to`` host when there is one). Otherwise (``delegate_to: localhost``, a
psrp host) a winrm connection plugin is set up, never connected, from the variables of the
Windows host: the delegated one when ``delegate_to`` names a Windows host, else the task host.
A task host that is not Windows (``local``, ``ssh``) gives no settings.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import connection_loader

from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_task import TaskError, argument_spec, run_task
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import warm_up
from ansible_collections.fleetfix.remediate.plugins.plugin_utils._module_emulation import ModuleEmulation

MODULE = 'fleetfix.remediate.win_ignore_delegation_failure'
WINDOWS_CONNECTIONS = ('winrm', 'psrp')
# The winrm connection plugin's option -> the module's.
PLUGIN_OPTIONS = {
    'remote_addr': 'winrm_host',
    'port': 'winrm_port',
    'remote_user': 'winrm_user',
    'remote_password': 'winrm_password',
    'scheme': 'winrm_scheme',
    'transport': 'winrm_transport',
}
# The plugin hands ansible_winrm_<argument> variables to pywinrm as they are; these the module takes.
PYWINRM_ARGUMENTS = {
    'server_cert_validation': 'winrm_server_cert_validation',
    'ca_trust_path': 'winrm_ca_trust_path',
    'cert_pem': 'winrm_cert_pem',
    'cert_key_pem': 'winrm_cert_key_pem',
    'message_encryption': 'winrm_message_encryption',
    'operation_timeout_sec': 'winrm_operation_timeout',
    'read_timeout_sec': 'winrm_read_timeout',
    'kerberos_hostname_override': 'winrm_kerberos_hostname_override',
}

# Ansible imports an action plugin once, in its main process, and forks a worker per host and task from it:
# what a WinRM exchange does the first time in a process is done here, once, instead of in every worker.
warm_up()


def module_options(connection):
    """The ``winrm_*`` options a resolved winrm connection plugin gives: those set, not its defaults."""
    options = {}
    for plugin_option, module_option in PLUGIN_OPTIONS.items():
        value = _option_set(connection, plugin_option)
        if value in (None, '', []):
            continue
        if plugin_option == 'transport':
            # The plugin takes a list of transports, tried in order; the module one.
            value = value[0] if isinstance(value, (list, tuple)) else value
        options[module_option] = value
    try:
        extras = connection.get_option('_extras') or {}
    except KeyError:
        extras = {}
    for argument, module_option in PYWINRM_ARGUMENTS.items():
        value = extras.get('ansible_winrm_%s' % argument)
        if value in (None, ''):
            continue
        if module_option == 'winrm_message_encryption' and isinstance(value, bool):
            value = 'always' if value else 'never'
        options[module_option] = value
    return options


def _option_set(connection, name):
    """The option's value when the host's variables, the task or the configuration set it; None for the default."""
    value = connection.get_option(name)
    dummy, origin = connection.get_option_and_origin(name)
    # ansible-core before 2.19 gives here the origin in the configuration alone (set_options' variables and
    # task keywords are not in it): there a value other than the documented default was set by them.
    if origin == 'default' and value == (connection.option_definitions.get(name) or {}).get('default'):
        return None
    return value


def _connection_name(host_vars, template):
    return str(template(host_vars.get('ansible_connection')) or '').rsplit('.', 1)[-1]


def windows_host_vars(task_vars, delegate_to, template):
    """The variables of the Windows host to reach, or None when the task has none.

    Delegated to a Windows host (``ansible_connection`` winrm or psrp, for example a domain
    controller for ``method: gpo``), its variables; delegated elsewhere (``localhost``), the
    task host's own. A task host whose ``ansible_connection`` says it is not Windows gives none:
    its ``ansible_user`` or ``ansible_port`` belong to another protocol.
    """
    if delegate_to:
        delegated = (task_vars.get('ansible_delegated_vars') or {}).get(delegate_to)
        if delegated and _connection_name(delegated, template) in WINDOWS_CONNECTIONS:
            return dict(delegated, inventory_hostname=delegated.get('inventory_hostname') or delegate_to)
    if _connection_name(task_vars, template) in WINDOWS_CONNECTIONS + ('',):
        return task_vars
    return None


def winrm_connection(host_vars, task_keys, play_context, template):
    """A winrm connection plugin (never connected) with its options resolved from ``host_vars`` as for a task."""
    connection = connection_loader.get('ansible.builtin.winrm', play_context, os.devnull)
    documented = set(entry['name'] for definition in connection.option_definitions.values()
                     for entry in definition.get('vars') or ())
    var_options = {'_extras': {}}
    for name, value in host_vars.items():
        if name in documented:
            var_options[name] = template(value)
        elif name.startswith('ansible_winrm_'):
            var_options['_extras'][name] = template(value)
    connection.set_options(task_keys=task_keys, var_options=var_options)
    return connection


def run_module(module, command_timeout=None):
    """The module's work for a validated ``ModuleEmulation``: its result, or a failed one with the reason."""
    try:
        result = run_task(module.params, check_mode=module.check_mode, diff=module.diff, command_timeout=command_timeout)
    except TaskError as error:
        return dict(failed=True, msg=error.message, **error.result_keys())
    for warning in result.pop('warnings'):
        module.warn(warning)
    return result


def execute(module_args, check_mode=False, diff=False, command_timeout=None):
    """The module's result for ``module_args`` (the task's options over the host's), computed here."""
    module = ModuleEmulation(MODULE, argument_spec(), module_args, check_mode=check_mode, diff=diff)
    return module.run(lambda emulation: run_module(emulation, command_timeout))


class ActionModule(ActionBase):

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        task_args = dict((key, value) for key, value in self._task.args.items() if value is not None)
        try:
            module_args = self._host_options(task_vars)
        except AnsibleError as error:
            # A variable the winrm connection plugin refuses (a task of that host would fail the same way).
            failure = dict(failed=True, msg='The WinRM connection settings of the host are not valid: %s' % error)
            result.update(ModuleEmulation(MODULE, argument_spec(), task_args).finish(failure))
            return result
        module_args.update(task_args)
        # The task keyword timeout bounds how long a slow command may go on answering "no output yet"; a second
        # is left so that the command's own message comes before Ansible ends the task.
        task_timeout = self._task.timeout if isinstance(self._task.timeout, int) else 0
        result.update(execute(module_args, check_mode=bool(self._task.check_mode), diff=bool(self._task.diff),
                              command_timeout=max(1, task_timeout - 1) if task_timeout > 0 else None))
        return result

    def _host_options(self, task_vars):
        if getattr(self._connection, 'transport', None) == 'winrm':
            return module_options(self._connection)
        host_vars = windows_host_vars(task_vars, self._task.delegate_to, self._templar.template)
        if host_vars is None:
            return {}
        # What the task executor gives a connection plugin: the task's keywords, and --ask-pass.
        task_keys = self._task.dump_attrs()
        if self._play_context.password:
            task_keys['password'] = self._play_context.password
        return module_options(winrm_connection(host_vars, task_keys, self._play_context, self._templar.template))
