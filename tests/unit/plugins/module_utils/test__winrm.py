# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import os
import socket
import threading
import time
import types

import pytest
import requests
from winrm import exceptions as winrm_exceptions

from ansible_collections.fleetfix.remediate.plugins.module_utils import _winrm

SECRET = 'S3cret-Passw0rd!'
OPTIONS = dict(winrm_host='ex01.example.com', winrm_user='EXAMPLE\\admin', winrm_password=SECRET,
               winrm_transport='ntlm', winrm_scheme='https', winrm_operation_timeout=20, winrm_read_timeout=30)

# What powershell.exe writes to stderr over WinRM for a failing Get-GPO (Windows Server 2008 R2).
CLIXML = (
    '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    '<S S="Error">Get-GPO : A GPO with the name "Nope" could not be found in the fleetfix.local domain._x000D__x000A_</S>'
    '<S S="Error">At line:1 char:1_x000D__x000A_</S><S S="Error">+ Get-GPO -Name \'Nope\'_x000D__x000A_</S>'
    '<S S="Error">    + FullyQualifiedErrorId : GpoWithNameNotFound,Microsoft.GroupPolicy.Commands.GetGPOCommand_x000D__x000A_</S>'
    '<S S="Error"> _x000D__x000A_</S></Objs>'
)


def test_decode_clixml_gives_the_error_lines():
    text = _winrm.decode_clixml(CLIXML)
    assert text.startswith('Get-GPO : A GPO with the name "Nope" could not be found in the fleetfix.local domain.\n')
    assert 'FullyQualifiedErrorId : GpoWithNameNotFound' in text
    assert '_x000D_' not in text and '<S' not in text


def test_decode_clixml_keeps_plain_text_and_escapes():
    assert _winrm.decode_clixml('ERROR: Access is denied.\r\n') == 'ERROR: Access is denied.\r\n'
    clixml = '#< CLIXML\r\n<Objs><S S="Error">a &lt;b&gt; _x0009_tab_x000D__x000A_</S><S S="progress">x</S></Objs>'
    assert _winrm.decode_clixml(clixml) == 'a <b> \ttab'


def test_encode_powershell_is_utf16le_base64():
    assert base64.b64decode(_winrm.encode_powershell('Get-GPO')).decode('utf-16-le') == 'Get-GPO'


@pytest.mark.parametrize('changes, expected', [
    (dict(winrm_host=None), 'No WinRM host given'),
    (dict(winrm_user=None), 'No WinRM user given'),
    (dict(winrm_password=None), 'No WinRM password given'),
    (dict(winrm_transport='basic', winrm_scheme='http'), 'Basic authentication over plain HTTP'),
    (dict(winrm_transport='certificate'), 'needs winrm_cert_pem and winrm_cert_key_pem'),
    (dict(winrm_read_timeout=20), 'must be longer than winrm_operation_timeout'),
    (dict(winrm_port=70000), 'winrm_port must be between'),
])
def test_validate_options_refuses_bad_input(changes, expected):
    problems = _winrm.validate_options(dict(OPTIONS, **changes))
    assert any(expected in problem for problem in problems), problems
    with pytest.raises(_winrm.WinRMError) as caught:
        _winrm.WinRMClient(dict(OPTIONS, **changes))
    assert caught.value.kind == _winrm.CONFIGURATION


def test_basic_over_http_allowed_when_insecure_is_asked_for():
    assert _winrm.validate_options(dict(OPTIONS, winrm_transport='basic', winrm_scheme='http',
                                        winrm_allow_insecure=True)) == []


def test_endpoint_and_default_ports():
    assert _winrm.WinRMClient(OPTIONS).endpoint == 'https://ex01.example.com:5986/wsman'
    assert _winrm.WinRMClient(dict(OPTIONS, winrm_scheme='http')).endpoint == 'http://ex01.example.com:5985/wsman'
    assert _winrm.WinRMClient(dict(OPTIONS, winrm_host='::1', winrm_port=15990)).endpoint == 'https://[::1]:15990/wsman'
    # Messages name a host by its address, with the port when it is not the scheme's default.
    assert _winrm.WinRMClient(OPTIONS).label == 'ex01.example.com'
    assert _winrm.WinRMClient(dict(OPTIONS, winrm_scheme='http', winrm_port=5985)).label == 'ex01.example.com'
    assert _winrm.WinRMClient(dict(OPTIONS, winrm_host='::1', winrm_port=15990)).label == '[::1]:15990'


def _fault(code, subcode='w:InternalError', reason='boom'):
    return winrm_exceptions.WSManFaultError(500, 'Bad HTTP response', '<xml/>', reason, 's:Sender', subcode, code)


