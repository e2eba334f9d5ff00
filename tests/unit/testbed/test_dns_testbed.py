# Private to this repository's tests: the DNS testbed's zone generation and plug-in (no servers needed).
from __future__ import annotations

import base64

import pytest

from testbed import dnsctl
from testbed.core import TestbedError
from testbed.plugins import dns as dns_plugin

dns_zone = pytest.importorskip('dns.zone')


@pytest.fixture(name='description')
def description_fixture():
    return dnsctl.load_description()


@pytest.fixture(name='model')
def model_fixture(description):
    return dnsctl.build_model(description)


def parse(zone, text):
    return dns_zone.from_text(text, origin=zone + '.', relativize=False, check_origin=True)


def txt_values(parsed, name):
    rdataset = parsed.get_rdataset(name, 'TXT')
    return sorted(b''.join(rdata.strings).decode() for rdata in rdataset) if rdataset else []


def test_proofs_look_like_exchange_ones_and_never_change():
    proof = dnsctl.proof_value('good.fleetfix.test:0')
    assert len(proof) == 88
    assert len(base64.b64decode(proof, validate=True)) == 64
    assert proof == dnsctl.proof_value('good.fleetfix.test:0')
    assert proof != dnsctl.proof_value('good.fleetfix.test:1')
    assert len(dnsctl.expand('longproof:x')) == 268
    assert dnsctl.expand('v=spf1 -all') == 'v=spf1 -all'


@pytest.mark.parametrize('length, pieces', [(0, [0]), (88, [88]), (255, [255]), (256, [255, 1]), (600, [255, 255, 90])])
def test_long_txt_is_split_into_255_byte_strings(length, pieces):
    value = ('ab"c\\' * 200)[:length]
    parsed = parse('x.test', '$TTL 5\n@ SOA a. b. 1 1 1 1 1\n@ NS a.\n@ TXT %s\n' % dnsctl.txt_rdata(value))
    rdata = list(parsed.get_rdataset('x.test.', 'TXT'))[0]
    assert [len(part) for part in rdata.strings] == pieces
    assert b''.join(rdata.strings).decode() == value


def test_every_zone_renders_to_a_valid_zone_file(model):
    for server in dnsctl.NSD_SERVERS:
        for zone, data in model['servers'][server]['zones'].items():
            if data.get('unloadable'):
                with pytest.raises(Exception, match='quoted string'):
                    parse(zone, dnsctl.render_zone(zone, data, model['ttl']))
                continue
            parsed = parse(zone, dnsctl.render_zone(zone, data, model['ttl']))
            soa = list(parsed.get_rdataset(zone + '.', 'SOA'))[0]
            assert soa.serial == data['serial']


def test_cases_are_served_as_described(model, description):
    ns1 = model['servers']['ns1']['zones']
    ns2 = model['servers']['ns2']['zones']
    cases = {name: dict(spec, proofs=[dnsctl.expand(p) for p in spec['proofs']])
             for name, spec in description['cases'].items()}

    def served(zones, zone, name):
        return txt_values(parse(zone, dnsctl.render_zone(zone, zones[zone], model['ttl'])), name + '.')

    assert served(ns1, 'good.fleetfix.test', 'good.fleetfix.test') == cases['all_good']['proofs']
    assert served(ns2, 'good.fleetfix.test', 'exchangedelegation.good.fleetfix.test') == cases['delegation']['proofs']
    assert served(ns1, 'rollover.fleetfix.test', 'rollover.fleetfix.test') == sorted(cases['rollover']['proofs'])
    assert served(ns2, 'long.fleetfix.test', 'long.fleetfix.test') == cases['split_txt']['proofs']
    assert cases['proof_missing']['proofs'][0] not in served(ns1, 'missing.fleetfix.test', 'missing.fleetfix.test')
    stale = 'exchangedelegation.contoso.fleetfix.test'
    assert served(ns1, 'contoso.fleetfix.test', stale) == cases['stale_ns2']['proofs']
    assert served(ns2, 'contoso.fleetfix.test', stale) == []
    assert ns2['contoso.fleetfix.test']['serial'] == ns1['contoso.fleetfix.test']['serial'] - 1
    assert served(ns2, 'contoso.fleetfix.test', 'contoso.fleetfix.test') == served(ns1, 'contoso.fleetfix.test', 'contoso.fleetfix.test')
    assert served(ns1, 'internal.fleetfix.test', 'internal.fleetfix.test') == []
    assert model['internal_data'] == [['internal.fleetfix.test.', 'TXT', cases['internal_only']['proofs'][0]]]


