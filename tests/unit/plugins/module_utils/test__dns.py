# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import asyncio
import re

import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _dns, _dns_wire

PARENT = ('127.0.0.2', 5353)
RECURSIVE = ('127.0.0.5', 5353)


def response(text, authoritative=False):
    flags = 'QR AA' if authoritative else 'QR RA'
    # written by dnspython, read by the client's own wire reader
    message = dns.message.from_text(f'id 1\nopcode QUERY\nrcode NOERROR\nflags {flags}\n' + text)
    return _dns.Response(_dns_wire.decode(message.to_wire()))


class ScriptedClient(_dns.DnsClient):
    """A DnsClient whose wire is a dict: (server, name, type) -> Response."""

    def __init__(self, script, **kwargs):
        super().__init__(**kwargs)
        self.script = script
        self.asked = []

    async def query(self, server, qname, rdtype, recursion=True):
        key = (server, dns.name.from_text(str(qname)).to_text().lower(), dns.rdatatype.RdataType.make(rdtype).name)
        self.asked.append(key)
        if key not in self.script:
            raise _dns.DnsError(f'{_dns.format_server(server)} did not answer {key[1]} {key[2]}')
        return self.script[key]


@pytest.mark.parametrize('text, expected', [
    ('10.0.0.1', ('10.0.0.1', 53)),
    ('10.0.0.1:5353', ('10.0.0.1', 5353)),
    ('2001:db8::1', ('2001:db8::1', 53)),
    ('[2001:db8::1]:5300', ('2001:db8::1', 5300)),
])
def test_parse_server(text, expected):
    assert _dns.parse_server(text) == expected
    assert _dns.parse_server(_dns.format_server(expected)) == expected


@pytest.mark.parametrize('text', ['ns1.example.com', '10.0.0.1:', '10.0.0.1:0', '[::1]x', '1.2.3'])
def test_parse_server_rejects(text):
    with pytest.raises(ValueError):
        _dns.parse_server(text)


def test_txt_character_strings_are_joined():
    answer = response(';ANSWER\nlong.example. 30 IN TXT "' + 'a' * 255 + '" "bcd"\nlong.example. 30 IN TXT "x"\n')
    _final, rrset, _chain = answer.follow_cnames('long.example.', _dns_wire.TXT)
    assert sorted(_dns.txt_values(rrset)) == sorted(['a' * 255 + 'bcd', 'x'])


def test_follow_cnames_in_one_answer():
    answer = response(';ANSWER\nautodiscover.a.example. 30 IN CNAME mail.a.example.\nmail.a.example. 30 IN A 192.0.2.1\n')
    final, rrset, chain = answer.follow_cnames('autodiscover.a.example.', _dns_wire.A)
    assert final == 'mail.a.example.'
    assert list(rrset) == ['192.0.2.1']
    assert chain == ['mail.a.example.']


def test_find_zone_recursive_answer_and_nameserver_names_via_resolvers():
    script = {
        (RECURSIVE, 'exchangedelegation.a.example.', 'SOA'): response(
            ';AUTHORITY\na.example. 30 IN SOA ns1.a.example. h.a.example. 7 1 1 1 1\n'),
        (RECURSIVE, 'a.example.', 'NS'): response(';ANSWER\na.example. 30 IN NS ns1.a.example.\na.example. 30 IN NS ns2.b.example.\n'),
        (RECURSIVE, 'ns1.a.example.', 'A'): response(';ANSWER\nns1.a.example. 30 IN A 192.0.2.1\n'),
        (RECURSIVE, 'ns1.a.example.', 'AAAA'): response(''),
        (RECURSIVE, 'ns2.b.example.', 'A'): response(';ANSWER\nns2.b.example. 30 IN A 192.0.2.2\n'),
        (RECURSIVE, 'ns2.b.example.', 'AAAA'): response(';ANSWER\nns2.b.example. 30 IN AAAA 2001:db8::2\n'),
    }
    client = ScriptedClient(script, resolvers=['127.0.0.5:5353'], nameserver_port=5353)
    zone = asyncio.run(client.find_zone('exchangedelegation.a.example'))
    assert zone == dict(name='exchangedelegation.a.example.', zone='a.example.', cnames=[], nameservers=[
        dict(name='ns1.a.example.', addresses=['192.0.2.1']),
        dict(name='ns2.b.example.', addresses=['192.0.2.2', '2001:db8::2'])])
    # nameserver names go to the configured resolver, never elsewhere
    assert {server for server, _name, _type in client.asked} == {RECURSIVE}


