# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The HTTPS client against small servers on 127.0.0.1 that this test starts and stops."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
import threading
import time

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.fleetfix.remediate.plugins.module_utils import _https
from ansible_collections.fleetfix.remediate.plugins.module_utils._https import HttpsClient, HttpsError

NAME = 'autodiscover.fabrikam.test'
ANSWER_401 = (b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n'
              b'Content-Type: text/html\r\nContent-Length: 6\r\nConnection: close\r\n\r\ndenied')
NOW = datetime.datetime.now(datetime.timezone.utc)


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _certificate(subject, issuer_name, issuer_key, public_key, names=(), ca=False, start=None, end=None):
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer_name).public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(start or NOW - datetime.timedelta(days=1))
               .not_valid_after(end or NOW + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp('pki')
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'unit test CA')])
    ca = _certificate('unit test CA', ca_name, ca_key, ca_key.public_key(), ca=True)
    (directory / 'ca.pem').write_bytes(_pem(ca))
    files = {}
    variants = {
        'good': dict(names=[NAME]),
        'other_name': dict(names=['www.elsewhere.test']),
        'expired': dict(names=[NAME], start=datetime.datetime(2019, 1, 1, tzinfo=datetime.timezone.utc),
                        end=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)),
    }
    for label, spec in variants.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(NAME, ca_name, ca_key, key.public_key(), **spec)
        files[label] = _write_pair(directory, label, key, cert)
    own_key = ec.generate_private_key(ec.SECP256R1())
    own_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    files['self_signed'] = _write_pair(directory, 'self_signed', own_key,
                                       _certificate(NAME, own_name, own_key, own_key.public_key(), names=[NAME]))
    files['ca'] = str(directory / 'ca.pem')
    return files


def _write_pair(directory, label, key, cert):
    key_path = directory / f'{label}.key'
    cert_path = directory / f'{label}.pem'
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(_pem(cert))
    return str(cert_path), str(key_path)


class OneShotServer:
    """Accepts connections on 127.0.0.1, optionally TLS, records what came and sends ``answer`` (or nothing)."""

    def __init__(self, answer=ANSWER_401, certificate=None, silent=False, at_once=False):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.answer = answer
        self.silent = silent
        self.at_once = at_once
        self.context = None
        if certificate:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(*certificate)
        self.received = []
        self.server_names = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                connection, _peer = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            with connection:
                connection.settimeout(3)
                if self.silent:
                    self.stop.wait(3)
                    continue
                try:
                    if self.context:
                        self.context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
                        connection = self.context.wrap_socket(connection, server_side=True)
                    data = b''
                    while b'\r\n\r\n' not in data and not self.at_once:
                        chunk = connection.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    self.received.append(data)
                    connection.sendall(self.answer)
                except (OSError, ssl.SSLError):
                    continue

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def server():
    started = []

    def start(**kwargs):
        instance = OneShotServer(**kwargs)
        started.append(instance)
        return instance
    yield start
    for instance in started:
        instance.close()


def test_tls_with_the_given_ca_sends_sni_and_host_and_reads_the_answer(pki, server):
    endpoint = server(certificate=pki['good'])
    answer = HttpsClient(ca_path=pki['ca'], timeout=3).request(
        'POST', NAME, '127.0.0.1', endpoint.port, '/autodiscover/autodiscover.xml', body=b'<x/>',
        headers={'Content-Type': 'text/xml'})
    assert answer['status'] == 401
    assert [value for key, value in answer['headers'] if key == 'WWW-Authenticate'] == ['Negotiate', 'NTLM']
    assert answer['body'] == b'denied'
    assert endpoint.server_names == [NAME]
    request = endpoint.received[0].decode()
    assert request.startswith('POST /autodiscover/autodiscover.xml HTTP/1.1\r\n')
    assert f'Host: {NAME}:{endpoint.port}\r\n' in request
    assert 'Content-Length: 4\r\n' in request
    assert 'Authorization' not in request


def test_the_system_store_does_not_trust_a_test_ca(pki, server):
    endpoint = server(certificate=pki['good'])
    with pytest.raises(HttpsError) as caught:
        HttpsClient(timeout=3).request('POST', NAME, '127.0.0.1', endpoint.port, '/')
    assert caught.value.stage == 'tls' and caught.value.kind == 'untrusted'


