# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What Windows prints, as the DCOM 10009 tests feed it, and a stand-in for the WinRM client."""

from __future__ import annotations

import datetime

from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import CommandResult

UTC = datetime.timezone.utc

# reg query output as Windows prints it (Microsoft docs "reg query"; CRLF, four-space columns).
REG_SET = ('\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n'
           '    IgnoreDelegationFailure    REG_DWORD    0x1\r\n\r\n')
REG_ZERO = REG_SET.replace('0x1', '0x0')
REG_MISSING = 'ERROR: The system was unable to find the specified registry key or value.\r\n'
# The same from German and French Windows (reg.exe takes its messages from the system's language).
REG_MISSING_DE = 'FEHLER: Der angegebene Registrierungsschl\u00fcssel bzw. Wert wurde nicht gefunden.\r\n'
REG_MISSING_FR = ("ERREUR\u00a0: le syst\u00e8me n'a pas trouv\u00e9 la cl\u00e9 ou la valeur de Registre "
                  "sp\u00e9cifi\u00e9e.\r\n")
# reg query of the policy key's parent: its subkeys as full paths, without Rpc (the key is missing) or with it.
REG_PARENT_WITHOUT_RPC = ('\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\r\n'
                          'HKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Terminal Services\r\n')
REG_PARENT_WITH_RPC = REG_PARENT_WITHOUT_RPC + 'HKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n'
# The policy key without the value (the key was created, another value set, or the value deleted).
REG_KEY_WITHOUT_VALUE = '\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n'
# wmic os get ... /value: every line ends \r\r\n, 2008 R2's caption with a trailing space.
WMIC = ('\r\r\n\r\r\nCaption=Microsoft Windows Server 2008 R2 Enterprise \r\r\n'
        'LastBootUpTime=20261124102833.719117+000\r\r\nVersion=6.1.7601\r\r\n\r\r\n\r\r\n\r\r\n')
EVENT = ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
         "<Provider Name='Microsoft-Windows-DistributedCOM' Guid='{1B562E86-B7AA-4131-BADC-B6F3A001407E}' "
         "EventSourceName='DCOM'/><EventID Qualifiers='49152'>10009</EventID><Version>0</Version><Level>2</Level>"
         "<Task>0</Task><Opcode>0</Opcode><Keywords>0x80000000000000</Keywords>"
         "<TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID><Correlation/>"
         "<Execution ProcessID='0' ThreadID='0'/><Channel>System</Channel><Computer>ex01.fleetfix.local</Computer>"
         "<Security/></System><EventData><Data Name='param1'>dc01.fleetfix.local</Data></EventData></Event>")


def events_xml(*stamps):
    body = ''.join(EVENT % (stamp, 1000 + index) + '\r\n' for index, stamp in enumerate(stamps))
    return '<Events>\r\n' + body + '</Events>\r\n'


def audit_output(reg=REG_SET, reg_ok=True, wmic=WMIC, events=None, events_ok=True, ancestors=None):
    """The audit's stdout. When the key's query failed, its ancestors' sections follow (``[(body, ok)]``,
    nearest first; by default the parent lists no Rpc key: the value is missing)."""
    events = events_xml('2026-11-24T10:31:33.7191170Z', '2026-11-24T10:20:00.0000000Z') if events is None else events
    sections = [('reg', reg, reg_ok)]
    if not reg_ok:
        for index, (body, ok) in enumerate(ancestors or [(REG_PARENT_WITHOUT_RPC, True)], start=1):
            sections.append(('reg_up%d' % index, body, ok))
    parts = []
    for name, body, ok in sections + [('os', wmic, True), ('events', events, events_ok)]:
        parts.append('__FLEETFIX_BEGIN_%s__\r\n%s%s\r\n' % (name, body, '__FLEETFIX_OK__' if ok else '__FLEETFIX_FAILED__'))
    return ''.join(parts)


class FakeClient:
    """Stands in for _winrm.WinRMClient: answers command lines from a script, records them."""

    def __init__(self, answers, host='ex01'):
        self.host = host
        self.answers = list(answers)
        self.commands = []
        self.resets = 0

    def _answer(self, line):
        self.commands.append(line)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def run(self, command_line):
        return self._answer(command_line)

    def run_powershell(self, script):
        return self._answer(('powershell', script))

    def reset(self):
        self.resets += 1


def ok(stdout='', rc=0, stderr=''):
    return CommandResult(rc, stdout, stderr)


PARAMS = dict(state='present', method='registry', reboot=False, reboot_timeout=600, check_events=True, events_limit=50)


GPO_VIEW = ('\r\nDisplayName      : Default Domain Policy\r\nDomainName       : fleetfix.local\r\n'
            'Owner            : FLEETFIX\\Domain Admins\r\nId               : 31b2f340-016d-11d2-945f-00c04fb984f9\r\n'
            'GpoStatus        : AllSettingsEnabled\r\nDescription      :\r\n\r\n\r\n')
GPO_VALUE = ('\r\nKeyPath     : Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\nFullKeyPath : HKEY_LOCAL_MACHINE\\Software'
             '\\Policies\\Microsoft\\Windows NT\\Rpc\r\nHive        : LocalMachine\r\nPolicyState : Set\r\n'
             'Value       : 1\r\nType        : DWord\r\nValueName   : IgnoreDelegationFailure\r\nHasValue    : True\r\n\r\n\r\n')

# Set-GPRegistryValue denied, as powershell.exe writes it over WinRM (CLIXML on stderr)
GPO_DENIED_CLIXML = (
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    '<S S="Error">Set-GPRegistryValue : Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))_x000D__x000A_</S>'
    '<S S="Error">At line:3 char:1_x000D__x000A_</S>'
    '<S S="Error">    + FullyQualifiedErrorId : System.UnauthorizedAccessException,Microsoft.GroupPolicy.Commands.'
    'SetGPRegistryValueCommand_x000D__x000A_</S></Objs>')

# reg query without /v: the key line, every value, an empty line, then the subkeys (reg.exe's layout).
REG_KEY_LISTING = ('\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n'
                   '    RestrictRemoteClients    REG_DWORD    0x1\r\n'
                   '    IGNOREDELEGATIONFAILURE    REG_QWORD    0x0\r\n'
                   '    Comment    REG_SZ    set by   hand\r\n'
                   '    Empty    REG_SZ\r\n'
                   '\r\n'
                   'HKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\\Sub\r\n')
