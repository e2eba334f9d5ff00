# Private to this repository's tests: the WinRM peer's cmd.exe and tool emulation (COMMANDS.md).
from __future__ import annotations

import base64
import datetime
import re
import xml.etree.ElementTree as ET

import pytest

from winrm_peer.cmd import Env, parse, run_line, split_args, ParseError
from winrm_peer.model import Fleet, POLICY_KEY, POLICY_VALUE
from winrm_peer.tools import XPathFilter, XPathError, clixml_error

KEY = '"HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc"'
NOT_FOUND = 'ERROR: The system was unable to find the specified registry key or value.\r\n'


@pytest.fixture
def fleet():
    return Fleet(hosts=4, event_interval=5.0, restart_seconds=0.2)


def run(fleet, line, host='ex01'):
    result = run_line(line, Env(fleet.hosts[host], fleet, 'FLEETFIX\\administrator'))
    return result.stdout, result.stderr, result.code


def encoded(script):
    return base64.b64encode(script.encode('utf-16-le')).decode()


# -- cmd.exe ----------------------------------------------------------------------------
def test_unknown_command_is_cmd_exe_9009(fleet):
    assert run(fleet, 'nosuch /x') == (
        '', "'nosuch' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n", 9009)


def test_operators_follow_exit_codes(fleet):
    assert run(fleet, 'reg query %s /v X 2>nul && echo yes || echo no' % KEY) == ('no\r\n', '', 1)
    # cmd keeps the space before the operator in echo's text
    assert run(fleet, 'hostname && echo yes || echo no') == ('EX01\r\nyes \r\n', '', 0)
    assert run(fleet, '(hostname & whoami) >nul & echo done') == ('done\r\n', '', 0)


def test_errorlevel_is_expanded_when_the_line_is_read(fleet):
    # cmd expands %ERRORLEVEL% once, before anything on the line ran
    assert run(fleet, 'reg query %s /v X 2>nul & echo rc=%%ERRORLEVEL%%' % KEY) == ('rc=0\r\n', '', 1)


def test_delayed_expansion_in_nested_cmd(fleet):
    out, err, code = run(fleet, 'cmd.exe /v:on /c "reg query %s /v X 2>nul & echo rc=!ERRORLEVEL!"' % KEY)
    assert (out, err, code) == ('rc=1\r\n', '', 1)
    # without /v:on the exclamation marks stay
    assert run(fleet, 'cmd /c echo !ERRORLEVEL!')[0] == '!ERRORLEVEL!\r\n'


def test_redirections(fleet):
    assert run(fleet, 'reg query %s /v X 2>&1' % KEY) == (NOT_FOUND, '', 1)
    assert run(fleet, 'hostname 1>&2') == ('', 'EX01\r\n', 0)
    assert run(fleet, 'hostname >nul') == ('', '', 0)
    assert run(fleet, 'hostname > C:\\out.txt')[2] == 1


def test_quotes_protect_operators_and_spaces():
    assert split_args('reg query "HKLM\\A B" /v "x & y"') == ['reg', 'query', 'HKLM\\A B', '/v', 'x & y']
    assert len(parse('echo "a & b" & hostname')) == 2
    with pytest.raises(ParseError):
        parse('(hostname')
    with pytest.raises(ParseError):
        parse('hostname && ')


def test_echo_keeps_errorlevel_and_text(fleet):
    assert run(fleet, 'echo hello world') == ('hello world\r\n', '', 0)
    assert run(fleet, 'echo.') == ('\r\n', '', 0)


def test_hostname_and_whoami(fleet):
    assert run(fleet, 'hostname', 'ex03') == ('EX03\r\n', '', 0)
    assert run(fleet, 'C:\\Windows\\System32\\whoami.exe') == ('fleetfix\\administrator\r\n', '', 0)


# -- reg.exe ----------------------------------------------------------------------------
def test_reg_query_missing_value(fleet):
    assert run(fleet, 'reg query %s /v IgnoreDelegationFailure' % KEY) == ('', NOT_FOUND, 1)


