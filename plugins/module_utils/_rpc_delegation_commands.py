# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The command lines that read and change the "Ignore Delegation Failure" RPC policy (DCOM event 10009).

Pure text, nothing runs here. Everything works on Windows Server 2008 R2 with PowerShell 2.0:
the host is read and changed with ``reg.exe``, ``wmic`` and ``wevtutil`` through the cmd shell,
and restarted with ``shutdown.exe``. The audit of a host is ONE command line (three tools
chained with ``&``, each section opened by an ``echo`` marker and closed by an ``&&``/``||``
marker that carries its exit status), so it costs one Command and one Receive.
_rpc_delegation_parsers reads what they print.
"""

from __future__ import annotations

POLICY_KEY = r'HKLM\Software\Policies\Microsoft\Windows NT\Rpc'
DEFAULT_GPO = 'Default Domain Policy'
VALUE_NAME = 'IgnoreDelegationFailure'
EVENT_PROVIDER = 'Microsoft-Windows-DistributedCOM'
EVENT_ID = 10009

MARKER_BEGIN = '__FLEETFIX_BEGIN_%s__'
MARKER_OK = '__FLEETFIX_OK__'
MARKER_FAILED = '__FLEETFIX_FAILED__'

REBOOT_DELAY_SECONDS = 2


def _section(name, command):
    # The markers are echoed with no space before the operator: echo keeps trailing spaces.
    return 'echo %s& (%s 2>&1 && echo %s|| echo %s)' % (MARKER_BEGIN % name, command, MARKER_OK, MARKER_FAILED)


def reg_query_command():
    return 'reg query "%s" /v %s' % (POLICY_KEY, VALUE_NAME)


def reg_add_command(value=1):
    return 'reg add "%s" /v %s /t REG_DWORD /d %d /f' % (POLICY_KEY, VALUE_NAME, value)


def reg_delete_command():
    return 'reg delete "%s" /v %s /f' % (POLICY_KEY, VALUE_NAME)


def wmic_os_command():
    return 'wmic os get Caption,Version,LastBootUpTime /value'


def events_command(limit):
    query = "*[System[Provider[@Name='%s'] and (EventID=%d)]]" % (EVENT_PROVIDER, EVENT_ID)
    return 'wevtutil qe System /q:"%s" /c:%d /rd:true /f:xml /e:Events' % (query, limit)


def audit_command(check_events=True, events_limit=50, with_os=True):
    """The one command line that reads the value, the OS and boot time, and the newest 10009 events."""
    sections = [_section('reg', reg_query_command())]
    if with_os:
        sections.append(_section('os', wmic_os_command()))
    if check_events:
        sections.append(_section('events', events_command(events_limit)))
    return ' & '.join(sections)


def boot_time_command():
    return wmic_os_command()


def shutdown_command(delay=REBOOT_DELAY_SECONDS):
    return 'shutdown /r /t %d /c "fleetfix.remediate: %s changed, restarting to apply it" /d p:4:1' % (delay, VALUE_NAME)
