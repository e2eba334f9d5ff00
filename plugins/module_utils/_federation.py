# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""Decisions of the federation_dns module: are the federation proofs on every authoritative
nameserver of each domain, is Autodiscover published, and how to say what is wrong.

Talks DNS only through the ``_dns.DnsClient`` seam (``find_zone``, ``soa_serial``, ``txt``,
``resolve``, ``srv``), so the logic is tested with a fake client.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time

from ansible_collections.fleetfix.remediate.plugins.module_utils import _autodiscover
from ansible_collections.fleetfix.remediate.plugins.module_utils._dns import DnsError, format_server, parse_server

LABEL = re.compile(r'^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$')
EXPECTED_PROOF_LENGTH = 88
EXPECTED_PROOF_BYTES = 64
FIRST_PAUSE = 1.0
MAX_PAUSE = 15.0


class ValidationError(Exception):
    """Input a person has to correct."""


def normalise_domain(name):
    """A domain name without the final dot, lower case; ``ValidationError`` when invalid."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError('A domain name is empty.')
    text = name.strip().rstrip('.').lower()
    if len(text) > 253 or not text or not all(LABEL.match(label) for label in text.split('.')):
        raise ValidationError(f'"{name}" is not a valid domain name (labels of letters, digits and hyphens, '
                              'at most 63 characters each, 253 in all).')
    return text


def proof_warning(domain, proof):
    """A warning when a proof does not look like one Exchange prints, else ``None``."""
    try:
        decoded = base64.b64decode(proof, validate=True)
    except (binascii.Error, ValueError):
        return (f'The proof for {domain} starting "{proof[:12]}" is not base64; Get-FederatedDomainProof '
                'prints base64 strings. Check that the whole value was copied.')
    if len(proof) != EXPECTED_PROOF_LENGTH or len(decoded) != EXPECTED_PROOF_BYTES:
        return (f'The proof for {domain} starting "{proof[:12]}" is {len(proof)} characters ({len(decoded)} bytes); '
                f'the proofs Microsoft documents are {EXPECTED_PROOF_LENGTH} characters ({EXPECTED_PROOF_BYTES} bytes). '
                'Check that the whole value was copied.')
    return None


def validate(params):
    """Check the module's input; returns ``(domains, autodiscover_domains, resolvers, internal, warnings)``.

    ``domains`` is a list of ``dict(name, proofs)`` with normalised names and stripped proofs.
    Raises ``ValidationError`` naming every problem found.
    """
    problems = []
    warnings = []
    domains = []
    seen = set()
    for index, entry in enumerate(params.get('domains') or []):
        try:
            name = normalise_domain(entry.get('name'))
        except ValidationError as error:
            problems.append(f'domains[{index}]: {error}')
            continue
        if name in seen:
            problems.append(f'domains[{index}]: {name} is listed twice.')
            continue
        seen.add(name)
        proofs = [str(proof).strip() for proof in entry.get('proofs') or []]
        if not proofs or not all(proofs):
            problems.append(f'domains[{index}]: {name} needs at least one proof, and no proof may be empty '
                            '(the value Get-FederatedDomainProof prints).')
            continue
        warnings.extend(filter(None, (proof_warning(name, proof) for proof in proofs)))
        domains.append(dict(name=name, proofs=proofs))
    autodiscover = []
    for index, name in enumerate(params.get('autodiscover_domains') or []):
        try:
            autodiscover.append(normalise_domain(name))
        except ValidationError as error:
            problems.append(f'autodiscover_domains[{index}]: {error}')
    resolvers = _servers(params.get('resolvers'), 'resolvers', problems)
    internal = _servers(params.get('internal_resolvers'), 'internal_resolvers', problems)
    if not domains and not autodiscover and not problems:
        problems.append('Nothing to check: give domains and/or autodiscover_domains.')
    if problems:
        raise ValidationError(' '.join(problems))
    return domains, autodiscover, resolvers, internal, warnings


def _servers(values, option, problems):
    servers = []
    for index, text in enumerate(values or []):
        try:
            servers.append(parse_server(text))
        except ValueError as error:
            problems.append(f'{option}[{index}]: {error}')
    return servers


async def _gather_dict(coroutines):
    keys = list(coroutines)
    results = await asyncio.gather(*coroutines.values(), return_exceptions=True)
    return dict(zip(keys, results))


async def check_domain(client, domain, proofs, internal_resolvers, nameserver_port):
    """Compare the expected proofs with the TXT values on every authoritative nameserver."""
    result = dict(name=domain, proofs=list(proofs), zone=None, nameservers=[], txt={}, serials={}, found_on=[], missing_on=[],
                  stale_on=[], unreachable=[], internal_only=False, internal_txt={}, errors=[], ok=False)
    try:
        zone = await client.find_zone(domain)
    except DnsError as error:
        result['errors'].append(f'could not find the nameservers: {error}')
        zone = None
    if zone is not None:
        result['zone'] = zone['zone'].rstrip('.')
        queried_name = zone['name']
        if zone.get('cnames'):
            result['cnames'] = [target.rstrip('.') for target in zone['cnames']]
        servers = {}
        for nameserver in zone['nameservers']:
            label = nameserver['name'].rstrip('.')
            if not nameserver['addresses']:
                result['unreachable'].append(label)
                result['errors'].append(f'{label} has no address')
            for address in nameserver['addresses']:
                servers[label if len(nameserver['addresses']) == 1 else f'{label} ({address})'] = (address, nameserver_port)
        result['nameservers'] = sorted(servers)
        answers = await _gather_dict({label: client.txt(server, queried_name) for label, server in servers.items()})
        serials = await _gather_dict({label: client.soa_serial(server, zone['zone']) for label, server in servers.items()})
        for label in sorted(servers):
            answer = answers[label]
            if isinstance(answer, DnsError):
                result['unreachable'].append(label)
                result['errors'].append(f'nameserver {label}: {answer}')
                continue
            if isinstance(answer, BaseException):
                raise answer
            values = answer[0] or []
            result['txt'][label] = values
            if all(proof in values for proof in proofs):
                result['found_on'].append(label)
            else:
                result['missing_on'].append(label)
            serial = serials[label]
            result['serials'][label] = None if isinstance(serial, BaseException) else serial
        known = [serial for serial in result['serials'].values() if serial is not None]
        if known:
            newest = max(known)
            result['stale_on'] = sorted(label for label, serial in result['serials'].items()
                                        if serial is not None and serial < newest)
        result['missing_proofs'] = {label: [proof for proof in proofs if proof not in values]
                                    for label, values in result['txt'].items()
                                    if label in result['missing_on']}
    if internal_resolvers:
        for server in internal_resolvers:
            try:
                values = (await client.txt(server, domain))[0] or []
            except DnsError as error:
                result['errors'].append(f'internal resolver {error}')
                continue
            result['internal_txt'][format_server(server)] = values
        internally_complete = any(all(proof in values for proof in proofs) for values in result['internal_txt'].values())
        result['internal_only'] = internally_complete and not result['found_on']
    result['ok'] = bool(result['nameservers']) and not result['missing_on'] and not result['unreachable'] and \
        not result['errors'] and bool(result['found_on'])
    return result


def describe_domain(result):
    """One sentence per problem of a domain, naming the nameservers at fault."""
    if result['ok']:
        return []
    name = result['name']
    sentences = []
    if result['missing_on'] and not result['found_on']:
        missing = {proof for proofs in result.get('missing_proofs', {}).values() for proof in proofs}
        where = ', '.join(result['missing_on'])
        if len(result['proofs']) > 1 and len(missing) < len(result['proofs']):
            starts = ', '.join(f'"{proof[:12]}..."' for proof in result['proofs'] if proof in missing)
            sentences.append(f'{name}: {len(missing)} of the {len(result["proofs"])} proofs ({starts}) are on no '
                             f'authoritative nameserver ({where}).')
        else:
            sentences.append(f'{name}: the proof is on no authoritative nameserver ({where}).')
    else:
        for label in result['missing_on']:
            missing = result.get('missing_proofs', {}).get(label, [])
            what = 'the proof is' if len(missing) <= 1 else f'{len(missing)} of the proofs are'
            stale = (' (it serves an older SOA serial: the zone change has not reached it)'
                     if label in result['stale_on'] else '')
            sentences.append(f'{name}: {what} missing on {label}{stale}.')
    if result['internal_only']:
        sentences.append(f'{name}: the proof is only in internal DNS; publish it in the external zone {result["zone"] or name}.')
    for error in result['errors']:
        sentences.append(f'{name}: {error}.')
    if not sentences:
        sentences.append(f'{name}: not verified.')
    return sentences


async def check_autodiscover(client, domain):
    """Which of the three Autodiscover methods exist for a domain, and where they point."""
    methods = []
    errors = []

    async def addresses(name):
        found = []
        chain = []
        for rdtype in ('A', 'AAAA'):
            _final, values, hops = await client.resolve(name, rdtype)
            chain = chain or hops
            found.extend(value.address for value in values)
        return found, chain

    for method, name in (('autodiscover', f'autodiscover.{domain}'), ('domain', domain)):
        try:
            found, chain = await addresses(name)
        except DnsError as error:
            errors.append(str(error))
            continue
        if found:
            entry = dict(method=method, name=name, addresses=sorted(found))
            if chain:
                entry['cnames'] = [target.rstrip('.') for target in chain]
            methods.append(entry)
    srv_name = f'_autodiscover._tcp.{domain}'
    try:
        records = await client.srv(srv_name)
    except DnsError as error:
        errors.append(str(error))
        records = []
    if records:
        records = sorted(records, key=lambda record: (record['priority'], -record['weight']))
        methods.append(dict(method='srv', name=srv_name,
                            targets=[f'{record["target"]}:{record["port"]}' for record in records]))
    return dict(name=domain, methods=methods, errors=errors, ok=bool(methods))


def describe_autodiscover(result):
    if result['ok'] or result['methods']:
        return []
    detail = f' ({"; ".join(result["errors"])})' if result['errors'] else ''
    return [f'{result["name"]}: no Autodiscover record: neither autodiscover.{result["name"]} (A/AAAA), '
            f'the domain itself, nor SRV _autodiscover._tcp.{result["name"]} exists{detail}.']


async def check_all(client, domains, autodiscover_domains, internal_resolvers, nameserver_port, https_client=None):
    domain_results = asyncio.gather(*[check_domain(client, entry['name'], entry['proofs'], internal_resolvers,
                                                   nameserver_port) for entry in domains])
    autodiscover_results = asyncio.gather(*[check_autodiscover(client, name) for name in autodiscover_domains])
    autodiscover_results = await _autodiscover.check_all(client, https_client, list(await autodiscover_results))
    return list(await domain_results), autodiscover_results


def build_result(domain_results, autodiscover_results):
    ok = all(entry['ok'] for entry in domain_results) and all(entry['ok'] for entry in autodiscover_results)
    sentences = []
    for entry in domain_results:
        sentences.extend(describe_domain(entry))
    for entry in autodiscover_results:
        sentences.extend(describe_autodiscover(entry))
        sentences.extend(_autodiscover.describe(entry))
    if ok:
        checked = any((entry.get('https') or {}).get('checked') for entry in autodiscover_results)
        msg = (f'All {len(domain_results)} federated domain(s) have their proofs on every authoritative nameserver '
               f'and all {len(autodiscover_results)} Autodiscover domain(s) are published'
               f'{" and answer over HTTPS" if checked else ""}.')
    else:
        msg = ' '.join(sentences)
    return dict(ok=ok, domains=domain_results, autodiscover=autodiscover_results, msg=msg)


def run(client, domains, autodiscover_domains, internal_resolvers=None, nameserver_port=53, wait_timeout=0,
        clock=time.monotonic, sleep=time.sleep, https_client=None):
    """Check once, or until everything passes or ``wait_timeout`` seconds are up (growing pauses).

    With ``https_client`` (an ``_https.HttpsClient``) every Autodiscover domain's endpoints are
    also checked over HTTPS (``_autodiscover``); without, DNS only.
    """
    deadline = clock() + max(wait_timeout or 0, 0)
    pause = FIRST_PAUSE
    attempts = 0
    while True:
        attempts += 1
        result = build_result(*asyncio.run(check_all(client, domains, autodiscover_domains, internal_resolvers or [],
                                                     nameserver_port, https_client=https_client)))
        remaining = deadline - clock()
        if result['ok'] or remaining <= 0:
            result['attempts'] = attempts
            if not result['ok'] and wait_timeout:
                result['msg'] = f'Still not ok after waiting {wait_timeout} s: {result["msg"]}'
            return result
        sleep(min(pause, remaining))
        pause = min(pause * 2, MAX_PAUSE)