def test_reg_add_then_query_prints_the_documented_lines(fleet):
    assert run(fleet, 'reg add %s /v IgnoreDelegationFailure /t REG_DWORD /d 1 /f' % KEY) == (
        'The operation completed successfully.\r\n\r\n', '', 0)
    assert run(fleet, 'reg query %s /v ignoredelegationfailure' % KEY) == (
        '\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n'
        '    IgnoreDelegationFailure    REG_DWORD    0x1\r\n\r\n', '', 0)
    assert fleet.hosts['ex01'].get_policy_value() == 1
    assert fleet.hosts['ex02'].get_policy_value() is None


def test_reg_dword_is_printed_in_hex(fleet):
    run(fleet, 'reg add %s /v Other /t REG_DWORD /d 10 /f' % KEY)
    run(fleet, 'reg add %s /v Zero /t REG_DWORD /d 0x0 /f' % KEY)
    out = run(fleet, 'reg query %s' % KEY)[0]
    assert '    Other    REG_DWORD    0xa\r\n' in out
    assert '    Zero    REG_DWORD    0x0\r\n' in out


def test_reg_query_parent_lists_subkeys(fleet):
    run(fleet, 'reg add %s /v IgnoreDelegationFailure /t REG_DWORD /d 1 /f' % KEY)
    out, _err, code = run(fleet, 'reg query "HKLM\\Software\\Policies\\Microsoft\\Windows NT"')
    assert code == 0
    assert out.endswith('HKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n')


def test_reg_add_without_force_cannot_prompt(fleet):
    run(fleet, 'reg add %s /v IgnoreDelegationFailure /t REG_DWORD /d 1 /f' % KEY)
    out, _err, code = run(fleet, 'reg add %s /v IgnoreDelegationFailure /t REG_DWORD /d 0' % KEY)
    assert code == 1 and 'overwrite(Yes/No)?' in out
    assert fleet.hosts['ex01'].get_policy_value() == 1


def test_reg_delete(fleet):
    assert run(fleet, 'reg delete %s /v IgnoreDelegationFailure /f' % KEY) == ('', NOT_FOUND, 1)
    run(fleet, 'reg add %s /v IgnoreDelegationFailure /t REG_DWORD /d 1 /f' % KEY)
    assert run(fleet, 'reg delete %s /v IgnoreDelegationFailure /f' % KEY) == (
        'The operation completed successfully.\r\n\r\n', '', 0)
    assert fleet.hosts['ex01'].get_policy_value() is None


def test_reg_access_denied(fleet):
    fleet.hosts['ex01'].faults['access_denied'] = True
    assert run(fleet, 'reg add %s /v IgnoreDelegationFailure /t REG_DWORD /d 1 /f' % KEY) == (
        '', 'ERROR: Access is denied.\r\n', 1)
    assert run(fleet, 'reg query %s /v IgnoreDelegationFailure' % KEY)[2] == 1  # reading is allowed


@pytest.mark.parametrize('line', [
    'reg query',
    'reg query %s /v' % KEY,
    'reg add %s /v X /t REG_DWORD /d notanumber /f' % KEY,
    'reg add %s /v X /t REG_DWORD /d 4294967296 /f' % KEY,
    'reg query NOROOT\\Software',
])
def test_reg_bad_syntax(fleet, line):
    _out, err, code = run(fleet, line)
    assert code == 1 and err.startswith('ERROR: Invalid syntax.\r\nType "REG ')


