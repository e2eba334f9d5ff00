# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import hashlib

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _federation
from ansible_collections.fleetfix.remediate.plugins.module_utils._dns import DnsError
from ansible_collections.fleetfix.remediate.plugins.module_utils._federation import ValidationError


def proof(key):
    return base64.b64encode(hashlib.sha512(key.encode()).digest()).decode()


NS1 = ('192.0.2.1', 53)
NS2 = ('192.0.2.2', 53)
INTERNAL = ('10.0.0.53', 53)


class FakeClient:
    """The _dns.DnsClient seam: zones, TXT values, serials and ways of answering per server, from dicts.

    ``answers`` overrides how a server answers TXT: a dict merged into the default answer
    (``rcode``, ``authoritative``, ``via_tcp``, ``udp_blocked``, ``zone_nameservers``...).
    ``delegations`` maps a zone to the parent's view (``None``: the parent delegates exactly
    to the zone's nameservers).
    """

    nameserver_port = 53

    def __init__(self, txt=None, serials=None, down=(), records=None, srv=None, zones=None, answers=None,
                 delegations=None, unroutable=(), internal_rcode='NOERROR'):
        self.txt_by_server = txt or {}
        self.serials = serials or {NS1: 2, NS2: 2}
        self.down = set(down)
        self.records = records or {}
        self.srv_records = srv or {}
        self.zones = zones or {}
        self.answers = answers or {}
        self.delegations = delegations or {}
        self.unroutable = set(unroutable)
        self.internal_rcode = internal_rcode
        self.calls = []

    async def find_zone(self, name, with_nameservers=True):
        self.calls.append(('find_zone', name))
        if name in self.zones:
            return self.zones[name]
        return dict(name=name + '.', zone=name + '.', cnames=[], nameservers=[
            dict(name='ns1.example.net.', addresses=[NS1[0]]), dict(name='ns2.example.net.', addresses=[NS2[0]])])

    async def delegation(self, zone):
        self.calls.append(('delegation', zone))
        if zone.rstrip('.') in self.delegations:
            return self.delegations[zone.rstrip('.')]
        found = next((entry for entry in self.zones.values() if entry['zone'] == zone), None) \
            or await self.find_zone(zone.rstrip('.'))
        return dict(parent='example.', nameservers=[dict(name=entry['name'], glue=[]) for entry in found['nameservers']])

    async def apex_nameservers(self, server, zone):
        found = next((entry for entry in self.zones.values() if entry['zone'] == zone), None) \
            or await self.find_zone(zone.rstrip('.'))
        return [entry['name'] for entry in found['nameservers']]

    async def addresses(self, name):
        return self.records.get((name.rstrip('.'), 'addresses'), [])

    def family_used(self, ip):
        if ip in self.unroutable:
            return False, 'not asked: the controller has no IPv6 route to it'
        return True, None

    async def txt(self, server, name):
        self.calls.append(('txt', server, name))
        if server in self.down:
            raise DnsError(f'{server[0]} did not answer {name} TXT (UDP: 3 datagram(s) unanswered within 2.1 s; '
                           'TCP: no answer within 3 s)')
        values = self.txt_by_server.get(server, {}).get(name.rstrip('.'))
        answer = dict(values=values, rcode='NOERROR', authoritative=True, via_tcp=False, udp_blocked=False,
                      udp_problem=None, rtt=0.001, zone_nameservers=None)
        answer.update(self.answers.get(server, {}))
        return answer

    async def resolver_txt(self, server, name):
        self.calls.append(('resolver_txt', server, name))
        if server in self.down:
            raise DnsError(f'{server[0]} did not answer {name} TXT')
        return self.txt_by_server.get(server, {}).get(name.rstrip('.')), self.internal_rcode

    async def soa_serial(self, server, zone):
        if server in self.down:
            raise DnsError('down')
        return self.serials.get(server)

    async def resolve(self, name, rdtype):
        values, chain = self.records.get((name, rdtype), ([], []))
        return name, list(values), chain

    async def srv(self, name):
        return self.srv_records.get(name, [])


def check(client, domains, autodiscover=(), internal=None, **kwargs):
    return _federation.run(client, domains, list(autodiscover), internal_resolvers=internal, **kwargs)


GOOD = proof('good')
NEW = proof('new')


def test_all_good_on_every_nameserver():
    client = FakeClient(txt={NS1: {'contoso.com': ['v=spf1 -all', GOOD]}, NS2: {'contoso.com': [GOOD]}})
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])])
    assert result['ok'] is True
    domain = result['domains'][0]
    assert domain['found_on'] == ['ns1.example.net', 'ns2.example.net']
    assert domain['missing_on'] == [] and domain['stale_on'] == []
    assert domain['txt']['ns1.example.net'] == ['v=spf1 -all', GOOD]
    assert 'All 1 federated domain(s)' in result['msg']


