# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import asyncio

import dns.message
import dns.name
import dns.rdatatype
import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _dns

PARENT = ('127.0.0.2', 5353)
RECURSIVE = ('127.0.0.5', 5353)


def response(text, authoritative=False):
    flags = 'QR AA' if authoritative else 'QR RA'
    return _dns.Response(dns.message.from_text(f'id 1\nopcode QUERY\nrcode NOERROR\nflags {flags}\n' + text))


class ScriptedClient(_dns.DnsClient):
    """A DnsClient whose wire is a dict: (server, name, type) -> Response."""

    def __init__(self, script, **kwargs):
        super().__init__(**kwargs)
        self.script = script
        self.asked = []

    async def query(self, server, qname, rdtype, recursion=True):
        key = (server, dns.name.from_text(str(qname)).to_text(), dns.rdatatype.RdataType.make(rdtype).name)
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
    _final, rrset, _chain = answer.follow_cnames(dns.name.from_text('long.example.'), dns.rdatatype.TXT)
    assert sorted(_dns.txt_values(rrset)) == sorted(['a' * 255 + 'bcd', 'x'])


def test_follow_cnames_in_one_answer():
    answer = response(';ANSWER\nautodiscover.a.example. 30 IN CNAME mail.a.example.\nmail.a.example. 30 IN A 192.0.2.1\n')
    final, rrset, chain = answer.follow_cnames(dns.name.from_text('autodiscover.a.example.'), dns.rdatatype.A)
    assert final.to_text() == 'mail.a.example.'
    assert [rdata.address for rdata in rrset] == ['192.0.2.1']
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
    assert (final, [value.address for value in values], chain) == ('mail.b.example.', ['192.0.2.7'], ['mail.b.example.'])


def test_query_retries_then_names_server(monkeypatch):
    attempts = []

    async def never(*args, **kwargs):
        attempts.append(args)
        raise _dns.dns.exception.Timeout()

    monkeypatch.setattr(_dns.dns.asyncquery, 'udp_with_fallback', never)
    client = _dns.DnsClient(resolvers=['127.0.0.9:5353'], timeout=0.5, retries=2)
    with pytest.raises(_dns.DnsError, match=r'127.0.0.9:5353 did not answer a.example. TXT \(no answer within 0.5 s, 3 attempt'):
        asyncio.run(client.query(('127.0.0.9', 5353), 'a.example', 'TXT'))
    assert len(attempts) == 3


def test_concurrency_is_bounded(monkeypatch):
    in_flight = [0, 0]

    async def slow(request, where, timeout, port):
        in_flight[0] += 1
        in_flight[1] = max(in_flight[1], in_flight[0])
        await asyncio.sleep(0.01)
        in_flight[0] -= 1
        return dns.message.make_response(request), False

    monkeypatch.setattr(_dns.dns.asyncquery, 'udp_with_fallback', slow)
    client = _dns.DnsClient(resolvers=['127.0.0.9'], max_concurrency=3)

    async def many():
        await asyncio.gather(*[client.query(('127.0.0.9', 53), f'n{i}.example', 'TXT') for i in range(20)])

    asyncio.run(many())
    asyncio.run(many())  # a second event loop gets its own semaphore
    assert in_flight[1] == 3