# -- wmic.exe ---------------------------------------------------------------------------
def test_wmic_value_format_is_sorted_with_wmic_line_ends(fleet):
    host = fleet.hosts['ex01']
    out, err, code = run(fleet, 'wmic os get Version,LastBootUpTime,Caption /value < NUL')
    assert (err, code) == ('', 0)
    boot = host.boot_time.astimezone(datetime.timezone.utc).strftime('%Y%m%d%H%M%S.%f') + '+000'
    assert out == ('\r\r\n\r\r\nCaption=Microsoft Windows Server 2008 R2 Enterprise \r\r\n'
                   'LastBootUpTime=%s\r\r\nVersion=6.1.7601\r\r\n\r\r\n\r\r\n\r\r\n' % boot)
    assert re.match(r'^\d{14}\.\d{6}\+\d{3}$', boot)


def test_wmic_2012r2_host_and_table_format(fleet):
    out = run(fleet, 'wmic os get Caption,Version <NUL', 'ex04')[0]
    assert out.split('\r\r\n')[1].split() == ['Microsoft', 'Windows', 'Server', '2012', 'R2', 'Standard', '6.3.9600']
    assert run(fleet, 'wmic os get Caption /format:list < nul', 'ex04')[0] == (
        '\r\r\n\r\r\nCaption=Microsoft Windows Server 2012 R2 Standard\r\r\n\r\r\n\r\r\n\r\r\n')


def test_wmic_unknown_property(fleet):
    assert run(fleet, 'wmic os get Nope /value < NUL')[2] == 44135


# -- wevtutil.exe -----------------------------------------------------------------------
DCOM_QUERY = "*[System[Provider[@Name='Microsoft-Windows-DistributedCOM'] and (EventID=10009)]]"


def test_wevtutil_xml_events_parse_as_one_document(fleet):
    out, _err, code = run(fleet, 'wevtutil qe System /q:"%s" /c:3 /rd:true /f:xml /e:Events' % DCOM_QUERY)
    assert code == 0
    root = ET.fromstring(out)
    namespace = '{http://schemas.microsoft.com/win/2004/08/events/event}'
    events = root.findall(namespace + 'Event')
    assert len(events) == 3
    provider = events[0].find(namespace + 'System/' + namespace + 'Provider')
    assert provider.get('Name') == 'Microsoft-Windows-DistributedCOM'
    assert provider.get('EventSourceName') == 'DCOM'
    assert events[0].find(namespace + 'System/' + namespace + 'EventID').text == '10009'
    times = [event.find(namespace + 'System/' + namespace + 'TimeCreated').get('SystemTime') for event in events]
    assert times == sorted(times, reverse=True)
    assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$', times[0])


def test_wevtutil_xml_without_root_is_bare_events(fleet):
    out = run(fleet, 'wevtutil qe System /q:"%s" /c:2 /f:xml' % DCOM_QUERY)[0]
    assert out.startswith('<Event xmlns=') and out.count('\r\n') == 2


def test_wevtutil_since_boot_counts_only_this_boot(fleet):
    host = fleet.hosts['ex01']
    boot = host.boot_time.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'
    query = ("*[System[Provider[@EventSourceName='DCOM'] and EventID=10009 and TimeCreated[@SystemTime>='%s']]]"
             % boot)
    out = run(fleet, 'wevtutil qe System /q:"%s" /f:xml /e:Events' % query)[0]
    count = len(ET.fromstring(out))
    assert count == host.describe()['events_since_boot'] > 10  # 3 minutes at one event every 5 s


def test_wevtutil_events_stop_after_a_restart_with_the_value(fleet):
    host = fleet.hosts['ex02']
    run(fleet, 'reg add %s /v IgnoreDelegationFailure /t REG_DWORD /d 1 /f' % KEY, 'ex02')
    assert host.describe()['effective_value'] is None
    run(fleet, 'shutdown /r /t 0', 'ex02')
    later = host.shutdown_at + datetime.timedelta(seconds=1)
    host.tick(later)
    assert not host.up
    host.tick(later + datetime.timedelta(seconds=1))
    assert host.up and host.restarts == 1 and host.effective_value == 1
    host.tick(later + datetime.timedelta(seconds=60))
    assert [event for event in host.events if event.event_id == 10009 and event.created >= host.boot_time] == []


