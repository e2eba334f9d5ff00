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
from ansible_collections.fleetfix.remediate.plugins.module_utils._dns import DnsError, check_name, format_server, parse_server

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


LAME_RCODES = ('REFUSED', 'SERVFAIL', 'NOTAUTH', 'NOTIMP')
ANSWER_RCODES = ('NOERROR', 'NXDOMAIN')


def _label(name):
    return name.rstrip('.').lower()


def _lame_reason(answer, zone):
    if answer['rcode'] in LAME_RCODES:
        return f'answers {answer["rcode"]} for the zone {zone}'
    if answer['rcode'] in ANSWER_RCODES and not answer['authoritative']:
        return f'answers for the zone {zone} without the AA flag (not authoritative: a resolver, a cache or a referral)'
    return None


TCP_UDP_LOST = 'tcp (UDP datagram lost)'


def _transport(answer):
    if not answer['via_tcp']:
        return 'udp'
    if answer['udp_blocked']:
        return 'tcp (UDP blocked)'
    if (answer['udp_problem'] or '').startswith('truncated'):
        return 'tcp (truncated over UDP)'
    # unanswered over UDP, while the server answers other queries over UDP: a lost datagram
    return TCP_UDP_LOST


async def _ask_nameserver(client, addresses, queried_name, zone, port):
    """Every usable address of one nameserver: its TXT values and how it answered. Returns
    per-address entries (the SOA serials are added by ``_read_serials`` when needed)."""
    entries = []
    asked = {}
    for address in addresses:
        used, reason = client.family_used(address)
        if used:
            asked[address] = client.txt((address, port), queried_name)
        else:
            entries.append(dict(address=address, status='not asked', detail=reason))
    results = await asyncio.gather(*asked.values(), return_exceptions=True)
    for address, answer in zip(asked, results):
        if isinstance(answer, DnsError):
            entries.append(dict(address=address, status='unreachable', detail=str(answer)))
            continue
        if isinstance(answer, BaseException):
            raise answer
        entry = dict(address=address, transport=_transport(answer), rcode=answer['rcode'],
                     rtt_ms=None if answer.get('rtt') is None else round(answer['rtt'] * 1000, 1))
        lame = _lame_reason(answer, zone.rstrip('.'))
        if lame:
            entry.update(status='lame', detail=lame)
        elif answer['rcode'] not in ANSWER_RCODES:
            entry.update(status='error', detail=f'answered {answer["rcode"]} for {queried_name.rstrip(".")} TXT')
        else:
            entry.update(status='answered', txt=answer['values'] or [], serial=None,
                         zone_nameservers=answer.get('zone_nameservers'))
            if answer['udp_blocked']:
                entry['detail'] = f'UDP blocked, TCP answers ({answer["udp_problem"]})'
        entries.append(entry)
    order = {address: index for index, address in enumerate(addresses)}
    return sorted(entries, key=lambda entry: order[entry['address']])


def _empty_domain_result(domain, proofs):
    return dict(name=domain, proofs=list(proofs), zone=None, nameservers=[], txt={}, serials={}, found_on=[],
                missing_on=[], stale_on=[], unreachable=[], lame={}, tcp_only=[], addresses={},
                delegation=None, internal_only=False, internal_txt={}, errors=[], warnings=[], ok=False)


async def _delegation(client, zone_name, result):
    try:
        return await client.delegation(zone_name)
    except DnsError as error:
        result['errors'].append(f'could not read the delegation of {zone_name.rstrip(".")} from its parent zone: {error}')
        return None


async def check_domain(client, domain, proofs, internal_resolvers, nameserver_port=53):
    """Compare the expected proofs with the TXT values on every authoritative nameserver, check the
    parent's delegation against the zone's own NS set, and tell lame and TCP-only servers apart."""
    result = _empty_domain_result(domain, proofs)
    try:
        zone_of = getattr(client, 'zone_of', None)
        zone = await (zone_of(domain) if zone_of else client.find_zone(domain, with_nameservers=False))
    except DnsError as error:
        result['errors'].append(f'could not find the nameservers: {error}')
        zone = None
    if zone is not None:
        await _check_nameservers(client, zone, result, nameserver_port)
    if internal_resolvers:
        await _check_internal(client, domain, internal_resolvers, result)
    result['ok'] = _domain_ok(result)
    return result


