# Private to this repository's tests, demo and benchmarks.
"""Autodiscover endpoints: Debian's nginx on loopback, with a test CA made at start.

Each vhost has its own loopback address (the Autodiscover records in tests/testbed/dns/zones.yml
point at them); see tests/testbed/autodiscover/README.md for the table and the variables.
"""

import datetime
import ipaddress
import os
import shutil
import socket

from testbed.core import Plugin, TestbedError

NGINX = '/usr/sbin/nginx'
PATH = '/autodiscover/autodiscover.xml'

# What an anonymous POST to Exchange's /autodiscover/autodiscover.xml gets: 401 offering
# Negotiate and NTLM (IIS sends one WWW-Authenticate header per scheme).
EXCHANGE = 'exchange'
# A web host serving the domain's web site: no Autodiscover application, 404 for the path.
WEBSITE = 'website'
# The HTTP redirect method: plain HTTP, 302 to the https endpoint of another name.
REDIRECT = 'redirect'

VHOSTS = {
    'good': {
        'address': '127.0.0.71', 'answer': EXCHANGE, 'certificate': 'good',
        'names': ['autodiscover.ad-good.fleetfix.test', 'autodiscover.good.fleetfix.test',
                  'autodiscover.contoso.fleetfix.test', 'autodiscover.partner-cname.fleetfix.test',
                  'mail.partner-cname.fleetfix.test', 'mail.partner-srv.fleetfix.test'],
    },
    'wrong_name': {
        'address': '127.0.0.72', 'answer': EXCHANGE, 'certificate': 'good',
        'names': ['mail.elsewhere.fleetfix.test'],
    },
    'expired': {
        'address': '127.0.0.73', 'answer': EXCHANGE, 'certificate': 'expired',
        'names': ['autodiscover.ad-expired.fleetfix.test'],
    },
    'website': {
        'address': '127.0.0.74', 'answer': WEBSITE, 'certificate': 'good',
        'names': ['ad-good.fleetfix.test', 'autodiscover.ad-404.fleetfix.test'],
    },
    'redirect': {
        'address': '127.0.0.75', 'answer': REDIRECT, 'certificate': None, 'names': [],
        'location': 'https://autodiscover.ad-good.fleetfix.test' + PATH,
    },
    'untrusted': {
        'address': '127.0.0.77', 'answer': EXCHANGE, 'certificate': 'self_signed',
        'names': ['autodiscover.ad-untrusted.fleetfix.test'],
    },
}
# An address with nothing listening (connection refused on 80 and 443).
NO_LISTENER = '127.0.0.76'
EXPIRED_VALIDITY = (datetime.datetime(2019, 1, 1, tzinfo=datetime.timezone.utc),
                    datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))


def _crypto():
    try:
        # pylint: disable=import-outside-toplevel
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError as error:
        raise TestbedError('autodiscover: the testbed needs the Python package cryptography (%s); run `make setup`.'
                           % error) from None
    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


def _write(path, data, mode=0o644):
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, mode)


def make_certificates(directory):
    """ca.pem (the test CA) and one key and certificate per TLS vhost; returns ca.pem's path."""
    x509, hashes, serialization, ec, eku, oid = _crypto()
    os.makedirs(directory, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def key_pem(key):
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    def authority(common_name):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(oid.COMMON_NAME, common_name)])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(datetime.datetime(2018, 1, 1, tzinfo=datetime.timezone.utc))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return key, cert

    ca_key, ca_cert = authority('FleetFix Autodiscover test CA')
    # a self-signed "CA" nobody trusts, as an appliance's factory certificate is
    rogue_key, rogue_cert = authority('Untrusted appliance CA')
    for vhost, spec in VHOSTS.items():
        if not spec['certificate']:
            continue
        issuer_key, issuer_cert = (rogue_key, rogue_cert) if spec['certificate'] == 'self_signed' else (ca_key, ca_cert)
        start, end = EXPIRED_VALIDITY if spec['certificate'] == 'expired' else (
            now - datetime.timedelta(days=1), now + datetime.timedelta(days=397))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(oid.COMMON_NAME, spec['names'][0])]))
                .issuer_name(issuer_cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in spec['names']]),
                               critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([eku.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                               critical=False)
                .sign(issuer_key, hashes.SHA256()))
        _write(os.path.join(directory, vhost + '.key'), key_pem(key), 0o600)
        _write(os.path.join(directory, vhost + '.pem'), cert.public_bytes(serialization.Encoding.PEM))
    _write(os.path.join(directory, 'ca.key'), key_pem(ca_key), 0o600)
    ca_path = os.path.join(directory, 'ca.pem')
    _write(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM))
    return ca_path


