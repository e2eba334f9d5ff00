# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation as rpc
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import (
    ACCESS_DENIED,
    UNREACHABLE,
    CommandResult,
    WinRMError,
    decode_clixml,
)

UTC = datetime.timezone.utc

# reg query output as Windows prints it (Microsoft docs "reg query"; CRLF, four-space columns).
REG_SET = ('\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n'
           '    IgnoreDelegationFailure    REG_DWORD    0x1\r\n\r\n')
REG_ZERO = REG_SET.replace('0x1', '0x0')
REG_MISSING = 'ERROR: The system was unable to find the specified registry key or value.\r\n'
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


def audit_output(reg=REG_SET, reg_ok=True, wmic=WMIC, events=None, events_ok=True):
    events = events_xml('2026-11-24T10:31:33.7191170Z', '2026-11-24T10:20:00.0000000Z') if events is None else events
    parts = []
    for name, body, ok in (('reg', reg, reg_ok), ('os', wmic, True), ('events', events, events_ok)):
        parts.append('__FLEETFIX_BEGIN_%s__\r\n%s%s\r\n' % (name, body, '__FLEETFIX_OK__' if ok else '__FLEETFIX_FAILED__'))
    return ''.join(parts)


def test_parse_reg_query():
    assert rpc.parse_reg_query(REG_SET) == ('REG_DWORD', 1)
    assert rpc.parse_reg_query(REG_ZERO) == ('REG_DWORD', 0)
    assert rpc.parse_reg_query(REG_SET.replace('0x1', '0xa')) == ('REG_DWORD', 10)
    assert rpc.parse_reg_query(REG_SET.replace('REG_DWORD    0x1', 'REG_SZ    yes')) == ('REG_SZ', 'yes')
    assert rpc.parse_reg_query(REG_SET.replace('IgnoreDelegationFailure', 'Other')) == (None, None)
    assert rpc.parse_reg_query('') == (None, None)


def test_parse_wmic_and_os_facts():
    facts = rpc.os_facts(rpc.parse_wmic_value(WMIC))
    assert facts['caption'] == 'Microsoft Windows Server 2008 R2 Enterprise'
    assert facts['version'] == '6.1.7601'
    assert facts['affected'] is True
    assert facts['boot_time'] == datetime.datetime(2026, 11, 24, 10, 28, 33, 719117, tzinfo=UTC)
    assert rpc.is_affected('Microsoft Windows Server 2012 R2 Standard', '6.3.9600') is False
    assert rpc.is_affected('Microsoft Windows 7 Professional', '6.1.7601') is False


def test_cim_datetime_offsets():
    assert rpc.parse_cim_datetime('20261124112833.000000+060') == datetime.datetime(2026, 11, 24, 10, 28, 33, tzinfo=UTC)
    assert rpc.parse_cim_datetime('20261124052833.000000-300') == datetime.datetime(2026, 11, 24, 10, 28, 33, tzinfo=UTC)
    assert rpc.parse_cim_datetime('garbage') is None


def test_parse_events_with_and_without_root():
    text = events_xml('2026-11-24T10:31:33.7191170Z')
    events = rpc.parse_events(text)
    assert events == [{'time': datetime.datetime(2026, 11, 24, 10, 31, 33, 719117, tzinfo=UTC), 'record_id': 1000,
                       'event_id': 10009, 'provider': 'Microsoft-Windows-DistributedCOM',
                       'computer': 'ex01.fleetfix.local', 'target': 'dc01.fleetfix.local'}]
    bare = EVENT % ('2026-11-24T10:31:33.7191170Z', 7) + '\r\n' + EVENT % ('2026-11-24T10:31:38.0000000Z', 8) + '\r\n'
    assert [event['record_id'] for event in rpc.parse_events(bare)] == [7, 8]
    assert rpc.parse_events('<Events>\r\n</Events>\r\n') == []
    assert rpc.parse_events('') == []
    with pytest.raises(rpc.DelegationError):
        rpc.parse_events('<Events><Event>')


