# Private to this repository's tests: the WinRM peer's field servers (localized Windows, Kerberos only,
# no WMIC), PowerShell's quote rules, wmic without stdin, slow commands and the w:TimedOut fault.
from __future__ import annotations

import base64
import json
import os
import time
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_host as host_io
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import CommandResult
from winrm_peer.cmd import Env, run_line
from winrm_peer.model import FIELD_HOSTS, Fleet
from winrm_peer.tools import powershell, ps_words

KEY = '"HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc"'
PARENT = '"HKLM\\Software\\Policies\\Microsoft\\Windows NT"'


@pytest.fixture
def fleet():
    return Fleet(hosts=1, event_interval=5.0, restart_seconds=0.2)


def run(fleet, line, host='ex01'):
    return run_line(line, Env(fleet.hosts[host], fleet, 'FLEETFIX\\administrator'))


def test_field_servers_are_in_the_fleet(fleet):
    assert set(FIELD_HOSTS) <= set(fleet.hosts)
    assert fleet.hosts['exde01'].describe()['language'] == 'de-DE'
    assert fleet.hosts['exfr01'].describe()['language'] == 'fr-FR'
    assert fleet.hosts['exkrb01'].describe()['auth'] == 'kerberos'
    assert fleet.hosts['exnowmic01'].describe()['wmic'] is False
    assert fleet.hosts['exnowmic01'].describe()['os']['caption'] == 'Microsoft Windows Server 2025 Standard'


@pytest.mark.parametrize('host, missing, done', [
    ('ex01', 'ERROR: The system was unable to find the specified registry key or value.\r\n',
     'The operation completed successfully.\r\n\r\n'),
    ('exde01', 'FEHLER: Der angegebene Registrierungsschl\u00fcssel bzw. Wert wurde nicht gefunden.\r\n',
     'Der Vorgang wurde erfolgreich beendet.\r\n\r\n'),
    ('exfr01', "ERREUR\u00a0: le syst\u00e8me n'a pas trouv\u00e9 la cl\u00e9 ou la valeur de Registre "
               "sp\u00e9cifi\u00e9e.\r\n", "L\u2019op\u00e9ration a r\u00e9ussi.\r\n\r\n"),
])
def test_reg_speaks_the_hosts_language_exit_codes_and_value_lines_do_not(fleet, host, missing, done):
    result = run(fleet, 'reg query %s /v IgnoreDelegationFailure' % KEY, host)
    assert (result.stdout, result.stderr, result.code) == ('', missing, 1)
    added = run(fleet, 'reg add %s /v IgnoreDelegationFailure /t REG_DWORD /d 1 /f' % KEY, host)
    assert (added.stdout, added.code) == (done, 0)
    listing = run(fleet, 'reg query %s' % KEY, host)
    assert '    IgnoreDelegationFailure    REG_DWORD    0x1\r\n' in listing.stdout
    parent = run(fleet, 'reg query %s' % PARENT, host).stdout
    assert 'HKEY_LOCAL_MACHINE\\Software\\Policies\\Microsoft\\Windows NT\\Rpc\r\n' in parent


def test_localized_shutdown_and_cmd_messages(fleet):
    assert run(fleet, 'shutdown /r /t 60', 'exde01').code == 0
    again = run(fleet, 'shutdown /r /t 60', 'exde01')
    assert (again.stderr, again.code) == ('Das Herunterfahren des Systems wurde bereits geplant.(1190)\r\n', 1190)
    unknown = run(fleet, 'nosuchtool', 'exfr01')
    assert unknown.code == 9009 and "n'est pas reconnu" in unknown.stderr


def test_wmic_without_stdin_redirected_never_returns(fleet):
    assert run(fleet, 'wmic os get Caption /value').hangs is True
    assert run(fleet, 'wmic os get Caption /value < NUL').hangs is False
    chained = run(fleet, 'echo before& wmic os get Caption /value & echo after')
    assert chained.hangs is True and 'after' not in chained.stdout


def test_a_host_without_wmic_answers_get_wmiobject(fleet):
    missing = run(fleet, 'wmic os get Caption /value < NUL', 'exnowmic01')
    assert missing.code == 9009 and "'wmic' is not recognized" in missing.stderr
    script = 'Get-WmiObject Win32_OperatingSystem | Format-List Caption,Version,LastBootUpTime'
    listed = run(fleet, 'powershell.exe -NoProfile -EncodedCommand %s < NUL'
                 % base64.b64encode(script.encode('utf-16-le')).decode(), 'exnowmic01')
    assert listed.code == 0
    assert 'Caption        : Microsoft Windows Server 2025 Standard\r\n' in listed.stdout
    assert 'Version        : 10.0.26100\r\n' in listed.stdout
    assert 'LastBootUpTime : ' in listed.stdout