def _domain_ok(result):
    return bool(result['nameservers']) and bool(result['found_on']) and not (
        result['missing_on'] or result['unreachable'] or result['errors'] or result['lame'] or result['tcp_only']
        or _delegation_problems(result['delegation']))


async def _check_nameservers(client, zone, result, port):
    result['zone'] = zone['zone'].rstrip('.')
    queried_name = zone['name']
    if zone.get('cnames'):
        result['cnames'] = [target.rstrip('.') for target in zone['cnames']]
    delegation = zone['delegation'] if 'delegation' in zone else await _delegation(client, zone['zone'], result)
    if zone['nameservers'] is None:
        # the servers come from the parent's delegation (and the zone's own NS records, below);
        # only without one are they asked of the resolvers
        if delegation is None:
            try:
                zone = dict(zone, nameservers=(await client.find_zone(zone['name']))['nameservers'])
            except DnsError as error:
                result['errors'].append(f'could not find the nameservers: {error}')
                return
        else:
            zone = dict(zone, nameservers=[])
    addresses = {_label(entry['name']): list(entry['addresses']) for entry in zone['nameservers']}
    if delegation is not None:
        for entry in delegation['nameservers']:
            label = _label(entry['name'])
            if label not in addresses:
                addresses[label] = list(entry['glue']) or await client.addresses(entry['name'])
    per_address = {}
    pending = sorted(addresses)
    while pending:
        asked = await asyncio.gather(*[_ask_nameserver(client, addresses[label], queried_name, zone['zone'], port)
                                       for label in pending])
        per_address.update(zip(pending, asked))
        # names the zone's own servers list but nobody asked yet (not delegated, not at the resolver)
        listed = {_label(name) for entries in per_address.values() for entry in entries
                  for name in entry.get('zone_nameservers') or []}
        pending = sorted(listed - set(addresses))
        for label in pending:
            addresses[label] = await client.addresses(label + '.')
    result['addresses'] = per_address
    result['nameservers'] = sorted(per_address)
    zone_set = await _zone_nameserver_set(client, per_address, zone, port)
    for entries in per_address.values():
        for entry in entries:
            # read into the delegation comparison; per address it would repeat the zone's NS set
            # in every entry (0.2 MB of a 1,000-domain result)
            entry.pop('zone_nameservers', None)
    if delegation is not None and zone_set is not None:
        result['delegation'] = _compare_delegation(delegation, zone_set)
        glue_checks = await _glue_mismatches(client, delegation)
        if glue_checks:
            result['delegation']['glue_mismatch'] = glue_checks
    answered = [entry for entries in per_address.values() for entry in entries if entry['status'] == 'answered']
    if any(not all(proof in entry['txt'] for proof in result['proofs']) for entry in answered):
        # a proof is missing somewhere: the serials tell a copy that is behind from a record never added
        await _read_serials(client, answered, zone['zone'], port)
    for label in result['nameservers']:
        _nameserver_verdict(label, per_address[label], result)
    _stale_and_missing(result)


async def _read_serials(client, entries, zone, port):
    serials = await asyncio.gather(*[client.soa_serial((entry['address'], port), zone) for entry in entries],
                                   return_exceptions=True)
    for entry, serial in zip(entries, serials):
        if isinstance(serial, BaseException) and not isinstance(serial, DnsError):
            raise serial
        entry['serial'] = None if isinstance(serial, BaseException) else serial


async def _zone_nameserver_set(client, per_address, zone, port):
    """The zone's own NS records: from the authority section of the TXT answers, else asked of
    the first server that answered authoritatively; ``None`` when nobody says."""
    for entries in per_address.values():
        for entry in entries:
            if entry.get('zone_nameservers'):
                return sorted({_label(name) for name in entry['zone_nameservers']})
    for entries in per_address.values():
        for entry in entries:
            if entry['status'] == 'answered':
                try:
                    names = await client.apex_nameservers((entry['address'], port), zone['zone'])
                except DnsError:
                    continue
                if names:
                    return sorted({_label(name) for name in names})
    if zone['nameservers']:
        return sorted(_label(entry['name']) for entry in zone['nameservers'])
    return None