def test_parent_delegates_every_domain_with_glue(model):
    parent = model['servers']['parent']['zones']['fleetfix.test']
    parsed = parse('fleetfix.test', dnsctl.render_zone('fleetfix.test', parent, model['ttl']))
    for zone in model['domains']:
        names = sorted(rdata.target.to_text() for rdata in parsed.get_rdataset(zone + '.', 'NS'))
        # the parent's delegation: ns1 and ns2 unless a case delegates elsewhere
        expected = model['servers']['ns1']['zones'][zone]['ns'] if zone != 'redelegated.fleetfix.test' else \
            ['ns1.fleetfix.test.', 'ns2.fleetfix.test.']
        assert names == sorted(expected)
    redelegated = model['servers']['ns1']['zones']['redelegated.fleetfix.test']['ns']
    assert redelegated == ['ns1.fleetfix.test.', 'ns4.fleetfix.test.']
    assert [r.address for r in parsed.get_rdataset('ns6.fleetfix.test.', 'AAAA')] == ['::1']
    assert [r.address for r in parsed.get_rdataset('ns3.fleetfix.test.', 'A')] == ['127.0.0.7']
    assert [r.address for r in parsed.get_rdataset('ns1.fleetfix.test.', 'A')] == ['127.0.0.3']
    assert [r.address for r in parsed.get_rdataset('ns2.fleetfix.test.', 'A')] == ['127.0.0.4']


def test_set_txt_replaces_or_adds_and_bumps_the_serial(model):
    zones = model['servers']['ns1']['zones']
    before = zones['good.fleetfix.test']['serial']
    assert dnsctl.set_txt(model, 'ns1', 'x.good.fleetfix.test.', 'one') == 'good.fleetfix.test'
    assert dnsctl.set_txt(model, 'ns1', 'x.good.fleetfix.test', 'two', add=True) == 'good.fleetfix.test'
    assert zones['good.fleetfix.test']['serial'] == before + 2
    assert [r for r in zones['good.fleetfix.test']['records'] if r[0] == 'x'] == [['x', 'TXT', 'one'], ['x', 'TXT', 'two']]
    dnsctl.set_txt(model, 'ns1', 'x.good.fleetfix.test', 'three')
    assert [r for r in zones['good.fleetfix.test']['records'] if r[0] == 'x'] == [['x', 'TXT', 'three']]
    dnsctl.remove_txt(model, 'ns1', 'X.Good.fleetfix.test')
    assert [r for r in zones['good.fleetfix.test']['records'] if r[0] == 'x'] == []
    assert zones['good.fleetfix.test']['serial'] == before + 4
    # the delegation namespace lives in the domain's zone, not in a zone of its own
    assert dnsctl.zone_for(model, 'ns1', 'exchangedelegation.contoso.fleetfix.test') == 'contoso.fleetfix.test'
    # ns2 is unaffected
    assert model['servers']['ns2']['zones']['good.fleetfix.test']['serial'] == before


def test_set_txt_on_the_internal_resolver_changes_its_local_data(model, tmp_path):
    dnsctl.set_txt(model, 'internal', 'missing.fleetfix.test', 'inside')
    config = dnsctl.unbound_config('internal', str(tmp_path), model)
    assert "local-data: 'missing.fleetfix.test. 30 IN TXT \"inside\"'" in config
    assert 'local-zone: "missing.fleetfix.test." typetransparent' in config
    dnsctl.remove_txt(model, 'internal', 'missing.fleetfix.test', 'inside')
    assert 'missing.fleetfix.test' not in dnsctl.unbound_config('internal', str(tmp_path), model).split('stub-zone')[0]


def test_a_name_outside_every_zone_is_refused_with_the_zones_named(model):
    with pytest.raises(dnsctl.DnsTestbedError, match='ns1 serves no zone that holds example.org'):
        dnsctl.set_txt(model, 'ns1', 'example.org', 'x')
    with pytest.raises(dnsctl.DnsTestbedError, match='--server takes a comma list'):
        dnsctl.parse_servers('ns9')


def test_the_tld_zone_delegates_the_test_domain_with_glue(model):
    # Like a real TLD: a resolver (or community.dns walking NS label by label) gets NS and SOA
    # for "test." and a referral to the parent's name for fleetfix.test.
    tld_zone = model['servers']['parent']['zones']['test']
    parsed = parse('test', dnsctl.render_zone('test', tld_zone, model['ttl']))
    assert [r.target.to_text() for r in parsed.get_rdataset('test.', 'NS')] == ['ns.nic.test.']
    assert parsed.get_rdataset('test.', 'SOA')[0].serial == model['servers']['parent']['zones']['fleetfix.test']['serial']
    assert [r.address for r in parsed.get_rdataset('ns.nic.test.', 'A')] == ['127.0.0.2']
    assert [r.target.to_text() for r in parsed.get_rdataset('fleetfix.test.', 'NS')] == ['ns.fleetfix.test.']
    assert [r.address for r in parsed.get_rdataset('ns.fleetfix.test.', 'A')] == ['127.0.0.2']
    assert sorted(model['servers']['parent']['zones']) == ['fleetfix.test', 'test']
    assert dnsctl.zone_for(model, 'parent', 'x.good.fleetfix.test') == 'fleetfix.test'


