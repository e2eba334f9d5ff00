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
``_rpc_delegation_task.run_task`` as the module's ``main()``. No Python process is started per
host, no module is transferred, and the task's connection is never used, so nothing (no
temporary folder) is created on the Windows host. The result is what AnsibleModule would
return: no_log values (the password) removed from all of it, ``invocation.module_args``,
``warnings``; every failure is ``failed`` with a ``msg``, never a traceback.

With the ``fleet`` option one task (``run_once``) does this for every host it names: each
host's connection comes from its ``hostvars`` (under the play's variables), the hosts run in
threads spread over a few forked processes, and the result reports each host and fails at the
end naming the failed ones (``_rpc_delegation_fleet.fleet_result``).
"""

from __future__ import annotations

import os

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase

# Imported when the strategy loads this class in the main process, so every forked worker
# finds pywinrm (requests, cryptography) already imported.
from ansible_collections.fleetfix.remediate.plugins.module_utils._fleet import run_bounded_in_processes
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_fleet import fleet_problems, fleet_result
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_task import TaskError, argument_spec, run_task

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
    'winrm_kerberos_hostname_override': ('ansible_winrm_kerberos_hostname_override',),
}
CONNECTION_VARIABLES = ('ansible_connection',) + tuple(name for names in HOST_VARIABLES.values() for name in names)
MODULE = 'fleetfix.remediate.win_ignore_delegation_failure'
# A fleet task's hosts are spread over up to this many processes (one per CPU), one per this many hosts:
# TLS, NTLM and XML are CPU work that threads of one Python process would do one at a time.
FLEET_PROCESSES = 4
FLEET_HOSTS_PER_PROCESS = 16
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


class Invocation:
    """A task's module arguments, validated and its result finished as AnsibleModule does.

    Validation with the module's argument spec, warnings and deprecations, ``invocation`` and
    the removal of every no_log value from the whole result.
    """

    def __init__(self, module_args):
        self.spec = argument_spec()
        self.params = dict(module_args)
        # Known before validation, so that even a validation that crashes cannot show the password.
        self.no_log_values = set(str(module_args[name]) for name, option in self.spec.items()
                                 if option.get('no_log') and module_args.get(name) not in (None, ''))
        self.warnings = []
        self.deprecations = []

    def validate(self):
        """Validate the arguments: the failure message (all problems), or None with ``params`` validated."""
        validation = ArgumentSpecValidator(self.spec).validate(self.params)
        # The public API has no accessor for them; AnsibleModule reads the same attribute.
        self.no_log_values.update(validation._no_log_values)  # pylint: disable=protected-access
        self.params = validation.validated_parameters
        for alias_warning in validation._warnings:  # pylint: disable=protected-access
            self.warnings.append('Both option %s and its alias %s are set.' % (alias_warning['option'], alias_warning['alias']))
        self.deprecations.extend(validation._deprecations)  # pylint: disable=protected-access
        return _validation_message(validation.errors) if validation.error_messages else None

    def crashed(self, error):
        return dict(failed=True, msg='%s failed on the controller: %s: %s' % (MODULE, type(error).__name__, error))

    def finish(self, result):
        result['invocation'] = {'module_args': self.params}
        if self.warnings:
            result['warnings'] = self.warnings
        if self.deprecations:
            result['deprecations'] = self.deprecations
        return _scrub(result, self.no_log_values)


def execute(module_args, check_mode=False, diff=False, command_timeout=None):
    """The module's result for ``module_args`` (task options merged with the host's), computed here.

    Validation with the module's argument spec, check and diff mode, warnings and deprecations,
    ``invocation`` and the removal of every no_log value follow AnsibleModule; any exception
    ends as ``failed`` with a message.
    """
    invocation = Invocation(module_args)
    try:
        message = invocation.validate()
        if message:
            result = dict(failed=True, msg=message)
        else:
            result = run_task(invocation.params, check_mode=check_mode, diff=diff, command_timeout=command_timeout)
            invocation.warnings.extend(result.pop('warnings'))
    except TaskError as error:
        result = dict(failed=True, msg=error.message, **error.result_keys())
    except Exception as error:  # pylint: disable=broad-exception-caught
        result = invocation.crashed(error)
    return invocation.finish(result)


def execute_fleet(task_args, host_jobs, run_once=True, play_hosts=1, check_mode=False, diff=False):
    """The result of one task for every host of its ``fleet`` option, each with its own connection.

    ``host_jobs(params)`` gives ``(host, module arguments)`` for each host of the validated
    ``params`` (or ``(host, why it cannot run)``); it runs here, before any thread starts, so
    Ansible's templating stays in this thread. The hosts then run ``execute`` in at most
    ``max_workers`` threads; one failing host never stops the others, and the task fails at
    the end naming them all. No host's password (nor the task's) appears in the result.
    """
    invocation = Invocation(task_args)
    try:
        message = invocation.validate()
        if not message:
            message = ' '.join(fleet_problems(invocation.params, run_once, play_hosts)) or None
        if message:
            result = dict(failed=True, msg=message)
        else:
            jobs = host_jobs(invocation.params)
            for _name, module_args in jobs:
                if isinstance(module_args, dict) and module_args.get('winrm_password') not in (None, ''):
                    invocation.no_log_values.add(str(module_args['winrm_password']))
            triples = run_bounded_in_processes(jobs, lambda job: _run_job(job, check_mode, diff),
                                               invocation.params['max_workers'], fleet_processes(len(jobs)))
            result = fleet_result([(job[0], value if error is None else invocation.crashed(error))
                                   for job, value, error in triples])
            invocation.warnings.extend(result.pop('warnings'))
    except Exception as error:  # pylint: disable=broad-exception-caught
        result = invocation.crashed(error)
    return invocation.finish(result)


def fleet_processes(hosts):
    """How many processes share a fleet of ``hosts``: one per CPU this process may use, within the limits above."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else (os.cpu_count() or 1)
    return max(1, min(cpus, FLEET_PROCESSES, -(-hosts // FLEET_HOSTS_PER_PROCESS)))


def _run_job(job, check_mode, diff):
    module_args = job[1]
    if not isinstance(module_args, dict):
        return dict(failed=True, msg=module_args)
    return execute(module_args, check_mode=check_mode, diff=diff)


def play_level_vars(task_vars, task_host_inventory_vars, template):
    """The connection variables the task host has from the play, a role, a block or the task.

    Those are the variables its ``hostvars`` entry (inventory, facts, extra vars) lacks or
    holds with another value: a higher level set them, the same for every host of the play.
    """
    chosen = {}
    for variable in CONNECTION_VARIABLES:
        if task_vars.get(variable) is None:
            continue
        value = template(task_vars[variable])
        if variable not in task_host_inventory_vars or task_host_inventory_vars[variable] != value:
            chosen[variable] = value
    return chosen


def fleet_host_vars(name, host_vars, play_vars):
    """The connection variables of fleet host ``name``: its own (``hostvars``, templated for it), under the play's.

    As in a task of that host, a variable of the play, a role, a block or the task overrides the
    host's inventory; the task host's own inventory variables never reach another host.
    """
    chosen = {'inventory_hostname': name}
    for variable in CONNECTION_VARIABLES:
        if variable in host_vars:
            chosen[variable] = host_vars[variable]
    chosen.update(play_vars)
    return chosen


class ActionModule(ActionBase):

    _VALID_ARGS = frozenset()

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp  # tmp no longer has any effect

        if self._task.args.get('fleet') is not None:
            result.update(execute_fleet(
                self._task.args, lambda params: self._fleet_jobs(params, task_vars), run_once=bool(self._task.run_once),
                play_hosts=len(task_vars.get('ansible_play_batch') or ()), check_mode=bool(self._task.check_mode),
                diff=bool(self._task.diff)))
            return result
        windows_vars = connection_vars(task_vars, self._task.delegate_to, self._templar.template)
        host_options = host_connection_options(windows_vars, self._templar.template)
        if windows_vars:
            host_options = add_play_credentials(host_options, self._play_context)
        module_args = merge_module_args(self._task.args, host_options)
        # The task keyword timeout bounds how long a slow command may go on answering "no output yet"; a second
        # is left so that the command's own message comes before Ansible ends the task.
        task_timeout = self._task.timeout if isinstance(self._task.timeout, int) else 0
        result.update(execute(module_args, check_mode=bool(self._task.check_mode), diff=bool(self._task.diff),
                              command_timeout=max(1, task_timeout - 1) if task_timeout > 0 else None))
        return result

    def _fleet_jobs(self, params, task_vars):
        """``(host, module arguments)`` for each host of ``fleet``: the task's options over the host's variables."""
        template = self._templar.template
        hostvars = task_vars.get('hostvars') or {}
        task_host = task_vars.get('inventory_hostname')
        play_vars = play_level_vars(task_vars, hostvars[task_host] if task_host in hostvars else {}, template)
        # -u / --ask-pass (AWX's Machine credential) when the task host is Windows and no variable of its own
        # overrode them (then play_context holds that variable, not the command line's).
        command_line = {}
        if connection_vars(task_vars, None, template):
            command_line = add_play_credentials({}, self._play_context)
            for option in list(command_line):
                if any(task_vars.get(name) is not None for name in HOST_VARIABLES[option]):
                    del command_line[option]
        task_args = dict((key, value) for key, value in self._task.args.items() if key not in ('fleet', 'max_workers'))
        jobs = []
        for name in dict.fromkeys(params['fleet']):  # each host once, in order
            if name not in hostvars:
                jobs.append((name, 'not an inventory host: fleet names inventory hosts, whose variables give the '
                                   'connection.'))
                continue
            host_vars = fleet_host_vars(name, hostvars[name], play_vars)
            connection = _connection_name(host_vars, template)
            if connection not in WINDOWS_CONNECTIONS + ('',):
                jobs.append((name, 'ansible_connection %s is not a Windows connection (winrm or psrp).' % connection))
                continue
            options = host_connection_options(host_vars, template)
            for option, value in command_line.items():
                options.setdefault(option, value)
            jobs.append((name, merge_module_args(task_args, options)))
        return jobs