def _compare_delegation(delegation, zone_set):
    parent_set = sorted(_label(entry['name']) for entry in delegation['nameservers'])
    return dict(parent=delegation['parent'].rstrip('.'), parent_nameservers=parent_set, zone_nameservers=zone_set,
                not_in_parent=sorted(set(zone_set) - set(parent_set)),
                not_in_zone=sorted(set(parent_set) - set(zone_set)),
                glue={_label(entry['name']): entry['glue'] for entry in delegation['nameservers'] if entry['glue']},
                glue_mismatch={})


async def _glue_mismatches(client, delegation):
    mismatches = {}
    for entry in delegation['nameservers']:
        if not entry['glue']:
            continue
        try:
            published = sorted(await client.addresses(entry['name']))
        except DnsError:
            continue
        if published and published != sorted(entry['glue']):
            mismatches[_label(entry['name'])] = dict(glue=sorted(entry['glue']), published=published)
    return mismatches


def _delegation_problems(delegation):
    return bool(delegation and (delegation['not_in_parent'] or delegation['not_in_zone'] or delegation['glue_mismatch']))


def entry_is_error(entry):
    # a DnsError already names the address it was sent to
    return entry['status'] == 'unreachable'


def _nameserver_verdict(label, entries, result):
    answered = [entry for entry in entries if entry['status'] in ('answered', 'lame', 'error')]
    if not answered:
        result['unreachable'].append(label)
        if len(entries) == 1 and entry_is_error(entries[0]):
            result['errors'].append(f'nameserver {label}: {entries[0]["detail"]}')
        else:
            tried = '; '.join(f'{entry["address"]}: {entry["detail"]}' for entry in entries) or 'it has no address'
            result['errors'].append(f'nameserver {label}: no address answered ({tried})')
        return
    for entry in entries:
        if entry['status'] == 'unreachable':
            result['warnings'].append(f'{result["name"]}: {label} answers on {", ".join(e["address"] for e in answered)} '
                                      f'but not on {entry["address"]} ({entry["detail"]}).')
    lame = [entry for entry in answered if entry['status'] == 'lame']
    if lame:
        result['lame'][label] = '; '.join(f'{entry["address"]} {entry["detail"]}' if len(entries) > 1 else entry['detail']
                                          for entry in lame)
        return
    for entry in answered:
        if entry['status'] == 'error':
            result['errors'].append(f'nameserver {label} ({entry["address"]}) {entry["detail"]}')
            return
    if all(entry.get('detail', '').startswith('UDP blocked') for entry in answered):
        result['tcp_only'].append(label)
    values = [value for entry in answered for value in entry['txt']]
    result['txt'][label] = sorted(set(values), key=values.index)
    complete = all(all(proof in entry['txt'] for proof in result['proofs']) for entry in answered)
    (result['found_on'] if complete else result['missing_on']).append(label)
    serials = [entry['serial'] for entry in answered if entry.get('serial') is not None]
    result['serials'][label] = min(serials) if serials else None


def _stale_and_missing(result):
    known = [serial for serial in result['serials'].values() if serial is not None]
    if known:
        newest = max(known)
        result['stale_on'] = sorted(label for label, serial in result['serials'].items()
                                    if serial is not None and serial < newest)
    result['missing_proofs'] = {label: [proof for proof in result['proofs'] if proof not in values]
                                for label, values in result['txt'].items() if label in result['missing_on']}


async def _check_internal(client, domain, internal_resolvers, result):
    for server in internal_resolvers:
        try:
            values, rcode = await client.resolver_txt(server, domain)
        except DnsError as error:
            result['errors'].append(f'internal resolver {error}')
            continue
        if rcode not in ANSWER_RCODES:
            result['errors'].append(f'internal resolver {format_server(server)} answered {rcode} for {domain} TXT, '
                                    'so the internal view could not be checked')
            continue
        result['internal_txt'][format_server(server)] = values or []
    internally_complete = any(all(proof in values for proof in result['proofs']) for values in result['internal_txt'].values())
    result['internal_only'] = internally_complete and not result['found_on']