def test_unbound_needs_per_domain_stubs_only_off_port_53(description, tmp_path):
    model = dnsctl.build_model(description, port=5353)
    config = dnsctl.unbound_config('resolver', str(tmp_path), model)
    assert 'interface: 127.0.0.5' in config and 'port: 5353' in config
    assert 'stub-addr: 127.0.0.2@5353' in config
    assert 'local-zone: "test." nodefault' in config
    assert config.count('stub-addr: 127.0.0.4@5353') == len(model['domains'])
    config53 = dnsctl.unbound_config('resolver', str(tmp_path), dnsctl.build_model(description, port=53))
    assert 'stub-addr: 127.0.0.3' not in config53 and 'stub-addr: 127.0.0.2@53' in config53
    # the resolver starts from the TLD; off port 53 the test domain needs a stub too (glue has no port)
    stubs53 = [part.split('\n')[1].strip() for part in config53.split('stub-zone:')[1:]]
    assert stubs53 == ['name: "test."']
    stubs = [part.split('\n')[1].strip() for part in config.split('stub-zone:')[1:]]
    assert stubs[:2] == ['name: "test."', 'name: "fleetfix.test."']
    assert len(stubs) == 2 + len(model['domains'])


def test_nsd_configuration_runs_as_root_without_database(tmp_path):
    config = dnsctl.nsd_config('ns2', str(tmp_path), 5353)
    for line in ('ip-address: 127.0.0.4', 'port: 5353', 'username: ""', 'chroot: ""', 'database: ""',
                 'control-enable: no'):
        assert line in config
    assert str(tmp_path / 'ns2' / 'nsd.pid') in config


def test_bench_domains_are_delegated_and_carry_one_proof_on_both_servers(description):
    model = dnsctl.build_model(description, bench_domains=1000)
    assert len(model['bench_domains']) == 1000
    assert model['bench_domains'][0] == 'fed0001.fleetfix.test'
    for server in ('ns1', 'ns2'):
        zone = model['servers'][server]['zones']['fed1000.fleetfix.test']
        assert zone['records'] == [['@', 'TXT', dnsctl.proof_value('fed1000.fleetfix.test:0')]]
    part = dns_plugin.inventory_part(description, model)
    assert part['vars']['testbed_dns_bench_domains'][999] == {
        'name': 'fed1000.fleetfix.test', 'proofs': [dnsctl.proof_value('fed1000.fleetfix.test:0')]}


def test_bench_lame_lists_ns3_which_serves_one_bench_zone_in_ten(description):
    model = dnsctl.build_model(description, bench_domains=1000, bench_lame=True)
    parent = model['servers']['parent']['zones']['fleetfix.test']['records']
    assert sorted(r[2] for r in parent if r[0] == 'fed0001' and r[1] == 'NS') == [
        'ns1.fleetfix.test.', 'ns2.fleetfix.test.', 'ns3.fleetfix.test.']
    assert model['servers']['ns1']['zones']['fed0001.fleetfix.test']['ns'] == [
        'ns1.fleetfix.test.', 'ns2.fleetfix.test.', 'ns3.fleetfix.test.']
    served = sorted(zone for zone in model['servers']['ns3']['zones'] if zone.startswith('fed'))
    assert len(served) == 100 and served[0] == 'fed0010.fleetfix.test'
    assert model['servers']['ns3']['zones']['fed0010.fleetfix.test']['records'] == [
        ['@', 'TXT', dnsctl.proof_value('fed0010.fleetfix.test:0')]]
    # without the option the bench zones are ns1's and ns2's only
    plain = dnsctl.build_model(description, bench_domains=10)
    assert [zone for zone in plain['servers']['ns3']['zones'] if zone.startswith('fed')] == []
    assert plain['servers']['ns1']['zones']['fed0001.fleetfix.test']['ns'] == ['ns1.fleetfix.test.', 'ns2.fleetfix.test.']


