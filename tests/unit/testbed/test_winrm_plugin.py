# Private to this repository's tests: the WinRM peer's launcher plug-in and its server, in process.
from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from testbed.core import TestbedError, parse_sets
from testbed.plugins import winrm as winrm_plugin


def options(**changes):
    result = dict(winrm_plugin.PLUGIN.options)
    result.update(changes)
    return result


def test_defaults_are_the_documented_contract():
    assert winrm_plugin.PLUGIN.name == 'winrm'
    assert winrm_plugin.PLUGIN.options['hosts'] == 4
    assert winrm_plugin.PLUGIN.options['https_base_port'] == 15990
    assert winrm_plugin.PLUGIN.options['http_base_port'] == 16990
    assert winrm_plugin.PLUGIN.options['control_port'] == 15980
    assert winrm_plugin.PLUGIN.options['restart_seconds'] == 3.0
    assert winrm_plugin.PLUGIN.options['domain'] == 'FLEETFIX'


def test_inventory_part_gives_winrm_variables_per_host():
    part = winrm_plugin.inventory_part(options(), '/state')
    hosts = part['groups']['exchange_servers']['hosts']
    assert sorted(hosts) == ['ex01', 'ex02', 'ex03', 'ex04']
    assert hosts['ex02'] == {
        'ansible_connection': 'winrm', 'ansible_host': '127.0.0.1', 'ansible_port': 15991,
        'ansible_user': 'FLEETFIX\\administrator', 'ansible_password': 'FleetFix-WinRM-1!',
        'ansible_winrm_transport': 'ntlm', 'ansible_winrm_scheme': 'https',
        'ansible_winrm_server_cert_validation': 'validate', 'ansible_winrm_ca_trust_path': '/state/winrm/ca.pem',
        'testbed_winrm_http_port': 16991,
    }
    dc = part['groups']['domain_controllers']['hosts']['dc01']
    assert (dc['ansible_port'], dc['testbed_winrm_http_port']) == (15994, 16994)
    variables = part['vars']
    assert variables['testbed_winrm_control_url'] == 'http://127.0.0.1:15980'
    assert variables['testbed_winrm_ca_path'] == '/state/winrm/ca.pem'
    assert variables['testbed_winrm_hosts'] == ['ex01', 'ex02', 'ex03', 'ex04']
    assert variables['testbed_winrm_user'] == 'FLEETFIX\\administrator'


def test_hundred_hosts_fit():
    part = winrm_plugin.inventory_part(options(hosts=100), '/state')
    assert len(part['groups']['exchange_servers']['hosts']) == 100
    assert part['groups']['domain_controllers']['hosts']['dc01']['ansible_port'] == 16090
    winrm_plugin.check_options(options(hosts=100))


@pytest.mark.parametrize('changes, message', [
    ({'hosts': 0}, 'winrm.hosts'),
    ({'http_base_port': 15992}, 'overlap'),
    ({'control_port': 15991}, 'overlap'),
    ({'https_base_port': 65533}, 'do not fit'),
    ({'password': ''}, 'password'),
])
def test_bad_options_are_refused(changes, message):
    with pytest.raises(TestbedError, match=message):
        winrm_plugin.check_options(options(**changes))


def test_set_parses_typed_options():
    assert parse_sets(['winrm.hosts=100', 'winrm.restart_seconds=0.5'], {'winrm': winrm_plugin.PLUGIN}) == {
        'winrm': {'hosts': 100, 'restart_seconds': 0.5}}


def test_command_line_keeps_the_password_off_argv():
    argv = winrm_plugin.command_line(options(), '/state/winrm')
    assert 'FleetFix-WinRM-1!' not in ' '.join(argv)
    assert argv[1:3] == ['-m', 'winrm_peer']