def test_a_host_that_keeps_logging_logs_after_the_restart_with_the_value(fleet):
    host = fleet.hosts['ex03']
    host.update({'faults': {'keeps_logging': True}})
    run(fleet, 'reg add %s /v IgnoreDelegationFailure /t REG_DWORD /d 1 /f' % KEY, 'ex03')
    run(fleet, 'shutdown /r /t 0', 'ex03')
    later = host.shutdown_at + datetime.timedelta(seconds=1)
    host.tick(later)
    host.tick(later + datetime.timedelta(seconds=1))
    assert host.up and host.restarts == 1 and host.effective_value == 1
    host.tick(later + datetime.timedelta(seconds=60))
    assert len([event for event in host.events if event.event_id == 10009 and event.created >= host.boot_time]) >= 11


def test_wevtutil_text_format(fleet):
    out = run(fleet, 'wevtutil qe System /q:"%s" /c:1 /rd:true /f:text' % DCOM_QUERY)[0]
    lines = out.split('\r\n')
    assert lines[0] == 'Event[0]:'
    assert lines[1:5] == ['  Log Name: System', '  Source: Microsoft-Windows-DistributedCOM',
                          lines[3], '  Event ID: 10009']
    assert re.match(r'^  Date: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$', lines[3])
    assert lines[-3] == ('DCOM was unable to communicate with the computer dc01.fleetfix.local using any of the '
                         'configured protocols.')


def test_wevtutil_timediff_and_errors(fleet):
    assert run(fleet, 'wevtutil qe System /q:"*[System[EventID=6005 and TimeCreated[timediff(@SystemTime) <= 60000]]]"')[0] == ''
    assert run(fleet, 'wevtutil qe System /q:"*[System[EventID=6005 and TimeCreated[timediff(@SystemTime) <= 86400000]]]"')[0].count('Event[') == 1
    assert run(fleet, 'wevtutil qe System /q:"*[System[Bogus=1]]"') == (
        '', 'Failed to read events. The specified query is invalid.\r\n', 15001)
    assert run(fleet, 'wevtutil qe Application')[2] == 15007


def test_xpath_and_binds_tighter_than_or(fleet):
    # 6005 (any time) or (10009 and in the last second): boot events only, not the old 10009s
    query = "*[System[EventID=6005 or EventID=10009 and TimeCreated[timediff(@SystemTime) <= 1]]]"
    out = run(fleet, 'wevtutil qe System /q:"%s" /f:text' % query)[0]
    assert out.count('Event ID: 6005') == 2
    assert out.count('Event ID: 10009') <= 1


@pytest.mark.parametrize('query', ['*[System[EventID=]]', '*[Other[EventID=1]]', "*[System[Provider[@Guid='x']]]"])
def test_xpath_rejects_what_it_does_not_understand(query):
    with pytest.raises((XPathError, ValueError)):
        XPathFilter(query)


# -- shutdown.exe -----------------------------------------------------------------------
def test_shutdown_schedule_twice_and_abort(fleet):
    assert run(fleet, 'shutdown /r /t 60 /c "DCOM 10009 fix"') == ('', '', 0)
    assert run(fleet, 'shutdown /r /t 60') == ('', 'A system shutdown has already been scheduled.(1190)\r\n', 1190)
    assert run(fleet, 'shutdown /a') == ('', '', 0)
    assert run(fleet, 'shutdown /a')[2] == 1116
    assert run(fleet, 'shutdown /r /t -1')[2] == 87