def test_events_since_boot_counts_and_flags_the_limit():
    boot = datetime.datetime(2026, 11, 24, 10, 28, 33, tzinfo=UTC)
    events = rpc.parse_events(events_xml('2026-11-24T10:31:33.7191170Z', '2026-11-24T10:29:00.0Z',
                                         '2026-11-24T10:00:00.0Z'))
    summary = rpc.events_since(events, boot, limit=50)
    assert summary == {'since_boot': 2, 'complete': True, 'newest': '2026-11-24T10:31:33.719117Z',
                       'newest_target': 'dc01.fleetfix.local'}
    assert rpc.events_since(events[:2], boot, limit=2)['complete'] is False
    assert rpc.events_since([], boot, limit=50) == {'since_boot': 0, 'complete': True, 'newest': None,
                                                    'newest_target': None}


def test_audit_command_is_one_line_with_markers():
    line = rpc.audit_command(events_limit=20)
    assert '\n' not in line
    assert line.startswith('echo __FLEETFIX_BEGIN_reg__& (reg query "HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc"'
                           ' /v IgnoreDelegationFailure 2>&1 && echo __FLEETFIX_OK__|| echo __FLEETFIX_FAILED__)')
    assert 'wmic os get Caption,Version,LastBootUpTime /value' in line
    assert ("wevtutil qe System /q:\"*[System[Provider[@Name='Microsoft-Windows-DistributedCOM'] and "
            "(EventID=10009)]]\" /c:20 /rd:true /f:xml /e:Events") in line
    assert 'wevtutil' not in rpc.audit_command(check_events=False)


def test_split_sections():
    sections = rpc.split_sections(audit_output(reg=REG_MISSING, reg_ok=False))
    assert sections['reg'] == (False, REG_MISSING.rstrip('\r\n'))
    assert sections['os'][0] is True and 'Caption=' in sections['os'][1]
    assert set(sections) == {'reg', 'os', 'events'}


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


def test_manage_sets_the_value_with_one_audit_and_one_write():
    client = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False)), ok('The operation completed successfully.\r\n\r\n')])
    result = rpc.manage(client, PARAMS)
    assert result['changed'] is True
    assert result['before'] == {'value': None} and result['after'] == {'value': 1}
    assert result['reboot_required'] is True and result['rebooted'] is False
    assert result['os']['affected'] is True
    assert result['dcom_10009']['since_boot'] == 1
    assert client.commands[1] == ('reg add "HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc" /v '
                                  'IgnoreDelegationFailure /t REG_DWORD /d 1 /f')


def test_manage_check_mode_writes_nothing():
    client = FakeClient([ok(audit_output(reg=REG_ZERO))])
    result = rpc.manage(client, PARAMS, check_mode=True)
    assert result['changed'] is True and result['after'] == {'value': 1}
    assert len(client.commands) == 1


def test_manage_unchanged_when_set_and_quiet():
    client = FakeClient([ok(audit_output(events=events_xml('2026-11-20T10:00:00.0Z')))])
    result = rpc.manage(client, dict(PARAMS, reboot=True))
    assert result['changed'] is False and result['reboot_required'] is False
    assert result['dcom_10009']['since_boot'] == 0
    assert len(client.commands) == 1


def test_manage_force_reboot_restarts_a_quiet_host_whose_value_is_set():
    old_boot = audit_output(events=events_xml('2026-11-20T10:00:00.0Z'))
    new_wmic = WMIC.replace('20261124102833', '20261124104000')
    clock = iter(range(0, 1000, 2))
    client = FakeClient([
        ok(old_boot),                             # value 1, no event since boot
        ok(''),                                   # shutdown /r
        ok(new_wmic),                             # back, new boot time
        ok(old_boot.replace('20261124102833', '20261124104000')),
    ])
    result = rpc.manage(client, dict(PARAMS, force_reboot=True), sleep=lambda seconds: None, clock=lambda: next(clock))
    assert result['rebooted'] is True and result['changed'] is True and result['reboot_required'] is False
    assert result['before'] == {'value': 1} and result['after'] == {'value': 1}
    assert client.commands[1].startswith('shutdown /r /t 2 /c "')


def test_manage_force_reboot_in_check_mode_only_says_so():
    client = FakeClient([ok(audit_output(events=events_xml('2026-11-20T10:00:00.0Z')))])
    result = rpc.manage(client, dict(PARAMS, force_reboot=True), check_mode=True)
    assert result['changed'] is False and result['reboot_required'] is True and result['rebooted'] is False
    assert len(client.commands) == 1


