# Private to this repository's tests: make the testbed launcher (tests/testbed/testbed) importable.
from __future__ import annotations

import os
import sys

TESTBED_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', 'testbed'))
if TESTBED_DIR not in sys.path:
    sys.path.insert(0, TESTBED_DIR)


# -- a real MIT KDC and the WinRM peer accepting Kerberos, in this process ----------------
import socket  # noqa: E402 pylint: disable=wrong-import-position

import pytest  # noqa: E402 pylint: disable=wrong-import-position

# The test realm's user (administrator@FLEETFIX.LOCAL) and the peer's NTLM account share it.
PEER_PASSWORD = 'Secret-1!'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# One realm and peer per test: ansible-test runs each test in a fork of its own, so a module-scoped
# fixture would be set up again in every fork and torn down only in the last one, leaving its KDC running.
@pytest.fixture
def kerberos(tmp_path_factory):
    """A realm FLEETFIX.LOCAL served by krb5kdc, and a WinRM peer (ex01, dc01, the field servers) with its keytab.

    Yields a dict: realm, kdc (the process; tests may stop and restart it), peer, ports, ca, control.
    """
    pytest.importorskip('spnego')
    pytest.importorskip('gssapi')
    from testbed.plugins import kdc
    from testbed.plugins.kdc import Realm
    from winrm_peer.certs import ensure_certificates
    from winrm_peer.model import FIELD_HOSTS, Fleet
    from winrm_peer.server import Peer, start_control
    state = str(tmp_path_factory.mktemp('kerberos'))
    realm = Realm(os.path.join(state, 'kdc'), 'FLEETFIX.LOCAL', free_port())
    realm.create()
    names = ['ex01', 'dc01'] + list(FIELD_HOSTS)
    services = ['HTTP/%s.fleetfix.local' % name for name in names]
    realm.add_principals([('administrator', PEER_PASSWORD)] + [(service, None) for service in services])
    keytab = realm.export_keytab(services, os.path.join(state, 'http.keytab'))
    saved = {name: os.environ.get(name) for name in ('KRB5_CONFIG', 'KRB5_KTNAME', 'KRB5RCACHETYPE', 'KRB5CCNAME')}
    os.environ.update(KRB5_CONFIG=realm.krb5_conf, KRB5_KTNAME='FILE:' + keytab, KRB5RCACHETYPE='none')
    process = kdc.start(realm)
    ensure_certificates(state)
    fleet = Fleet(hosts=1, event_interval=5.0, restart_seconds=0.3)
    ports = {name: (free_port(), free_port()) for name in names}
    peer = Peer(fleet, ports, 'administrator', PEER_PASSWORD, state)
    peer.start()
    control_port = free_port()
    control_server = start_control(peer, control_port)
    context = {'realm': realm, 'kdc': process, 'peer': peer, 'ports': ports, 'ca': os.path.join(state, 'ca.pem'),
               'control': 'http://127.0.0.1:%d' % control_port, 'state': state}
    try:
        yield context
    finally:
        peer.running = False
        control_server.shutdown()
        for listeners in peer.listeners.values():
            for listener in listeners:
                listener.close()
        kdc.stop(context['kdc'])
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
