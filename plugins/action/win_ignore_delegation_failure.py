# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run win_ignore_delegation_failure on the controller with the task host's WinRM variables.

The task host is a Windows host (``ansible_connection: winrm``, shell ``powershell``) with
no Python. The module talks WinRM itself, so this action swaps the task's connection for a
``local`` one with the ``sh`` shell and the controller's Python, and fills the module's
``winrm_*`` options from the host's ``ansible_*`` variables unless the task sets them.
The password travels only as the ``winrm_password`` module option, which is ``no_log``.
"""

from __future__ import annotations

import sys

from ansible.plugins.action import ActionBase
from ansible.plugins.loader import connection_loader, shell_loader
from ansible.utils.display import Display

display = Display()

# module option -> the host variables that feed it, first match wins
HOST_VARIABLES = {
    'winrm_host': ('ansible_host', 'ansible_winrm_host'),
    'winrm_port': ('ansible_port', 'ansible_winrm_port'),
    'winrm_user': ('ansible_user', 'ansible_winrm_user'),
    'winrm_password': ('ansible_password', 'ansible_winrm_pass', 'ansible_winrm_password'),
    'winrm_transport': ('ansible_winrm_transport',),
    'winrm_scheme': ('ansible_winrm_scheme',),
    'winrm_server_cert_validation': ('ansible_winrm_server_cert_validation',),
    'winrm_ca_trust_path': ('ansible_winrm_ca_trust_path',),
    'winrm_cert_pem': ('ansible_winrm_cert_pem',),
    'winrm_cert_key_pem': ('ansible_winrm_cert_key_pem',),
    'winrm_message_encryption': ('ansible_winrm_message_encryption',),
    'winrm_operation_timeout': ('ansible_winrm_operation_timeout_sec',),
    'winrm_read_timeout': ('ansible_winrm_read_timeout_sec',),
}
MODULE = 'fleetfix.remediate.win_ignore_delegation_failure'
WINDOWS_CONNECTIONS = ('winrm', 'psrp')


def host_connection_options(task_vars, template):
    """The ``winrm_*`` options the host's variables give (templated), without unset ones."""
    options = {}
    for option, names in HOST_VARIABLES.items():
        for name in names:
            if task_vars.get(name) is None:
                continue
            value = template(task_vars[name])
            if value is None or value == '':
                continue
            if option == 'winrm_transport' and isinstance(value, (list, tuple)):
                # The winrm connection plugin takes a list of transports; the module one.
                value = value[0] if value else None
            if option == 'winrm_message_encryption' and isinstance(value, bool):
                value = 'always' if value else 'never'
            if value is not None:
                options[option] = value
            break
    if 'winrm_host' not in options and task_vars.get('inventory_hostname'):
        options['winrm_host'] = task_vars['inventory_hostname']
    return options


def _connection_name(host_vars, template):
    return str(template(host_vars.get('ansible_connection')) or '').rsplit('.', 1)[-1]


def connection_vars(task_vars, delegate_to, template):
    """The variables of the Windows host to connect to.

    Delegated to a Windows host (``ansible_connection`` winrm or psrp, for example a domain
    controller for ``method: gpo``), its variables; delegated elsewhere (``localhost``), the
    task host's own, so that only the module's ``winrm_*`` options need to say otherwise.
    A task host whose ``ansible_connection`` says it is not Windows (``local``, ``ssh``...)
    gives nothing: its ``ansible_user`` or ``ansible_port`` belong to another protocol.
    """
    if delegate_to:
        delegated = (task_vars.get('ansible_delegated_vars') or {}).get(delegate_to)
        if delegated and _connection_name(delegated, template) in WINDOWS_CONNECTIONS:
            delegated = dict(delegated)
            delegated.setdefault('inventory_hostname', delegate_to)
            if delegated.get('ansible_host') is None:
                delegated['ansible_host'] = delegate_to
            return delegated
    if _connection_name(task_vars, template) in WINDOWS_CONNECTIONS + ('',):
        return task_vars
    return {}


def merge_module_args(task_args, host_options):
    """Explicit task options win over the host's variables."""
    module_args = dict(host_options)
    module_args.update(dict((key, value) for key, value in task_args.items() if value is not None))
    return module_args


class ActionModule(ActionBase):

    _VALID_ARGS = frozenset()

    def _use_local_connection(self, task_vars):
        """Swap a non-local connection (winrm, psrp, ssh...) for a local one with the sh shell."""
        if getattr(self._connection, '_load_name', None) in ('local', 'ansible.builtin.local') \
                and not getattr(self._connection._shell, '_IS_WINDOWS', False):
            return
        shell = shell_loader.get('sh')
        shell.set_options(var_options={})
        connection = connection_loader.get('local', self._play_context, shell=shell)
        connection.set_options(var_options={})
        connection._remote_is_local = True  # pylint: disable=protected-access
        self._connection = connection
        display.vvv('%s: running the module on the controller with a local connection' % MODULE,
                    host=task_vars.get('inventory_hostname'))

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        # Before the base class may create a temporary directory through the Windows connection.
        self._use_local_connection(task_vars)
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        module_vars = dict(task_vars)
        # The controller's Python, not the Windows host's interpreter settings.
        module_vars['ansible_python_interpreter'] = task_vars.get('ansible_playbook_python') or sys.executable
        module_vars.pop('ansible_shell_type', None)
        module_vars.pop('ansible_shell_executable', None)

        windows_vars = connection_vars(task_vars, self._task.delegate_to, self._templar.template)
        host_options = host_connection_options(windows_vars, self._templar.template)
        module_args = merge_module_args(self._task.args, host_options)
        result.update(self._execute_module(module_name=MODULE, module_args=module_args, task_vars=module_vars))
        return result