def server_block(vhost, spec, work_dir):
    address = spec['address']
    if spec['answer'] == REDIRECT:
        return '\n'.join([
            '    server {',
            '        listen %s:80;' % address,
            '        location = %s { return 302 %s; }' % (PATH, spec['location']),
            '        location / { return 404; }',
            '    }'])
    lines = [
        '    server {',
        '        listen %s:443 ssl;' % address,
        '        ssl_certificate %s;' % os.path.join(work_dir, 'certs', vhost + '.pem'),
        '        ssl_certificate_key %s;' % os.path.join(work_dir, 'certs', vhost + '.key'),
    ]
    if spec['answer'] == EXCHANGE:
        lines += [
            '        location = %s {' % PATH,
            '            add_header WWW-Authenticate Negotiate always;',
            '            add_header WWW-Authenticate NTLM always;',
            '            return 401;',
            '        }',
            '        location / { return 404; }',
        ]
    else:
        lines += [
            '        location = / { default_type text/html; return 200 "<html><body>Welcome</body></html>"; }',
            '        location / { return 404; }',
        ]
    return '\n'.join(lines + ['    }'])


def write_config(work_dir):
    temp = os.path.join(work_dir, 'tmp')
    os.makedirs(temp, exist_ok=True)
    lines = [
        '# Generated by the fleetfix testbed (plugins/autodiscover.py); rewritten on every start.',
        'daemon off;',
        # one process: the launcher finds and stops it by its command line, which a master
        # process would rewrite ("nginx: master process ...")
        'master_process off;',
        'pid %s;' % os.path.join(work_dir, 'nginx.pid'),
        'error_log %s notice;' % os.path.join(work_dir, 'error.log'),
        'events { worker_connections 256; }',
        'http {',
        '    access_log %s;' % os.path.join(work_dir, 'access.log'),
        '    client_body_temp_path %s;' % os.path.join(temp, 'body'),
        '    proxy_temp_path %s;' % os.path.join(temp, 'proxy'),
        '    fastcgi_temp_path %s;' % os.path.join(temp, 'fastcgi'),
        '    uwsgi_temp_path %s;' % os.path.join(temp, 'uwsgi'),
        '    scgi_temp_path %s;' % os.path.join(temp, 'scgi'),
        '    server_tokens off;',
        '    keepalive_timeout 5;',
    ]
    lines += [server_block(vhost, spec, work_dir) for vhost, spec in VHOSTS.items()]
    lines.append('}')
    path = os.path.join(work_dir, 'nginx.conf')
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('\n'.join(lines) + '\n')
    return path


def listeners():
    return [(spec['address'], 80 if spec['answer'] == REDIRECT else 443) for spec in VHOSTS.values()]


def port_free(address, port):
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # as nginx binds: connections of a previous run in TIME_WAIT do not count, a listener does
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def inventory_part(ca_path):
    return {
        'vars': {
            'testbed_autodiscover_ca_path': ca_path,
            'testbed_autodiscover_addresses': dict({vhost: spec['address'] for vhost, spec in VHOSTS.items()},
                                                   no_listener=NO_LISTENER),
            'federation_dns_autodiscover_ca_path': ca_path,
        },
    }


class AutodiscoverPlugin(Plugin):
    name = 'autodiscover'
    description = 'Autodiscover: nginx on 127.0.0.71-77 (good, wrong name, expired, 404, redirect, untrusted)'

    def build(self, ctx):
        if not os.access(NGINX, os.X_OK):
            raise TestbedError('autodiscover: %s is missing; install the Debian package nginx (`make setup`).' % NGINX)
        _crypto()
        for address in [spec['address'] for spec in VHOSTS.values()] + [NO_LISTENER]:
            if not ipaddress.ip_address(address).is_loopback:
                raise TestbedError('autodiscover: %s is not a loopback address.' % address)

    def start(self, ctx):
        busy = ['%s:%d' % listener for listener in listeners() if not port_free(*listener)]
        if busy:
            raise TestbedError('autodiscover: something already listens on %s (ports 80/443 need root, and one '
                               'Autodiscover testbed per network namespace); stop it or run in your own namespace.'
                               % ', '.join(busy))
        shutil.rmtree(os.path.join(ctx.work_dir, 'certs'), ignore_errors=True)
        ca_path = make_certificates(os.path.join(ctx.work_dir, 'certs'))
        config = write_config(ctx.work_dir)
        ctx.spawn('nginx', [NGINX, '-c', config, '-p', ctx.work_dir, '-e', os.path.join(ctx.work_dir, 'error.log')])
        for address, port in listeners():
            ctx.wait_tcp(address, port, timeout=20, label='nginx')
        return inventory_part(ca_path)


PLUGIN = AutodiscoverPlugin()