@pytest.mark.parametrize('variant, kind, text', [
    ('other_name', 'name_mismatch', f'the certificate is not issued for {NAME}'),
    ('expired', 'expired', 'the certificate has expired'),
    ('self_signed', 'untrusted', 'the certificate chain does not lead to a trusted CA'),
])
def test_certificate_problems_are_named(pki, server, variant, kind, text):
    endpoint = server(certificate=pki[variant])
    with pytest.raises(HttpsError) as caught:
        HttpsClient(ca_path=pki['ca'], timeout=3).request('POST', NAME, '127.0.0.1', endpoint.port, '/')
    assert caught.value.stage == 'tls' and caught.value.kind == kind
    assert str(caught.value) == f'{text} (127.0.0.1:{endpoint.port})' or str(caught.value).startswith(text)


def test_connection_refused():
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(HttpsError) as caught:
        HttpsClient(timeout=2).request('POST', NAME, '127.0.0.1', port, '/')
    assert caught.value.stage == 'tcp' and caught.value.kind == 'refused'
    assert str(caught.value) == f'nothing listens on 127.0.0.1:{port} (connection refused)'


def test_a_silent_server_times_out_in_the_handshake(server):
    endpoint = server(silent=True)
    with pytest.raises(HttpsError) as caught:
        HttpsClient(timeout=0.3).request('POST', NAME, '127.0.0.1', endpoint.port, '/')
    assert caught.value.stage == 'tls' and caught.value.kind == 'timeout'


def test_plain_http_on_the_https_port_is_a_tls_failure(server):
    endpoint = server(answer=b'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n', at_once=True)
    with pytest.raises(HttpsError) as caught:
        HttpsClient(timeout=2).request('POST', NAME, '127.0.0.1', endpoint.port, '/')
    assert caught.value.stage == 'tls' and caught.value.kind == 'handshake'


def test_random_bytes_are_not_http(server):
    endpoint = server(answer=b'\x16\x03\x01\x00\xffrandom bytes\r\n\r\n')
    with pytest.raises(HttpsError) as caught:
        HttpsClient(timeout=2).request('GET', NAME, '127.0.0.1', endpoint.port, '/', tls=False)
    assert caught.value.stage == 'http' and caught.value.kind == 'not_http'
    assert 'did not answer with HTTP' in str(caught.value)


def test_plain_http_redirect_and_default_port_host_header(server):
    endpoint = server(answer=b'HTTP/1.1 302 Found\r\nLocation: https://x.test/a\r\nContent-Length: 0\r\n\r\n')
    client = HttpsClient(timeout=2)
    answer = asyncio.run(client.arequest('GET', NAME, '127.0.0.1', endpoint.port, '/a', tls=False))
    client.close()
    assert answer['status'] == 302 and dict(answer['headers'])['Location'] == 'https://x.test/a'


def test_the_body_is_bounded(server, monkeypatch):
    monkeypatch.setattr(_https, 'MAX_BODY', 10)
    endpoint = server(answer=b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n' + b'x' * 100)
    answer = HttpsClient(timeout=2).request('GET', NAME, '127.0.0.1', endpoint.port, '/', tls=False)
    assert answer['body'] == b'x' * 10


def test_ca_bundle_errors_are_sentences(tmp_path):
    with pytest.raises(ValueError, match='does not exist'):
        HttpsClient(ca_path=str(tmp_path / 'missing.pem'))
    (tmp_path / 'junk.pem').write_text('not a certificate')
    with pytest.raises(ValueError, match='cannot be read as PEM certificates'):
        HttpsClient(ca_path=str(tmp_path / 'junk.pem'))


def test_validation_is_always_on():
    context = HttpsClient().context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True


def test_a_server_trickling_its_answer_is_cut_off_at_the_deadline():
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def trickle():
        connection, _peer = listener.accept()
        with connection:
            connection.recv(4096)
            connection.sendall(b'HTTP/1.1 200 OK\r\n')
            while not stop.wait(0.1):
                try:
                    connection.sendall(b'X-Slow: 1\r\n')
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        with pytest.raises(HttpsError) as caught:
            HttpsClient(timeout=0.6).request('GET', NAME, '127.0.0.1', port, '/', tls=False)
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert time.monotonic() - started < 3
    assert caught.value.kind == 'timeout'
    assert str(caught.value) == f'127.0.0.1:{port} did not finish the exchange within 0.6 s'
