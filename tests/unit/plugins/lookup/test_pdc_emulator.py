# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import lookup_loader

from ansible_collections.fleetfix.remediate.plugins.lookup import pdc_emulator
from ansible_collections.fleetfix.remediate.plugins.module_utils import _dns


class FakeClient:
    instances = []
    records = {}
    error = None

    def __init__(self, resolvers=None, timeout=3, retries=2):
        self.resolvers = resolvers or [('192.0.2.53', 53)]
        self.timeout = timeout
        FakeClient.instances.append(self)

    async def srv(self, name):
        if FakeClient.error:
            raise _dns.DnsError(FakeClient.error)
        return FakeClient.records.get(name, [])


@pytest.fixture
def lookup(monkeypatch):
    FakeClient.instances = []
    FakeClient.error = None
    monkeypatch.setattr(pdc_emulator._dns, 'DnsClient', FakeClient)
    return lookup_loader.get('fleetfix.remediate.pdc_emulator')


def srv(priority, weight, target):
    return dict(priority=priority, weight=weight, port=389, target=target)


def test_ordered_by_priority_then_weight(lookup):
    FakeClient.records = {'_ldap._tcp.pdc._msdcs.corp.example.com': [
        srv(10, 50, 'dc3.corp.example.com'), srv(0, 10, 'dc2.corp.example.com'), srv(0, 100, 'dc1.corp.example.com')]}
    assert lookup.run(['Corp.Example.com'], resolvers=['10.0.0.53:5353']) == [
        'dc1.corp.example.com', 'dc2.corp.example.com', 'dc3.corp.example.com']
    assert FakeClient.instances[0].resolvers == [('10.0.0.53', 5353)]


def test_several_domains(lookup):
    FakeClient.records = {'_ldap._tcp.pdc._msdcs.a.example': [srv(0, 0, 'dc.a.example')],
                          '_ldap._tcp.pdc._msdcs.b.example': [srv(0, 0, 'dc.b.example')]}
    assert lookup.run(['a.example', 'b.example']) == ['dc.a.example', 'dc.b.example']


def test_no_record_is_a_clear_error(lookup):
    FakeClient.records = {}
    with pytest.raises(AnsibleLookupError, match=r'corp.example.com has no SRV record _ldap._tcp.pdc._msdcs.corp.example.com'):
        lookup.run(['corp.example.com'])


def test_dns_failure_is_a_clear_error(lookup):
    FakeClient.error = '10.0.0.53 did not answer'
    with pytest.raises(AnsibleLookupError, match='could not look up the PDC emulator of corp.example.com: 10.0.0.53 did not answer'):
        lookup.run(['corp.example.com'])


@pytest.mark.parametrize('kwargs, term, message', [
    (dict(resolvers=['dc.example.com']), 'corp.example.com', 'resolvers: "dc.example.com" is not an IP address'),
    (dict(), 'not a domain', 'is not a valid domain name'),
    (dict(retries=-1), 'corp.example.com', 'retries must be 0 or more, not -1'),
    (dict(timeout=-1), 'corp.example.com', 'timeout must be a number of seconds above 0 and at most 300, not -1'),
    (dict(timeout=float('nan')), 'corp.example.com', 'timeout must be a number of seconds above 0'),
    (dict(), '.'.join(['a' * 58] * 4) + '.test', r'the SRV name _ldap._tcp.pdc._msdcs.aaa.*\.\.\. is 262 characters; DNS names have at most 253'),
])
def test_bad_input(lookup, kwargs, term, message):
    with pytest.raises(AnsibleLookupError, match=message):
        lookup.run([term], **kwargs)
