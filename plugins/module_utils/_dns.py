# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The one DNS client of the collection.

Everything that talks DNS goes through ``DnsClient``: asynchronous queries (UDP, TCP when
the answer is truncated), timeouts and retries, bounded concurrency, zone and nameserver
discovery that starts at the configured resolvers (never the system resolver when resolvers
are given), CNAME following, TXT/SRV/address reads and SOA serials per server. Errors leave
this file as ``DnsError`` with a sentence a person can act on.

Messages are built and read by ``_dns_wire`` (the few record types the checks use, without
dnspython's object model: half the time of a 1,000-domain check went there); dnspython reads
the system resolver configuration when no resolvers are given. Names are absolute, lower-case
texts (``"ns1.example.com."``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.fleetfix.remediate.plugins.module_utils import _dns_wire as wire
from ansible_collections.fleetfix.remediate.plugins.module_utils._dns_wire import WireError

DNSPYTHON_IMPORT_ERROR = None
try:
    # the package's version only: dns.resolver (the system resolver configuration) is imported when used
    import dns.version
    DNSPYTHON_VERSION = dns.version.version
except ImportError:
    DNSPYTHON_VERSION = None
    DNSPYTHON_IMPORT_ERROR = traceback.format_exc()
    HAS_DNSPYTHON = False
else:
    HAS_DNSPYTHON = True

MAX_REFERRALS = 16
MAX_CNAMES = 8
INITIAL_RTO = 0.3
# The floor of the first wait. Unbound's is 50 ms (RTT_MIN_TIMEOUT); round trips measured in a
# Python event loop on a busy controller vary more, and at 50 ms a quarter of the queries to a
# clean loopback server were resent at load 6 (at 100 ms: 1 to 3 in 100). A resend costs one datagram
# and the late answer to the first one is still taken, so the floor changes no verdict.
MIN_RTO = 0.1
FAILURES_BEFORE_GIVING_UP = 3
UDP_MISSES_BEFORE_TCP_ONLY = 2
SLOW_ANSWER = 1.0
# A truncated answer is how a rate-limiting server (NSD, BIND, Knot RRL "slip") tells a client to
# come back over TCP, which it does not limit: for this long after one, the server is asked over
# TCP straight away instead of having more UDP answers truncated or dropped.
TCP_AFTER_TRUNCATION = 2.0
UDP_PAYLOAD = 1232


class DnsError(Exception):
    """A DNS failure described for a person (which server, which name, what happened)."""


class _NotDns(Exception):
    """A datagram from the server that is not a DNS message."""


def _describe_stray(data):
    try:
        wire.decode(data)
    except WireError:
        return f'{len(data)} bytes that are not a DNS message'
    return f'a DNS message of {len(data)} bytes that answers another query'


def _system_resolvers():
    import dns.resolver  # pylint: disable=import-outside-toplevel  # costs 60 ms, needed only without resolvers
    try:
        return [(ip, 53) for ip in dns.resolver.get_default_resolver().nameservers if isinstance(ip, str)]
    except dns.resolver.NoResolverConfiguration:
        return []


class _Query:
    """One question on the wire: ``qname`` (absolute text), ``rdtype`` (number), ``id`` and ``wire``."""

    __slots__ = ('qname', 'rdtype', 'id', 'wire')

    def __init__(self, qname, rdtype, recursion=True):
        self.qname = qname
        self.rdtype = rdtype
        self.id = random.getrandbits(16)
        self.wire = wire.query(self.id, qname, rdtype, recursion=recursion, payload=UDP_PAYLOAD)

    def renumber(self, ident):
        self.id = ident
        self.wire = wire.with_id(self.wire, ident)

    def is_answered_by(self, message):
        return message.answers(self.id, self.qname, self.rdtype)


class ServerState:
    """What the client learnt about one server: round-trip times, how many queries it takes at
    once, whether its UDP port answers, and whether it is worth asking again."""

    def __init__(self, max_window):
        self.srtt = None
        self.rttvar = None
        self.max_window = max_window
        # the full window until the server shows it drops or truncates
        self.window = float(max_window)
        self.in_flight = 0
        self.waiters = []
        self.last_backoff = 0.0
        self.udp_misses = 0
        self.tcp_only = False
        self.tcp_until = 0.0
        self.failed_in_a_row = 0
        self.last_failure = None
        self.counts = dict(udp_sent=0, udp_answered=0, tcp_sent=0, answered=0, truncated=0, udp_unanswered=0, backoffs=0,
                           tcp_after_truncation=0)

    def rto(self, ceiling):
        """The first wait for an answer: from the measured round trips (RFC 6298), short before any."""
        if self.srtt is None:
            return min(INITIAL_RTO, ceiling)
        return min(max(self.srtt + 4 * self.rttvar, MIN_RTO), ceiling)

    def measured(self, rtt):
        """One round trip of a query answered at its first datagram (Karn: the answer to a resent
        query may be to either datagram, so it is no sample; the retransmit waits would otherwise
        grow the first wait of every later query)."""
        if rtt is None:
            self.grow()
            return
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.grow()

    def grow(self):
        # one more query in flight per answer: back to the full window within a few round trips
        self.window = min(self.max_window, self.window + 1.0)

    def back_off(self, now):
        """The server dropped or truncated: halve the queries in flight (once per round trip)."""
        if now - self.last_backoff >= (self.srtt or INITIAL_RTO):
            self.window = max(1.0, self.window / 2)
            self.last_backoff = now
            self.counts['backoffs'] += 1

    async def acquire(self):
        while self.in_flight >= int(self.window):
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            await waiter
        self.in_flight += 1

    def release(self):
        self.in_flight -= 1
        # each woken query checks the window again
        while self.waiters:
            waiter = self.waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break


class _UdpEndpoint(asyncio.DatagramProtocol):
    """One connected UDP socket per server, shared by all queries to it (matched by message id)."""

    def __init__(self):
        self.transport = None
        self.pending = {}
        self.stray = None

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        waiter = self.pending.get(int.from_bytes(data[:2], 'big')) if len(data) >= 2 else None
        if waiter is not None and not waiter.done():
            # the arrival time: the round trip without the wait until the query's task runs again
            waiter.set_result((data, asyncio.get_running_loop().time()))
        elif waiter is None:
            # not an answer to any query in flight: kept to tell why a query went unanswered
            self.stray = (asyncio.get_running_loop().time(), data)

    def error_received(self, exc):
        # a connected socket reports ICMP port unreachable as ConnectionRefusedError
        for waiter in self.pending.values():
            if not waiter.done():
                waiter.set_exception(exc)

    def connection_lost(self, exc):
        for waiter in self.pending.values():
            if not waiter.done():
                waiter.set_exception(exc or ConnectionResetError('socket closed'))


def fail_if_missing_dnspython(module):
    if not HAS_DNSPYTHON:
        module.fail_json(msg=missing_required_lib('dnspython'), exception=DNSPYTHON_IMPORT_ERROR)


def check_name(text, what='name'):
    """``ValueError`` when ``text`` cannot be a DNS name (over 253 characters or a label over 63)."""
    name = str(text).rstrip('.')
    if len(name) > 253:
        raise ValueError(f'the {what} {name[:40]}... is {len(name)} characters; DNS names have at most 253')
    if any(len(label) > 63 for label in name.split('.')):
        raise ValueError(f'the {what} {name[:40]}... has a label over 63 characters')
    return name


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
    """What one server answered, reduced to what the decisions need, and how it was asked:
    ``via_tcp`` (the answer came over TCP), ``udp_problem`` (why UDP did not do: truncated,
    unanswered, port closed; ``None`` when UDP answered), ``udp_lost`` (UDP went unanswered but
    the server answered other queries over UDP in this round: datagrams lost, not UDP blocked),
    ``rtt`` (seconds to the answer)."""

    def __init__(self, message, via_tcp=False, udp_problem=None, rtt=None, udp_lost=False):
        self.message = message
        self.rcode = message.rcode
        self.authoritative = message.authoritative
        self.via_tcp = via_tcp
        self.udp_problem = udp_problem
        self.udp_lost = udp_lost
        self.rtt = rtt

    @property
    def udp_blocked(self):
        """TCP answered where UDP got nothing at all (not a truncation, not a lost datagram)."""
        return (self.via_tcp and self.udp_problem is not None and not self.udp_problem.startswith('truncated')
                and not self.udp_lost)

    @property
    def rcode_text(self):
        return wire.rcode_text(self.rcode)

    def rrsets(self, section, rdtype, name=None):
        return self.message.rrsets(section, rdtype, name)

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
            cnames = self.rrsets('answer', wire.CNAME, name)
            if not cnames:
                return name, None, chain
            name = cnames[0][0]
            chain.append(name)
        return name, None, chain


def _name(text):
    """A name as the client writes it: absolute, lower case; ``DnsError`` when it cannot be one."""
    name = wire.absolute(str(text))
    try:
        wire.encode_name(name)
    except WireError as error:
        raise DnsError(str(error)) from None
    return name


def txt_values(rrset):
    """A TXT rrset's values, each record's character-strings joined (long proofs arrive split)."""
    return list(rrset.values)


class DnsClient:
    """Queries that behave like a careful resolver, and the discovery built on them.

    Per server the client measures round trips and derives the first wait from them (short
    first tries, doubling); it resends over UDP ``retries`` times, and asks over TCP when the
    answer is truncated, when UDP stays unanswered or when the UDP port is closed, still
    accepting a late UDP answer. A server that dropped or truncated gets fewer queries at once
    (the window halves, then grows again by one per window of answers). A server whose UDP goes
    unanswered while TCP answers is then asked over TCP only; one that answered neither for
    ``FAILURES_BEFORE_GIVING_UP`` queries in a row is not asked again in this round, so an
    unreachable server costs a bounded number of queries, not one timeout per domain.
    """

    def __init__(self, resolvers=None, timeout=3.0, retries=2, max_concurrency=64, nameserver_port=53,
                 address_families='auto'):
        if resolvers:
            self.resolvers = [parse_server(r) if isinstance(r, str) else tuple(r) for r in resolvers]
        else:
            self.resolvers = _system_resolvers()
        self.timeout = timeout
        self.retries = retries
        self.nameserver_port = nameserver_port
        self.max_concurrency = max_concurrency
        self.address_families = address_families
        self._semaphore = None
        self._loop = None
        self._address_cache = {}
        self._zone_cache = {}
        self._endpoints = {}
        self._routable = {}
        self.servers = {}
        self.query_count = 0

    def _bound(self):
        # a semaphore belongs to one event loop, and a waiting check runs one loop per attempt
        loop = asyncio.get_running_loop()
        if self._semaphore is None or self._loop is not loop:
            self._semaphore = asyncio.Semaphore(self.max_concurrency)
            self._loop = loop
            self._endpoints = {}
            self._address_cache = {}
            self._zone_cache = {}
            for state in self.servers.values():
                # a new round: every server gets its chance again, measured round trips are kept
                state.failed_in_a_row = 0
                state.in_flight = 0
                state.waiters = []
        return self._semaphore

    def state(self, server):
        server = tuple(server)
        if server not in self.servers:
            self.servers[server] = ServerState(self.max_concurrency)
        return self.servers[server]

    def udp_blocked(self, server):
        """Whether ``server`` went without a single UDP answer this round while TCP answered:
        a closed or filtered UDP port, not a few datagrams lost under load."""
        state = self.servers.get(tuple(server))
        return state is not None and state.counts['udp_answered'] == 0 and state.counts['answered'] > 0

    def close(self):
        """Close the UDP sockets of this round (call at the end of each event loop)."""
        for endpoint in self._endpoints.values():
            # nobody waits any more: closing would fail each future with an error no one reads
            endpoint.pending.clear()
            if endpoint.transport is not None:
                endpoint.transport.close()
        self._endpoints = {}

    def routable(self, ip):
        """Whether the controller has a route to ``ip`` (a UDP connect sends nothing)."""
        if ip not in self._routable:
            family = socket.AF_INET6 if ':' in ip else socket.AF_INET
            try:
                with socket.socket(family, socket.SOCK_DGRAM) as probe:
                    probe.connect((ip, 53))
                self._routable[ip] = True
            except OSError:
                self._routable[ip] = False
        return self._routable[ip]

    def family_used(self, ip):
        """Whether ``ip`` is asked under the ``address_families`` setting; ``(bool, reason)``."""
        version = 'ipv6' if ':' in ip else 'ipv4'
        if self.address_families in ('ipv4', 'ipv6') and self.address_families != version:
            return False, f'not asked: address_families is {self.address_families}'
        if self.address_families == 'auto' and not self.routable(ip):
            return False, f'not asked: the controller has no {"IPv6" if version == "ipv6" else "IPv4"} route to it'
        return True, None

    async def _endpoint(self, server):
        endpoint = self._endpoints.get(server)
        if endpoint is None or endpoint.transport is None or endpoint.transport.is_closing():
            loop = asyncio.get_running_loop()
            family = socket.AF_INET6 if ':' in server[0] else socket.AF_INET
            _transport, endpoint = await loop.create_datagram_endpoint(_UdpEndpoint, remote_addr=server, family=family)
            self._endpoints[server] = endpoint
        return endpoint

    async def query(self, server, qname, rdtype, recursion=True):
        """One question to one server, asked as the class documentation says.

        Returns a ``Response``; raises ``DnsError`` naming the server and what was tried.
        """
        qname = wire.absolute(str(qname))
        rdtype = wire.type_number(rdtype)
        server = tuple(server)
        try:
            # building the query is the name's check (as _name does for the other readers)
            request = _Query(qname, rdtype, recursion=recursion)
        except WireError as error:
            raise DnsError(str(error)) from None
        semaphore = self._bound()
        state = self.state(server)
        what = f'{format_server(server)} did not answer {qname} {wire.type_text(rdtype)}'
        if state.failed_in_a_row >= FAILURES_BEFORE_GIVING_UP:
            raise DnsError(f'{what} (not asked: it answered none of the last {state.failed_in_a_row} queries; '
                           f'the last: {state.last_failure})')
        # the server's own window first, so that a slow server does not hold the shared slots
        await state.acquire()
        try:
            async with semaphore:
                response, problem = await self._ask(server, state, request)
        finally:
            state.release()
        if response is None:
            state.failed_in_a_row += 1
            state.last_failure = problem
            raise DnsError(f'{what} ({problem})')
        state.failed_in_a_row = 0
        state.counts['answered'] += 1
        return response

    async def _ask(self, server, state, request):
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline = started + self.timeout
        endpoint = None
        waiting = []
        try:
            udp_listen = None
            if state.tcp_only:
                udp_problem = f'UDP not asked: it went unanswered {UDP_MISSES_BEFORE_TCP_ONLY} times while TCP answered'
            elif started < state.tcp_until:
                # starts with "truncated": a rate-limited server is not one whose UDP is blocked
                udp_problem = 'truncated over UDP shortly before (response-rate limiting): asked over TCP'
                state.counts['tcp_after_truncation'] += 1
            else:
                try:
                    endpoint = await self._endpoint(server)
                except OSError as error:
                    udp_problem = f'no UDP socket: {error.strerror or error}'
                else:
                    while request.id in endpoint.pending:
                        request.renumber(random.getrandbits(16))
                    udp_listen, udp_problem = await self._udp_phase(endpoint, state, request, started, deadline, hedge=True)
                    if isinstance(udp_listen, Response):
                        return udp_listen, None
            state.counts['tcp_sent'] += 1
            self.query_count += 1
            tcp = asyncio.ensure_future(self._tcp(server, request))
            waiting = [tcp] + ([udp_listen] if udp_listen is not None else [])
            tcp_problem = f'no answer within {self.timeout:g} s'
            while waiting:
                done, _pending = await asyncio.wait(waiting, timeout=self.timeout + 1, return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    break
                for task in done:
                    waiting.remove(task)
                    outcome = task.result()
                    if isinstance(outcome, Response):
                        # a resent datagram answered while TCP was tried (counted as it came)
                        return outcome, None
                    if isinstance(outcome, wire.Message):
                        return self._answered(state, outcome, task is tcp, udp_problem, loop.time() - started), None
                    if task is tcp:
                        tcp_problem = outcome
                    elif outcome:
                        # what all of UDP's datagrams came to
                        udp_problem = outcome
            return None, f'UDP: {udp_problem}; TCP: {tcp_problem}'
        finally:
            for task in waiting:
                task.cancel()
            if endpoint is not None:
                endpoint.pending.pop(request.id, None)

    @staticmethod
    def _answered(state, message, via_tcp, udp_problem, rtt, sample=None):
        if not via_tcp:
            state.udp_misses = 0
            state.counts['udp_answered'] += 1
            state.measured(sample)
            return Response(message, rtt=rtt)
        state.grow()
        lost = False
        if udp_problem and not udp_problem.startswith('truncated') and not state.tcp_only:
            state.udp_misses += 1
            # only a server that never answered over UDP: a busy or lossy one did, and will again
            lost = state.counts['udp_answered'] > 0
            if state.udp_misses >= UDP_MISSES_BEFORE_TCP_ONLY and not lost:
                state.tcp_only = True
        return Response(message, via_tcp=True, udp_problem=udp_problem, rtt=rtt, udp_lost=lost)

    @staticmethod
    async def _receive(endpoint, request, until):
        """The next datagram answering ``request`` before ``until`` (loop time): ``(message,
        arrival time)``, or ``(None, None)`` at the time limit; raises ``OSError`` (port
        unreachable) or ``_NotDns``."""
        loop = asyncio.get_running_loop()
        while True:
            waiter = endpoint.pending.get(request.id)
            if waiter is None:
                waiter = endpoint.pending[request.id] = loop.create_future()
            try:
                data, arrived = await asyncio.wait_for(asyncio.shield(waiter), max(until - loop.time(), 0.0))
            except asyncio.TimeoutError:
                # A busy event loop runs the timer before reading what already arrived: two turns
                # of the loop (one to read the sockets, one to run what that woke) before the
                # datagram counts as unanswered.
                for _turn in range(2):
                    await asyncio.sleep(0)
                if not waiter.done() or waiter.cancelled():
                    return None, None
                data, arrived = waiter.result()
            if endpoint.pending.get(request.id) is not waiter:
                # the query is over (answered another way, its task cancelled as the datagram came)
                return None, None
            endpoint.pending[request.id] = loop.create_future()
            try:
                message = wire.decode(data)
            except WireError as error:
                raise _NotDns(f'answered {len(data)} bytes that are not a DNS message ({error})') from None
            if request.is_answered_by(message):
                return message, arrived

    async def udp_answers(self, server, qname, sends=5):
        """Whether ``server`` answers ``qname`` SOA over UDP at all, trying ``sends`` datagrams
        within ``timeout``: tells a lossy path (some answer) from a blocked UDP port (none)."""
        server = tuple(server)
        request = _Query(_name(qname), wire.SOA, recursion=False)
        try:
            endpoint = await self._endpoint(server)
        except OSError:
            return False
        while request.id in endpoint.pending:
            request.renumber(random.getrandbits(16))
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            answer, problem = await self._udp_phase(endpoint, self.state(server), request, started,
                                                    started + self.timeout, retries=sends - 1)
            if isinstance(answer, asyncio.Future):
                # the listener for a late answer returns at the time limit
                answer = await answer
        finally:
            endpoint.pending.pop(request.id, None)
        return answer is not None or (problem or '').startswith('truncated')

    async def _udp_phase(self, endpoint, state, request, started, deadline, retries=None, hedge=False):
        """UDP sends with doubling waits. Returns ``(Response, None)`` when answered, else
        ``(a task still trying UDP or None, why UDP did not do)``.

        With ``hedge`` the phase returns at the first unanswered datagram, its task sending the
        rest: the caller asks over TCP meanwhile and takes whichever answers first. A dropped
        datagram (a lossy path, a rate-limiting server's drop) then costs one first wait, not
        the sum of the doubling waits (0.1 + 0.2 + 0.4 s): on 1,000 domains with 5 % loss that
        tail was the half of the check's time. The task's result is a ``Response`` (a resent
        datagram answered), a ``wire.Message`` (a late answer, not yet counted), or why UDP never
        answered (a sentence) once its time is up."""
        loop = asyncio.get_running_loop()
        endpoint.pending[request.id] = loop.create_future()
        retries = self.retries if retries is None else retries
        sends = 0
        wait = state.rto(self.timeout)

        async def attempt():
            nonlocal sends, wait
            """One datagram and its wait: ``('answer', Response)``, ``('stop', problem)`` or ``('unanswered', None)``."""
            endpoint.transport.sendto(request.wire)
            sent_at = loop.time()
            sends += 1
            state.counts['udp_sent'] += 1
            self.query_count += 1
            try:
                message, arrived = await self._receive(endpoint, request, min(sent_at + wait, deadline))
            except ConnectionRefusedError:
                return 'stop', 'the UDP port is closed (port unreachable)'
            except OSError as error:
                return 'stop', f'UDP failed ({error.strerror or error})'
            except _NotDns as error:
                return 'stop', str(error)
            if message is not None:
                if message.truncated:
                    state.counts['truncated'] += 1
                    state.back_off(loop.time())
                    state.tcp_until = loop.time() + TCP_AFTER_TRUNCATION
                    return 'stop', 'truncated over UDP'
                return 'answer', self._answered(state, message, False, None, loop.time() - started,
                                                sample=arrived - sent_at if sends == 1 else None)
            state.counts['udp_unanswered'] += 1
            wait *= 2
            return 'unanswered', None

        def unanswered():
            problem = f'{sends} datagram(s) unanswered within {loop.time() - started:.2g} s'
            if endpoint.stray is not None and endpoint.stray[0] >= started:
                problem += f', {_describe_stray(endpoint.stray[1])} came back instead'
            return problem

        def all_unanswered():
            # Every datagram of the query went unanswered: the server (or the path) drops. One
            # late datagram is not that: a busy controller reads answers late too.
            state.back_off(loop.time())
            return unanswered()

        async def late_answer(problem):
            # the server may still answer any of the datagrams over UDP while TCP is tried
            try:
                message, _arrived = await self._receive(endpoint, request, deadline)
            except (OSError, _NotDns):
                return problem
            return message if message is not None and not message.truncated else problem

        async def the_rest():
            # the remaining datagrams, then a late answer to any of them until the deadline
            while sends <= retries and loop.time() < deadline:
                outcome, value = await attempt()
                if outcome in ('answer', 'stop'):
                    return value
            return await late_answer(all_unanswered())

        while sends <= retries and loop.time() < deadline:
            outcome, value = await attempt()
            if outcome == 'answer':
                return value, None
            if outcome == 'stop':
                return None, value
            if hedge and sends <= retries:
                return asyncio.ensure_future(the_rest()), unanswered()
        problem = all_unanswered()
        if loop.time() >= deadline:
            return None, problem
        return asyncio.ensure_future(late_answer(problem)), problem

    async def _tcp(self, server, request):
        """The answer over TCP (a ``wire.Message``), or why there is none (a sentence)."""
        try:
            return await asyncio.wait_for(self._tcp_exchange(server, request), self.timeout)
        except asyncio.TimeoutError:
            return f'no answer within {self.timeout:g} s'
        except ConnectionRefusedError:
            return 'connection refused'
        except EOFError:
            return 'the server closed the connection without an answer'
        except OSError as error:
            return error.strerror or str(error) or error.__class__.__name__
        except WireError as error:
            return f'an answer that is not a DNS message ({error})'

    @staticmethod
    async def _tcp_exchange(server, request):
        ip, port = server
        reader, writer = await asyncio.open_connection(ip, port)
        try:
            writer.write(wire.frame(request.wire))
            await writer.drain()
            while True:
                length = int.from_bytes(await reader.readexactly(2), 'big')
                message = wire.decode(await reader.readexactly(length))
                if request.is_answered_by(message):
                    return message
        finally:
            writer.close()

    async def query_any(self, servers, qname, rdtype, recursion=True):
        """Ask each server in turn until one answers (SERVFAIL/REFUSED count as no answer)."""
        errors = []
        for server in servers:
            try:
                response = await self.query(server, qname, rdtype, recursion=recursion)
            except DnsError as error:
                errors.append(str(error))
                continue
            if response.rcode_text in ('SERVFAIL', 'REFUSED'):
                errors.append(f'{format_server(server)} answered {response.rcode_text} for {_name(qname)}')
                continue
            return response
        raise DnsError('; '.join(errors) or 'no resolver configured')

    async def resolve(self, qname, rdtype, servers=None):
        """A lookup through the resolvers, following CNAMEs (also across answers) and referrals
        (when the resolvers are authoritative servers of a parent zone rather than recursive ones).

        Returns ``(final_name, values, chain)``: values as ``wire.RRset`` holds them (address
        texts for A/AAAA, dicts for SRV; empty when the name or type does not exist).
        """
        qname = _name(qname)
        rdtype = wire.type_number(rdtype)
        chain = []
        servers = servers or self.resolvers
        for _hop in range(MAX_REFERRALS):
            response = await self.query_any(servers, qname, rdtype)
            final, rrset, hops = response.follow_cnames(qname, rdtype)
            chain.extend(hops)
            if rrset is not None:
                return final, list(rrset), chain
            if hops:
                qname = final
                servers = self.resolvers
                continue
            referral = [ns for ns in response.rrsets('authority', wire.NS) if wire.is_subdomain(qname, ns.name)]
            if response.rcode_text != 'NOERROR' or response.authoritative or not referral \
                    or response.rrsets('authority', wire.SOA):
                return final, [], chain
            nameservers = await self._nameservers_from(response, referral[0])
            servers = [(ip, self.nameserver_port) for entry in nameservers for ip in entry['addresses']]
            if not servers:
                raise DnsError(f'the nameservers of {referral[0].name} have no address')
        raise DnsError(f'{qname}: more than {MAX_REFERRALS} CNAMEs or referrals')

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
            found.extend(values)
        return found

    async def find_zone(self, qname, with_nameservers=True):
        """The zone holding ``qname`` and its authoritative nameservers (``nameservers`` is
        ``None`` with ``with_nameservers=False``: the caller takes them from the delegation).

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
            final, soa, hops = response.follow_cnames(qname, wire.SOA)
            if hops:
                chain.extend(hops)
                qname = final
                servers = list(self.resolvers)
                if soa is None:
                    continue
            if soa is not None:
                zone = final
                break
            authority_soa = response.rrsets('authority', wire.SOA)
            if authority_soa:
                zone = authority_soa[0].name
                break
            referral = [rrset for rrset in response.rrsets('authority', wire.NS)
                        if wire.is_subdomain(qname, rrset.name)]
            if not referral:
                raise DnsError(f'could not find the zone of {qname}: the answer from '
                               f'{", ".join(format_server(s) for s in servers)} has neither SOA nor a referral')
            nameservers = await self._nameservers_from(response, referral[0])
            servers = [(ip, self.nameserver_port) for entry in nameservers for ip in entry['addresses']]
            if not servers:
                raise DnsError(f'the nameservers of {referral[0].name} have no address')
        if zone is None:
            raise DnsError(f'more than {MAX_REFERRALS} referrals looking for the zone of {qname}')
        if not with_nameservers:
            return dict(name=qname, zone=zone, nameservers=None, cnames=chain)
        response = await self.query_any(servers, zone, 'NS')
        rrsets = response.rrsets('answer', wire.NS, zone) or response.rrsets('authority', wire.NS, zone)
        if not rrsets:
            raise DnsError(f'the zone {zone} has no NS records')
        nameservers = await self._nameservers_from(response, rrsets[0])
        return dict(name=qname, zone=zone, nameservers=nameservers, cnames=chain)

    async def _nameservers_from(self, response, ns_rrset):
        glue = {}
        for rdtype in (wire.A, wire.AAAA):
            for rrset in response.rrsets('additional', rdtype):
                glue.setdefault(rrset.name, []).extend(rrset)
        targets = sorted(set(ns_rrset))
        resolved = await asyncio.gather(*[self.addresses(target) for target in targets if target not in glue])
        by_name = dict(zip([t for t in targets if t not in glue], resolved))
        by_name.update({target: glue[target] for target in targets if target in glue})
        return [dict(name=target, addresses=sorted(by_name[target])) for target in targets]

    async def soa_serial(self, server, zone):
        response = await self.query(server, zone, 'SOA', recursion=False)
        rrsets = response.rrsets('answer', wire.SOA, _name(zone))
        return rrsets[0][0]['serial'] if rrsets else None

    async def txt(self, server, qname):
        """TXT values of ``qname`` on one server and how the server answered.

        Returns a dict: ``values`` (``None`` when the name has none), ``rcode`` (text),
        ``authoritative`` (AA flag), ``via_tcp``, ``udp_blocked`` (TCP answered, UDP got
        nothing), ``udp_problem``, ``rtt`` (seconds) and ``zone_nameservers`` (the NS names the
        server gives in its authority section for the zone, ``None`` when it gives none).
        """
        response = await self.query(server, qname, 'TXT', recursion=False)
        _final, rrset, _chain = response.follow_cnames(_name(qname), wire.TXT)
        values = txt_values(rrset) if rrset is not None else None
        authority = response.rrsets('authority', wire.NS) if response.authoritative else []
        return dict(values=values, rcode=response.rcode_text, authoritative=response.authoritative,
                    via_tcp=response.via_tcp, udp_blocked=response.udp_blocked, udp_problem=response.udp_problem,
                    rtt=response.rtt,
                    zone_nameservers=sorted(set(authority[0])) if authority else None)

    async def apex_nameservers(self, server, zone):
        """The zone's own NS names as one of its servers answers them (AA), or ``None``."""
        response = await self.query(server, zone, 'NS', recursion=False)
        rrsets = response.rrsets('answer', wire.NS, _name(zone))
        if not response.authoritative or not rrsets:
            return None
        return sorted(rrsets[0])

    async def resolver_txt(self, server, qname):
        """TXT values of ``qname`` through one (internal) resolver: ``(values or None, rcode text)``."""
        response = await self.query(server, qname, 'TXT')
        _final, rrset, _chain = response.follow_cnames(_name(qname), wire.TXT)
        return (txt_values(rrset) if rrset is not None else None), response.rcode_text

    async def zone_of(self, qname):
        """``find_zone(qname, with_nameservers=False)``, one query cheaper for the usual case: when
        the parent zone delegates ``qname`` itself, ``qname`` is the zone (a zone apex has no
        CNAME) and the delegation comes along (key ``delegation``)."""
        qname = _name(qname)
        try:
            delegation = await self.delegation(qname)
        except DnsError:
            delegation = None
        if delegation is not None:
            return dict(name=qname, zone=qname, nameservers=None, cnames=[], delegation=delegation)
        return await self.find_zone(qname, with_nameservers=False)

    async def delegation(self, zone):
        """The parent's delegation of ``zone``: ``dict(parent, nameservers=[{name, glue}])``, or
        ``None`` for a top-level zone. Asks the parent zone's own servers (RD off)."""
        zone = _name(zone)
        if wire.label_count(zone) <= 2:
            return None
        parent_name = wire.parent_of(zone)
        task = self._zone_cache.get(parent_name)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            # the 1,000 domains of one parent share one lookup of the parent's servers
            task = self._zone_cache[parent_name] = asyncio.ensure_future(self.find_zone(parent_name))
        parent = await asyncio.shield(task)
        servers = [(ip, self.nameserver_port) for entry in parent['nameservers'] for ip in entry['addresses']
                   if self.family_used(ip)[0]]
        if not servers:
            raise DnsError(f'the servers of the parent zone {parent["zone"]} have no address the controller can use')
        response = await self.query_any(servers, zone, 'NS', recursion=False)
        rrsets = response.rrsets('answer', wire.NS, zone) or response.rrsets('authority', wire.NS, zone)
        if not rrsets:
            raise DnsError(f'the parent zone {parent["zone"]} has no delegation (NS records) for {zone}')
        glue = {}
        for rdtype in (wire.A, wire.AAAA):
            for rrset in response.rrsets('additional', rdtype):
                glue.setdefault(rrset.name, []).extend(rrset)
        names = sorted(set(rrsets[0]))
        return dict(parent=parent['zone'], nameservers=[dict(name=name, glue=sorted(glue.get(name, []))) for name in names])

    async def srv(self, qname):
        """SRV records through the resolvers: list of dicts (priority, weight, port, target)."""
        _final, values, _chain = await self.resolve(qname, 'SRV')
        # a target of "." means the service is decidedly not available at this domain (RFC 2782)
        return [dict(value, target=value['target'].rstrip('.') or '.') for value in values]
