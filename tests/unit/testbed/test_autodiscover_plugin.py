# Private to this repository's tests: the Autodiscover launcher plug-in (certificates, nginx
# configuration, agreement with the test zones). nginx itself runs in the integration targets.
from __future__ import annotations

import datetime
import ipaddress
import os

from cryptography import x509

from testbed import dnsctl
from testbed.plugins import autodiscover


def load(path):
    with open(path, 'rb') as handle:
        return x509.load_pem_x509_certificate(handle.read())


def names(cert):
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)


def test_certificates_per_vhost(tmp_path):
    ca_path = autodiscover.make_certificates(str(tmp_path))
    ca = load(ca_path)
    now = datetime.datetime.now(datetime.timezone.utc)
    for vhost, spec in autodiscover.VHOSTS.items():
        if not spec['certificate']:
            assert not os.path.exists(tmp_path / f'{vhost}.pem')
            continue
        cert = load(tmp_path / f'{vhost}.pem')
        assert names(cert) == spec['names']
        if spec['certificate'] == 'self_signed':
            assert cert.issuer != ca.subject
        else:
            assert cert.issuer == ca.subject
            cert.verify_directly_issued_by(ca)
        if spec['certificate'] == 'expired':
            assert cert.not_valid_after_utc < now
        else:
            assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
        assert oct(os.stat(tmp_path / f'{vhost}.key').st_mode & 0o777) == '0o600'


def test_nginx_configuration(tmp_path):
    config = open(autodiscover.write_config(str(tmp_path)), encoding='utf-8').read()
    assert 'daemon off;' in config and 'master_process off;' in config
    assert 'pid %s;' % (tmp_path / 'nginx.pid') in config
    assert 'listen 127.0.0.71:443 ssl;' in config and 'listen 127.0.0.75:80;' in config
    assert 'return 302 https://autodiscover.ad-good.fleetfix.test/autodiscover/autodiscover.xml;' in config
    assert config.count('return 401;') == 3 + 1  # good, wrong name, expired, untrusted
    assert '127.0.0.76' not in config


def test_every_address_is_loopback():
    for address, _port in autodiscover.listeners():
        assert ipaddress.ip_address(address).is_loopback
    assert ipaddress.ip_address(autodiscover.NO_LISTENER).is_loopback


def test_zones_point_the_cases_at_the_vhosts_that_serve_their_names():
    description = dnsctl.load_description()
    by_address = {spec['address']: (vhost, spec) for vhost, spec in autodiscover.VHOSTS.items()}
    expected = {
        'ad-good.fleetfix.test': 'good', 'ad-wrongname.fleetfix.test': 'wrong_name',
        'ad-expired.fleetfix.test': 'expired', 'ad-404.fleetfix.test': 'website',
        'ad-redirect.fleetfix.test': 'redirect', 'ad-untrusted.fleetfix.test': 'untrusted',
        'good.fleetfix.test': 'good', 'contoso.fleetfix.test': 'good',
    }
    for zone, vhost in expected.items():
        records = {owner: rdata for owner, rtype, rdata in description['zones'][zone]['records'] if rtype == 'A'}
        found, spec = by_address[records['autodiscover']]
        assert found == vhost
        if vhost not in ('wrong_name', 'redirect'):
            assert 'autodiscover.' + zone in spec['names']
    assert 'autodiscover.ad-wrongname.fleetfix.test' not in autodiscover.VHOSTS['wrong_name']['names']
    nolistener = {owner: rdata for owner, _rtype, rdata in description['zones']['ad-nolistener.fleetfix.test']['records']}
    assert nolistener['autodiscover'] == autodiscover.NO_LISTENER
    # every Autodiscover and mail address of the test zones is one of the testbed's own
    for zone, spec in description['zones'].items():
        if zone.startswith(('ad-', 'partner-')):
            for _owner, rtype, rdata in spec['records']:
                if rtype == 'A':
                    assert rdata in by_address or rdata == autodiscover.NO_LISTENER, (zone, rdata)
