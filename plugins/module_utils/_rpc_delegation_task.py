# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The win_ignore_delegation_failure task: its options, their validation, the client, the result.

``argument_spec`` and ``run_task`` are the whole task, which the action plugin runs inside the
Ansible worker (the module file is its documentation).
"""

from __future__ import annotations

import re
import time
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.fleetfix.remediate.plugins.module_utils import _winrm
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation import gpo_member_record, manage
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_commands import DEFAULT_GPO, POLICY_KEY, VALUE_NAME
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import WinRMClient, WinRMError, validate_options, winrm_argument_spec


class TaskError(Exception):
    """Why ``run_task`` gave no result: a sentence a person can act on, the error kind, the traceback if one helps.

    ``error_kind`` is None for bad input (nothing was tried), else one of the kinds of _winrm and
    of this file. ``traceback`` is kept for AnsibleModule (shown at -vvv), never put in a message.
    """

    def __init__(self, message, error_kind=None, traceback_text=None):
        super().__init__(message)
        self.message = message
        self.error_kind = error_kind
        self.traceback = traceback_text

    def result_keys(self):
        """The keys a failed task result carries beside ``failed`` and ``msg``."""
        return {} if self.error_kind is None else {'error_kind': self.error_kind}


def argument_spec():
    """The module's options: the winrm doc fragment's connection options and the policy's own."""
    spec = winrm_argument_spec()
    spec.update(
        state=dict(type='str', default='present', choices=['present', 'absent']),
        method=dict(type='str', default='registry', choices=['registry', 'gpo']),
        gpo_name=dict(type='str', default=DEFAULT_GPO),
        gpo_result=dict(type='dict'),
        reboot=dict(type='bool', default=False),
        force_reboot=dict(type='bool', default=False),
        reboot_timeout=dict(type='int', default=600),
        post_reboot_delay=dict(type='int', default=0),
        check_events=dict(type='bool', default=True),
        events_limit=dict(type='int', default=50),
    )
    return spec


def validate_params(params):
    """Problems with the module's own options (the connection options are checked by _winrm)."""
    problems = []
    if params.get('method') == 'gpo':
        if not (params.get('gpo_name') or '').strip():
            problems.append('gpo_name must not be empty with method gpo.')
        elif re.search(r'[\x00-\x1f\x7f]', params['gpo_name']):
            # Quoting would keep them inside the string; no GPO is named with a line break or a control character.
            problems.append('gpo_name %r holds a line break or another control character, which no GPO name has.'
                            % params['gpo_name'])
        if params.get('reboot') or params.get('force_reboot'):
            problems.append('reboot applies to method registry only: with method gpo the task host is a domain '
                            'controller; restart the member servers after they applied the policy '
                            '(the dcom_10009 role does this).')
    if params.get('gpo_result') is not None and params.get('method') != 'gpo':
        problems.append('gpo_result applies to method gpo only: it is the result of the method gpo task, for the member '
                        'servers that get the policy from that GPO.')
    if params.get('force_reboot') and params.get('state') == 'absent':
        problems.append('force_reboot applies to state present only (it restarts a host whose value 1 is not applied '
                        'yet); with state absent use reboot, which restarts a host after the value was removed.')
    if params.get('reboot_timeout') is not None and params['reboot_timeout'] < 10:
        problems.append('reboot_timeout must be at least 10 seconds, not %s.' % params['reboot_timeout'])
    if params.get('post_reboot_delay') is not None and not 0 <= params['post_reboot_delay'] <= 3600:
        problems.append('post_reboot_delay must be between 0 and 3600 seconds, not %s.' % params['post_reboot_delay'])
    limit = params.get('events_limit')
    if limit is not None and not 1 <= limit <= 10000:
        problems.append('events_limit must be between 1 and 10000, not %s.' % limit)
    return problems


def run_task(params, check_mode=False, diff=False, sleep=time.sleep, clock=time.monotonic, command_timeout=None):
    """Validated ``params`` (of ``argument_spec``) -> the task's result; raises TaskError.

    The result holds ``warnings`` (a list of sentences) for the caller to hand on, and ``diff``
    in diff mode. Bad input fails before any connection; a missing pywinrm fails next.
    ``command_timeout`` is the task's own timeout: how long a command may go on answering "no output yet".
    """
    problems = validate_params(params) + validate_options(params)
    if problems:
        raise TaskError(' '.join(problems))
    if params.get('method') == 'gpo' and params.get('gpo_result') is not None:
        # A member server of the GPO: read (never written, whatever the mode), recorded with the GPO's change.
        member = dict(params, method='registry', gpo_result=None, reboot=False, force_reboot=False)
        try:
            host_record = run_task(member, check_mode=True, sleep=sleep, clock=clock, command_timeout=command_timeout)
        except TaskError as error:
            host_record = dict(failed=True, msg=error.message, warnings=[], **error.result_keys())
        result = gpo_member_record(params['gpo_result'], params.get('gpo_name') or DEFAULT_GPO, host_record)
        if diff:
            result['diff'] = dict(result['gpo'])
        return result
    if not _winrm.HAS_PYWINRM:
        raise TaskError(missing_required_lib('pywinrm'), traceback_text=_winrm.PYWINRM_IMPORT_ERROR)
    client = WinRMClient(params)
    if command_timeout:
        client.command_timeout = command_timeout
    try:
        result = manage(client, params, check_mode=check_mode, sleep=sleep, clock=clock)
    except WinRMError as error:
        raise TaskError(error.message, error.kind) from None
    except Exception as error:  # pylint: disable=broad-exception-caught
        # A bug (or output no parser expected) still ends as a sentence, not as a crashed task.
        host_label = getattr(client, 'label', params.get('winrm_host'))
        raise TaskError('Unexpected %s while managing %s\\%s on %s: %s'
                        % (type(error).__name__, POLICY_KEY, VALUE_NAME, host_label, error),
                        traceback_text=traceback.format_exc()) from None
    finally:
        client.close()
    if diff:
        result['diff'] = {'before': result['before'], 'after': result['after']}
    return result