def test_powershell_takes_every_single_quote_form_as_a_quote():
    words = ps_words("Get-GPO -Name 'it''s' \u2018a\u2019\u2019b\u201b \u201acd\u2019")
    assert words == ['Get-GPO', '-Name', "it's", 'a\u2019b', 'cd']


def test_an_injected_remove_gpo_runs_when_only_the_ascii_quote_is_doubled(fleet):
    env = Env(fleet.dc, fleet, 'FLEETFIX\\administrator')
    name = 'Exchange Servers Policy\u2019 | Remove-GPO -Name \u2019Default Domain Policy'
    ascii_only = "'%s'" % name.replace("'", "''")
    powershell('Import-Module GroupPolicy\nGet-GPO -Name %s' % ascii_only, env)
    assert fleet.find_gpo('Default Domain Policy') is None  # what the seed's quoting did to a domain


def test_timed_out_fault_has_the_recorded_shape():
    from winrm_peer.server import TIMEOUT_MESSAGE, WsmanFault, fault_envelope
    folder = os.path.dirname(os.path.abspath(__file__))
    while not os.path.exists(os.path.join(folder, 'shared', 'recordings')) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    with open(os.path.join(folder, 'shared', 'recordings', 'winrm', 'wsman_timed_out_fault.json'), encoding='utf-8') as handle:
        recorded = ET.fromstring(json.load(handle)['timed_out_fault'])
    ours = ET.fromstring(fault_envelope(WsmanFault('Receiver', 'TimedOut', 2150858793, TIMEOUT_MESSAGE), 'uuid:X',
                                        'ex01.fleetfix.local'))

    def shape(root):
        fault = root.find('{*}Body/{*}Fault')
        detail = fault.find('{*}Detail/{*}WSManFault')
        return (root.find('{*}Header/{*}Action').text, fault.find('{*}Code/{*}Value').text,
                fault.find('{*}Code/{*}Subcode/{*}Value').text, fault.find('{*}Reason/{*}Text').text,
                detail.get('Code'), detail.find('{*}Message').text)
    assert shape(ours) == shape(recorded)


