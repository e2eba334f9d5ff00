# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import asyncio

from ansible_collections.fleetfix.remediate.plugins.module_utils import _autodiscover, _federation
from ansible_collections.fleetfix.remediate.plugins.module_utils._https import HttpsError

URL = 'https://autodiscover.fabrikam.com/autodiscover/autodiscover.xml'
EXCHANGE_401 = dict(status=401, reason='Unauthorized', body=b'<html>401</html>',
                    headers=[('WWW-Authenticate', 'Negotiate'), ('WWW-Authenticate', 'NTLM'),
                             ('Content-Type', 'text/html')])
NOT_FOUND = dict(status=404, reason='Not Found', headers=[('Content-Type', 'text/html')], body=b'<html>404</html>')
AUTODISCOVER_XML = (b'<?xml version="1.0" encoding="utf-8"?><Autodiscover '
                    b'xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">'
                    b'<Response><Error Time="1" Id="2"><ErrorCode>600</ErrorCode><Message>Invalid Request</Message>'
                    b'</Error></Response></Autodiscover>')


class FakeDns:
    """The _dns.DnsClient seam the HTTPS check uses: addresses of a host name."""

    def __init__(self, addresses=None):
        self.by_name = addresses or {}
        self.asked = []

    async def addresses(self, host):
        self.asked.append(host)
        return self.by_name.get(host, [])


class FakeHttps:
    """The _https.HttpsClient seam: answers (or HttpsErrors) per (host, address, port, tls)."""

    def __init__(self, answers):
        self.answers = answers
        self.requests = []

    async def arequest(self, method, host, address, port, path, tls=True, body=None, headers=None):
        self.requests.append(dict(method=method, host=host, address=address, port=port, path=path, tls=tls, body=body,
                                  headers=headers))
        answer = self.answers.get((host, address, port))
        if answer is None:
            raise HttpsError('tcp', 'refused', f'nothing listens on {address}:{port} (connection refused)')
        if isinstance(answer, HttpsError):
            raise answer
        return answer


def dns_result(domain, autodiscover=None, root=None, srv=None):
    methods = []
    if autodiscover:
        methods.append(dict(method='autodiscover', name=f'autodiscover.{domain}', addresses=autodiscover))
    if root:
        methods.append(dict(method='domain', name=domain, addresses=root))
    if srv:
        methods.append(dict(method='srv', name=f'_autodiscover._tcp.{domain}', targets=srv))
    return dict(name=domain, methods=methods, errors=[], ok=bool(methods))


def run_check(dns, https, result):
    return asyncio.run(_autodiscover.check_all(dns, https, [result]))[0]


def by_method(entry):
    return {item['method']: item for item in entry['https']['attempts']}


def test_exchange_401_on_autodiscover_name_is_the_working_method_and_others_say_why():
    https = FakeHttps({('fabrikam.com', '203.0.113.80', 443): NOT_FOUND,
                       ('autodiscover.fabrikam.com', '203.0.113.25', 443): EXCHANGE_401})
    entry = run_check(FakeDns(), https, dns_result('fabrikam.com', autodiscover=['203.0.113.25'], root=['203.0.113.80']))
    assert entry['ok'] is True
    assert entry['https']['method'] == 'autodiscover'
    assert entry['https']['url'] == URL
    assert entry['https']['verdict'] == (f'Autodiscover answers at {URL} (autodiscover method): HTTP 401: asks for '
                                         'credentials, as Exchange does (offers Negotiate, NTLM)')
    attempts = by_method(entry)
    assert [item['method'] for item in entry['https']['attempts']] == ['domain', 'autodiscover', 'redirect', 'srv']
    assert attempts['domain']['stage'] == 'http' and attempts['domain']['status'] == 404
    assert 'a web server without Exchange' in attempts['domain']['reason']
    assert attempts['redirect']['stage'] == 'tcp' and 'connection refused' in attempts['redirect']['reason']
    assert attempts['srv'] == dict(method='srv', url=None, host=None, port=None, address=None, ok=False, stage='dns',
                                   status=None, reason='no SRV record _autodiscover._tcp.fabrikam.com',
                                   redirect_to=None, fix=None)
    assert _autodiscover.describe(entry) == []


