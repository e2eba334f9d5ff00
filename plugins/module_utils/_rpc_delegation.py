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
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_errors import COMMAND_FAILED, NOT_BACK, STILL_LOGGING, DelegationError
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


def restart_needed(changed, value, events, os_facts, state, force):
    """Whether the host needs a restart to apply the policy.

    A value just set, or set with 10009 events since the boot (set after the last restart), needs
    one; a value applied since the boot (no event since) does not, nor does an OS the fault does
    not affect (not Windows Server 2008 R2; an OS that could not be read counts as affected),
    unless ``force`` (force_reboot: the value was set by an earlier run without a restart).
    A removed value needs one to take effect.
    """
    if state != 'present' or value != 1:
        return changed
    if force:
        return True
    if os_facts is not None and not os_facts.get('affected'):
        return False
    return changed or (events is not None and bool(events.get('since_boot')))


def manage(client, params, check_mode=False, host_label=None, sleep=time.sleep, clock=time.monotonic):
    """Bring the policy to ``params['state']`` on one host (or GPO); returns the host's whole record.

    The record is the module's result: the value before and after, the OS and boot time, the
    10009 events (counted again after a restart, ``post_reboot_delay`` seconds after the host is
    back), and ``restart`` (``not needed``, ``needed``, ``would restart``, ``done``, ``not back``,
    ``failed``). A restart that fails, or a host that still logs 10009 events after it, makes a
    failed record (``failed``, ``msg``, ``error_kind``) that still says what was written.
    """
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
    reboot_required = restart_needed(changed, after_value, events, current['os'], state, bool(params.get('force_reboot')))
    restart_asked = bool(params.get('reboot') or params.get('force_reboot'))
    boot_time = current['boot_time']
    result = {
        'changed': changed,
        'method': 'registry',
        'before': {'value': current['value']},
        'after': {'value': after_value},
        'reboot_required': reboot_required,
        'rebooted': False,
        'restart': 'not needed' if not reboot_required else 'needed' if not restart_asked
                   else 'would restart' if check_mode else 'planned',
        'os': current['os'],
        'boot_time': iso_utc(boot_time),
        'dcom_10009': events,
        'warnings': warnings,
    }
    if result['restart'] != 'planned':
        return result
    if boot_time is None:
        raise DelegationError('Cannot restart %s safely: its boot time could not be read with wmic, so its return '
                              'could not be detected.' % host_label, COMMAND_FAILED)
    try:
        boot_time = reboot_and_wait(client, boot_time, params.get('reboot_timeout') or 600, host_label,
                                    sleep=sleep, clock=clock)
    except DelegationError as error:
        # The value stays written: the record says so, and why the restart failed.
        result.update(failed=True, msg=error.message, error_kind=error.kind,
                      restart='not back' if error.kind == NOT_BACK else 'failed')
        return result
    result.update(changed=True, rebooted=True, reboot_required=False, restart='done', boot_time=iso_utc(boot_time))
    if check_events:
        if params.get('post_reboot_delay'):
            sleep(params['post_reboot_delay'])  # the services start before their events count
        after = read_state(client, True, events_limit, host_label)
        warnings.extend(after['warnings'])
        result.update(after={'value': after['value']}, dcom_10009=after['events'], boot_time=iso_utc(after['boot_time']))
        since = (after['events'] or {}).get('since_boot') or 0
        if since > 0:
            result.update(failed=True, error_kind=STILL_LOGGING, msg=(
                '%d DCOM 10009 events since the restart (newest %s): the policy is not in effect; check that no GPO '
                'sets IgnoreDelegationFailure to 0.' % (since, after['events'].get('newest') or '?')))
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
        'restart': 'after refresh' if action is not None else 'not needed',
        'os': None,
        'boot_time': None,
        'dcom_10009': None,
        'warnings': [],
    }


def gpo_member_record(gpo_result, gpo_name, host_record):
    """A member server's record for the GPO method: the GPO task's change with the server's own state.

    ``gpo_result`` is the (registered) result of the method gpo task through the domain controller,
    ``host_record`` this server's record read in check mode (or ``failed``/``msg`` when it could not
    be read). The server gets the value at its next policy refresh: ``after`` is its own value now,
    ``restart`` ``after refresh`` when it will need a restart then.
    """
    gpo_result = gpo_result or {}
    gpo_failed = bool(gpo_result.get('failed'))
    host_failed = bool(host_record.get('failed'))
    record = dict(host_record)
    record.update(
        changed=bool(gpo_result.get('changed')) and not gpo_failed,
        failed=gpo_failed or host_failed,
        method='gpo',
        gpo_name=gpo_name,
        gpo_id=gpo_result.get('gpo_id'),
        gpo={'before': gpo_result.get('before') or {}, 'after': gpo_result.get('after') or {}},
        after=host_record.get('before') or {},
        restart='-' if host_failed else 'after refresh' if host_record.get('reboot_required') else 'not needed',
        warnings=list(host_record.get('warnings') or ()),
    )
    if gpo_failed:
        through = ((gpo_result.get('invocation') or {}).get('module_args') or {}).get('winrm_host')
        record['msg'] = 'GPO %s%s: %s' % (gpo_name, ' through %s' % through if through else '',
                                          gpo_result.get('msg') or 'failed')
        if gpo_result.get('error_kind'):
            record['error_kind'] = gpo_result['error_kind']
    elif not host_failed:
        record.pop('msg', None)
    return record