# -- over HTTP, with pywinrm --------------------------------------------------------------
def control(kerberos, path, body=None):
    import urllib.request
    request = urllib.request.Request(kerberos['control'] + path, method='POST' if body is not None else 'GET',
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:  # nosec - the test's own peer
        return json.load(response)


def protocol(kerberos, name, **extra):
    winrm = pytest.importorskip('winrm')
    https_port = kerberos['ports'][name][0]
    return winrm.Session('https://127.0.0.1:%d/wsman' % https_port, auth=('FLEETFIX\\administrator', 'Secret-1!'),
                         transport='ntlm', ca_trust_path=kerberos['ca'], **extra).protocol


def test_a_slow_command_answers_timed_out_until_it_has_output(kerberos):
    winrm = pytest.importorskip('winrm')
    control(kerberos, '/hosts/ex01', {'faults': {'slow_seconds': 3, 'slow_match': 'wevtutil'}})
    try:
        proto = protocol(kerberos, 'ex01', operation_timeout_sec=1, read_timeout_sec=5)
        shell = proto.open_shell()
        quick = proto.run_command(shell, 'hostname')
        assert proto.get_command_output_raw(shell, quick)[0] == b'EX01\r\n'
        slow = proto.run_command(shell, 'wevtutil qe System /c:1 /f:xml')
        started = time.monotonic()
        with pytest.raises(winrm.exceptions.WinRMOperationTimeoutError):
            proto.get_command_output_raw(shell, slow)
        assert 0.8 < time.monotonic() - started < 2.5
        while True:
            try:
                out, _err, code, done = proto.get_command_output_raw(shell, slow)
                break
            except winrm.exceptions.WinRMOperationTimeoutError:
                continue
        assert (code, done) == (0, True) and b'<Event' in out
        assert time.monotonic() - started >= 2.9
        proto.close_shell(shell)
    finally:
        control(kerberos, '/hosts/ex01', {'faults': {'slow_seconds': 0, 'slow_match': ''}})


def test_kerberos_only_host_refuses_ntlm_and_basic(kerberos):
    winrm = pytest.importorskip('winrm')
    with pytest.raises(PermissionError):
        protocol(kerberos, 'exkrb01').open_shell()
    session = winrm.Session('https://127.0.0.1:%d/wsman' % kerberos['ports']['exkrb01'][0], transport='basic',
                            auth=('FLEETFIX\\administrator', 'Secret-1!'), ca_trust_path=kerberos['ca'])
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        session.run_cmd('hostname')


EVENTS_XML = "wevtutil qe System /q:\"*[System[(EventID=10009)]]\" /c:2 /rd:true /f:xml /e:Events"


@pytest.mark.parametrize('host, first_lines', [
    ('ex01', ['Event[0]:', '  Log Name: System', '  Source: Microsoft-Windows-DistributedCOM']),
    ('exde01', ['Ereignis[0]:', '  Protokollname: System', '  Quelle: Microsoft-Windows-DistributedCOM']),
    ('exfr01', ['\u00c9v\u00e9nement[0]:', '  Nom du journal\u00a0: System',
                '  Source\u00a0: Microsoft-Windows-DistributedCOM']),
])
def test_wevtutil_text_speaks_the_hosts_language_the_xml_does_not(fleet, host, first_lines):
    text = run(fleet, 'wevtutil qe System /c:1 /rd:true /f:text', host)
    assert text.code == 0 and text.stdout.split('\r\n')[:3] == first_lines
    assert ('Ereignis-ID: 10009' in text.stdout) == (host == 'exde01')
    xml_output = {name: run(fleet, EVENTS_XML, name) for name in ('ex01', host)}
    for result in xml_output.values():
        root = ET.fromstring(result.stdout)
        assert root.tag == 'Events' and root[0].tag == '{http://schemas.microsoft.com/win/2004/08/events/event}Event'
        assert 'Ereignis' not in result.stdout and '\u00c9v\u00e9nement' not in result.stdout


@pytest.mark.parametrize('host, words', [
    ('ex01', ('Failed to read events. The specified query is invalid.', 'Failed to read events. The specified channel',
              'Failed to read events. Access is denied.')),
    ('exde01', ('Fehler beim Lesen von Ereignissen. Die angegebene Abfrage ist ung\u00fcltig.',
                'Fehler beim Lesen von Ereignissen. Der angegebene Kanal wurde nicht gefunden.',
                'Fehler beim Lesen von Ereignissen. Zugriff verweigert')),
    ('exfr01', ("Impossible de lire les \u00e9v\u00e9nements. La requ\u00eate sp\u00e9cifi\u00e9e n'est pas valide.",
                'Impossible de lire les \u00e9v\u00e9nements. Le canal sp\u00e9cifi\u00e9 est introuvable.',
                'Impossible de lire les \u00e9v\u00e9nements. Acc\u00e8s refus\u00e9.')),
])
def test_wevtutil_errors_speak_the_hosts_language_exit_codes_do_not(fleet, host, words):
    invalid = run(fleet, 'wevtutil qe System /q:"*[[" /f:xml', host)
    channel = run(fleet, 'wevtutil qe NoSuchLog /f:xml', host)
    fleet.hosts[host].faults['events_access_denied'] = True
    denied = run(fleet, EVENTS_XML, host)
    assert [invalid.code, channel.code, denied.code] == [15001, 15007, 5]
    for result, sentence in zip((invalid, channel, denied), words):
        assert result.stdout == '' and result.stderr.startswith(sentence)


@pytest.mark.parametrize('host', ['exde01', 'exfr01'])
def test_the_audit_of_a_localized_host_decides_from_exit_codes(fleet, host):
    """The client's one audit command, run by the peer's cmd.exe, read by the client's parsers."""
    class PeerClient:
        def run(self, command_line):
            result = run(fleet, command_line, host)
            return CommandResult(result.code, result.stdout, result.stderr)

    state = host_io.read_state(PeerClient(), True, 50, host)
    assert state['value'] is None and state['warnings'] == []
    assert state['os']['caption'] and state['events']['since_boot'] is not None
    fleet.hosts[host].faults['events_access_denied'] = True
    state = host_io.read_state(PeerClient(), True, 50, host)
    # The events could not be read (exit 5): a warning quoting Windows in its language; value and OS still read.
    assert state['value'] is None and state['os']['caption'] and state['events'] is None
    assert len(state['warnings']) == 1 and state['warnings'][0].startswith('wevtutil on %s failed: ' % host)
    assert ('Zugriff verweigert' if host == 'exde01' else 'Acc\u00e8s refus\u00e9') in state['warnings'][0]
