# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""What AnsibleModule does around a module's work, for an action plugin that does that work itself.

An action plugin whose module talks to a remote API from the controller can run the module's
code in the worker instead of starting a module process. ``ModuleEmulation`` gives that code
what AnsibleModule would: the arguments validated against the module's argument spec (with
ansible-core's public ``ArgumentSpecValidator``), ``check_mode`` and ``diff``, ``warn()``, and
a result that carries ``invocation.module_args`` and ``warnings`` and holds no ``no_log`` value
anywhere (messages included). Any exception ends as a failed result with a message, never a
traceback. Only for action plugins: a module uses AnsibleModule itself.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.module_utils.errors import UnsupportedError


def _no_log_values(argument_spec, parameters):
    """The values of the ``no_log`` options (by name or alias, sub-options too), as AnsibleModule collects them."""
    values = set()
    for name, option in argument_spec.items():
        for key in [name] + list(option.get('aliases') or ()):
            value = parameters.get(key)
            if option.get('no_log') and value not in (None, ''):
                values.add(str(value))
            if option.get('options') and isinstance(value, (dict, list)):
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, dict):
                        values.update(_no_log_values(option['options'], item))
    return values


class ModuleEmulation:
    """One task's run of a module's code inside its action plugin, finished as AnsibleModule would finish it."""

    def __init__(self, name, argument_spec, module_args, check_mode=False, diff=False):
        self.name = name
        self.argument_spec = argument_spec
        self.params = dict(module_args)
        self.check_mode = check_mode
        self.diff = diff
        self.warnings = []
        # Known before validation, so that not even a validation that crashes can show them.
        self.no_log_values = _no_log_values(argument_spec, module_args)

    def warn(self, warning):
        self.warnings.append(warning)

    def hide(self, value):
        """Keep ``value`` (a secret the work came across) out of the result as well."""
        if value not in (None, ''):
            self.no_log_values.add(str(value))

    def validate(self):
        """Validate the arguments: the failure message (all problems, AnsibleModule's words), or None."""
        validation = ArgumentSpecValidator(self.argument_spec).validate(self.params)
        self.params = validation.validated_parameters
        self.no_log_values.update(_no_log_values(self.argument_spec, self.params))
        for name, option in self.argument_spec.items():
            for alias in option.get('aliases') or ():
                if name in self.params and alias in self.params:
                    self.warn('Both option %s and its alias %s are set.' % (name, alias))
        if not validation.error_messages:
            return None
        messages = []
        for error in validation.errors:
            if isinstance(error, UnsupportedError):
                messages.append('Unsupported parameters for (%s) module: %s' % (self.name, error.msg))
            else:
                messages.append(error.msg)
        return ' '.join(message if message.endswith('.') else message + '.' for message in messages)

    def run(self, work):
        """``work(self)`` (after validation; it reads ``self.params``) -> the finished task result."""
        try:
            message = self.validate()
            result = dict(failed=True, msg=message) if message else work(self)
        except Exception as error:  # pylint: disable=broad-exception-caught
            result = dict(failed=True, msg='%s failed on the controller: %s: %s' % (self.name, type(error).__name__, error))
        return self.finish(result)

    def finish(self, result):
        result = dict(result)
        result['invocation'] = {'module_args': self.params}
        if self.warnings:
            result['warnings'] = list(self.warnings)
        # remove_values masks booleans and None that equal a secret's text too; AnsibleModule keeps them.
        kept = dict((key, value) for key, value in result.items() if value is None or isinstance(value, bool))
        result = remove_values(result, self.no_log_values)
        result.update(kept)
        return result
