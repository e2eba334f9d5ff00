# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""One Windows host's side of the policy through a WinRM client: read it, write it, restart and wait.

Each function takes a ``_winrm.WinRMClient`` (or a stand-in with ``run`` and ``reset``).
"""

from __future__ import annotations

import time

from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_commands import (
    POLICY_KEY,
    VALUE_NAME,
    audit_command,
    boot_time_command,
    reg_add_command,
    reg_delete_command,
    shutdown_command,
)
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_errors import COMMAND_FAILED, NOT_BACK, DelegationError
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_parsers import (
    tool_message,
    events_since,
    os_facts,
    parse_cim_datetime,
    parse_events,
    parse_os_properties,
    policy_value_from_sections,
    split_sections,
)
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import ACCESS_DENIED, WinRMError

# How Windows says "access denied" in the languages the collection was tried with: only to tell the error kind
# apart (and so the message's advice); whether the value is missing never depends on these sentences.
ACCESS_DENIED_TEXTS = ('access is denied', 'zugriff verweigert', 'acc\u00e8s refus\u00e9', 'e_accessdenied',
                       '0x80070005')
SHUTDOWN_ALREADY_SCHEDULED = 1190
SHUTDOWN_IN_PROGRESS = 1115
REBOOT_POLL_SECONDS = 2


def read_state(client, check_events, events_limit, host_label):
    """One command: value, OS facts and events. Returns a dict (``value``, ``value_type``, ``os``, ``events``)."""
    result = client.run(audit_command(check_events=check_events, events_limit=events_limit))
    sections = split_sections(result.stdout)
    if 'reg' not in sections:
        raise DelegationError('The audit command on %s did not run as expected (exit %s): %s'
                              % (host_label, result.rc, tool_message(result.stderr or result.stdout)), COMMAND_FAILED)
    value_type, value, failure = policy_value_from_sections(sections)
    if failure is not None:
        raise DelegationError('reg query %s on %s failed: %s' % (POLICY_KEY, host_label, tool_message(failure)),
                              error_kind(failure))
    state = {'value': value, 'value_type': value_type, 'os': None, 'boot_time': None, 'events': None, 'warnings': []}
    os_ok, os_text = sections.get('os', (False, 'no output'))
    if os_ok:
        facts = os_facts(parse_os_properties(os_text))
        state['boot_time'] = facts.pop('boot_time')
        state['os'] = facts
    else:
        state['warnings'].append('Reading the OS and boot time on %s (wmic, then Get-WmiObject) failed: %s'
                                 % (host_label, tool_message(os_text)))
    if check_events:
        events_ok, events_text = sections.get('events', (False, 'no output'))
        if events_ok:
            state['events'] = events_since(parse_events(events_text), state['boot_time'], events_limit)
        else:
            state['warnings'].append('wevtutil on %s failed: %s' % (host_label, tool_message(events_text)))
    return state


def error_kind(text):
    lowered = (text or '').lower()
    return ACCESS_DENIED if any(words in lowered for words in ACCESS_DENIED_TEXTS) else COMMAND_FAILED


def read_boot_time(client):
    result = client.run(boot_time_command())
    if result.rc != 0:
        raise DelegationError('Reading the boot time (wmic, then Get-WmiObject) failed (exit %s): %s'
                              % (result.rc, tool_message(result.stderr or result.stdout)), COMMAND_FAILED)
    return parse_cim_datetime(parse_os_properties(result.stdout).get('LastBootUpTime'))


def write_value(client, action, host_label):
    command = reg_add_command(1) if action == 'add' else reg_delete_command()
    result = client.run(command)
    if result.rc == 0:
        return
    message = tool_message(result.stderr or result.stdout)
    if action == 'delete':
        # reg delete exits 1 for a value that is gone as for one it may not delete: read the key again (exit
        # codes and value lines, not the translated sentence) to tell which.
        current = read_state(client, False, 1, host_label) if error_kind(message) != ACCESS_DENIED else None
        if current is not None and current['value'] is None:
            return  # Someone removed it in between: the wanted state holds.
    if error_kind(message) == ACCESS_DENIED:
        raise DelegationError(
            'Access denied writing %s\\%s on %s: the WinRM account needs local administrator rights '
            '(and UAC remote restrictions must allow it). Windows said: %s'
            % (POLICY_KEY, VALUE_NAME, host_label, message), ACCESS_DENIED)
    raise DelegationError('reg %s on %s failed (exit %s): %s' % (action, host_label, result.rc, message), COMMAND_FAILED)


def reboot_and_wait(client, old_boot_time, timeout, host_label, sleep=time.sleep, clock=time.monotonic):
    """Schedule a restart and wait until WinRM answers with a new boot time; returns it."""
    result = client.run(shutdown_command())
    if result.rc not in (0, SHUTDOWN_ALREADY_SCHEDULED, SHUTDOWN_IN_PROGRESS):
        raise DelegationError('shutdown /r on %s failed (exit %s): %s'
                              % (host_label, result.rc, tool_message(result.stderr or result.stdout)),
                              error_kind(result.stderr or result.stdout))
    client.reset()
    deadline = clock() + timeout
    last_error = None
    while clock() < deadline:
        sleep(REBOOT_POLL_SECONDS)
        try:
            boot_time = read_boot_time(client)
        except WinRMError as error:
            # Down, refusing connections or half-started services: all expected while it restarts.
            last_error = error
            client.reset()
            continue
        if boot_time is not None and (old_boot_time is None or boot_time != old_boot_time):
            return boot_time
    why = ' (last error: %s)' % last_error.message.rstrip('.') if last_error is not None else ''
    raise DelegationError('%s did not come back within reboot_timeout (%s seconds) after the restart%s.'
                          % (host_label, timeout, why), NOT_BACK)