def test_missing_everywhere_names_domain_and_servers():
    client = FakeClient(txt={NS1: {'contoso.com': ['v=spf1 -all']}})
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])])
    assert result['ok'] is False
    assert result['domains'][0]['missing_on'] == ['ns1.example.net', 'ns2.example.net']
    assert result['msg'] == 'contoso.com: the proof is on no authoritative nameserver (ns1.example.net, ns2.example.net).'


def test_only_on_one_server_with_older_serial_is_stale():
    client = FakeClient(txt={NS1: {'contoso.com': [GOOD]}}, serials={NS1: 2026010101, NS2: 2026010100})
    domain = check(client, [dict(name='contoso.com', proofs=[GOOD])])['domains'][0]
    assert domain['found_on'] == ['ns1.example.net']
    assert domain['missing_on'] == ['ns2.example.net']
    assert domain['stale_on'] == ['ns2.example.net']
    assert domain['serials'] == {'ns1.example.net': 2026010101, 'ns2.example.net': 2026010100}
    message = _federation.describe_domain(domain)
    assert message == ['contoso.com: the proof is missing on ns2.example.net '
                       '(it serves an older SOA serial: the zone change has not reached it).']


def test_rollover_needs_both_proofs():
    client = FakeClient(txt={NS1: {'contoso.com': [GOOD, NEW]}, NS2: {'contoso.com': [GOOD]}})
    domain = check(client, [dict(name='contoso.com', proofs=[GOOD, NEW])])['domains'][0]
    assert domain['found_on'] == ['ns1.example.net']
    assert domain['missing_proofs'] == {'ns2.example.net': [NEW]}
    assert domain['ok'] is False


def test_internal_only_is_reported():
    client = FakeClient(txt={INTERNAL: {'contoso.com': [GOOD]}})
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])], internal=[INTERNAL])
    domain = result['domains'][0]
    assert domain['internal_only'] is True
    assert domain['internal_txt'] == {'10.0.0.53': [GOOD]}
    assert 'only in internal DNS' in result['msg']


def test_internal_and_external_is_not_internal_only():
    client = FakeClient(txt={server: {'contoso.com': [GOOD]} for server in (NS1, NS2, INTERNAL)})
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])], internal=[INTERNAL])
    assert result['ok'] is True
    assert result['domains'][0]['internal_only'] is False


def test_unreachable_nameserver_is_reported_not_raised():
    client = FakeClient(txt={NS1: {'contoso.com': [GOOD]}}, down=[NS2])
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])])
    domain = result['domains'][0]
    assert domain['unreachable'] == ['ns2.example.net']
    assert domain['ok'] is False
    assert 'contoso.com: nameserver ns2.example.net: 192.0.2.2 did not answer contoso.com' in result['msg']


def test_zone_not_found_is_reported():
    class NoZone(FakeClient):
        async def find_zone(self, name, with_nameservers=True):
            raise DnsError('127.0.0.1 did not answer example.invalid SOA')
    result = check(NoZone(), [dict(name='example.invalid', proofs=[GOOD])])
    assert result['ok'] is False
    assert 'example.invalid: could not find the nameservers' in result['msg']


def test_cname_target_is_queried():
    zone = dict(name='target.example.net.', zone='example.net.', cnames=['target.example.net.'],
                nameservers=[dict(name='ns1.example.net.', addresses=[NS1[0]])])
    client = FakeClient(txt={NS1: {'target.example.net': [GOOD]}}, zones={'contoso.com': zone})
    domain = check(client, [dict(name='contoso.com', proofs=[GOOD])])['domains'][0]
    assert domain['ok'] is True
    assert domain['cnames'] == ['target.example.net']
    assert ('txt', NS1, 'target.example.net.') in client.calls


def test_autodiscover_methods():
    client = FakeClient(records={
        ('autodiscover.fabrikam.com', 'A'): (['192.0.2.21'], ['mail.fabrikam.com.']),
        ('fabrikam.com', 'AAAA'): (['2001:db8::1'], []),
    }, srv={'_autodiscover._tcp.fabrikam.com': [
        dict(priority=10, weight=0, port=443, target='b.fabrikam.com'),
        dict(priority=0, weight=5, port=443, target='a.fabrikam.com')]})
    result = check(client, [], ['fabrikam.com'])
    entry = result['autodiscover'][0]
    assert result['ok'] is True
    assert entry['methods'] == [
        dict(method='autodiscover', name='autodiscover.fabrikam.com', addresses=['192.0.2.21'], cnames=['mail.fabrikam.com']),
        dict(method='domain', name='fabrikam.com', addresses=['2001:db8::1']),
        dict(method='srv', name='_autodiscover._tcp.fabrikam.com', targets=['a.fabrikam.com:443', 'b.fabrikam.com:443']),
    ]