def test_manage_value_set_but_events_since_boot_means_restart_pending():
    client = FakeClient([ok(audit_output())])
    result = rpc.manage(client, PARAMS)
    assert result['changed'] is False and result['reboot_required'] is True


def test_manage_absent_deletes():
    client = FakeClient([ok(audit_output(reg=REG_SET)), ok('The operation completed successfully.\r\n\r\n')])
    result = rpc.manage(client, dict(PARAMS, state='absent'))
    assert result['after'] == {'value': None}
    assert client.commands[1].startswith('reg delete "HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc" /v')
    quiet = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    assert rpc.manage(quiet, dict(PARAMS, state='absent'))['changed'] is False


def test_manage_access_denied_writing():
    client = FakeClient([ok(audit_output(reg=REG_ZERO)), ok('', 1, 'ERROR: Access is denied.\r\n')])
    with pytest.raises(WinRMError) as caught:
        rpc.manage(client, PARAMS)
    assert caught.value.kind == ACCESS_DENIED
    assert caught.value.message.startswith('Access denied writing HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc')


def test_manage_reboots_and_waits_for_a_new_boot_time():
    new_wmic = WMIC.replace('20261124102833', '20261124104000')
    after = audit_output(events=events_xml('2026-11-24T10:31:33.7191170Z'))
    after = after.replace(REG_SET, REG_SET).replace('20261124102833', '20261124104000')
    clock = iter(range(0, 1000, 2))
    client = FakeClient([
        ok(audit_output(reg=REG_MISSING, reg_ok=False)),
        ok('The operation completed successfully.\r\n\r\n'),
        ok(''),                                   # shutdown /r
        ok(WMIC),                                 # still the old boot
        WinRMError('Host unreachable: refused', UNREACHABLE),
        ok(new_wmic),                             # back, new boot time
        ok(after),                                # audit after the restart
    ])
    result = rpc.manage(client, dict(PARAMS, reboot=True), sleep=lambda seconds: None, clock=lambda: next(clock))
    assert result['rebooted'] is True and result['changed'] is True and result['reboot_required'] is False
    assert result['boot_time'] == '2026-11-24T10:40:00.719117Z'
    assert result['dcom_10009']['since_boot'] == 0
    assert client.commands[2].startswith('shutdown /r /t 2 /c "')
    assert client.resets >= 2


def test_manage_fails_when_the_host_never_comes_back():
    clock = iter(range(0, 1000, 5))
    already_scheduled = ok('', 1190, 'A system shutdown has already been scheduled.(1190)\r\n')
    answers = [ok(audit_output(reg=REG_MISSING, reg_ok=False)), ok(''), already_scheduled]
    answers += [WinRMError('Host unreachable: connection refused.', UNREACHABLE)] * 10
    client = FakeClient(answers)
    with pytest.raises(rpc.DelegationError) as caught:
        rpc.manage(client, dict(PARAMS, reboot=True, reboot_timeout=20), sleep=lambda seconds: None,
                   clock=lambda: next(clock))
    assert caught.value.kind == rpc.NOT_BACK
    assert caught.value.message.endswith(
        'did not come back within reboot_timeout (20 seconds) after the restart (last error: Host unreachable: connection refused).')


GPO_VIEW = ('\r\nDisplayName      : Default Domain Policy\r\nDomainName       : fleetfix.local\r\n'
            'Owner            : FLEETFIX\\Domain Admins\r\nId               : 31b2f340-016d-11d2-945f-00c04fb984f9\r\n'
            'GpoStatus        : AllSettingsEnabled\r\nDescription      :\r\n\r\n\r\n')
GPO_VALUE = ('\r\nKeyPath     : Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\nFullKeyPath : HKEY_LOCAL_MACHINE\\Software'
             '\\Policies\\Microsoft\\Windows NT\\Rpc\r\nHive        : LocalMachine\r\nPolicyState : Set\r\n'
             'Value       : 1\r\nType        : DWord\r\nValueName   : IgnoreDelegationFailure\r\nHasValue    : True\r\n\r\n\r\n')


