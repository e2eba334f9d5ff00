# Private to this repository's tests: Kerberos end to end, the collection's WinRM client against a real
# MIT KDC (krb5kdc) and the WinRM peer's Kerberos acceptor (pyspnego with the hosts' keytab).
from __future__ import annotations

import os
import subprocess
import time

import pytest

from testbed.plugins.kdc import start as start_kdc, stop as stop_kdc

_winrm = pytest.importorskip('ansible_collections.fleetfix.remediate.plugins.module_utils._winrm')
pytest.importorskip('kerberos')
pytest.importorskip('krb5')

USER = 'administrator@FLEETFIX.LOCAL'
PEER_PASSWORD = 'Secret-1!'  # the kerberos fixture's (conftest.py)


@pytest.fixture(autouse=True)
def fresh_tickets():
    """Each test gets its ticket anew (the client keeps one per principal and process)."""
    _winrm._KRB5_TICKETS.clear()  # pylint: disable=protected-access
    saved = os.environ.get('KRB5CCNAME')
    yield
    _winrm._KRB5_TICKETS.clear()  # pylint: disable=protected-access
    if saved is None:
        os.environ.pop('KRB5CCNAME', None)
    else:
        os.environ['KRB5CCNAME'] = saved


def options(kerberos, name='exkrb01', scheme='https', **changes):
    https_port, http_port = kerberos['ports'][name]
    result = dict(winrm_host='127.0.0.1', winrm_port=https_port if scheme == 'https' else http_port,
                  winrm_scheme=scheme, winrm_ca_trust_path=kerberos['ca'], winrm_user=USER,
                  winrm_password=PEER_PASSWORD, winrm_transport='kerberos',
                  winrm_kerberos_hostname_override='%s.fleetfix.local' % name)
    result.update(changes)
    return result


def run(opts, command='whoami'):
    with _winrm.WinRMClient(opts) as client:
        result = client.run(command)
        encrypted = client._protocol.transport.encryption is not None  # pylint: disable=protected-access
    return result, encrypted


def failure(opts):
    with pytest.raises(_winrm.WinRMError) as raised:
        run(opts)
    assert PEER_PASSWORD not in raised.value.message
    return raised.value


def test_kerberos_over_https(kerberos):
    result, encrypted = run(options(kerberos))
    assert (result.rc, result.stdout, encrypted) == (0, 'fleetfix\\administrator\r\n', False)


def test_kerberos_over_http_encrypts_the_messages(kerberos):
    result, encrypted = run(options(kerberos, scheme='http'))
    assert (result.rc, result.stdout, encrypted) == (0, 'fleetfix\\administrator\r\n', True)


def test_kerberos_to_a_host_that_also_takes_ntlm(kerberos):
    result, _encrypted = run(options(kerberos, name='exde01', scheme='http'))
    assert result.rc == 0


def test_kerberos_only_host_refuses_ntlm(kerberos):
    error = failure(options(kerberos, winrm_transport='ntlm', winrm_user='FLEETFIX\\administrator'))
    assert error.kind == _winrm.AUTHENTICATION
    assert 'does not accept NTLM' in error.message and 'kerberos' in error.message
    # The same host with NTLM is fine where NTLM is allowed.
    result, _encrypted = run(options(kerberos, name='ex01', winrm_transport='ntlm', winrm_user='FLEETFIX\\administrator'))
    assert result.rc == 0


def test_wrong_password(kerberos):
    error = failure(options(kerberos, winrm_password='Not-The-Password-1'))
    assert error.kind == _winrm.AUTHENTICATION
    assert 'refused the password of administrator@FLEETFIX.LOCAL (wrong password)' in error.message
    assert 'Not-The-Password-1' not in error.message


def test_unknown_user(kerberos):
    error = failure(options(kerberos, winrm_user='nobody@FLEETFIX.LOCAL'))
    assert 'knows no user nobody@FLEETFIX.LOCAL' in error.message


def test_domain_backslash_user_is_refused_before_any_traffic(kerberos):
    error = failure(options(kerberos, winrm_user='FLEETFIX\\administrator'))
    assert error.kind == _winrm.CONFIGURATION and 'user@REALM' in error.message


def test_missing_ticket_without_password(kerberos, tmp_path):
    os.environ['KRB5CCNAME'] = 'FILE:%s' % (tmp_path / 'no-cache')
    error = failure(options(kerberos, winrm_password=None))
    assert error.kind == _winrm.AUTHENTICATION
    assert error.message.startswith('No Kerberos ticket') and 'kinit administrator@FLEETFIX.LOCAL' in error.message


def kinit(cache, lifetime=None):
    argv = ['kinit'] + (['-l', lifetime] if lifetime else []) + [USER]
    env = dict(os.environ, KRB5CCNAME=cache)
    completed = subprocess.run(argv, input=PEER_PASSWORD + '\n', text=True, capture_output=True, env=env,
                               timeout=30, check=False)
    assert completed.returncode == 0, completed.stderr


def test_ticket_from_kinit_then_expired(kerberos, tmp_path):
    cache = 'FILE:%s' % (tmp_path / 'short')
    kinit(cache, lifetime='3s')
    os.environ['KRB5CCNAME'] = cache
    assert run(options(kerberos, winrm_password=None))[0].rc == 0
    time.sleep(4)
    error = failure(options(kerberos, winrm_password=None))
    assert error.kind == _winrm.AUTHENTICATION
    assert error.message.startswith('Kerberos ticket expired') and 'kinit' in error.message


def test_wrong_service_name(kerberos):
    error = failure(options(kerberos, winrm_kerberos_hostname_override='nohost.fleetfix.local'))
    assert 'HTTP/nohost.fleetfix.local' in error.message


def test_kdc_down_then_back(kerberos):
    stop_kdc(kerberos['kdc'])
    try:
        error = failure(options(kerberos))
        assert error.kind == _winrm.UNREACHABLE
        assert error.message.startswith('KDC unreachable') and 'FLEETFIX.LOCAL' in error.message
    finally:
        kerberos['kdc'] = start_kdc(kerberos['realm'])
    assert run(options(kerberos))[0].rc == 0


def test_clock_skew_beyond_the_tolerance(kerberos):
    """The KDC's clock 10 minutes off the host's (a DC or member booted with a wrong clock): the host refuses."""
    stop_kdc(kerberos['kdc'])
    kerberos['kdc'] = start_kdc(kerberos['realm'], clock_offset_seconds=600)
    try:
        error = failure(options(kerberos))
        assert error.kind == _winrm.CLOCK_SKEW
        assert error.message.startswith('Clock skew:') and "beyond Kerberos' 5 minutes" in error.message
        assert 'w32tm /resync' in error.message
    finally:
        stop_kdc(kerberos['kdc'])
        kerberos['kdc'] = start_kdc(kerberos['realm'])
    _winrm._KRB5_TICKETS.clear()  # pylint: disable=protected-access
    assert run(options(kerberos))[0].rc == 0
