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

from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import encode_powershell

POLICY_KEY = r'HKLM\Software\Policies\Microsoft\Windows NT\Rpc'
# The policy key's ancestors, nearest first, with the name of the child each must list when that child exists.
# Queried only when the key itself cannot be read: an ancestor that lists its subkeys without the next one
# proves the value missing without reading reg.exe's (translated) error sentence.
POLICY_KEY_ANCESTORS = (
    (r'HKLM\Software\Policies\Microsoft\Windows NT', 'Rpc'),
    (r'HKLM\Software\Policies\Microsoft', 'Windows NT'),
    (r'HKLM\Software\Policies', 'Microsoft'),
)
DEFAULT_GPO = 'Default Domain Policy'
VALUE_NAME = 'IgnoreDelegationFailure'
EVENT_PROVIDER = 'Microsoft-Windows-DistributedCOM'
EVENT_ID = 10009

MARKER_BEGIN = '__FLEETFIX_BEGIN_%s__'
MARKER_OK = '__FLEETFIX_OK__'
MARKER_FAILED = '__FLEETFIX_FAILED__'

REBOOT_DELAY_SECONDS = 2


def _section(name, command, on_failure=None):
    """``command`` between markers; ``on_failure`` (more sections) runs only when it failed."""
    # The markers are echoed with no space before the operator: echo keeps trailing spaces.
    failed = 'echo %s' % MARKER_FAILED if on_failure is None else '(echo %s& %s)' % (MARKER_FAILED, on_failure)
    return 'echo %s& (%s 2>&1 && echo %s|| %s)' % (MARKER_BEGIN % name, command, MARKER_OK, failed)


def reg_key_command(key):
    """The values and subkeys of ``key`` (exit 0), or exit 1 when it cannot be read (missing, denied)."""
    return 'reg query "%s"' % key


def reg_query_command():
    return reg_key_command(POLICY_KEY)


def reg_audit_sections():
    """The policy key, and only when it fails its ancestors one after the other (sections reg, reg_up1..3)."""
    chained = None
    for index in range(len(POLICY_KEY_ANCESTORS), 0, -1):
        chained = _section('reg_up%d' % index, reg_key_command(POLICY_KEY_ANCESTORS[index - 1][0]), chained)
    return _section('reg', reg_query_command(), chained)


def reg_add_command(value=1):
    return 'reg add "%s" /v %s /t REG_DWORD /d %d /f' % (POLICY_KEY, VALUE_NAME, value)


def reg_delete_command():
    return 'reg delete "%s" /v %s /f' % (POLICY_KEY, VALUE_NAME)


WMI_OS_PROPERTIES = 'Caption,Version,LastBootUpTime'


def ps_encoded(script):
    """powershell.exe running ``script`` (``-EncodedCommand``: nothing in it meets cmd.exe's parser), stdin closed."""
    return 'powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand %s < NUL' % (
        encode_powershell(script))


def wmic_os_command():
    """The OS and its boot time: wmic, else (Windows Server 2025 and later ship without WMIC) PowerShell 2.0's WMI.

    wmic reads its console input after printing: over a remote shell that input never ends, so
    without ``< NUL`` it hangs. The fallback runs only when wmic failed (exit 9009 "not recognized").
    """
    return '(wmic os get %s /value < NUL || %s)' % (
        WMI_OS_PROPERTIES, ps_encoded('Get-WmiObject Win32_OperatingSystem | Format-List %s' % WMI_OS_PROPERTIES))


def events_command(limit):
    query = "*[System[Provider[@Name='%s'] and (EventID=%d)]]" % (EVENT_PROVIDER, EVENT_ID)
    return 'wevtutil qe System /q:"%s" /c:%d /rd:true /f:xml /e:Events' % (query, limit)


def audit_command(check_events=True, events_limit=50, with_os=True):
    """The one command line that reads the value, the OS and boot time, and the newest 10009 events."""
    sections = [reg_audit_sections()]
    if with_os:
        sections.append(_section('os', wmic_os_command()))
    if check_events:
        sections.append(_section('events', events_command(events_limit)))
    return ' & '.join(sections)


def boot_time_command():
    return wmic_os_command() + ' 2>&1'


def shutdown_command(delay=REBOOT_DELAY_SECONDS):
    return 'shutdown /r /t %d /c "fleetfix.remediate: %s changed, restarting to apply it" /d p:4:1' % (delay, VALUE_NAME)