def test_find_zone_follows_referral_with_glue():
    glue = (';AUTHORITY\na.example. 30 IN NS ns1.example.\n'
            ';ADDITIONAL\nns1.example. 30 IN A 192.0.2.1\n')
    script = {
        (PARENT, 'a.example.', 'SOA'): response(glue),
        (('192.0.2.1', 5353), 'a.example.', 'SOA'): response(
            ';ANSWER\na.example. 30 IN SOA ns1.example. h.a.example. 7 1 1 1 1\n', authoritative=True),
        (('192.0.2.1', 5353), 'a.example.', 'NS'): response(
            ';ANSWER\na.example. 30 IN NS ns1.example.\n;ADDITIONAL\nns1.example. 30 IN A 192.0.2.1\n', authoritative=True),
    }
    client = ScriptedClient(script, resolvers=['127.0.0.2:5353'], nameserver_port=5353)
    zone = asyncio.run(client.find_zone('a.example.'))
    assert zone['zone'] == 'a.example.'
    assert zone['nameservers'] == [dict(name='ns1.example.', addresses=['192.0.2.1'])]


def test_find_zone_follows_cname_to_other_zone():
    script = {
        (RECURSIVE, 'a.example.', 'SOA'): response(
            ';ANSWER\na.example. 30 IN CNAME t.b.example.\n;AUTHORITY\nb.example. 30 IN SOA ns.b.example. h. 1 1 1 1 1\n'),
        (RECURSIVE, 't.b.example.', 'SOA'): response(';AUTHORITY\nb.example. 30 IN SOA ns.b.example. h. 1 1 1 1 1\n'),
        (RECURSIVE, 'b.example.', 'NS'): response(';ANSWER\nb.example. 30 IN NS ns.b.example.\n'
                                                  ';ADDITIONAL\nns.b.example. 30 IN A 192.0.2.9\n'),
    }
    client = ScriptedClient(script, resolvers=['127.0.0.5:5353'])
    zone = asyncio.run(client.find_zone('a.example'))
    assert zone['name'] == 't.b.example.' and zone['zone'] == 'b.example.' and zone['cnames'] == ['t.b.example.']


def test_find_zone_without_answer_raises_dns_error():
    client = ScriptedClient({}, resolvers=['127.0.0.5:5353'])
    with pytest.raises(_dns.DnsError, match='127.0.0.5:5353 did not answer'):
        asyncio.run(client.find_zone('a.example'))


def test_resolve_follows_cname_across_answers():
    script = {
        (RECURSIVE, 'autodiscover.a.example.', 'A'): response(';ANSWER\nautodiscover.a.example. 30 IN CNAME mail.b.example.\n'),
        (RECURSIVE, 'mail.b.example.', 'A'): response(';ANSWER\nmail.b.example. 30 IN A 192.0.2.7\n'),
    }
    client = ScriptedClient(script, resolvers=['127.0.0.5:5353'])
    final, values, chain = asyncio.run(client.resolve('autodiscover.a.example', 'A'))
    assert (final, values, chain) == ('mail.b.example.', ['192.0.2.7'], ['mail.b.example.'])