def test_gpo_set_when_missing_and_unchanged_when_set():
    not_set = 'Get-GPRegistryValue : The following Group Policy registry setting was not found ... UnableToRetrievePolicyRegistryItem'
    client = FakeClient([ok(GPO_VIEW, 1, not_set), ok(GPO_VIEW)])
    result = rpc.manage(client, dict(PARAMS, method='gpo', gpo_name="Exchange's Policy"))
    assert result['changed'] is True and result['before'] == {'value': None} and result['after'] == {'value': 1}
    assert result['gpo_id'] == '31b2f340-016d-11d2-945f-00c04fb984f9'
    assert "Get-GPO -Name 'Exchange''s Policy'" in client.commands[0][1]
    assert "Set-GPRegistryValue -Name 'Exchange''s Policy' -Key 'HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc' " \
           "-ValueName IgnoreDelegationFailure -Type DWord -Value 1" in client.commands[1][1]
    again = FakeClient([ok(GPO_VIEW + GPO_VALUE)])
    assert rpc.manage(again, dict(PARAMS, method='gpo', gpo_name='Default Domain Policy'))['changed'] is False


def test_gpo_not_found():
    stderr = ('Get-GPO : A GPO with the name "Nope" could not be found in the fleetfix.local domain.\n'
              '    + FullyQualifiedErrorId : GpoWithNameNotFound,Microsoft.GroupPolicy.Commands.GetGPOCommand')
    client = FakeClient([ok('', 1, stderr)])
    with pytest.raises(rpc.DelegationError) as caught:
        rpc.manage(client, dict(PARAMS, method='gpo', gpo_name='Nope'))
    assert caught.value.kind == rpc.GPO_NOT_FOUND
    assert caught.value.message.startswith("GPO not found: no Group Policy Object named 'Nope'")
    # Windows' own sentence, without the position and category lines
    assert caught.value.message.endswith('Windows said: Get-GPO : A GPO with the name "Nope" could not be found in '
                                         'the fleetfix.local domain.')


@pytest.mark.parametrize('changes, expected', [
    (dict(method='gpo', gpo_name=' '), 'gpo_name must not be empty'),
    (dict(method='gpo', gpo_name='a;b'), 'not allowed in a GPO name'),
    (dict(method='gpo', gpo_name='X', reboot=True), 'reboot applies to method registry only'),
    (dict(method='gpo', gpo_name='X', force_reboot=True), 'reboot applies to method registry only'),
    (dict(reboot_timeout=5), 'reboot_timeout must be at least 10 seconds'),
    (dict(events_limit=0), 'events_limit must be between 1 and 10000'),
])
def test_validate_params(changes, expected):
    problems = rpc.validate_params(dict(PARAMS, **changes))
    assert any(expected in problem for problem in problems), problems
    assert rpc.validate_params(PARAMS) == []


# Set-GPRegistryValue denied, as powershell.exe writes it over WinRM (CLIXML on stderr)
GPO_DENIED_CLIXML = (
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    '<S S="Error">Set-GPRegistryValue : Access is denied. (Exception from HRESULT: 0x80070005 (E_ACCESSDENIED))_x000D__x000A_</S>'
    '<S S="Error">At line:3 char:1_x000D__x000A_</S>'
    '<S S="Error">    + FullyQualifiedErrorId : System.UnauthorizedAccessException,Microsoft.GroupPolicy.Commands.'
    'SetGPRegistryValueCommand_x000D__x000A_</S></Objs>')


def test_gpo_access_denied_names_the_gpo_and_quotes_windows_decoded():
    client = FakeClient([ok(GPO_VIEW, 1, 'Get-GPRegistryValue : ... UnableToRetrievePolicyRegistryItem'),
                         ok('', 1, decode_clixml(GPO_DENIED_CLIXML))], host='dc01')
    with pytest.raises(rpc.DelegationError) as caught:
        rpc.manage(client, dict(PARAMS, method='gpo', gpo_name='Default Domain Policy'))
    assert caught.value.kind == ACCESS_DENIED
    assert caught.value.message.startswith("Access denied writing HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc"
                                           "\\IgnoreDelegationFailure in GPO 'Default Domain Policy' through dc01")
    assert caught.value.message.endswith('Windows said: Set-GPRegistryValue : Access is denied. (Exception from HRESULT: '
                                         '0x80070005 (E_ACCESSDENIED))')
    assert 'CLIXML' not in caught.value.message and '_x000D_' not in caught.value.message