def test_no_autodiscover_fails_naming_domain():
    result = check(FakeClient(), [], ['partner.example'])
    assert result['ok'] is False
    assert result['msg'].startswith('partner.example: no Autodiscover record')


def test_wait_polls_with_growing_pauses_until_ok():
    client = FakeClient()
    now = [0.0]
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        now[0] += seconds
        if len(pauses) == 3:
            client.txt_by_server = {NS1: {'contoso.com': [GOOD]}, NS2: {'contoso.com': [GOOD]}}

    result = check(client, [dict(name='contoso.com', proofs=[GOOD])], wait_timeout=60, clock=lambda: now[0], sleep=sleep)
    assert result['ok'] is True
    assert result['attempts'] == 4
    assert pauses == [1.0, 2.0, 4.0]


def test_wait_gives_up_at_timeout():
    now = [0.0]
    pauses = []

    def sleep(seconds):
        pauses.append(seconds)
        now[0] += seconds

    result = check(FakeClient(), [dict(name='contoso.com', proofs=[GOOD])], wait_timeout=10,
                   clock=lambda: now[0], sleep=sleep)
    assert result['ok'] is False
    assert sum(pauses) == 10
    assert result['msg'].startswith('Still not ok after waiting 10 s: contoso.com:')


@pytest.mark.parametrize('name', ['', 'exa mple.com', '-bad.com', 'a' * 64 + '.com', 'x..com', ('a' * 60 + '.') * 5])
def test_invalid_domain_names(name):
    with pytest.raises(ValidationError, match='domains\\[0\\]'):
        _federation.validate(dict(domains=[dict(name=name, proofs=[GOOD])]))


def test_valid_names_are_normalised():
    domains, autodiscover, _r, _i, warnings = _federation.validate(dict(
        domains=[dict(name='ExchangeDelegation.Contoso.COM.', proofs=[' ' + GOOD + ' '])], autodiscover_domains=['Fabrikam.com']))
    assert domains == [dict(name='exchangedelegation.contoso.com', proofs=[GOOD])]
    assert autodiscover == ['fabrikam.com']
    assert warnings == []


@pytest.mark.parametrize('proofs', [[], [''], ['  ']])
def test_empty_proofs(proofs):
    with pytest.raises(ValidationError, match='contoso.com needs at least one proof'):
        _federation.validate(dict(domains=[dict(name='contoso.com', proofs=proofs)]))


@pytest.mark.parametrize('resolver', ['dns.example.com', '10.0.0.1:abc', '10.0.0.1:70000', '[::1', '300.1.1.1'])
def test_malformed_resolvers(resolver):
    with pytest.raises(ValidationError, match='resolvers\\[1\\]'):
        _federation.validate(dict(domains=[dict(name='contoso.com', proofs=[GOOD])], resolvers=['10.0.0.1', resolver]))


def test_resolvers_parsed():
    _d, _a, resolvers, internal, _w = _federation.validate(dict(
        autodiscover_domains=['a.com'], resolvers=['10.0.0.1', '10.0.0.2:5353', '[2001:db8::1]:53', '2001:db8::2'],
        internal_resolvers=['10.1.1.1:54']))
    assert resolvers == [('10.0.0.1', 53), ('10.0.0.2', 5353), ('2001:db8::1', 53), ('2001:db8::2', 53)]
    assert internal == [('10.1.1.1', 54)]


def test_every_problem_is_named_at_once():
    with pytest.raises(ValidationError) as error:
        _federation.validate(dict(domains=[dict(name='a b', proofs=[GOOD]), dict(name='ok.com', proofs=[])],
                                  resolvers=['nope']))
    assert 'domains[0]' in str(error.value) and 'domains[1]' in str(error.value) and 'resolvers[0]' in str(error.value)


def test_nothing_to_check():
    with pytest.raises(ValidationError, match='Nothing to check'):
        _federation.validate(dict(domains=[], autodiscover_domains=[]))


def test_proof_shape_gives_warnings_not_errors():
    domains, _a, _r, _i, warnings = _federation.validate(dict(domains=[
        dict(name='a.com', proofs=['not base64 at all!']),
        dict(name='b.com', proofs=[base64.b64encode(b'x' * 200).decode()]),
        dict(name='c.com', proofs=[GOOD])]))
    assert len(domains) == 3
    assert len(warnings) == 2
    assert 'a.com' in warnings[0] and 'not base64' in warnings[0]
    assert 'b.com' in warnings[1] and '268 characters (200 bytes)' in warnings[1]


