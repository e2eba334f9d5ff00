# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.fleetfix.remediate.plugins.modules import federation_dns
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.test__federation import (
    GOOD, NS1, NS2, FakeClient,
)


class ModuleClient(FakeClient):
    created = []
    txt_by_server = {}

    def __init__(self, resolvers=None, timeout=3, retries=2, max_concurrency=64, nameserver_port=53, address_families='auto'):
        super().__init__(txt=ModuleClient.txt_by_server)
        self.resolvers = resolvers or [('192.0.2.53', 53)]
        self.settings = dict(resolvers=resolvers, timeout=timeout, retries=retries,
                             max_concurrency=max_concurrency, nameserver_port=nameserver_port,
                             address_families=address_families)
        ModuleClient.created.append(self)


@pytest.fixture(autouse=True)
def fake_client(monkeypatch):
    ModuleClient.created = []
    monkeypatch.setattr(federation_dns, 'DnsClient', ModuleClient)


WARNINGS = []


@pytest.fixture(autouse=True)
def collect_warnings(monkeypatch):
    # where ansible-core 2.19 puts a module's warnings depends on what else the process loaded
    WARNINGS.clear()
    monkeypatch.setattr(federation_dns.AnsibleModule, 'warn', lambda self, warning: WARNINGS.append(warning))


def warnings_of(result):
    return list(WARNINGS)


def run_module(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            federation_dns.main()
    return json.loads(capsys.readouterr().out)


def test_ok_and_unchanged(capsys):
    # the nameservers are asked on the resolvers' port
    ModuleClient.txt_by_server = {(NS1[0], 5353): {'contoso.com': [GOOD]}, (NS2[0], 5353): {'contoso.com': [GOOD]}}
    result = run_module(dict(domains=[dict(name='contoso.com', proofs=[GOOD])], resolvers=['10.0.0.1:5353'],
                             query_timeout=1.5, max_concurrency=8), capsys)
    assert result['ok'] is True and result['changed'] is False and 'failed' not in result
    assert ModuleClient.created[0].settings == dict(resolvers=[('10.0.0.1', 5353)], timeout=1.5, retries=2,
                                                    max_concurrency=8, nameserver_port=5353, address_families='auto')


def test_fails_naming_nameserver(capsys):
    ModuleClient.txt_by_server = {NS1: {'contoso.com': [GOOD]}}
    result = run_module(dict(domains=[dict(name='contoso.com', proofs=[GOOD])]), capsys)
    assert result['failed'] is True
    assert result['msg'] == 'contoso.com: the proof is missing on ns2.example.net.'
    assert result['domains'][0]['missing_on'] == ['ns2.example.net']


def test_fail_on_error_false_reports_without_failing(capsys):
    ModuleClient.txt_by_server = {}
    result = run_module(dict(domains=[dict(name='contoso.com', proofs=[GOOD])], fail_on_error=False), capsys)
    assert 'failed' not in result
    assert result['ok'] is False


def test_proof_shape_is_a_warning(capsys):
    ModuleClient.txt_by_server = {NS1: {'contoso.com': ['short']}, NS2: {'contoso.com': ['short']}}
    result = run_module(dict(domains=[dict(name='contoso.com', proofs=['short'])]), capsys)
    assert result['ok'] is True
    assert any('contoso.com' in warning and 'not base64' in warning for warning in warnings_of(result))


def test_internal_only_warns(capsys):
    ModuleClient.txt_by_server = {('10.9.9.9', 53): {'contoso.com': [GOOD]}}
    result = run_module(dict(domains=[dict(name='contoso.com', proofs=[GOOD])], internal_resolvers=['10.9.9.9'],
                             fail_on_error=False), capsys)
    assert result['domains'][0]['internal_only'] is True
    assert any('internal DNS only' in warning for warning in warnings_of(result))


@pytest.mark.parametrize('args, message', [
    (dict(domains=[dict(name='bad name', proofs=[GOOD])]), 'domains[0]: "bad name" is not a valid domain name'),
    (dict(domains=[dict(name='contoso.com', proofs=[])]), 'contoso.com needs at least one proof'),
    (dict(autodiscover_domains=['a.com'], resolvers=['resolver.local']), 'resolvers[0]: "resolver.local" is not an IP'),
    (dict(autodiscover_domains=['a.com'], max_concurrency=0), 'max_concurrency must be 1 or more'),
    (dict(autodiscover_domains=['a.com'], query_timeout=float('nan')), 'query_timeout a number of seconds above 0 and at most 300 (got nan)'),
    (dict(autodiscover_domains=['a.com'], query_timeout=float('inf')), 'query_timeout a number of seconds above 0'),
    (dict(), 'Nothing to check'),
])
def test_bad_input(capsys, args, message):
    result = run_module(args, capsys)
    assert result['failed'] is True
    assert message in result['msg']
    assert not ModuleClient.created


def test_address_warnings_reach_the_user(capsys):
    client_zone = dict(name='contoso.com.', zone='contoso.com.', cnames=[], nameservers=[
        dict(name='ns1.example.net.', addresses=[NS1[0], '2001:db8::1']), dict(name='ns2.example.net.', addresses=[NS2[0]])])
    ModuleClient.txt_by_server = {NS1: {'contoso.com': [GOOD]}, NS2: {'contoso.com': [GOOD]}}

    class DualClient(ModuleClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.zones = {'contoso.com': client_zone}
            self.down = {('2001:db8::1', 53)}
    federation_dns.DnsClient = DualClient
    try:
        result = run_module(dict(domains=[dict(name='contoso.com', proofs=[GOOD])], address_families='all'), capsys)
    finally:
        federation_dns.DnsClient = ModuleClient
    assert result['ok'] is True
    assert 'warnings' not in result or isinstance(result['warnings'], list)
    assert any('ns1.example.net answers on 192.0.2.1 but not on 2001:db8::1' in warning for warning in warnings_of(result))
