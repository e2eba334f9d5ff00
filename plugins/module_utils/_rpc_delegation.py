# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The decisions of the "Ignore Delegation Failure" RPC policy (DCOM event 10009) on one host or GPO.

``manage`` reads the state, plans the change, writes it unless in check mode and restarts
when asked; it talks to the host only through a ``_winrm.WinRMClient`` (or a stand-in with
``run``, ``run_powershell`` and ``reset``). The command lines are in _rpc_delegation_commands,
the parsers in _rpc_delegation_parsers, the host's reads, writes and restart in
_rpc_delegation_host, the GPO's in _rpc_delegation_gpo; the task around it (argument spec,
validation, the client) in _rpc_delegation_task.
"""

from __future__ import annotations

import time

from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_commands import DEFAULT_GPO
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_errors import COMMAND_FAILED, DelegationError
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_gpo import read_gpo, write_gpo
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_host import read_state, reboot_and_wait, write_value
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_parsers import iso_utc


def desired_value(state):
    return 1 if state == 'present' else None


def plan_change(current_value, state):
    """The write to make: ``'add'``, ``'delete'`` or None when the value is already as wanted."""
    if state == 'present':
        return None if current_value == 1 else 'add'
    return None if current_value is None else 'delete'


def manage(client, params, check_mode=False, host_label=None, sleep=time.sleep, clock=time.monotonic):
    """Bring the policy to ``params['state']`` on one host (or GPO); returns the module result."""
    host_label = host_label or getattr(client, 'label', None) or getattr(client, 'host', 'the host')
    if params.get('method') == 'gpo':
        return _manage_gpo(client, params, check_mode, host_label)
    state = params.get('state', 'present')
    check_events = params.get('check_events', True)
    events_limit = params.get('events_limit') or 50
    current = read_state(client, check_events, events_limit, host_label)
    action = plan_change(current['value'], state)
    warnings = list(current['warnings'])
    after_value = desired_value(state) if action else current['value']
    if action and not check_mode:
        write_value(client, action, host_label)
    changed = action is not None
    events = current['events']
    # A value of 1 with new 10009 events since the boot: set after the last restart, not applied yet.
    pending = (state == 'present' and not changed and current['value'] == 1 and events is not None
               and bool(events.get('since_boot')))
    # force_reboot: the value was set earlier (by a run without reboot) and has not been applied by a restart since.
    force = bool(params.get('force_reboot'))
    reboot_required = changed or pending or (force and state == 'present' and after_value == 1)
    rebooted = False
    boot_time = current['boot_time']
    if reboot_required and (params.get('reboot') or force) and not check_mode:
        if boot_time is None:
            raise DelegationError('Cannot restart %s safely: its boot time could not be read with wmic, so its return '
                                  'could not be detected.' % host_label, COMMAND_FAILED)
        boot_time = reboot_and_wait(client, boot_time, params.get('reboot_timeout') or 600, host_label,
                                    sleep=sleep, clock=clock)
        rebooted = True
        changed = True
        reboot_required = False
        if check_events:
            after = read_state(client, True, events_limit, host_label)
            events = after['events']
            after_value = after['value']
            warnings.extend(after['warnings'])
    result = {
        'changed': changed,
        'method': 'registry',
        'before': {'value': current['value']},
        'after': {'value': after_value},
        'reboot_required': reboot_required,
        'rebooted': rebooted,
        'os': current['os'],
        'boot_time': iso_utc(boot_time),
        'dcom_10009': events,
        'warnings': warnings,
    }
    return result


def _manage_gpo(client, params, check_mode, host_label):
    gpo_name = params.get('gpo_name') or DEFAULT_GPO
    state = params.get('state', 'present')
    current = read_gpo(client, gpo_name, host_label)
    action = plan_change(current['value'], state)
    if action and not check_mode:
        write_gpo(client, gpo_name, action, host_label)
    return {
        'changed': action is not None,
        'method': 'gpo',
        'gpo_name': gpo_name,
        'gpo_id': current['gpo_id'],
        'before': {'value': current['value']},
        'after': {'value': desired_value(state) if action else current['value']},
        # Member servers apply the GPO at their next policy refresh and need a restart after it.
        'reboot_required': action is not None,
        'rebooted': False,
        'os': None,
        'boot_time': None,
        'dcom_10009': None,
        'warnings': [],
    }