def test_the_request_is_an_anonymous_autodiscover_post_with_sni_name_and_resolved_address():
    https = FakeHttps({('autodiscover.fabrikam.com', '203.0.113.25', 443): EXCHANGE_401})
    run_check(FakeDns(), https, dns_result('fabrikam.com', autodiscover=['203.0.113.25']))
    post = [request for request in https.requests if request['method'] == 'POST'][0]
    assert post['host'] == 'autodiscover.fabrikam.com' and post['address'] == '203.0.113.25' and post['tls'] is True
    assert post['path'] == '/autodiscover/autodiscover.xml'
    assert b'<EMailAddress>autodiscover-check@fabrikam.com</EMailAddress>' in post['body']
    assert b'outlook/requestschema/2006' in post['body']
    assert post['headers']['Content-Type'].startswith('text/xml')
    assert not any('Authorization' in (request['headers'] or {}) for request in https.requests)
    get = [request for request in https.requests if request['method'] == 'GET'][0]
    assert get['port'] == 80 and get['tls'] is False


def test_200_with_autodiscover_xml_works_and_200_html_does_not():
    works, sentence = _autodiscover.judge_answer(dict(status=200, headers=[('Content-Type', 'text/xml')],
                                                      body=AUTODISCOVER_XML))
    assert works is True and sentence == 'HTTP 200 with an Autodiscover XML response'
    works, sentence = _autodiscover.judge_answer(dict(status=200, headers=[('Content-Type', 'text/html; charset=utf-8')],
                                                      body=b'<html><body>Welcome</body></html>'))
    assert works is False
    assert sentence == 'HTTP 200 but no Autodiscover XML (text/html): a web site answers here, not Exchange'
    assert _autodiscover.judge_answer(dict(status=200, headers=[], body=b'\x00\xff garbage'))[0] is False


def test_other_statuses_are_not_working():
    assert _autodiscover.judge_answer(NOT_FOUND) == (
        False, 'HTTP 404: no Autodiscover service at this URL (a web server without Exchange behind it)')
    works, sentence = _autodiscover.judge_answer(dict(status=302, headers=[('Location', 'https://x.example/')], body=b''))
    assert works is False and sentence.startswith('HTTP 302 to https://x.example/: a redirect')
    assert _autodiscover.judge_answer(dict(status=403, headers=[], body=b''))[0] is False
    assert _autodiscover.judge_answer(dict(status=503, headers=[], body=b''))[1].startswith('HTTP 503: the server fails')
    assert _autodiscover.judge_answer(dict(status=418, reason='I am a teapot', headers=[], body=b'')) == (
        False, 'HTTP 418 I am a teapot: not an answer of the Autodiscover service')
    assert _autodiscover.judge_answer(dict(status=401, headers=[], body=b'')) == (
        True, 'HTTP 401: asks for credentials, as Exchange does')


def test_certificate_failures_name_the_fix_and_fail_the_domain():
    expired = HttpsError('tls', 'expired', 'the certificate has expired (203.0.113.25:443)')
    entry = run_check(FakeDns(), FakeHttps({('autodiscover.fabrikam.com', '203.0.113.25', 443): expired}),
                      dns_result('fabrikam.com', autodiscover=['203.0.113.25']))
    assert entry['ok'] is False
    assert entry['https']['ok'] is False and entry['https']['method'] is None and entry['https']['url'] is None
    attempt = by_method(entry)['autodiscover']
    assert attempt['stage'] == 'tls' and attempt['address'] == '203.0.113.25'
    assert attempt['fix'] == 'renew the certificate and bind the new one'
    sentence = _autodiscover.describe(entry)
    assert sentence == [f'fabrikam.com: no Autodiscover endpoint answers over HTTPS: {URL}: the certificate has expired '
                        '(203.0.113.25:443) (fix: renew the certificate and bind the new one); '
                        'http://autodiscover.fabrikam.com/autodiscover/autodiscover.xml: nothing listens on '
                        '203.0.113.25:80 (connection refused).']


def test_name_mismatch_fix_names_the_host():
    mismatch = HttpsError('tls', 'name_mismatch', 'the certificate is not issued for autodiscover.fabrikam.com (a:443)')
    entry = run_check(FakeDns(), FakeHttps({('autodiscover.fabrikam.com', '203.0.113.25', 443): mismatch}),
                      dns_result('fabrikam.com', autodiscover=['203.0.113.25']))
    assert by_method(entry)['autodiscover']['fix'] == 'bind a certificate whose names include autodiscover.fabrikam.com'