def describe_domain(result):
    """One sentence per problem of a domain, naming the nameservers at fault and the fix."""
    if result['ok']:
        return []
    name = result['name']
    zone = result['zone'] or name
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
    for label, reason in sorted(result.get('lame', {}).items()):
        sentences.append(f'{name}: {label} is a lame delegation: it {reason}; it is listed as a nameserver of {zone} '
                         f'but does not serve the zone: load the zone on it or remove it from the NS records '
                         f'(the proof does not need to be added there).')
    for label in result.get('tcp_only', []):
        sentences.append(f'{name}: {label}: UDP blocked, TCP answers; resolvers ask over UDP first, so allow UDP '
                         'to it (port 53) in the firewall.')
    delegation = result.get('delegation') or {}
    if delegation.get('not_in_parent'):
        sentences.append(f'{name}: the zone {zone} lists {", ".join(delegation["not_in_parent"])} in its own NS records but '
                         f'the parent zone {delegation["parent"]} does not delegate to them (it delegates to '
                         f'{", ".join(delegation["parent_nameservers"])}); add them to the delegation at the registrar '
                         'or remove them from the zone.')
    if delegation.get('not_in_zone'):
        sentences.append(f'{name}: the parent zone {delegation["parent"]} delegates {zone} to '
                         f'{", ".join(delegation["not_in_zone"])}, which the zone\'s own NS records do not list; '
                         'partners and Microsoft follow the parent: correct the delegation at the registrar or add '
                         'them to the zone.')
    for label, mismatch in sorted((delegation.get('glue_mismatch') or {}).items()):
        sentences.append(f'{name}: the parent zone {delegation["parent"]} gives {label} the glue address(es) '
                         f'{", ".join(mismatch["glue"])}, but its own records say {", ".join(mismatch["published"])}; '
                         'correct the glue at the registrar.')
    if result['internal_only']:
        sentences.append(f'{name}: the proof is only in internal DNS; publish it in the external zone {zone}.')
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
            found.extend(values)
        return found, chain

    for method, name in (('autodiscover', f'autodiscover.{domain}'), ('domain', domain)):
        try:
            check_name(name)
        except ValueError as error:
            errors.append(f'no {method} method: {error}, so no such record can exist')
            continue
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
    records = []
    try:
        check_name(srv_name, 'SRV name')
    except ValueError as error:
        errors.append(f'no SRV method: {error}, so no such record can exist')
    else:
        try:
            records = await client.srv(srv_name)
        except DnsError as error:
            errors.append(str(error))
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
    try:
        domain_results = asyncio.gather(*[check_domain(client, entry['name'], entry['proofs'], internal_resolvers,
                                                       nameserver_port) for entry in domains])
        autodiscover_results = asyncio.gather(*[check_autodiscover(client, name) for name in autodiscover_domains])
        autodiscover_results = await _autodiscover.check_all(client, https_client, list(await autodiscover_results))
        domain_results = list(await domain_results)
        await _confirm_tcp_only(client, domain_results, nameserver_port)
        return domain_results, autodiscover_results
    finally:
        close = getattr(client, 'close', None)
        if close is not None:
            close()


async def _confirm_tcp_only(client, domain_results, port):
    """Keep a nameserver as TCP-only only when its UDP really does not answer: none of its
    addresses answered a UDP query in the whole round, nor a few more UDP probes now (datagrams
    lost on a lossy path or a busy controller do not make UDP blocked)."""
    blocked = getattr(client, 'udp_blocked', None)
    probe = getattr(client, 'udp_answers', None)
    if blocked is None or probe is None:
        return
    verdicts = {}
    for result in domain_results:
        for label in list(result['tcp_only']):
            asked = [entry['address'] for entry in result['addresses'].get(label, []) if 'transport' in entry]
            for address in asked:
                if (address, port) not in verdicts:
                    verdicts[(address, port)] = blocked((address, port)) and not await probe((address, port), result['zone'])
            if not all(verdicts[(address, port)] for address in asked):
                result['tcp_only'].remove(label)
                result['ok'] = _domain_ok(result)
    for result in domain_results:
        for entries in result['addresses'].values():
            for entry in entries:
                # an answer taken over TCP before the server's first UDP answer of the round
                # arrived; its UDP did answer, so the datagram was lost
                if entry.get('transport') == 'tcp (UDP blocked)' and not verdicts.get((entry['address'], port), blocked((entry['address'], port))):
                    entry['transport'] = TCP_UDP_LOST
                    entry.pop('detail', None)


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
    warnings = [warning for entry in domain_results for warning in entry.get('warnings', [])]
    return dict(ok=ok, domains=domain_results, autodiscover=autodiscover_results, msg=msg, warnings=warnings)


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