def test_gpo_on_a_member_server_without_the_grouppolicy_module():
    missing = ("Import-Module : The specified module 'GroupPolicy' was not loaded because no valid module file was "
               "found in any module directory.\n    + FullyQualifiedErrorId : Modules_ModuleNotFound,...")
    client = FakeClient([ok('', 1, missing)], host='ex01')
    with pytest.raises(rpc.DelegationError) as caught:
        rpc.manage(client, dict(PARAMS, method='gpo'))
    assert caught.value.message.startswith('ex01 has no GroupPolicy PowerShell module')
    assert "Windows said: Import-Module : The specified module 'GroupPolicy' was not loaded" in caught.value.message


def test_messages_name_the_host_by_its_label():
    client = FakeClient([ok(audit_output(reg=REG_ZERO)), ok('', 1, 'ERROR: Access is denied.\r\n')])
    client.label = '127.0.0.1:15992'
    with pytest.raises(WinRMError) as caught:
        rpc.manage(client, PARAMS)
    assert 'IgnoreDelegationFailure on 127.0.0.1:15992:' in caught.value.message


# reg query without /v: the key line, every value, an empty line, then the subkeys (reg.exe's layout).
REG_KEY_LISTING = ('\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n'
                   '    RestrictRemoteClients    REG_DWORD    0x1\r\n'
                   '    IGNOREDELEGATIONFAILURE    REG_QWORD    0x0\r\n'
                   '    Comment    REG_SZ    set by   hand\r\n'
                   '    Empty    REG_SZ\r\n'
                   '\r\n'
                   'HKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\\Sub\r\n')


def test_parse_reg_query_listing_of_a_whole_key():
    # value names are case-insensitive on Windows; QWORDs print as hex like DWORDs
    assert rpc.parse_reg_query(REG_KEY_LISTING) == ('REG_QWORD', 0)
    assert rpc.parse_reg_query(REG_KEY_LISTING, 'RestrictRemoteClients') == ('REG_DWORD', 1)
    # string data keeps its inner spaces; a value without data is an empty string
    assert rpc.parse_reg_query(REG_KEY_LISTING, 'Comment') == ('REG_SZ', 'set by   hand')
    assert rpc.parse_reg_query(REG_KEY_LISTING, 'Empty') == ('REG_SZ', '')
    # the subkey line and the key line are not values
    assert rpc.parse_reg_query(REG_KEY_LISTING, 'Sub') == (None, None)
    # a value line must start with reg.exe's four spaces
    assert rpc.parse_reg_query('IgnoreDelegationFailure    REG_DWORD    0x1\r\n') == (None, None)


def test_parse_reg_query_unexpected_dword_text_is_kept():
    assert rpc.parse_reg_query(REG_SET.replace('0x1', 'garbage')) == ('REG_DWORD', 'garbage')


def test_read_state_missing_value_and_reg_failures():
    client = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    assert rpc.read_state(client, True, 50, 'ex01')['value'] is None
    denied = FakeClient([ok(audit_output(reg='ERROR: Access is denied.\r\n', reg_ok=False))])
    with pytest.raises(rpc.DelegationError) as caught:
        rpc.read_state(denied, True, 50, 'ex01')
    assert caught.value.kind == ACCESS_DENIED
    assert 'reg query HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc on ex01 failed: ERROR: Access is denied.' \
        in caught.value.message
    # cmd.exe itself failed: no section markers at all
    broken = FakeClient([ok('', 1, "'reg' is not recognized as an internal or external command,\r\n")])
    with pytest.raises(rpc.DelegationError, match="did not run as expected \\(exit 1\\): 'reg' is not recognized"):
        rpc.read_state(broken, True, 50, 'ex01')


def test_read_state_tolerates_failing_wmic_and_wevtutil_with_warnings():
    wmic_error = 'Node - EX01\r\r\nERROR:\r\r\nDescription = Invalid query\r\r\n\r\r\n'
    output = audit_output(events='Failed to read events. The specified query is invalid.\r\n', events_ok=False)
    output = output.replace('__FLEETFIX_BEGIN_os__\r\n' + WMIC + '__FLEETFIX_OK__',
                            '__FLEETFIX_BEGIN_os__\r\n' + wmic_error + '__FLEETFIX_FAILED__')
    state = rpc.read_state(FakeClient([ok(output)]), True, 50, 'ex01')
    assert state['value'] == 1
    assert state['os'] is None and state['boot_time'] is None and state['events'] is None
    assert state['warnings'] == ['wmic os on ex01 failed: Node - EX01 ERROR: Description = Invalid query',
                                 'wevtutil on ex01 failed: Failed to read events. The specified query is invalid.']