# -- powershell.exe ---------------------------------------------------------------------
def test_group_policy_cmdlets_on_the_domain_controller(fleet):
    key = 'HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc'
    script = ("Import-Module GroupPolicy; Set-GPRegistryValue -Name 'Default Domain Policy' -Key '%s' "
              "-ValueName IgnoreDelegationFailure -Type DWord -Value 1 | Out-Null; "
              "Get-GPRegistryValue -Name 'Default Domain Policy' -Key '%s' -ValueName IgnoreDelegationFailure"
              % (key, key))
    out, err, code = run(fleet, 'powershell.exe -NoProfile -NonInteractive -EncodedCommand ' + encoded(script), 'dc01')
    assert (err, code) == ('', 0)
    assert out == ('\r\nKeyPath     : Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n'
                   'FullKeyPath : HKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n'
                   'Hive        : LocalMachine\r\nPolicyState : Set\r\nValue       : 1\r\nType        : DWord\r\n'
                   'ValueName   : IgnoreDelegationFailure\r\nHasValue    : True\r\n\r\n\r\n')
    assert fleet.find_gpo('default domain policy').describe()['values'][0]['value'] == 1
    remove = "Import-Module GroupPolicy; Remove-GPRegistryValue -Name 'Default Domain Policy' -Key '%s' " \
             "-ValueName IgnoreDelegationFailure" % key
    assert run(fleet, 'powershell -EncodedCommand ' + encoded(remove), 'dc01')[2] == 0
    assert fleet.find_gpo('Default Domain Policy').values == {}


def test_get_gpo_default_view(fleet):
    out = run(fleet, 'powershell -EncodedCommand ' + encoded("Import-Module GroupPolicy; Get-GPO -Name 'Default Domain Policy'"), 'dc01')[0]
    lines = out.split('\r\n')
    assert lines[1] == 'DisplayName      : Default Domain Policy'
    assert lines[4] == 'Id               : 31b2f340-016d-11d2-945f-00c04fb984f9'
    assert lines[6] == 'Description      :'


def test_powershell_errors_are_clixml_on_stderr(fleet):
    out, err, code = run(fleet, 'powershell -EncodedCommand ' + encoded("Import-Module GroupPolicy; Get-GPO -Name Nope"), 'dc01')
    assert (out, code) == ('', 1)
    assert err.startswith('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">')
    root = ET.fromstring(err[len('#< CLIXML\r\n'):])
    lines = [node.text for node in root]
    assert lines[0] == 'Get-GPO : A GPO with the name "Nope" could not be found in the fleetfix.local domain._x000D__x000A_'
    assert 'FullyQualifiedErrorId : GpoWithNameNotFound,Microsoft.GroupPolicy.Commands.GetGPOCommand' in lines[5]


def test_group_policy_module_only_on_the_domain_controller(fleet):
    _out, err, code = run(fleet, 'powershell -EncodedCommand ' + encoded('Import-Module GroupPolicy'), 'ex01')
    assert code == 1 and 'Modules_ModuleNotFound' in err


def test_group_policy_access_denied(fleet):
    fleet.hosts['dc01'].faults['access_denied'] = True
    script = "Import-Module GroupPolicy; Set-GPRegistryValue -Name 'Default Domain Policy' -Key 'HKLM\\X' -ValueName V -Type DWord -Value 1"
    _out, err, code = run(fleet, 'powershell -EncodedCommand ' + encoded(script), 'dc01')
    assert code == 1 and 'E_ACCESSDENIED' in err


def test_clixml_matches_pywinrm_decoding():
    winrm = pytest.importorskip('winrm')
    text = clixml_error(['Get-GPO : first', 'At line:1 char:1'])
    decoded = winrm.Session('http://127.0.0.1:1/wsman', auth=('u', 'p'))._clean_error_msg(text.encode())  # pylint: disable=protected-access
    assert decoded == b'Get-GPO : first\nAt line:1 char:1'


def test_control_view_of_a_fresh_host(fleet):
    view = fleet.hosts['ex04'].describe()
    assert view['registry'] == {POLICY_VALUE: None}
    assert view['effective_value'] is None
    assert view['os'] == {'caption': 'Microsoft Windows Server 2012 R2 Standard', 'version': '6.3.9600'}
    assert POLICY_KEY.startswith('HKEY_LOCAL_MACHINE\\')
    with pytest.raises(ValueError):
        fleet.hosts['ex04'].update({'faults': {'nope': True}})