class FakeServer(asyncio.DatagramProtocol):
    """A nameserver on 127.0.0.1 (random port) whose UDP behaviour a test scripts:
    ``udp(index, request) -> 'answer' | 'drop' | 'truncate' | 'garbage' | ('late', seconds)``;
    TCP answers when ``tcp`` is true (the port is refused otherwise), after ``tcp_delay`` seconds."""

    def __init__(self, udp=lambda index, request: 'answer', tcp=True, bind_udp=True, tcp_delay=0):
        self.udp = udp
        self.tcp = tcp
        self.tcp_delay = tcp_delay
        self.bind_udp = bind_udp
        self.udp_seen = 0
        self.tcp_seen = 0
        self.in_flight = 0
        self.transport = None
        self.port = None
        self.tcp_server = None

    @staticmethod
    def answer(request, truncated=False):
        reply = dns.message.make_response(request)
        reply.flags |= dns.flags.AA
        if truncated:
            reply.flags |= dns.flags.TC
        else:
            reply.answer.append(dns.rrset.from_text(request.question[0].name, 30, 'IN', 'TXT', '"v"'))
        return reply.to_wire()

    async def start(self):
        loop = asyncio.get_running_loop()
        self.tcp_server = await asyncio.start_server(self.serve_tcp, '127.0.0.1', 0)
        self.port = self.tcp_server.sockets[0].getsockname()[1]
        if not self.tcp:
            self.tcp_server.close()
            await self.tcp_server.wait_closed()
        if self.bind_udp:
            await loop.create_datagram_endpoint(lambda: self, local_addr=('127.0.0.1', self.port))
        return ('127.0.0.1', self.port)

    def close(self):
        if self.transport:
            self.transport.close()
        if self.tcp:
            self.tcp_server.close()

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        request = dns.message.from_wire(data)
        action = self.udp(self.udp_seen, request)
        self.udp_seen += 1
        if action == 'answer':
            self.transport.sendto(self.answer(request), addr)
        elif action == 'truncate':
            self.transport.sendto(self.answer(request, truncated=True), addr)
        elif action == 'garbage':
            self.transport.sendto(bytes(range(7, 47)), addr)
        elif isinstance(action, tuple):
            asyncio.get_running_loop().call_later(action[1], self.transport.sendto, self.answer(request), addr)

    async def serve_tcp(self, reader, writer):
        self.tcp_seen += 1
        length = int.from_bytes(await reader.readexactly(2), 'big')
        request = dns.message.from_wire(await reader.readexactly(length))
        await asyncio.sleep(self.tcp_delay)
        wire = self.answer(request)
        writer.write(len(wire).to_bytes(2, 'big') + wire)
        await writer.drain()
        writer.close()


def ask(server_behaviour, queries=1, **client_options):
    """Start a FakeServer, send ``queries`` TXT queries one after the other, return
    ``(responses or DnsErrors, server, client, seconds)``."""
    async def scenario():
        server = FakeServer(**server_behaviour)
        address = await server.start()
        client = _dns.DnsClient(resolvers=['127.0.0.1'], **dict(dict(timeout=2, retries=2), **client_options))
        outcomes = []
        started = asyncio.get_running_loop().time()
        try:
            for index in range(queries):
                try:
                    outcomes.append(await client.query(address, f'q{index}.example', 'TXT'))
                except _dns.DnsError as error:
                    outcomes.append(error)
        finally:
            client.close()
            server.close()
        return outcomes, server, client, asyncio.get_running_loop().time() - started
    return asyncio.run(scenario())


def test_dropped_datagram_is_sent_again_after_a_short_wait():
    # TCP refused: the resent datagram answers, long before the 10 s query timeout
    (answer,), server, _client, _seconds = ask(dict(udp=lambda index, request: 'drop' if index == 0 else 'answer', tcp=False),
                                               timeout=10)
    assert not answer.via_tcp and answer.rcode == 0
    assert server.udp_seen == 2
    assert answer.rtt < 5


def test_a_dropped_datagram_is_also_asked_over_tcp_at_once():
    # the resend and a TCP query go out together after the first wait; the first answer is taken,
    # so a query whose datagrams keep getting lost waits one first wait, not 0.3 + 0.6 + 1.2 s
    (answer,), server, _client, _seconds = ask(dict(udp=lambda index, request: 'drop' if index == 0 else ('late', 1.5)),
                                               timeout=10)
    assert answer.via_tcp and answer.rcode == 0
    assert server.udp_seen == 2 and server.tcp_seen == 1
    assert _dns.INITIAL_RTO <= answer.rtt < 1


def test_a_resent_datagram_answered_while_tcp_is_tried_is_taken_and_counted_once():
    (answer,), server, client, _seconds = ask(dict(udp=lambda index, request: 'drop' if index == 0 else 'answer',
                                                   tcp_delay=1.5), timeout=10)
    state = client.state(('127.0.0.1', server.port))
    assert not answer.via_tcp and answer.rtt < 1
    assert server.udp_seen == 2 and server.tcp_seen == 1
    assert state.counts['udp_answered'] == 1 and state.counts['answered'] == 1


def test_a_datagram_lost_by_a_server_that_answers_udp_is_not_udp_blocked():
    answers, server, _client, _seconds = ask(dict(udp=lambda index, request: 'drop' if index == 1 else
                                                  (('late', 1.5) if index == 2 else 'answer')), queries=2, timeout=10)
    first, second = answers
    assert not first.via_tcp
    assert second.via_tcp and second.udp_lost and not second.udp_blocked
    assert server.tcp_seen == 1


