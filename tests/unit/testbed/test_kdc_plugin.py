# Private to this repository's tests: the KDC launcher part and the WinRM part's Kerberos inventory.
from __future__ import annotations

import os
import subprocess

import pytest

from testbed.core import TestbedError
from testbed.plugins import kdc
from testbed.plugins import winrm as winrm_plugin


def options(**changes):
    result = dict(kdc.PLUGIN.options)
    result.update(changes)
    return result


@pytest.mark.parametrize('changes, message', [
    (dict(port=0), 'kdc.port must be'),
    (dict(realm='fleetfix.local'), 'upper-case realm'),
    (dict(max_skew_seconds=0), 'max_skew_seconds must be'),
])
def test_bad_options_are_refused(changes, message):
    with pytest.raises(TestbedError, match=message):
        kdc.check_options(options(**changes))


def test_realm_files_keep_to_loopback_and_the_name_given(tmp_path):
    realm = kdc.Realm(str(tmp_path), 'FLEETFIX.LOCAL', 15988)
    realm.write_config()
    krb5_conf = (tmp_path / 'krb5.conf').read_text()
    assert 'kdc = tcp/127.0.0.1:15988' in krb5_conf and 'rdns = false' in krb5_conf
    assert 'dns_canonicalize_hostname = false' in krb5_conf and '.fleetfix.local = FLEETFIX.LOCAL' in krb5_conf
    assert 'kdc_listen = 127.0.0.1:15988' in (tmp_path / 'kdc.conf').read_text()
    assert realm.command_line()[0] == kdc.KDC_BINARY
    assert realm.command_line(600)[:3] == ['faketime', '-f', '+600s']


def test_a_realm_is_created_and_gives_tickets(tmp_path):
    if not os.path.exists(kdc.KDC_BINARY):
        pytest.fail('krb5kdc is missing: tools/setup.sh installs krb5-kdc')
    with __import__('socket').socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    realm = kdc.Realm(str(tmp_path), 'FLEETFIX.LOCAL', port)
    realm.create()
    realm.add_principals([('administrator', 'Pass-1!'), ('HTTP/ex01.fleetfix.local', None)])
    keytab = realm.export_keytab(['HTTP/ex01.fleetfix.local'], str(tmp_path / 'http.keytab'))
    assert oct(os.stat(keytab).st_mode & 0o777) == '0o600'
    process = kdc.start(realm)
    try:
        env = dict(os.environ, KRB5CCNAME='FILE:%s' % (tmp_path / 'cc'), **realm.env())
        got = subprocess.run(['kinit', 'administrator@FLEETFIX.LOCAL'], input='Pass-1!\n', text=True, env=env,
                             capture_output=True, timeout=30, check=False)
        assert got.returncode == 0, got.stderr
        service = subprocess.run(['kvno', 'HTTP/ex01.fleetfix.local'], text=True, env=env, capture_output=True,
                                 timeout=30, check=False)
        assert 'kvno = ' in service.stdout
    finally:
        kdc.stop(process)
    assert not realm.answers()


def test_winrm_inventory_has_the_field_servers_and_the_kerberos_host():
    part = winrm_plugin.inventory_part(dict(winrm_plugin.PLUGIN.options), '/state', '/state/kdc/krb5.conf')
    field = part['groups']['field_servers']['hosts']
    assert sorted(field) == ['exde01', 'exfr01', 'exkrb01', 'exnowmic01']
    assert field['exkrb01']['ansible_winrm_transport'] == 'kerberos'
    assert field['exkrb01']['ansible_user'] == 'administrator@FLEETFIX.LOCAL'
    assert field['exkrb01']['ansible_winrm_kerberos_hostname_override'] == 'exkrb01.fleetfix.local'
    assert field['exde01']['ansible_winrm_transport'] == 'ntlm'
    # After dc01 on the ports, the Exchange servers keep theirs.
    assert part['vars']['testbed_winrm_ports']['dc01'] == {'https': 15994, 'http': 16994}
    assert part['vars']['testbed_winrm_ports']['exde01'] == {'https': 15995, 'http': 16995}
    assert part['vars']['testbed_winrm_krb5_conf'] == '/state/kdc/krb5.conf'
    assert winrm_plugin.PLUGIN.after == ('kdc',)