def test_rollover_second_proof_missing_everywhere_is_named():
    client = FakeClient(txt={NS1: {'contoso.com': [GOOD]}, NS2: {'contoso.com': [GOOD]}})
    result = check(client, [dict(name='contoso.com', proofs=[GOOD, NEW])])
    assert result['msg'] == (f'contoso.com: 1 of the 2 proofs ("{NEW[:12]}...") are on no authoritative nameserver '
                             '(ns1.example.net, ns2.example.net).')


NS3 = ('192.0.2.3', 53)
THREE = dict(name='contoso.com.', zone='contoso.com.', cnames=[], nameservers=[
    dict(name='ns1.example.net.', addresses=[NS1[0]]), dict(name='ns2.example.net.', addresses=[NS2[0]]),
    dict(name='ns3.example.net.', addresses=[NS3[0]])])


@pytest.mark.parametrize('answer, reason', [
    (dict(rcode='REFUSED'), 'answers REFUSED for the zone contoso.com'),
    (dict(rcode='SERVFAIL'), 'answers SERVFAIL for the zone contoso.com'),
    (dict(authoritative=False), 'without the AA flag'),
])
def test_lame_server_is_lame_not_missing_and_others_keep_their_verdict(answer, reason):
    client = FakeClient(txt={NS1: {'contoso.com': [GOOD]}, NS2: {'contoso.com': [GOOD]}},
                        serials={NS1: 2, NS2: 2, NS3: None}, zones={'contoso.com': THREE}, answers={NS3: answer})
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])])
    domain = result['domains'][0]
    assert domain['ok'] is False
    assert domain['found_on'] == ['ns1.example.net', 'ns2.example.net']
    assert domain['missing_on'] == []
    assert reason in domain['lame']['ns3.example.net']
    assert 'ns3.example.net is a lame delegation' in result['msg']
    assert 'missing on ns3' not in result['msg']


def test_delegation_differs_from_the_zones_ns_set():
    zone_ns = ['ns1.example.net.', 'ns3.example.net.']
    client = FakeClient(txt={server: {'contoso.com': [GOOD]} for server in (NS1, NS2, NS3)},
                        serials={NS1: 2, NS2: 2, NS3: 2},
                        answers={server: dict(zone_nameservers=zone_ns) for server in (NS1, NS2, NS3)},
                        records={('ns3.example.net', 'addresses'): [NS3[0]]})
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])])
    domain = result['domains'][0]
    # ns3 is only in the zone's own NS set: found there and asked too
    assert domain['nameservers'] == ['ns1.example.net', 'ns2.example.net', 'ns3.example.net']
    assert domain['delegation']['not_in_parent'] == ['ns3.example.net']
    assert domain['delegation']['not_in_zone'] == ['ns2.example.net']
    assert domain['ok'] is False
    assert 'lists ns3.example.net in its own NS records but the parent zone example does not delegate' in result['msg']
    assert 'delegates contoso.com to ns2.example.net, which the zone\'s own NS records do not list' in result['msg']


def test_glue_that_differs_from_the_published_address():
    delegation = dict(parent='example.', nameservers=[dict(name='ns1.example.net.', glue=['192.0.2.99']),
                                                      dict(name='ns2.example.net.', glue=[])])
    client = FakeClient(txt={server: {'contoso.com': [GOOD]} for server in (NS1, NS2)},
                        delegations={'contoso.com': delegation}, records={('ns1.example.net', 'addresses'): [NS1[0]]})
    domain = check(client, [dict(name='contoso.com', proofs=[GOOD])])['domains'][0]
    assert domain['delegation']['glue_mismatch'] == {'ns1.example.net': dict(glue=['192.0.2.99'], published=[NS1[0]])}
    assert 'gives ns1.example.net the glue address(es) 192.0.2.99, but its own records say 192.0.2.1' in \
        ' '.join(_federation.describe_domain(domain))


