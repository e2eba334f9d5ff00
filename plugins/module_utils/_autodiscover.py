# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""Decisions of the Autodiscover HTTPS check: which endpoint a partner's Outlook or Exchange
would reach, and why each other one fails.

For one domain, the methods in the order Exchange's clients try them (after the Active
Directory SCP, which only works inside the organisation):

1. ``domain``: ``https://<domain>/autodiscover/autodiscover.xml``
2. ``autodiscover``: ``https://autodiscover.<domain>/autodiscover/autodiscover.xml``
3. ``redirect``: an unauthenticated GET of ``http://autodiscover.<domain>/autodiscover/autodiscover.xml``
   answered by a redirect to an https URL, which is then checked like the others
4. ``srv``: the target of ``_autodiscover._tcp.<domain>`` SRV, ``https://<target>:<port>/...``

Each is TCP, TLS (chain and name validated) and an anonymous POST of an Autodiscover
request: HTTP 401 (Exchange asks for credentials) or 200 with Autodiscover XML means the
endpoint works; anything else does not. Host names are resolved through the ``_dns.DnsClient``
seam (``addresses``), exchanges go through the ``_https.HttpsClient`` seam (``arequest``), so
the logic is tested with fake clients.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from xml.etree import ElementTree
from urllib.parse import urljoin, urlsplit

from ansible_collections.fleetfix.remediate.plugins.module_utils._https import HttpsError

PATH = '/autodiscover/autodiscover.xml'
METHODS = ('domain', 'autodiscover', 'redirect', 'srv')
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
REQUEST_SCHEMA = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006'
RESPONSE_SCHEMA = 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'
PROBE_MAILBOX = 'autodiscover-check'
HOST_LABEL = re.compile(r'^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$')


def request_body(domain):
    """The POX request Outlook posts (for a mailbox of the domain; no credentials are sent)."""
    return (f'<?xml version="1.0" encoding="utf-8"?>\r\n<Autodiscover xmlns="{REQUEST_SCHEMA}">\r\n'
            f'  <Request>\r\n    <EMailAddress>{PROBE_MAILBOX}@{domain}</EMailAddress>\r\n'
            f'    <AcceptableResponseSchema>{RESPONSE_SCHEMA}</AcceptableResponseSchema>\r\n'
            '  </Request>\r\n</Autodiscover>\r\n').encode('ascii')


def build_url(scheme, host, port, path=PATH):
    default = 443 if scheme == 'https' else 80
    shown = f'[{host}]' if ':' in host else host
    return f'{scheme}://{shown}{"" if port == default else f":{port}"}{path}'


def header(answer, name):
    for key, value in answer.get('headers') or []:
        if key.lower() == name.lower():
            return value
    return None


def header_values(answer, name):
    return [value for key, value in answer.get('headers') or [] if key.lower() == name.lower()]


def is_autodiscover_xml(body):
    """Whether a body is an Autodiscover response document (also an Autodiscover error response)."""
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, ValueError, TypeError):
        return False
    return root.tag.rsplit('}', 1)[-1] == 'Autodiscover'


def judge_answer(answer):
    """``(works, sentence)`` for the HTTP answer to the anonymous Autodiscover POST."""
    status = answer['status']
    if status == 401:
        schemes = [value.split()[0] for value in header_values(answer, 'WWW-Authenticate') if value.split()]
        offered = f' (offers {", ".join(schemes)})' if schemes else ''
        return True, f'HTTP 401: asks for credentials, as Exchange does{offered}'
    if status == 200:
        if is_autodiscover_xml(answer.get('body') or b''):
            return True, 'HTTP 200 with an Autodiscover XML response'
        kind = header(answer, 'Content-Type') or 'no Content-Type'
        return False, (f'HTTP 200 but no Autodiscover XML ({kind.split(";")[0]}): a web site answers here, '
                       'not Exchange')
    if status == 404:
        return False, 'HTTP 404: no Autodiscover service at this URL (a web server without Exchange behind it)'
    if status in REDIRECT_STATUSES:
        location = header(answer, 'Location') or 'no Location'
        return False, (f'HTTP {status} to {location}: a redirect instead of the Autodiscover service '
                       '(clients take redirects only from the HTTP redirect method)')
    if status == 403:
        return False, 'HTTP 403: anonymous requests are refused outright (Exchange answers 401 and asks for credentials)'
    if status >= 500:
        return False, f'HTTP {status}: the server fails (the Autodiscover application or a proxy in front of it)'
    return False, f'HTTP {status} {answer.get("reason") or ""}'.rstrip() + ': not an answer of the Autodiscover service'