def test_split_sections_drops_a_section_without_its_closing_marker():
    text = '__FLEETFIX_BEGIN_reg__\r\n' + REG_SET + '__FLEETFIX_OK__\r\n__FLEETFIX_BEGIN_os__\r\nCaption=X\r\r\n'
    sections = rpc.split_sections(text)
    assert set(sections) == {'reg'}


def test_wmic_table_noise_and_caption_space():
    properties = rpc.parse_wmic_value('\r\r\n\r\r\nCaption=Microsoft Windows Server 2008 R2 Standard \r\r\n'
                                      'Version=6.1.7600\r\r\n\r\r\n')
    assert properties == {'Caption': 'Microsoft Windows Server 2008 R2 Standard', 'Version': '6.1.7600'}
    facts = rpc.os_facts(properties)
    assert facts['affected'] is True and facts['boot_time'] is None
    assert rpc.is_affected('Microsoft Windows Server 2008 Enterprise', '6.0.6002') is False
    assert rpc.is_affected('Microsoft® Windows Server® 2008 R2 Datacenter', '6.1.7601') is True


def test_parse_event_time_precisions():
    assert rpc.parse_event_time('2026-11-24T10:31:33.7191170Z') == datetime.datetime(2026, 11, 24, 10, 31, 33, 719117, tzinfo=UTC)
    assert rpc.parse_event_time('2026-11-24T10:31:33.5Z') == datetime.datetime(2026, 11, 24, 10, 31, 33, 500000, tzinfo=UTC)
    assert rpc.parse_event_time('2026-11-24T10:31:33Z') == datetime.datetime(2026, 11, 24, 10, 31, 33, tzinfo=UTC)
    assert rpc.parse_event_time('24/11/2026 10:31') is None
    assert rpc.parse_event_time(None) is None


def test_parse_events_keeps_events_without_data_or_time():
    bare = ("<Events><Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
            "<Provider Name='Microsoft-Windows-DistributedCOM'/><EventID>10009</EventID>"
            "<Computer>ex01</Computer></System></Event></Events>")
    assert rpc.parse_events(bare) == [{'time': None, 'record_id': None, 'event_id': 10009,
                                       'provider': 'Microsoft-Windows-DistributedCOM', 'computer': 'ex01', 'target': None}]
    # an event without a time counts for nothing, and the boot time unknown means no count at all
    summary = rpc.events_since(rpc.parse_events(bare), None, limit=50)
    assert summary == {'since_boot': None, 'complete': True, 'newest': None, 'newest_target': None}


def test_events_newest_first_whatever_the_output_order():
    boot = datetime.datetime(2026, 11, 24, 10, 28, 33, tzinfo=UTC)
    events = rpc.parse_events(events_xml('2026-11-24T10:00:00.0Z', '2026-11-24T10:40:00.0Z', '2026-11-24T10:30:00.0Z'))
    summary = rpc.events_since(events, boot, limit=50)
    assert summary['newest'] == '2026-11-24T10:40:00Z'
    assert summary['since_boot'] == 2


def test_events_command_escapes_nothing_it_does_not_need():
    assert rpc.events_command(5) == ('wevtutil qe System /q:"*[System[Provider[@Name=\'Microsoft-Windows-DistributedCOM\'] '
                                     'and (EventID=10009)]]" /c:5 /rd:true /f:xml /e:Events')


@pytest.mark.parametrize('changes, expected', [
    (dict(method='gpo', gpo_name='Bad; Remove-Item C:\\'), "holds a character not allowed"),
    (dict(method='gpo', gpo_name='$(whoami)'), "holds a character not allowed"),
    (dict(method='gpo', gpo_name='two\nlines'), "holds a character not allowed"),
    (dict(reboot_timeout=5), 'reboot_timeout must be at least 10 seconds, not 5'),
    (dict(events_limit=10001), 'events_limit must be between 1 and 10000, not 10001'),
])
def test_validate_params_more(changes, expected):
    problems = rpc.validate_params(dict(PARAMS, **changes))
    assert any(expected in problem for problem in problems), problems