def test_nameserver_reachable_when_any_address_answers():
    dual = dict(name='contoso.com.', zone='contoso.com.', cnames=[], nameservers=[
        dict(name='ns1.example.net.', addresses=[NS1[0], '2001:db8::1']), dict(name='ns2.example.net.', addresses=[NS2[0]])])
    client = FakeClient(txt={NS1: {'contoso.com': [GOOD]}, NS2: {'contoso.com': [GOOD]}}, zones={'contoso.com': dual},
                        down=[('2001:db8::1', 53)])
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])])
    domain = result['domains'][0]
    assert domain['ok'] is True and domain['unreachable'] == []
    statuses = {entry['address']: entry['status'] for entry in domain['addresses']['ns1.example.net']}
    assert statuses == {NS1[0]: 'answered', '2001:db8::1': 'unreachable'}
    assert any('ns1.example.net answers on 192.0.2.1 but not on 2001:db8::1' in warning for warning in result['warnings'])


def test_address_of_a_family_the_controller_cannot_route_is_not_asked():
    dual = dict(name='contoso.com.', zone='contoso.com.', cnames=[], nameservers=[
        dict(name='ns1.example.net.', addresses=[NS1[0], '::1']), dict(name='ns2.example.net.', addresses=[NS2[0]])])
    client = FakeClient(txt={NS1: {'contoso.com': [GOOD]}, NS2: {'contoso.com': [GOOD]}}, zones={'contoso.com': dual},
                        unroutable=['::1'])
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])])
    assert result['ok'] is True and result['warnings'] == []
    entry = result['domains'][0]['addresses']['ns1.example.net'][1]
    assert entry == dict(address='::1', status='not asked', detail='not asked: the controller has no IPv6 route to it')
    assert not [call for call in client.calls if call[0] == 'txt' and call[1][0] == '::1']


def test_tcp_only_server_is_answered_and_named():
    client = FakeClient(txt={NS1: {'contoso.com': [GOOD]}, NS2: {'contoso.com': [GOOD]}},
                        answers={NS2: dict(via_tcp=True, udp_blocked=True, udp_problem='the UDP port is closed (port unreachable)')})
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])])
    domain = result['domains'][0]
    assert domain['found_on'] == ['ns1.example.net', 'ns2.example.net']
    assert domain['tcp_only'] == ['ns2.example.net']
    assert domain['addresses']['ns2.example.net'][0]['transport'] == 'tcp (UDP blocked)'
    assert 'ns2.example.net: UDP blocked, TCP answers' in result['msg']
    assert 'no answer within' not in result['msg']


def test_truncated_answer_over_tcp_is_not_tcp_only():
    client = FakeClient(txt={NS1: {'contoso.com': [GOOD]}, NS2: {'contoso.com': [GOOD]}},
                        answers={NS2: dict(via_tcp=True, udp_blocked=False, udp_problem='truncated over UDP')})
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])])
    assert result['ok'] is True


class LossyClient(FakeClient):
    """Whose servers all answered over UDP in the round (``DnsClient.udp_blocked`` is false)."""

    def udp_blocked(self, server):
        return False

    async def udp_answers(self, server, zone):
        return True


@pytest.mark.parametrize('blocked_at_the_time', [False, True])
def test_an_answer_over_tcp_after_a_lost_datagram_is_neither_udp_blocked_nor_tcp_only(blocked_at_the_time):
    # True: taken over TCP before the server's first UDP answer of the round came in
    client = LossyClient(txt={NS1: {'contoso.com': [GOOD]}, NS2: {'contoso.com': [GOOD]}},
                         answers={NS2: dict(via_tcp=True, udp_blocked=blocked_at_the_time,
                                            udp_problem='1 datagram(s) unanswered within 0.1 s')})
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])])
    domain = result['domains'][0]
    assert result['ok'] is True and domain['tcp_only'] == []
    entry = domain['addresses']['ns2.example.net'][0]
    assert entry['transport'] == 'tcp (UDP datagram lost)' and 'detail' not in entry
    assert 'UDP blocked' not in result['msg']


def test_internal_resolver_formerr_is_an_error_not_ok():
    client = FakeClient(txt={NS1: {'contoso.com': [GOOD]}, NS2: {'contoso.com': [GOOD]}}, internal_rcode='FORMERR')
    result = check(client, [dict(name='contoso.com', proofs=[GOOD])], internal=[INTERNAL])
    assert result['ok'] is False
    assert 'internal resolver 10.0.0.53 answered FORMERR for contoso.com TXT' in result['msg']


def test_autodiscover_domain_of_240_characters_is_checked_without_a_traceback():
    domain = '.'.join(['a' * 58] * 4) + '.test'
    assert len(domain) == 240
    client = FakeClient(records={(f'autodiscover.{domain}', 'A'): (['127.0.0.71'], [])})
    result = check(client, [], autodiscover=[domain])
    entry = result['autodiscover'][0]
    assert entry['ok'] is True
    assert any('no SRV method: the SRV name _autodiscover._tcp.' in error and '259 characters' in error
               for error in entry['errors'])