@pytest.mark.parametrize('error, kind, words', [
    (requests.exceptions.ConnectionError('Connection refused'), _winrm.UNREACHABLE, 'Host unreachable'),
    (requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local "
                                  "issuer certificate (_ssl.c:1006)"), _winrm.CERTIFICATE, 'Certificate not trusted'),
    (winrm_exceptions.InvalidCredentialsError('the specified credentials were rejected by the server'),
     _winrm.AUTHENTICATION, 'Authentication failed'),
    (winrm_exceptions.WinRMOperationTimeoutError(), _winrm.TIMEOUT, 'WinRM operation timeout'),
    (requests.exceptions.ReadTimeout('read timed out'), _winrm.TIMEOUT, 'WinRM read timeout'),
    (_fault(5, 'w:AccessDenied', 'Access is denied.'), _winrm.ACCESS_DENIED, 'Access denied'),
    (_fault(2150858843, 'w:InvalidSelectors', 'shell gone ' + SECRET), _winrm.PROTOCOL, 'WinRM fault'),
])
def test_describe_gives_distinct_messages_without_the_password(error, kind, words):
    described = _winrm.WinRMClient(OPTIONS).describe(error)
    assert described.kind == kind
    assert described.message.startswith(words)
    assert SECRET not in described.message
    assert 'ex01.example.com:5986' in described.message


class FakeProtocol:
    """Stands in for winrm.protocol.Protocol and records the SOAP actions it would send."""

    def __init__(self, outputs, **kwargs):
        self.kwargs = kwargs
        self.outputs = list(outputs)
        self.actions = []
        self.session = types.SimpleNamespace(trust_env=True)
        self.transport = types.SimpleNamespace(build_session=lambda: self.session)

    def open_shell(self, codepage=None):
        self.actions.append(('Create', codepage))
        return 'SHELL'

    def run_command(self, shell_id, command):
        self.actions.append(('Command', command))
        return 'CMD%d' % len(self.actions)

    def get_command_output_raw(self, shell_id, command_id):
        self.actions.append(('Receive', command_id))
        item = self.outputs.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def cleanup_command(self, shell_id, command_id):
        self.actions.append(('Signal', command_id))

    def close_shell(self, shell_id):
        self.actions.append(('Delete', shell_id))


def test_one_shell_several_commands_no_signal_after_done(monkeypatch):
    protocols = []

    def factory(**kwargs):
        protocols.append(FakeProtocol([(b'part1 ', b'', -1, False), (b'\x81nd\r\n', b'', 0, True),
                                       (b'', b'ERROR: x\r\n', 1, True)], **kwargs))
        return protocols[-1]
    monkeypatch.setattr(_winrm, 'Protocol', factory)
    with _winrm.WinRMClient(dict(OPTIONS, winrm_ca_trust_path='/ca.pem')) as client:
        first = client.run('reg query X')
        second = client.run('reg add Y')
    assert (first.rc, first.stdout) == (0, 'part1 \u00fcnd\r\n')  # cp437 0x81 is u-umlaut
    assert (second.rc, second.stderr) == (1, 'ERROR: x\r\n')
    assert len(protocols) == 1
    assert [action for action, _arg in protocols[0].actions] == [
        'Create', 'Command', 'Receive', 'Receive', 'Command', 'Receive', 'Delete']
    assert protocols[0].kwargs['ca_trust_path'] == '/ca.pem'
    assert protocols[0].kwargs['server_cert_validation'] == 'validate'
    assert protocols[0].kwargs['password'] == SECRET
    # pywinrm resolved the proxy environment when it built the session; requests must not scan it per request
    assert protocols[0].session.trust_env is False


class Clock:
    def __init__(self, step):
        self.now = 0.0
        self.step = step

    def __call__(self):
        self.now += self.step
        return self.now


def test_timed_out_receive_is_received_again(monkeypatch):
    """w:TimedOut on a Receive means "no output yet" ([MS-WSMV]): the client asks again, as pywinrm's own loop does."""
    timed_out = winrm_exceptions.WinRMOperationTimeoutError()
    fake = FakeProtocol([timed_out, timed_out, timed_out, (b'done\r\n', b'', 0, True)])
    monkeypatch.setattr(_winrm, 'Protocol', lambda **kwargs: fake)
    client = _winrm.WinRMClient(OPTIONS, command_timeout=300, clock=Clock(20))
    result = client.run('wevtutil qe System /c:50')
    assert (result.rc, result.stdout) == (0, 'done\r\n')
    assert [action for action, _arg in fake.actions].count('Receive') == 4
    assert 'Signal' not in [action for action, _arg in fake.actions]