def test_the_answer_to_a_resent_query_is_no_round_trip_sample():
    # Karn's rule: the answer may be to either datagram; counting the wait for the first one as a
    # round trip would lengthen the first wait of every later query to a lossy server
    answers, server, client, _seconds = ask(dict(udp=lambda index, request: 'drop' if index == 0 else 'answer', tcp=False),
                                            queries=2, timeout=10)
    state = client.state(('127.0.0.1', server.port))
    assert server.udp_seen == 3 and all(not answer.via_tcp for answer in answers)
    assert answers[0].rtt >= _dns.INITIAL_RTO
    # only the second query, answered at its first datagram, was measured: far below the first wait
    assert state.srtt is not None and state.srtt < _dns.INITIAL_RTO / 2
    assert state.rto(3.0) < _dns.INITIAL_RTO


def test_waits_come_from_measured_round_trips_and_double():
    state = _dns.ServerState(max_window=64)
    assert state.rto(3.0) == _dns.INITIAL_RTO
    for _answer in range(20):
        state.measured(0.001)
    assert state.rto(3.0) == _dns.MIN_RTO
    for _answer in range(20):
        state.measured(0.5)
    assert 0.5 < state.rto(3.0) < 3.0
    assert state.rto(0.2) == 0.2


def test_truncated_answer_is_asked_over_tcp():
    (answer,), server, _client, _seconds = ask(dict(udp=lambda index, request: 'truncate'))
    assert answer.via_tcp and answer.udp_problem == 'truncated over UDP' and not answer.udp_blocked
    assert server.tcp_seen == 1


def test_after_a_truncation_the_server_is_asked_over_tcp_for_a_while():
    # a rate-limiting server truncates ("slip") to send clients to TCP, which it does not limit
    answers, server, client, _seconds = ask(dict(udp=lambda index, request: 'truncate' if index == 0 else 'drop'),
                                            queries=3)
    assert all(answer.via_tcp and not answer.udp_blocked for answer in answers)
    assert all(answer.udp_problem.startswith('truncated') for answer in answers)
    assert server.udp_seen == 1 and server.tcp_seen == 3
    state = client.state(('127.0.0.1', server.port))
    assert state.counts['tcp_after_truncation'] == 2 and not state.tcp_only


def test_udp_port_closed_is_answered_over_tcp_then_tcp_only():
    answers, server, client, _seconds = ask(dict(bind_udp=False), queries=4)
    assert all(answer.via_tcp and answer.udp_blocked for answer in answers)
    assert 'UDP port is closed' in answers[0].udp_problem
    assert 'UDP not asked' in answers[3].udp_problem
    state = client.state(('127.0.0.1', server.port))
    assert state.tcp_only and state.counts['udp_sent'] == 2 and server.tcp_seen == 4


def test_udp_silent_tcp_answers_is_udp_blocked():
    (answer,), _server, _client, _seconds = ask(dict(udp=lambda index, request: 'drop'), timeout=1, retries=1)
    assert answer.via_tcp and answer.udp_blocked and 'unanswered' in answer.udp_problem


def test_unreachable_names_what_was_tried_and_is_given_up():
    outcomes, server, client, _seconds = ask(dict(udp=lambda index, request: 'drop', tcp=False), queries=5,
                                             timeout=1.2, retries=2)
    assert all(isinstance(outcome, _dns.DnsError) for outcome in outcomes)
    assert re.search(r'did not answer q0.example. TXT \(UDP: 3 datagram\(s\) unanswered within 1.\d+ s; TCP: connection refused\)',
                     str(outcomes[0]))
    assert 'not asked: it answered none of the last 3 queries' in str(outcomes[4])
    assert server.udp_seen == 9  # three queries of three datagrams, then no more
    assert client.state(('127.0.0.1', server.port)).counts['tcp_sent'] == 3


def test_slow_server_answer_is_still_taken():
    (answer,), _server, _client, _seconds = ask(dict(udp=lambda index, request: ('late', 0.7) if index == 0 else 'drop',
                                                     tcp=False), timeout=2, retries=2)
    assert not isinstance(answer, _dns.DnsError)
    assert answer.rtt >= 0.7


def test_bytes_that_are_not_dns_are_named_as_such():
    (error,), _server, _client, _seconds = ask(dict(udp=lambda index, request: 'garbage', tcp=False))
    assert isinstance(error, _dns.DnsError)
    assert '40 bytes that are not a DNS message came back instead' in str(error)
    assert 'Errno 111' not in str(error)