FIXES = {
    'refused': 'start the HTTPS listener there, or point the record at the Exchange server that has one',
    'timeout': 'open the firewall to partners on that port, or point the record at an address that answers',
    'unreachable': 'point the record at an address partners can reach',
    'expired': 'renew the certificate and bind the new one',
    'not_yet_valid': 'check the certificate\'s start date and the clocks',
    'name_mismatch': 'bind a certificate whose names include {host}',
    'untrusted': ('bind a certificate from a CA partners trust, with its intermediate certificates; '
                  'for a private CA give its bundle as autodiscover_ca_path'),
    'invalid': 'bind a valid certificate',
    'handshake': 'make the port serve TLS (HTTPS), not plain HTTP or another protocol',
    'not_autodiscover': 'point the record at the Exchange server\'s Client Access service, not a web server',
    'not_https': 'make the redirect point to an https URL',
}


def fix_for(kind, host=None):
    text = FIXES.get(kind)
    return text.format(host=host) if text else None


def attempt(method, url=None, host=None, port=None, address=None, ok=False, stage='dns', status=None, reason='',
            redirect_to=None, fix=None):
    return dict(method=method, url=url, host=host, port=port, address=address, ok=ok, stage=stage, status=status,
                reason=reason, redirect_to=redirect_to, fix=fix)


def _is_host_name(text):
    labels = text.rstrip('.').split('.')
    return 0 < len(text) <= 253 and all(HOST_LABEL.match(label) for label in labels)


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


async def _addresses(dns, host, known=None):
    if known is not None:
        return list(known)
    if _is_ip(host):
        return [host]
    return list(await dns.addresses(host))


async def probe_https(dns, https, method, domain, host, port=443, path=PATH, addresses=None):
    """POST the Autodiscover request to ``https://host:port/path`` at each address until one works."""
    url = build_url('https', host, port, path)
    if not _is_ip(host) and not _is_host_name(host):
        return attempt(method, url, host, port, reason=f'{host[:80]} is not a valid host name')
    found = await _addresses(dns, host, addresses)
    if not found:
        return attempt(method, url, host, port, reason=f'{host} has no A/AAAA record')
    failures = []
    result = None
    for address in found:
        try:
            answer = await https.arequest('POST', host, address, port, path, tls=True, body=request_body(domain),
                                          headers={'Content-Type': 'text/xml; charset=utf-8',
                                                   'User-Agent': 'fleetfix.remediate federation_dns'})
        except HttpsError as error:
            failures.append(str(error))
            result = attempt(method, url, host, port, address, stage=error.stage, reason='; '.join(failures),
                             fix=fix_for(error.kind, host))
            continue
        works, sentence = judge_answer(answer)
        if works:
            return attempt(method, url, host, port, address, ok=True, stage='ok', status=answer['status'],
                           reason=sentence)
        failures.append(sentence if len(found) == 1 else f'{address}: {sentence}')
        result = attempt(method, url, host, port, address, stage='http', status=answer['status'],
                         reason='; '.join(failures),
                         fix=fix_for('not_autodiscover') if answer['status'] in (200, 404) else None)
    return result


async def probe_redirect(dns, https, domain, addresses=None):
    """The HTTP redirect method: GET over plain HTTP, expect a redirect to https, check that URL."""
    host = f'autodiscover.{domain}'
    url = build_url('http', host, 80)
    found = await _addresses(dns, host, addresses)
    if not found:
        return attempt('redirect', url, host, 80, reason=f'{host} has no A/AAAA record')
    failures = []
    result = None
    for address in found:
        try:
            answer = await https.arequest('GET', host, address, 80, PATH, tls=False,
                                          headers={'User-Agent': 'fleetfix.remediate federation_dns'})
        except HttpsError as error:
            failures.append(str(error))
            result = attempt('redirect', url, host, 80, address, stage=error.stage, reason='; '.join(failures))
            continue
        location = header(answer, 'Location')
        if answer['status'] not in REDIRECT_STATUSES or not location:
            failures.append(f'HTTP {answer["status"]} instead of a redirect to an https URL')
            result = attempt('redirect', url, host, 80, address, stage='redirect', status=answer['status'],
                             reason='; '.join(failures))
            continue
        target = urljoin(url, location.strip())
        parts = urlsplit(target)
        if parts.scheme != 'https' or not parts.hostname:
            failures.append(f'redirects to {target}, not to an https URL (clients follow only redirects to https)')
            result = attempt('redirect', url, host, 80, address, stage='redirect', status=answer['status'],
                             reason='; '.join(failures), redirect_to=target, fix=fix_for('not_https'))
            continue
        try:
            target_port = parts.port or 443
        except ValueError:
            failures.append(f'redirects to {target}, whose port is not a number')
            result = attempt('redirect', url, host, 80, address, stage='redirect', status=answer['status'],
                             reason='; '.join(failures), redirect_to=target)
            continue
        path = (parts.path or '/') + (f'?{parts.query}' if parts.query else '')
        followed = await probe_https(dns, https, 'redirect', domain, parts.hostname, target_port, path)
        followed.update(url=url, redirect_to=target,
                        reason=f'HTTP {answer["status"]} to {target}, which answers {followed["reason"]}'
                        if followed['ok'] else f'HTTP {answer["status"]} to {target}, where {followed["reason"]}')
        return followed
    return result