def test_a_command_still_running_at_the_task_timeout_is_signalled_and_fails(monkeypatch):
    fake = FakeProtocol([winrm_exceptions.WinRMOperationTimeoutError() for _index in range(10)])
    monkeypatch.setattr(_winrm, 'Protocol', lambda **kwargs: fake)
    client = _winrm.WinRMClient(OPTIONS, command_timeout=60, clock=Clock(20))
    with pytest.raises(_winrm.WinRMError) as caught:
        client.run('wmic os get Caption /value')
    assert caught.value.kind == _winrm.TIMEOUT
    assert 'still running after 60 seconds' in caught.value.message
    assert [action for action, _arg in fake.actions].count('Receive') == 3
    assert ('Signal', 'CMD2') in fake.actions


def test_the_recorded_timed_out_fault_is_no_output_yet(monkeypatch):
    """Windows Server 2022's w:TimedOut fault (HTTP 500), through pywinrm's real Protocol, then the output."""
    import json
    import os
    from winrm.protocol import Protocol
    # shared/ lies beside the repository (and the staged copy is inside it): the first folder up that has it.
    folder = os.path.dirname(os.path.abspath(__file__))
    while not os.path.exists(os.path.join(folder, 'shared', 'recordings')) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    recording = os.path.join(folder, 'shared', 'recordings', 'winrm', 'wsman_timed_out_fault.json')
    with open(recording, encoding='utf-8') as handle:
        fault = json.load(handle)['timed_out_fault']
    done = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body><rsp:ReceiveResponse>'
            '<rsp:Stream Name="stdout" CommandId="C">%s</rsp:Stream><rsp:Stream Name="stdout" CommandId="C" End="true">'
            '</rsp:Stream><rsp:CommandState CommandId="C" '
            'State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"><rsp:ExitCode>0'
            '</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse></s:Body></s:Envelope>'
            % base64.b64encode(b'slow\r\n').decode())
    answers = [fault, fault, done]

    class Transport:
        def send_message(self, message):
            answer = answers.pop(0)
            if answer is fault:
                raise winrm_exceptions.WinRMTransportError('http', 500, answer)
            return answer.encode()

        def build_session(self):
            return types.SimpleNamespace(trust_env=True)

    def protocol(**kwargs):
        real = Protocol(kwargs['endpoint'], transport='plaintext', username='u', password='p')
        real.transport = Transport()
        real.open_shell = lambda codepage=None: 'SHELL'
        real.run_command = lambda shell_id, command: 'C'
        return real
    monkeypatch.setattr(_winrm, 'Protocol', protocol)
    client = _winrm.WinRMClient(OPTIONS, command_timeout=300)
    result = client.run('powershell -EncodedCommand X')
    assert (result.rc, result.stdout, answers) == (0, 'slow\r\n', [])


def test_run_powershell_decodes_stderr(monkeypatch):
    fake = FakeProtocol([(b'', CLIXML.encode('ascii'), 1, True)])
    monkeypatch.setattr(_winrm, 'Protocol', lambda **kwargs: fake)
    result = _winrm.WinRMClient(OPTIONS).run_powershell("Get-GPO -Name 'Nope'")
    assert result.stderr.startswith('Get-GPO : A GPO with the name "Nope"')
    command = fake.actions[1][1]
    assert command.startswith('powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ')
    assert base64.b64decode(command.split()[-1]).decode('utf-16-le') == "Get-GPO -Name 'Nope'"


def test_argument_spec_hides_the_password():
    spec = _winrm.winrm_argument_spec()
    assert spec['winrm_password']['no_log'] is True
    assert spec['winrm_transport']['default'] == 'ntlm'
    assert spec['winrm_server_cert_validation']['default'] == 'validate'


def test_warm_up_fills_the_caches_offline(monkeypatch):
    def no_network(*_args, **_kwargs):
        raise AssertionError('warm_up must not connect anywhere')

    monkeypatch.setattr(socket.socket, 'connect', no_network)
    monkeypatch.setattr(socket, 'create_connection', no_network)
    environment = dict(os.environ)
    assert _winrm.warm_up() is True
    assert dict(os.environ) == environment  # no KRB5CCNAME or proxy setting left behind