def test_no_record_methods_are_left_out_of_the_sentence_but_kept_in_attempts():
    entry = run_check(FakeDns(), FakeHttps({}), dns_result('fabrikam.com', autodiscover=['203.0.113.25']))
    assert by_method(entry)['domain']['reason'] == 'fabrikam.com has no A/AAAA record'
    assert 'fabrikam.com has no A/AAAA record' not in entry['https']['verdict']
    assert 'nothing listens on 203.0.113.25:443' in entry['https']['verdict']


def test_redirect_method_follows_a_302_to_https_and_checks_that_url():
    target = 'https://mail.hoster.example/autodiscover/autodiscover.xml'
    https = FakeHttps({
        ('autodiscover.fabrikam.com', '203.0.113.25', 80): dict(status=302, reason='Found', body=b'',
                                                                headers=[('Location', target)]),
        ('mail.hoster.example', '198.51.100.7', 443): EXCHANGE_401,
    })
    dns = FakeDns({'mail.hoster.example': ['198.51.100.7']})
    entry = run_check(dns, https, dns_result('fabrikam.com', autodiscover=['203.0.113.25']))
    assert entry['ok'] is True
    assert entry['https']['method'] == 'redirect'
    assert entry['https']['url'] == target
    redirect = by_method(entry)['redirect']
    assert redirect['url'] == 'http://autodiscover.fabrikam.com/autodiscover/autodiscover.xml'
    assert redirect['redirect_to'] == target and redirect['address'] == '198.51.100.7' and redirect['status'] == 401
    assert redirect['reason'].startswith(f'HTTP 302 to {target}, which answers HTTP 401')
    assert dns.asked == ['mail.hoster.example']
    assert entry['https']['verdict'].startswith('Autodiscover answers through the HTTP redirect method')


def test_redirect_to_plain_http_or_no_redirect_is_not_working():
    https = FakeHttps({('autodiscover.fabrikam.com', '203.0.113.25', 80): dict(
        status=302, reason='Found', body=b'', headers=[('Location', 'http://mail.hoster.example/autodiscover.xml')])})
    redirect = by_method(run_check(FakeDns(), https, dns_result('fabrikam.com', autodiscover=['203.0.113.25'])))['redirect']
    assert redirect['stage'] == 'redirect' and redirect['ok'] is False
    assert 'not to an https URL' in redirect['reason'] and redirect['fix'] == 'make the redirect point to an https URL'
    https = FakeHttps({('autodiscover.fabrikam.com', '203.0.113.25', 80): NOT_FOUND})
    redirect = by_method(run_check(FakeDns(), https, dns_result('fabrikam.com', autodiscover=['203.0.113.25'])))['redirect']
    assert redirect['reason'] == 'HTTP 404 instead of a redirect to an https URL'


def test_redirect_whose_target_fails_says_where():
    target = 'https://mail.hoster.example/autodiscover/autodiscover.xml'
    https = FakeHttps({('autodiscover.fabrikam.com', '203.0.113.25', 80): dict(
        status=301, reason='Moved', body=b'', headers=[('Location', target)])})
    redirect = by_method(run_check(FakeDns(), https, dns_result('fabrikam.com', autodiscover=['203.0.113.25'])))['redirect']
    assert redirect['ok'] is False
    assert redirect['reason'] == f'HTTP 301 to {target}, where mail.hoster.example has no A/AAAA record'


def test_srv_targets_in_order_until_one_works_with_its_port():
    https = FakeHttps({('mail2.fabrikam.com', '203.0.113.26', 8443): EXCHANGE_401})
    dns = FakeDns({'mail1.fabrikam.com': ['203.0.113.25'], 'mail2.fabrikam.com': ['203.0.113.26']})
    entry = run_check(dns, https, dns_result('fabrikam.com', srv=['mail1.fabrikam.com:443', 'mail2.fabrikam.com:8443']))
    assert entry['https']['method'] == 'srv'
    assert entry['https']['url'] == 'https://mail2.fabrikam.com:8443/autodiscover/autodiscover.xml'
    assert [request['host'] for request in https.requests] == ['mail1.fabrikam.com', 'mail2.fabrikam.com']


