# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The one dnspython client of the collection.

Everything that talks DNS goes through ``DnsClient``: asynchronous queries (UDP, TCP when
the answer is truncated), timeouts and retries, bounded concurrency, zone and nameserver
discovery that starts at the configured resolvers (never the system resolver when resolvers
are given), CNAME following, TXT/SRV/address reads and SOA serials per server. Errors leave
this file as ``DnsError`` with a sentence a person can act on.
"""

from __future__ import annotations

import asyncio
import ipaddress
import traceback

from ansible.module_utils.basic import missing_required_lib

DNSPYTHON_IMPORT_ERROR = None
try:
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdatatype
    import dns.resolver
except ImportError:
    DNSPYTHON_IMPORT_ERROR = traceback.format_exc()
    HAS_DNSPYTHON = False
else:
    HAS_DNSPYTHON = True

MAX_REFERRALS = 16
MAX_CNAMES = 8


class DnsError(Exception):
    """A DNS failure described for a person (which server, which name, what happened)."""


def fail_if_missing_dnspython(module):
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib('dnspython'), exception=DNSPYTHON_IMPORT_ERROR)


def parse_server(text, default_port=53):
    """``IP``, ``IP:port``, ``[IPv6]:port`` or a bare IPv6 address -> ``(ip, port)``.

    Raises ``ValueError`` with a readable message when the text is none of those.
    """
    text = str(text).strip()
    port = default_port
    host = text
    if text.startswith('['):
        closing = text.find(']')
        if closing < 0:
            raise ValueError(f'"{text}" is not an IP address or IP:port (missing "]").')
        host = text[1:closing]
        rest = text[closing + 1:]
        if rest:
            if not rest.startswith(':'):
                raise ValueError(f'"{text}" is not an IP address or [IPv6]:port.')
            port = rest[1:]
    elif text.count(':') == 1:
        host, port = text.split(':')
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f'"{text}" is not an IP address or IP:port (names are not accepted, give the address).') from None
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise ValueError(f'"{text}" has a port that is not a number.') from None
    if not 0 < port < 65536:
        raise ValueError(f'"{text}" has a port outside 1-65535.')
    return (str(address), port)


def format_server(server):
    ip, port = server
    if port == 53:
        return ip
    if ':' in ip:
        return f'[{ip}]:{port}'
    return f'{ip}:{port}'


class Response:
    """What one server answered, reduced to what the decisions need."""

    def __init__(self, message):
        self.message = message
        self.rcode = message.rcode()
        self.authoritative = bool(message.flags & dns.flags.AA)

    def rrsets(self, section, rdtype, name=None):
        found = []
        for rrset in getattr(self.message, section):
            if rrset.rdtype == rdtype and (name is None or rrset.name == name):
                found.append(rrset)
        return found

    def follow_cnames(self, qname, rdtype):
        """The records of ``rdtype`` reached from ``qname`` through the CNAMEs in the answer.

        Returns ``(final_name, rrset or None, chain)`` where chain lists the CNAME targets.
        """
        chain = []
        name = qname
        for _hop in range(MAX_CNAMES):
            wanted = self.rrsets('answer', rdtype, name)
            if wanted:
                return name, wanted[0], chain
            cnames = self.rrsets('answer', dns.rdatatype.CNAME, name)
            if not cnames:
                return name, None, chain
            name = cnames[0][0].target
            chain.append(name.to_text())
        return name, None, chain


def _name(text):
    return dns.name.from_text(text) if isinstance(text, str) else text


def txt_values(rrset):
    """A TXT rrset's values, each record's character-strings joined (long proofs arrive split)."""
    return [b''.join(rdata.strings).decode('utf-8', 'replace') for rdata in rrset]


class DnsClient:
    """Queries with timeouts, retries and a concurrency bound, and the discovery built on them."""

    def __init__(self, resolvers=None, timeout=3.0, retries=2, max_concurrency=64, nameserver_port=53):
        if resolvers:
            self.resolvers = [parse_server(r) if isinstance(r, str) else tuple(r) for r in resolvers]
        else:
            try:
                system = dns.resolver.get_default_resolver().nameservers
            except dns.resolver.NoResolverConfiguration:
                system = []
            self.resolvers = [(ip, 53) for ip in system if isinstance(ip, str)]
        self.timeout = timeout
        self.retries = retries
        self.nameserver_port = nameserver_port
        self.max_concurrency = max_concurrency
        self._semaphore = None
        self._loop = None
        self._address_cache = {}
        self.query_count = 0

    def _bound(self):
        # a semaphore belongs to one event loop, and a waiting check runs one loop per attempt
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
            self._loop = loop
        return self._semaphore

    async def query(self, server, qname, rdtype, recursion=True):
        """One question to one server: UDP, TCP when truncated; retried on timeout.

        Raises ``DnsError`` naming the server when it does not answer.
        """
        qname = _name(qname)
        rdtype = dns.rdatatype.RdataType.make(rdtype)
        request = dns.message.make_query(qname, rdtype)
        if not recursion:
            request.flags &= ~dns.flags.RD
        ip, port = server
        last_error = None
        for _attempt in range(self.retries + 1):
            async with self._bound():
                self.query_count += 1
                try:
                    message, _used_tcp = await dns.asyncquery.udp_with_fallback(request, ip, timeout=self.timeout, port=port)
                except dns.exception.Timeout:
                    last_error = f'no answer within {self.timeout:g} s'
                    continue
                except (OSError, dns.exception.DNSException) as error:
                    last_error = str(error) or error.__class__.__name__
                    continue
            return Response(message)
        raise DnsError(f'{format_server(server)} did not answer {qname.to_text()} {rdtype.name} '
                       f'({last_error}, {self.retries + 1} attempt(s))')

    async def query_any(self, servers, qname, rdtype):
        """Ask each server in turn until one answers (SERVFAIL/REFUSED count as no answer)."""
        errors = []
        for server in servers:
            try:
                response = await self.query(server, qname, rdtype)
            except DnsError as error:
                errors.append(str(error))
                continue
            if response.rcode in (dns.rcode.SERVFAIL, dns.rcode.REFUSED):
                errors.append(f'{format_server(server)} answered {dns.rcode.to_text(response.rcode)} '
                              f'for {_name(qname).to_text()}')
                continue
            return response
        raise DnsError('; '.join(errors) or 'no resolver configured')

    async def resolve(self, qname, rdtype, servers=None):
        """A lookup through the resolvers, following CNAMEs (also across answers) and referrals
        (when the resolvers are authoritative servers of a parent zone rather than recursive ones).

        Returns ``(final_name, values, chain)``: values are rdata objects (empty when the
        name or type does not exist).
        """
        qname = _name(qname)
        rdtype = dns.rdatatype.RdataType.make(rdtype)
        chain = []
        servers = servers or self.resolvers
        for _hop in range(MAX_REFERRALS):
            response = await self.query_any(servers, qname, rdtype)
            final, rrset, hops = response.follow_cnames(qname, rdtype)
            chain.extend(hops)
            if rrset is not None:
                return final.to_text(), list(rrset), chain
            if hops:
                qname = final
                servers = self.resolvers
                continue
            referral = [ns for ns in response.rrsets('authority', dns.rdatatype.NS) if qname.is_subdomain(ns.name)]
            if response.rcode != dns.rcode.NOERROR or response.authoritative or not referral \
                    or response.rrsets('authority', dns.rdatatype.SOA):
                return final.to_text(), [], chain
            nameservers = await self._nameservers_from(response, referral[0])
            servers = [(ip, self.nameserver_port) for entry in nameservers for ip in entry['addresses']]
            if not servers:
                raise DnsError(f'the nameservers of {referral[0].name.to_text()} have no address')
        raise DnsError(f'{qname.to_text()}: more than {MAX_REFERRALS} CNAMEs or referrals')

    async def addresses(self, host):
        """IPv4 and IPv6 addresses of a host name, resolved through the configured resolvers."""
        key = _name(host)
        # many domains share the same nameservers: concurrent callers await one lookup
        task = self._address_cache.get(key)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(self._lookup_addresses(key))
            self._address_cache[key] = task
        return list(await asyncio.shield(task))

    async def _lookup_addresses(self, key):
        found = []
        for rdtype in ('A', 'AAAA'):
            try:
                _final, values, _chain = await self.resolve(key, rdtype)
            except DnsError:
                continue
            found.extend(value.address for value in values)
        return found

    async def find_zone(self, qname):
        """The zone holding ``qname`` and its authoritative nameservers.

        Walks from the configured resolvers: a recursive resolver answers with the SOA (in the
        answer or the authority section); an authoritative-only server answers with a referral
        (NS in the authority section, usually with glue), which is followed. CNAMEs at the
        name are followed first (the TXT record lives at the target).

        Returns ``dict(name=final name, zone=..., nameservers=[{name, addresses}], cnames=[...])``.
        """
        qname = _name(qname)
        servers = list(self.resolvers)
        chain = []
        zone = None
        for _hop in range(MAX_REFERRALS):
            response = await self.query_any(servers, qname, 'SOA')
            final, soa, hops = response.follow_cnames(qname, dns.rdatatype.SOA)
            if hops:
                chain.extend(hops)
                qname = final
                servers = list(self.resolvers)
                if soa is None:
                    continue
            if soa is not None:
                zone = final
                break
            authority_soa = response.rrsets('authority', dns.rdatatype.SOA)
            if authority_soa:
                zone = authority_soa[0].name
                break
            referral = [rrset for rrset in response.rrsets('authority', dns.rdatatype.NS)
                        if qname.is_subdomain(rrset.name)]
            if not referral:
                raise DnsError(f'could not find the zone of {qname.to_text()}: the answer from '
                               f'{", ".join(format_server(s) for s in servers)} has neither SOA nor a referral')
            nameservers = await self._nameservers_from(response, referral[0])
            servers = [(ip, self.nameserver_port) for entry in nameservers for ip in entry['addresses']]
            if not servers:
                raise DnsError(f'the nameservers of {referral[0].name.to_text()} have no address')
        if zone is None:
            raise DnsError(f'more than {MAX_REFERRALS} referrals looking for the zone of {qname.to_text()}')
        response = await self.query_any(servers, zone, 'NS')
        rrsets = response.rrsets('answer', dns.rdatatype.NS, zone) or response.rrsets('authority', dns.rdatatype.NS, zone)
        if not rrsets:
            raise DnsError(f'the zone {zone.to_text()} has no NS records')
        nameservers = await self._nameservers_from(response, rrsets[0])
        return dict(name=qname.to_text(), zone=zone.to_text(), nameservers=nameservers, cnames=chain)

    async def _nameservers_from(self, response, ns_rrset):
        glue = {}
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            for rrset in response.rrsets('additional', rdtype):
                glue.setdefault(rrset.name, []).extend(rdata.address for rdata in rrset)
        targets = sorted({rdata.target for rdata in ns_rrset})
        resolved = await asyncio.gather(*[self.addresses(target) for target in targets if target not in glue])
        by_name = dict(zip([t for t in targets if t not in glue], resolved))
        by_name.update({target: glue[target] for target in targets if target in glue})
        return [dict(name=target.to_text(), addresses=sorted(by_name[target])) for target in targets]

    async def soa_serial(self, server, zone):
        response = await self.query(server, zone, 'SOA', recursion=False)
        rrsets = response.rrsets('answer', dns.rdatatype.SOA, _name(zone))
        return rrsets[0][0].serial if rrsets else None

    async def txt(self, server, qname):
        """TXT values of ``qname`` on one server, or ``None`` when the name has none.

        Returns ``(values or None, rcode text, authoritative flag)``.
        """
        response = await self.query(server, qname, 'TXT')
        _final, rrset, _chain = response.follow_cnames(_name(qname), dns.rdatatype.TXT)
        values = txt_values(rrset) if rrset is not None else None
        return values, dns.rcode.to_text(response.rcode), response.authoritative

    async def srv(self, qname):
        """SRV records through the resolvers: list of dicts (priority, weight, port, target)."""
        _final, values, _chain = await self.resolve(qname, 'SRV')
        return [dict(priority=value.priority, weight=value.weight, port=value.port,
                     target=value.target.to_text(omit_final_dot=True)) for value in values]