def test_warm_up_never_raises(monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError('no TLS here')

    monkeypatch.setattr('urllib3.util.ssl_.create_urllib3_context', broken)
    assert _winrm.warm_up() is False


class FakeKrb5:
    """Stands in for the krb5 library: every principal gets a ticket, stored in the named MEMORY cache."""

    class Krb5Error(Exception):
        pass

    def __init__(self):
        self.caches = {}

    def init_context(self):
        return object()

    def parse_name_flags(self, _context, name):
        return name

    def get_init_creds_opt_alloc(self, _context):
        return object()

    def get_init_creds_password(self, _context, principal, _options, password=None):
        now = time.time()
        return types.SimpleNamespace(principal=principal, times=types.SimpleNamespace(authtime=now, endtime=now + 36000))

    def cc_resolve(self, _context, name):
        return name.decode('ascii')

    def cc_initialize(self, _context, cache, principal):
        self.caches[cache] = principal

    def cc_store_cred(self, _context, cache, creds):
        assert self.caches[cache] == creds.principal


def kerberos_client(monkeypatch, user, seen):
    """A Kerberos client whose Protocol records the KRB5CCNAME it would authenticate with."""

    def protocol(**kwargs):
        seen.append((kwargs['username'], os.environ.get('KRB5CCNAME')))
        return FakeProtocol([(b'', b'', 0, True)], **kwargs)

    monkeypatch.setattr(_winrm, 'Protocol', protocol)
    return _winrm.WinRMClient(dict(OPTIONS, winrm_transport='kerberos', winrm_user=user, winrm_password=SECRET),
                              command_timeout=5)


def test_threads_with_different_kerberos_users_never_share_krb5ccname(monkeypatch):
    monkeypatch.setattr(_winrm, 'krb5', FakeKrb5(), raising=False)
    monkeypatch.setattr(_winrm, 'HAS_KRB5', True)
    monkeypatch.setattr(_winrm, '_KRB5_TICKETS', {})
    monkeypatch.delenv('KRB5CCNAME', raising=False)
    seen = []
    alice = kerberos_client(monkeypatch, 'alice@EXAMPLE.COM', seen)
    bob = kerberos_client(monkeypatch, 'bob@EXAMPLE.COM', seen)
    alice.run('reg query x')
    alice_cache = os.environ['KRB5CCNAME']
    assert alice_cache.startswith('MEMORY:')
    bob_done = threading.Event()
    thread = threading.Thread(target=lambda: (bob.run('reg query x'), bob_done.set()))
    thread.start()
    # While alice's client may still authenticate (a reconnect reads KRB5CCNAME again), bob's waits.
    assert not bob_done.wait(0.5)
    assert os.environ['KRB5CCNAME'] == alice_cache
    alice.close()
    thread.join(5)
    assert bob_done.is_set()
    bob_cache = os.environ['KRB5CCNAME']
    assert bob_cache != alice_cache
    assert seen == [('alice@EXAMPLE.COM', alice_cache), ('bob@EXAMPLE.COM', bob_cache)]
    bob.close()


def test_clients_of_one_kerberos_user_share_the_cache_and_kinit_cache_comes_back(monkeypatch):
    monkeypatch.setattr(_winrm, 'krb5', FakeKrb5(), raising=False)
    monkeypatch.setattr(_winrm, 'HAS_KRB5', True)
    monkeypatch.setattr(_winrm, '_KRB5_TICKETS', {})
    monkeypatch.setenv('KRB5CCNAME', 'FILE:/tmp/krb5cc_controller')
    seen = []
    first = kerberos_client(monkeypatch, 'alice@EXAMPLE.COM', seen)
    second = kerberos_client(monkeypatch, 'alice@EXAMPLE.COM', seen)
    first.run('x')
    second.run('x')  # does not wait: the same principal's cache
    assert seen[0][1] == seen[1][1] != 'FILE:/tmp/krb5cc_controller'
    first.close()
    second.close()
    # A client without a password uses the controller's own ticket (kinit): KRB5CCNAME names that cache again.
    lease = _winrm._KRB5_LEASE  # pylint: disable=protected-access
    assert lease.acquire(None, 1)
    assert os.environ['KRB5CCNAME'] == 'FILE:/tmp/krb5cc_controller'
    lease.release()


def test_a_kerberos_client_that_fails_releases_the_cache(monkeypatch):
    monkeypatch.setattr(_winrm, 'krb5', FakeKrb5(), raising=False)
    monkeypatch.setattr(_winrm, 'HAS_KRB5', True)
    monkeypatch.setattr(_winrm, '_KRB5_TICKETS', {})

    def refused(**_kwargs):
        raise RuntimeError('no such host')

    monkeypatch.setattr(_winrm, 'Protocol', refused)
    client = _winrm.WinRMClient(dict(OPTIONS, winrm_transport='kerberos', winrm_user='carol@EXAMPLE.COM'),
                                command_timeout=1)
    client._password = SECRET  # pylint: disable=protected-access
    with pytest.raises(_winrm.WinRMError):
        client.run('x')
    seen = []
    other = kerberos_client(monkeypatch, 'dave@EXAMPLE.COM', seen)
    other.run('x')  # would wait (and fail after 5 s) had carol's failed client kept the cache
    other.close()
    assert seen and seen[0][0] == 'dave@EXAMPLE.COM'