async def probe_srv(dns, https, domain, targets):
    """The SRV method: each target (``host:port``, best first) until one works."""
    name = f'_autodiscover._tcp.{domain}'
    if not targets:
        return attempt('srv', reason=f'no SRV record {name}')
    failures = []
    result = None
    for target in targets:
        host, _sep, port = str(target).rpartition(':')
        host = host.rstrip('.')
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            failures.append(f'the SRV record {name} names no usable target ({target})')
            result = attempt('srv', reason='; '.join(failures))
            continue
        result = await probe_https(dns, https, 'srv', domain, host, int(port))
        if result['ok']:
            return result
        failures.append(result['reason'] if len(targets) == 1 else f'{host}:{port}: {result["reason"]}')
        result['reason'] = '; '.join(failures)
    return result


def _records(dns_result):
    return {entry.get('method'): entry for entry in dns_result.get('methods') or [] if isinstance(entry, dict)}


async def check(dns, https, dns_result):
    """Every method for one domain, given its DNS result (``_federation.check_autodiscover``)."""
    domain = dns_result['name']
    records = _records(dns_result)

    def known(method):
        # the DNS check already looked these names up: no record there means none to try
        return records[method].get('addresses') or [] if method in records else []

    attempts = await asyncio.gather(
        probe_https(dns, https, 'domain', domain, domain, addresses=known('domain')),
        probe_https(dns, https, 'autodiscover', domain, f'autodiscover.{domain}', addresses=known('autodiscover')),
        probe_redirect(dns, https, domain, addresses=known('autodiscover')),
        probe_srv(dns, https, domain, (records.get('srv') or {}).get('targets') or []),
    )
    return summarise(list(attempts))


def summarise(attempts):
    """The ``https`` part of a domain's result: the first working method, or why none works."""
    working = next((entry for entry in attempts if entry['ok']), None)
    if working:
        verdict = f'Autodiscover answers at {working["url"]} ({working["method"]} method): {working["reason"]}'
        if working['method'] == 'redirect':
            verdict = (f'Autodiscover answers through the HTTP redirect method ({working["url"]}): '
                       f'{working["reason"]}')
        return dict(checked=True, ok=True, method=working['method'], url=working['redirect_to'] or working['url'],
                    verdict=verdict, attempts=attempts)
    # the methods whose names have no record say nothing new (the DNS part lists what exists)
    reached = [entry for entry in attempts if entry['stage'] != 'dns'] or attempts
    verdict = 'no Autodiscover endpoint answers over HTTPS: ' + '; '.join(
        f'{entry["url"] or entry["method"]}: {entry["reason"]}' + (f' (fix: {entry["fix"]})' if entry['fix'] else '')
        for entry in reached)
    return dict(checked=True, ok=False, method=None, url=None, verdict=verdict, attempts=attempts)


def not_checked():
    return dict(checked=False, ok=None, method=None, url=None,
                verdict='not checked over HTTPS (autodiscover_https is false)', attempts=[])


async def check_all(dns, https, dns_results):
    """Add ``https`` to each Autodiscover result; ``ok`` then also needs a working endpoint."""
    if https is None:
        for entry in dns_results:
            entry['https'] = not_checked()
        return dns_results
    checked = await asyncio.gather(*[check(dns, https, entry) for entry in dns_results])
    for entry, https_result in zip(dns_results, checked):
        entry['https'] = https_result
        entry['ok'] = bool(entry['ok'] and https_result['ok'])
    return dns_results


def describe(result):
    """The sentence for a domain whose records exist but whose endpoints do not work."""
    https_result = result.get('https') or {}
    if not https_result.get('checked') or https_result.get('ok') or not result.get('methods'):
        return []
    return [f'{result["name"]}: {https_result["verdict"]}.']