def test_srv_target_dot_means_no_service():
    entry = run_check(FakeDns(), FakeHttps({}), dns_result('fabrikam.com', srv=['.:0']))
    assert by_method(entry)['srv']['reason'] == 'the SRV record _autodiscover._tcp.fabrikam.com names no usable target (.:0)'


def test_first_working_method_wins_in_the_clients_order():
    https = FakeHttps({('fabrikam.com', '203.0.113.80', 443): EXCHANGE_401,
                       ('autodiscover.fabrikam.com', '203.0.113.25', 443): EXCHANGE_401})
    entry = run_check(FakeDns(), https, dns_result('fabrikam.com', autodiscover=['203.0.113.25'], root=['203.0.113.80']))
    assert entry['https']['method'] == 'domain'
    assert by_method(entry)['autodiscover']['ok'] is True


def test_each_address_is_tried_until_one_answers():
    https = FakeHttps({('autodiscover.fabrikam.com', '203.0.113.26', 443): EXCHANGE_401})
    entry = run_check(FakeDns(), https, dns_result('fabrikam.com', autodiscover=['2001:db8::25', '203.0.113.26']))
    attempt = by_method(entry)['autodiscover']
    assert attempt['ok'] is True and attempt['address'] == '203.0.113.26'


def test_not_checked_keeps_the_dns_verdict():
    entry = asyncio.run(_autodiscover.check_all(FakeDns(), None, [dns_result('fabrikam.com', autodiscover=['a'])]))[0]
    assert entry['ok'] is True
    assert entry['https'] == dict(checked=False, ok=None, method=None, url=None, attempts=[],
                                  verdict='not checked over HTTPS (autodiscover_https is false)')
    assert _autodiscover.describe(entry) == []


def test_federation_run_with_an_https_client_fails_the_domain_and_says_why():
    class Dns(FakeDns):
        async def resolve(self, name, rdtype):
            values = ['203.0.113.25'] if (name, rdtype) == ('autodiscover.fabrikam.com', 'A') else []
            return name, list(values), []

        async def srv(self, name):
            return []

    https = FakeHttps({('autodiscover.fabrikam.com', '203.0.113.25', 443): NOT_FOUND})
    result = _federation.run(Dns(), [], ['fabrikam.com'], https_client=https)
    assert result['ok'] is False
    assert result['autodiscover'][0]['methods'][0]['addresses'] == ['203.0.113.25']
    assert result['msg'].startswith('fabrikam.com: no Autodiscover endpoint answers over HTTPS: '
                                    f'{URL}: HTTP 404')
    assert 'no Autodiscover record' not in result['msg']
    https = FakeHttps({('autodiscover.fabrikam.com', '203.0.113.25', 443): EXCHANGE_401})
    result = _federation.run(Dns(), [], ['fabrikam.com'], https_client=https)
    assert result['ok'] is True
    assert result['msg'].endswith('all 1 Autodiscover domain(s) are published and answer over HTTPS.')


def test_a_redirect_to_an_invalid_host_name_is_reported_not_looked_up():
    target = 'https://' + 'a' * 70 + '.example/autodiscover/autodiscover.xml'
    https = FakeHttps({('autodiscover.fabrikam.com', '203.0.113.25', 80): dict(
        status=302, reason='Found', body=b'', headers=[('Location', target)])})
    dns = FakeDns()
    redirect = by_method(run_check(dns, https, dns_result('fabrikam.com', autodiscover=['203.0.113.25'])))['redirect']
    assert redirect['ok'] is False and redirect['reason'].endswith('is not a valid host name')
    assert dns.asked == []


def test_a_redirect_to_an_ip_address_connects_there_without_a_lookup():
    https = FakeHttps({
        ('autodiscover.fabrikam.com', '203.0.113.25', 80): dict(
            status=302, reason='Found', body=b'', headers=[('Location', 'https://198.51.100.9:8443/ad.xml')]),
        ('198.51.100.9', '198.51.100.9', 8443): EXCHANGE_401})
    dns = FakeDns()
    entry = run_check(dns, https, dns_result('fabrikam.com', autodiscover=['203.0.113.25']))
    assert entry['https']['method'] == 'redirect' and entry['https']['url'] == 'https://198.51.100.9:8443/ad.xml'
    assert dns.asked == []