def test_window_halves_when_the_server_drops_and_grows_back():
    state = _dns.ServerState(max_window=64)
    assert state.window == 64
    state.back_off(10.0)
    assert state.window == 32
    state.back_off(10.0)  # within one round trip: once
    assert state.window == 32
    state.back_off(11.0)
    assert state.window == 16
    for _answer in range(40):
        state.measured(0.001)
    assert state.window == 56


def test_per_server_window_bounds_queries_in_flight():
    async def scenario():
        server = FakeServer(udp=lambda index, request: ('late', 0.02))
        address = await server.start()
        client = _dns.DnsClient(resolvers=['127.0.0.1'], max_concurrency=64)
        state = client.state(address)
        state.window = 3.0
        peak = [0]
        original = state.acquire

        async def watched():
            await original()
            peak[0] = max(peak[0], state.in_flight)
        state.acquire = watched
        await asyncio.gather(*[client.query(address, f'n{i}.example', 'TXT') for i in range(12)])
        client.close()
        server.close()
        return peak[0]
    assert asyncio.run(scenario()) <= 3


def test_ipv6_address_without_route_is_not_used(monkeypatch):
    client = _dns.DnsClient(resolvers=['127.0.0.1'])
    monkeypatch.setattr(client, 'routable', lambda ip: ':' not in ip)
    assert client.family_used('127.0.0.3') == (True, None)
    assert client.family_used('::1') == (False, 'not asked: the controller has no IPv6 route to it')
    client.address_families = 'ipv6'
    assert client.family_used('127.0.0.3') == (False, 'not asked: address_families is ipv6')


def test_zone_of_a_delegated_name_comes_with_the_parents_delegation():
    parent_server = ('192.0.2.53', 53)
    script = {
        (RECURSIVE, 'example.', 'SOA'): response(';ANSWER\nexample. 30 IN SOA ns.example. h.example. 1 2 3 4 5\n'),
        (RECURSIVE, 'example.', 'NS'): response(';ANSWER\nexample. 30 IN NS ns.example.\n;ADDITIONAL\nns.example. 30 IN A 192.0.2.53\n'),
        (parent_server, 'contoso.example.', 'NS'): response(
            ';AUTHORITY\ncontoso.example. 30 IN NS ns1.contoso.example.\ncontoso.example. 30 IN NS ns2.other.\n'
            ';ADDITIONAL\nns1.contoso.example. 30 IN A 192.0.2.1\n'),
        (parent_server, 'sub.contoso.example.', 'NS'): response(';ANSWER\n', authoritative=True),
        (RECURSIVE, 'sub.contoso.example.', 'SOA'): response(';AUTHORITY\ncontoso.example. 30 IN SOA ns1.contoso.example. h. 1 2 3 4 5\n'),
    }
    client = ScriptedClient(script, resolvers=['127.0.0.5:5353'])
    # scripted, never sent: routable also where the controller has no default route (a namespace)
    client._routable['192.0.2.53'] = True
    zone = asyncio.run(client.zone_of('contoso.example'))
    assert zone['zone'] == 'contoso.example.' and zone['nameservers'] is None
    assert zone['delegation'] == dict(parent='example.', nameservers=[
        dict(name='ns1.contoso.example.', glue=['192.0.2.1']), dict(name='ns2.other.', glue=[])])
    # a name inside a zone: the parent has no delegation for it, the resolvers' SOA tells the zone
    zone = asyncio.run(client.zone_of('sub.contoso.example'))
    assert zone['zone'] == 'contoso.example.' and 'delegation' not in zone


def test_udp_probe_tells_a_lossy_path_from_a_closed_port():
    async def scenario(behaviour):
        server = FakeServer(**behaviour)
        address = await server.start()
        client = _dns.DnsClient(resolvers=['127.0.0.1'], timeout=1)
        try:
            return await client.udp_answers(address, 'example.')
        finally:
            client.close()
            server.close()
    assert asyncio.run(scenario(dict(udp=lambda index, request: 'drop' if index < 2 else 'answer'))) is True
    assert asyncio.run(scenario(dict(bind_udp=False))) is False
    assert asyncio.run(scenario(dict(udp=lambda index, request: 'drop'))) is False


def test_a_server_that_answered_over_udp_is_not_switched_to_tcp_only():
    answers, server, client, _seconds = ask(dict(udp=lambda index, request: 'answer' if index == 0 else 'drop'),
                                            queries=4, timeout=0.5, retries=0)
    state = client.state(('127.0.0.1', server.port))
    assert not state.tcp_only
    assert all(not isinstance(answer, _dns.DnsError) for answer in answers)
    assert server.udp_seen == 4