def test_validate_params_accepts_the_defaults_and_quoted_gpo_names():
    assert rpc.validate_params(PARAMS) == []
    assert rpc.validate_params(dict(PARAMS, method='gpo', gpo_name="Exchange's (CAS) Policy")) == []


# -- one task for a fleet -----------------------------------------------------------------------
def test_fleet_problems_name_what_a_fleet_task_cannot_do():
    assert rpc.fleet_problems(dict(PARAMS, max_workers=16), run_once=True, play_hosts=40) == []
    # a play of one host needs no run_once
    assert rpc.fleet_problems(dict(PARAMS, max_workers=16), run_once=False, play_hosts=1) == []
    problems = rpc.fleet_problems(dict(PARAMS, reboot=True, method='gpo', winrm_host='ex01', max_workers=0),
                                  run_once=False, play_hosts=40)
    assert problems[0].startswith('fleet acts on every host it names from one task: add run_once: true')
    assert 'each of the 40 hosts of the play would act on the whole fleet' in problems[0]
    assert problems[1].startswith('fleet does not restart hosts')
    assert problems[2].startswith('fleet applies to method registry')
    assert problems[3].startswith('winrm_host names one host')
    assert problems[4] == 'max_workers must be 1 or more, not 0.'


def test_the_module_process_refuses_fleet():
    assert rpc.validate_params(dict(PARAMS, fleet=['ex01']))[0].startswith('fleet needs the inventory variables')


def host_result(changed=True, since_boot=3, affected=True, **extra):
    result = {'changed': changed, 'method': 'registry', 'before': {'value': None}, 'after': {'value': 1},
              'reboot_required': changed, 'rebooted': False, 'os': {'affected': affected}, 'boot_time': 'T',
              'dcom_10009': {'since_boot': since_boot}, 'invocation': {'module_args': {}}, 'warnings': []}
    result.update(extra)
    return result


def test_fleet_result_reports_every_host_and_fails_naming_the_failed_ones():
    result = rpc.fleet_result([
        ('ex01', host_result(diff={'before': {'value': None}, 'after': {'value': 1}}, warnings=['wevtutil slow'])),
        ('ex02', {'failed': True, 'msg': 'Authentication failed for FLEETFIX\\administrator on ex02',
                  'error_kind': 'authentication'}),
        ('ex03', host_result(changed=False, since_boot=0, affected=False, reboot_required=False,
                             diff={'before': {'value': 1}, 'after': {'value': 1}})),
    ])
    assert result['changed'] is True and result['failed'] is True
    assert result['msg'] == ('1 of 3 hosts failed: ex02: Authentication failed for FLEETFIX\\administrator on ex02')
    assert [entry['name'] for entry in result['hosts']] == ['ex01', 'ex02', 'ex03']
    ex01, ex02, ex03 = result['hosts']
    assert ex01['changed'] is True and ex01['failed'] is None and ex01['after'] == {'value': 1}
    assert 'invocation' not in ex01 and 'warnings' not in ex01 and 'diff' not in ex01
    assert ex02 == {'name': 'ex02', 'changed': False, 'skipped': None, 'error_kind': 'authentication',
                    'failed': 'Authentication failed for FLEETFIX\\administrator on ex02'}
    assert ex03['changed'] is False and ex03['reboot_required'] is False
    assert result['summary'] == {'total': 3, 'changed': 1, 'ok': 2, 'skipped': 0, 'failed': 1,
                                 'reboot_required': 1, 'affected': 1, 'logging_10009': 1}
    assert result['warnings'] == ['ex01: wevtutil slow']
    # the diff of the host that changed, named
    assert result['diff'] == [{'before': {'value': None}, 'after': {'value': 1},
                               'before_header': 'ex01 (before)', 'after_header': 'ex01 (after)'}]


def test_a_fleet_with_nothing_to_do():
    result = rpc.fleet_result([('ex01', host_result(changed=False, since_boot=0))])
    assert result['changed'] is False and 'failed' not in result and 'diff' not in result
    assert rpc.fleet_result([])['summary']['total'] == 0