# -- the server, in this process, with pywinrm ------------------------------------------
def free_ports(count):
    sockets = [socket.socket() for _index in range(count)]
    for sock in sockets:
        sock.bind(('127.0.0.1', 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.fixture(scope='module')
def peer(tmp_path_factory):
    pytest.importorskip('spnego')
    pytest.importorskip('cryptography')
    from winrm_peer.certs import ensure_certificates
    from winrm_peer.model import Fleet
    from winrm_peer.server import Peer, start_control
    state = str(tmp_path_factory.mktemp('winrm'))
    ensure_certificates(state)
    fleet = Fleet(hosts=2, event_interval=5.0, restart_seconds=0.3)
    https1, http1, https2, http2, https3, http3, control = free_ports(7)
    ports = {'ex01': (https1, http1), 'ex02': (https2, http2), 'dc01': (https3, http3)}
    server = Peer(fleet, ports, 'administrator', 'Secret-1!', state)
    server.start()
    control_server = start_control(server, control)
    yield {'peer': server, 'ports': ports, 'ca': state + '/ca.pem', 'control': 'http://127.0.0.1:%d' % control}
    server.running = False
    control_server.shutdown()
    for listeners in server.listeners.values():
        for listener in listeners:
            listener.close()


def session(peer, name, scheme='https', password='Secret-1!', **extra):
    winrm = pytest.importorskip('winrm')
    https_port, http_port = peer['ports'][name]
    port = https_port if scheme == 'https' else http_port
    if scheme == 'https':
        extra.setdefault('ca_trust_path', peer['ca'])
    extra.setdefault('transport', 'ntlm')
    return winrm.Session('%s://127.0.0.1:%d/wsman' % (scheme, port), auth=('FLEETFIX\\administrator', password),
                         **extra)


def control(peer, path, body=None):
    request = urllib.request.Request(peer['control'] + path, method='POST' if body is not None else 'GET',
                                     data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_ntlm_over_https_runs_commands_in_seven_requests(peer):
    control(peer, '/stats/reset', {})
    result = session(peer, 'ex01').run_cmd('hostname')
    assert (result.status_code, result.std_out, result.std_err) == (0, b'EX01\r\n', b'')
    assert control(peer, '/stats')['hosts'] == {'ex01': 7}


def test_ntlm_message_encryption_over_http(peer):
    client = session(peer, 'ex02', scheme='http')
    result = client.run_cmd('reg', ['query', '"HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc"'])
    assert client.protocol.transport.encryption is not None
    assert (result.status_code, result.std_err) == (1, b'ERROR: The system was unable to find the specified registry key or value.\r\n')


def test_basic_and_wrong_passwords(peer):
    winrm = pytest.importorskip('winrm')
    assert session(peer, 'ex01', scheme='http', transport='basic').run_cmd('whoami').std_out == b'fleetfix\\administrator\r\n'
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        session(peer, 'ex01', password='wrong').run_cmd('hostname')
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        session(peer, 'ex01', scheme='http', transport='basic', password='wrong').run_cmd('hostname')
    control(peer, '/hosts/ex02', {'faults': {'wrong_password': True}})
    try:
        with pytest.raises(winrm.exceptions.InvalidCredentialsError):
            session(peer, 'ex02').run_cmd('hostname')
        assert session(peer, 'ex01').run_cmd('hostname').status_code == 0
    finally:
        control(peer, '/hosts/ex02', {'faults': {'wrong_password': False}})


def test_soap_faults(peer):
    winrm = pytest.importorskip('winrm')
    protocol = session(peer, 'ex01').protocol
    with pytest.raises(winrm.exceptions.WSManFaultError) as raised:
        protocol.run_command('NO-SUCH-SHELL', 'hostname')
    assert raised.value.wsman_fault_code == 2150858843
    assert raised.value.fault_subcode == 'w:InvalidSelectors'
    control(peer, '/hosts/ex01', {'faults': {'shell_access_denied': True}})
    try:
        with pytest.raises(winrm.exceptions.WSManFaultError) as raised:
            session(peer, 'ex01').run_cmd('hostname')
        assert raised.value.wsman_fault_code == 5
    finally:
        control(peer, '/hosts/ex01', {'faults': {'shell_access_denied': False}})


def test_untrusted_certificate_fails(peer):
    requests = pytest.importorskip('requests')
    with pytest.raises(requests.exceptions.SSLError):
        session(peer, 'ex01', ca_trust_path=None, server_cert_validation='validate').run_cmd('hostname')
