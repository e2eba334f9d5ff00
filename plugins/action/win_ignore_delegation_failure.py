# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run win_ignore_delegation_failure in the Ansible worker, with the task host's WinRM variables.

The task host is a Windows host (``ansible_connection: winrm``, shell ``powershell``) with
no Python. The module talks WinRM itself from the controller, so this action does its work
right here, in the worker process Ansible forked for the task: it fills the module's
``winrm_*`` options from the host's ``ansible_*`` variables unless the task sets them,
validates them against the module's argument spec, and calls the same
``_rpc_delegation.run_task`` as the module's ``main()``. No Python process is started per
host, no module is transferred, and the task's connection is never used, so nothing (no
temporary folder) is created on the Windows host. The result is what AnsibleModule would
return: no_log values (the password) removed from all of it, ``invocation.module_args``,
``warnings``; every failure is ``failed`` with a ``msg``, never a traceback.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase

# Imported when the strategy loads this class in the main process, so every forked worker
# finds pywinrm (requests, cryptography) already imported.
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation import (
    TaskError,
    argument_spec,
    run_task,
)

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


def add_play_credentials(host_options, play_context):
    """The user and password of ``-u`` / ``--ask-pass`` (or the play's ``remote_user``) when no variable gives them.

    AWX and Automation Platform hand a Machine credential to ansible-playbook that way, not as
    ``ansible_user`` / ``ansible_password`` variables; the winrm connection plugin takes them too.
    """
    options = dict(host_options)
    for option, value in (('winrm_user', play_context.remote_user), ('winrm_password', play_context.password)):
        if option not in options and isinstance(value, str) and value:
            options[option] = value
    return options


def merge_module_args(task_args, host_options):
    """Explicit task options win over the host's variables."""
    module_args = dict(host_options)
    module_args.update(dict((key, value) for key, value in task_args.items() if value is not None))
    return module_args


def _validation_message(errors):
    """The validator's messages as AnsibleModule words them, all of them."""
    messages = []
    for error in errors:
        if isinstance(error, UnsupportedError):
            messages.append('Unsupported parameters for (%s) module: %s' % (MODULE, error.msg))
        else:
            messages.append(error.msg)
    return ' '.join(message if message.endswith('.') else message + '.' for message in messages)


def _scrub(result, no_log_values):
    """Remove the no_log values from the whole result, keeping booleans and None (as AnsibleModule does)."""
    preserved = dict((key, value) for key, value in result.items() if value is None or isinstance(value, bool))
    result = remove_values(result, no_log_values)
    result.update(preserved)
    return result


def execute(module_args, check_mode=False, diff=False):
    """The module's result for ``module_args`` (task options merged with the host's), computed here.

    Validation with the module's argument spec, check and diff mode, warnings and deprecations,
    ``invocation`` and the removal of every no_log value follow AnsibleModule; any exception
    ends as ``failed`` with a message.
    """
    spec = argument_spec()
    # Known before validation, so that even a validation that crashes cannot show the password.
    no_log_values = set(str(module_args[name]) for name, option in spec.items()
                        if option.get('no_log') and module_args.get(name) not in (None, ''))
    params = dict(module_args)
    warnings = []
    deprecations = []
    try:
        validation = ArgumentSpecValidator(spec).validate(module_args)
        # The public API has no accessor for them; AnsibleModule reads the same attribute.
        no_log_values.update(validation._no_log_values)  # pylint: disable=protected-access
        params = validation.validated_parameters
        for alias_warning in validation._warnings:  # pylint: disable=protected-access
            warnings.append('Both option %s and its alias %s are set.' % (alias_warning['option'], alias_warning['alias']))
        deprecations.extend(validation._deprecations)  # pylint: disable=protected-access
        if validation.error_messages:
            result = dict(failed=True, msg=_validation_message(validation.errors))
        else:
            result = run_task(params, check_mode=check_mode, diff=diff)
            warnings.extend(result.pop('warnings'))
    except TaskError as error:
        result = dict(failed=True, msg=error.message, **error.result_keys())
    except Exception as error:  # pylint: disable=broad-exception-caught
        result = dict(failed=True, msg='%s failed on the controller: %s: %s' % (MODULE, type(error).__name__, error))
    result['invocation'] = {'module_args': params}
    if warnings:
        result['warnings'] = warnings
    if deprecations:
        result['deprecations'] = deprecations
    return _scrub(result, no_log_values)


class ActionModule(ActionBase):

    _VALID_ARGS = frozenset()

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        windows_vars = connection_vars(task_vars, self._task.delegate_to, self._templar.template)
        host_options = host_connection_options(windows_vars, self._templar.template)
        if windows_vars:
            host_options = add_play_credentials(host_options, self._play_context)
        module_args = merge_module_args(self._task.args, host_options)
        result.update(execute(module_args, check_mode=bool(self._task.check_mode), diff=bool(self._task.diff)))
        return result