def test_unloadable_zone_file_has_a_syntax_error_on_that_server_only(description):
    model = dnsctl.build_model(description)
    broken = model['servers']['ns3']['zones']['servfail.fleetfix.test']
    assert broken['unloadable'] and 'unloadable' not in model['servers']['ns1']['zones']['servfail.fleetfix.test']
    assert dnsctl.render_zone('servfail.fleetfix.test', broken, 30).rstrip().endswith('"an unterminated string')
    glue = [r for r in model['servers']['parent']['zones']['fleetfix.test']['records'] if r[0] == 'ns.glued']
    assert glue == [['ns.glued', 'A', '127.0.0.3']]
    assert ['ns', 'A', '127.0.0.4'] in model['servers']['ns1']['zones']['glued.fleetfix.test']['records']


def test_variables_are_the_documented_contract(description, model):
    variables = dns_plugin.inventory_part(description, model)['vars']
    assert variables['testbed_dns_resolvers'] == ['127.0.0.5:5353']
    assert variables['testbed_dns_internal_resolvers'] == ['127.0.0.6:5353']
    assert variables['testbed_dns_servers'] == {
        'parent': '127.0.0.2:5353', 'ns1': '127.0.0.3:5353', 'ns2': '127.0.0.4:5353',
        'resolver': '127.0.0.5:5353', 'internal': '127.0.0.6:5353', 'ns3': '127.0.0.7:5353',
        'nstcp': '127.0.0.8:5353', 'nslossy': '127.0.0.9:5353'}
    assert sorted(case for case in variables['testbed_dns_cases'] if not case.startswith('autodiscover_https_')) == sorted([
        'all_good', 'delegation', 'proof_missing', 'stale_ns2', 'internal_only', 'rollover', 'split_txt',
        'autodiscover_cname', 'autodiscover_srv', 'no_autodiscover', 'lame', 'delegation_mismatch', 'tcp_only',
        'lossy', 'dual_stack', 'no_aa', 'servfail', 'glue_mismatch'])
    assert sorted(case for case in variables['testbed_dns_cases'] if case.startswith('autodiscover_https_')) == [
        'autodiscover_https_404', 'autodiscover_https_expired', 'autodiscover_https_good',
        'autodiscover_https_no_listener', 'autodiscover_https_redirect', 'autodiscover_https_untrusted',
        'autodiscover_https_wrong_name']
    assert variables['testbed_dns_pdc_emulators'] == ['dc1.corp.fleetfix.test', 'dc2.corp.fleetfix.test']
    assert variables['testbed_dns_stale_zones'] == ['contoso.fleetfix.test']
    assert variables['esxi_time_ad_domain'] == 'corp.fleetfix.test'
    assert variables['esxi_time_dns_resolvers'] == ['127.0.0.5:5353']
    assert [d['name'] for d in variables['federation_dns_domains']] == [
        'contoso.fleetfix.test', 'exchangedelegation.contoso.fleetfix.test']
    assert variables['federation_dns_domains'][1]['proofs'] == variables['testbed_dns_cases']['stale_ns2']['proofs']
    assert all(len(p) == 88 for d in variables['federation_dns_domains'] for p in d['proofs'])


@pytest.mark.parametrize('changes, message', [
    ({'port': 0}, 'dns.port must be'),
    ({'bench_domains': -1}, 'dns.bench_domains must be'),
    ({'stopped': 'ns2,ns9'}, 'unknown servers ns9'),
    ({'bench_lame': 'yes'}, 'dns.bench_lame must be on'),
])
def test_bad_options_are_refused(changes, message):
    options = dict(dns_plugin.PLUGIN.options, **changes)
    with pytest.raises(TestbedError, match=message):
        dns_plugin.check_options(options)
    dns_plugin.check_options(dict(dns_plugin.PLUGIN.options, stopped='ns2, parent'))


def test_lossy_ns2_path_and_rate_limiting_switch(description, tmp_path):
    model = dnsctl.build_model(description, loss=0.05, rrl=False)
    assert dnsctl.servers_of(model)[-1] == 'ns2path'
    assert 'ip-address: %s' % dnsctl.NS2_BEHIND_PATH in dnsctl.nsd_config('ns2', str(tmp_path), 5353, model)
    assert 'rrl-ratelimit: 0' in dnsctl.nsd_config('ns1', str(tmp_path), 5353, model)
    argv = dnsctl.write_server(model, 'ns2path', str(tmp_path))
    assert argv[-2:] == ['--loss', '0.05'] and argv[argv.index('--listen') + 1] == '127.0.0.4'
    assert '--no-udp' in dnsctl.write_server(model, 'nstcp', str(tmp_path))
    default = dnsctl.build_model(description)
    assert 'rrl-ratelimit' not in dnsctl.nsd_config('ns1', str(tmp_path), 5353, default)
    assert 'ns2path' not in dnsctl.servers_of(default)
