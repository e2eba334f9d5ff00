# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _esxi_time as esxi_time
from ansible_collections.fleetfix.remediate.plugins.module_utils._vsphere import VSphereError, api_at_least

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def clock():
    return NOW


def params(**overrides):
    values = dict(ntp_servers=['ntp1.example.com', '192.0.2.1'], state='present', exclusive=True,
                  service_policy='on', service_running=True, restart_on_change=True, firewall=True,
                  max_offset_seconds=5.0, step_clock=False, fail_on_drift=False, fail_on_unreachable=False,
                  max_workers=4, esxi_hostnames=None, cluster_name=None, datacenter=None, protocol=None,
                  secure_ntp=False)
    values.update(overrides)
    return values


def host(name='esx1', **overrides):
    values = dict(name=name, ref=name, connection_state='connected', supports_protocol=False,
                  ntp_servers=[], protocol=None, ntp_enabled=None, time_zone='UTC', service_policy='off',
                  service_running=False, service_present=True, firewall_enabled=False, offset=0.0,
                  firewall_user_controllable=None, firewall_ip_configurable=None, firewall_all_ip=True,
                  firewall_allowed_ips=[], product_version='6.7.0', api_version='6.7.3')
    values.update(overrides)
    return values


class FakeClient:
    """The _vsphere client seam: records write calls, serves clocks, raises configured faults."""

    def __init__(self, hosts, faults=None, guests=None):
        self.hosts = {state['name']: state for state in hosts}
        self.faults = faults or {}
        self.guests = guests or {}
        self.calls = []
        self.guest_reads = []

    def read_guests(self, refs):
        self.guest_reads.append(list(refs))
        return {ref: self.guests[ref] for ref in refs if ref in self.guests}

    def _maybe_fail(self, state, method):
        fault = self.faults.get((state['name'], method))
        if fault:
            raise VSphereError('%s failed: %s' % (method, fault))

    def find_hosts(self, esxi_hostnames=None, cluster_name=None, datacenter=None):
        return [(name, name) for name in sorted(self.hosts) if not esxi_hostnames or name in esxi_hostnames]

    def read_time_state(self, refs):
        return {ref: dict(self.hosts[ref]) for ref in refs}

    def query_date_time(self, state):
        self._maybe_fail(state, 'QueryDateTime')
        return NOW + datetime.timedelta(seconds=self.hosts[state['name']]['offset'])

    def _write(self, state, method, *args):
        self._maybe_fail(state, method)
        self.calls.append((state['name'], method) + args)

    def update_date_time(self, state, when):
        self._write(state, 'UpdateDateTime')
        self.hosts[state['name']]['offset'] = 0.0

    def update_ntp(self, state, servers, protocol=None, enabled=None):
        self._write(state, 'UpdateDateTimeConfig', tuple(servers), protocol, enabled)

    def set_ruleset_allowed_hosts(self, state, addresses):
        self._write(state, 'UpdateRuleset', tuple(addresses))

    def update_service_policy(self, state, policy):
        self._write(state, 'UpdateServicePolicy', policy)

    def start_service(self, state):
        self._write(state, 'StartService')

    def stop_service(self, state):
        self._write(state, 'StopService')

    def restart_service(self, state):
        self._write(state, 'RestartService')

    def set_ruleset(self, state, enabled):
        self._write(state, 'EnableRuleset' if enabled else 'DisableRuleset')


@pytest.mark.parametrize('server', ['ntp.example.com', 'pool.ntp.org.', '192.0.2.1', '2001:db8::1', 'dc1', 'a-b.c'])
def test_valid_servers(server):
    assert esxi_time.is_valid_server(server)


@pytest.mark.parametrize('server', ['', ' ntp.example.com', 'bad_name.example.com', '-x.example.com', 'a..b',
                                    '10.0.0.256', 'http://ntp', 'ntp example', None, 'x' * 64 + '.com'])
def test_malformed_servers(server):
    assert not esxi_time.is_valid_server(server)


def test_validate_rejects_malformed_naming_them():
    with pytest.raises(esxi_time.ValidationError, match=r"'bad_name'.*nothing was changed"):
        esxi_time.validate_servers(['ntp.example.com', 'bad_name'])


def test_validate_rejects_duplicates_ignoring_case():
    with pytest.raises(esxi_time.ValidationError, match='NTP.example.com'):
        esxi_time.validate_servers(['ntp.example.com', 'NTP.example.com'])


def test_validate_accepts_empty_and_none():
    assert esxi_time.validate_servers([]) == []
    assert esxi_time.validate_servers(None) == []


def test_same_servers_ignores_order_and_case():
    assert esxi_time.same_servers(['A.example.com', '192.0.2.1'], ['192.0.2.1', 'a.EXAMPLE.com'])
    assert not esxi_time.same_servers(['a'], ['a', 'b'])


def test_desired_servers_exclusive_append_absent():
    current = ['old.example.com', 'keep.example.com']
    assert esxi_time.desired_servers(current, ['new.example.com'], 'present', True) == ['new.example.com']
    assert esxi_time.desired_servers(current, ['new.example.com', 'KEEP.example.com'], 'present', False) == \
        ['old.example.com', 'keep.example.com', 'new.example.com']
    assert esxi_time.desired_servers(current, ['OLD.example.com'], 'absent', True) == ['keep.example.com']
    assert esxi_time.desired_servers(current, [], 'present', True) == []
    # a reordered list is not a change: the host keeps its own order
    assert esxi_time.desired_servers(current, ['KEEP.example.com', 'old.example.com'], 'present', True) == current


def test_plan_for_a_fresh_host():
    desired, actions = esxi_time.plan_host(host(), params())
    # the ruleset last: from 7.0.3 it cannot be opened while ntpd is stopped
    assert [action for action, _argument in actions] == [
        'update_ntp', 'update_service_policy', 'start_service', 'set_ruleset']
    assert desired['ntp_servers'] == ['ntp1.example.com', '192.0.2.1']


def test_plan_for_a_compliant_host_is_empty():
    compliant = host(ntp_servers=['192.0.2.1', 'NTP1.example.com'], service_policy='on', service_running=True,
                     firewall_enabled=True)
    assert esxi_time.plan_host(compliant, params())[1] == []


def test_plan_restarts_running_ntpd_when_servers_change_unless_told_not_to():
    running = host(ntp_servers=['old.example.com'], service_policy='on', service_running=True, firewall_enabled=True)
    assert [action for action, _argument in esxi_time.plan_host(running, params())[1]] == ['update_ntp', 'restart_service']
    assert [action for action, _argument in esxi_time.plan_host(running, params(restart_on_change=False))[1]] == ['update_ntp']


def test_plan_stops_and_closes_when_asked():
    running = host(ntp_servers=['192.0.2.1', 'ntp1.example.com'], service_policy='on', service_running=True,
                   firewall_enabled=True)
    actions = esxi_time.plan_host(running, params(service_running=False, firewall=False, service_policy='off'))[1]
    assert actions == [('update_service_policy', 'off'), ('stop_service', None), ('set_ruleset', False)]


def test_plan_without_servers_leaves_the_list_alone():
    configured = host(ntp_servers=['x.example.com'], service_policy='on', service_running=True, firewall_enabled=True)
    assert esxi_time.plan_host(configured, params(ntp_servers=None))[1] == []


def test_protocol_set_only_where_the_api_supports_it():
    servers = ['192.0.2.1', 'ntp1.example.com']
    modern = host(ntp_servers=servers, service_policy='on', service_running=True, firewall_enabled=True,
                  supports_protocol=True, protocol='ptp', ntp_enabled=True)
    # a PTP host stays on PTP unless protocol: ntp asks otherwise
    desired, actions = esxi_time.plan_host(modern, params())
    assert actions == [] and desired['protocol'] == 'ptp'
    desired, actions = esxi_time.plan_host(modern, params(protocol='ntp'))
    assert actions[0] == ('update_ntp', (servers, 'ntp', None))
    assert desired['protocol'] == 'ntp'
    old = dict(modern, supports_protocol=False)
    assert esxi_time.plan_host(old, params(protocol='ntp'))[1] == []


def test_api_version_compare():
    assert api_at_least('7.0.3.0', '7.0.3')
    assert api_at_least('8.0', '7.0.3')
    assert not api_at_least('6.5', '7.0.3')
    assert not api_at_least(None, '7.0.3')


def test_remediate_check_mode_makes_no_write_call():
    client = FakeClient([host('esx1'), host('esx2', offset=600.0)])
    report, result, extra = esxi_time.remediate(client, params(), check_mode=True, diff=True, clock=clock)
    assert client.calls == []
    assert result['changed'] is True
    assert result['summary'] == dict(total=2, changed=2, ok=2, skipped=0, failed=0, drifted=1,
                                     by_tier=dict(ok=1, warning=0, critical=1, unknown=0), guests_at_risk=0)
    assert result['diff']['after']['esx1']['service_running'] is True
    assert extra is None


def test_remediate_then_second_run_unchanged():
    client = FakeClient([host('esx1')])
    result = esxi_time.remediate(client, params(), check_mode=False, diff=False, clock=clock)[1]
    assert result['changed'] is True
    assert [call[1] for call in client.calls] == ['UpdateDateTimeConfig', 'UpdateServicePolicy', 'StartService',
                                                  'EnableRuleset']
    client.hosts['esx1'].update(ntp_servers=['ntp1.example.com', '192.0.2.1'], service_policy='on',
                                service_running=True, firewall_enabled=True)
    client.calls = []
    result = esxi_time.remediate(client, params(), check_mode=False, diff=False, clock=clock)[1]
    assert result['changed'] is False and client.calls == []
    assert result['hosts'][0]['before'] == result['hosts'][0]['after']


def test_drift_reported_stepped_and_fail_on_drift():
    client = FakeClient([host('esx1', offset=-600.0)])
    _report, result, extra = esxi_time.remediate(client, params(fail_on_drift=True), False, False, clock=clock)
    assert result['hosts'][0]['offset_seconds'] == -600.0 and result['hosts'][0]['drifted'] is True
    assert 'esx1' in extra and 'drifted' in extra
    # without the source check there is no trusted reference: nothing is stepped, and the host says why
    _report, result, extra = esxi_time.remediate(client, params(step_clock=True), False, False, clock=clock)
    assert result['hosts'][0]['clock_stepped'] is False
    assert 'source check is off' in result['hosts'][0]['step_refused']
    assert result['step']['allowed'] is False
    _report, result, extra = esxi_time.remediate(client, params(step_clock=True, fail_on_drift=True, check_sources=True), False, False,
                                                 clock=clock, check=good_check(0.0))
    assert result['hosts'][0]['clock_stepped'] is True
    assert result['hosts'][0]['drifted'] is False and result['hosts'][0]['offset_seconds'] == 0.0
    assert extra is None


def good_check(offset, problem=None, asked=None):
    """A source check that finds one source ``offset`` seconds ahead of the controller."""
    def check(servers, max_offset_seconds, port, resolve):
        if asked is not None:
            asked.append((list(servers), port))
        return [dict(server=server, address='127.0.0.61', port=port, reachable=problem is None, stratum=3, leap=0,
                     reference_id='127.127.1.1', root_delay=0.0, root_dispersion=0.01, offset_seconds=offset,
                     round_trip_seconds=0.001, samples=3, kiss_code=None, error=None, problem=problem)
                for server in servers]
    return check


def test_offsets_are_against_the_reference_and_the_controller_offset_is_reported():
    client = FakeClient([host('esx1', offset=-600.0), host('esx2', offset=0.0)])
    _report, result, _extra = esxi_time.remediate(client, params(check_sources=True), False, False, clock=clock,
                                                  check=good_check(-600.0))
    assert result['reference']['server'] == 'ntp1.example.com' and result['reference']['good']
    assert result['controller_offset_seconds'] == 600.0
    esx1, esx2 = result['hosts']
    assert esx1['offset_seconds'] == 0.0 and esx1['tier'] == 'ok' and esx1['offset_from_controller_seconds'] == -600.0
    assert esx2['offset_seconds'] == 600.0 and esx2['tier'] == 'critical' and esx2['kerberos_fails'] is True


def test_no_good_source_refuses_before_any_write():
    client = FakeClient([host('esx1')])
    _report, result, extra = esxi_time.remediate(client, params(check_sources=True), False, False, clock=clock,
                                                 check=good_check(0.0, problem='unreachable: no answer within 1.0 s'))
    assert client.calls == [] and result['changed'] is False and result['hosts'] == []
    assert 'ntp1.example.com: unreachable: no answer within 1.0 s' in extra
    assert '192.0.2.1: unreachable' in extra
    # told to, it configures them anyway
    _report, result, extra = esxi_time.remediate(client, params(check_sources=True, require_good_source=False), False, False,
                                                 clock=clock, check=good_check(0.0, problem='unreachable: x'))
    assert extra is None and client.calls
    assert result['reference']['good'] is False and result['reference']['against'] == 'controller'


def test_step_refused_when_the_controller_disagrees_and_beyond_max_step():
    client = FakeClient([host('esx1', offset=0.0), host('esx2', offset=-600.0)])
    _report, result, _extra = esxi_time.remediate(client, params(check_sources=True, step_clock=True), False, False, clock=clock,
                                                  check=good_check(-600.0))
    assert client.calls and not [call for call in client.calls if call[1] == 'UpdateDateTime']
    assert result['step']['allowed'] is False and 'controller clock is 600.0 s ahead of' in result['step']['reason']
    assert result['hosts'][0]['step_refused'] == result['step']['reason']
    client = FakeClient([host('esx1', offset=-7200.0)])
    _report, result, _extra = esxi_time.remediate(client, params(check_sources=True, step_clock=True, max_step_seconds=3600.0),
                                                  False, False, clock=clock, check=good_check(0.0))
    assert 'beyond max_step_seconds' in result['hosts'][0]['step_refused']
    assert result['hosts'][0]['tier'] == 'critical'


def test_guests_of_drifted_hosts_are_read_once_and_flagged():
    booted_host = NOW - datetime.timedelta(days=10)
    guests = {'esx2': dict(name='esx2', boot_time=booted_host, vms=[
        dict(name='win', power_state='poweredOn', boot_time=NOW - datetime.timedelta(hours=2), guest_os='Windows', tools_time_sync=False),
        dict(name='moved', power_state='poweredOn', boot_time=booted_host - datetime.timedelta(days=1), guest_os='Linux',
             tools_time_sync=True),
        dict(name='off', power_state='poweredOff', boot_time=None, guest_os='Windows', tools_time_sync=False)])}
    client = FakeClient([host('esx1'), host('esx2', offset=600.0)], guests=guests)
    _report, result, _extra = esxi_time.remediate(client, params(check_sources=True, step_clock=True), False, False, clock=clock,
                                                  check=good_check(0.0))
    assert client.guest_reads == [['esx2']]
    assert [(guest['name'], guest['booted_while_drifted'], guest['advice']) for guest in result['guests_at_risk']] == [
        ('moved', False, None), ('win', True, 'restart or resync this guest')]
    assert result['summary']['guests_at_risk'] == 1
    # the host was stepped: its guests are still listed, as they booted with its wrong time
    assert result['hosts'][1]['clock_stepped'] and result['hosts'][1]['drifted_before']


def test_disconnected_host_skipped_or_failed():
    client = FakeClient([host('esx1'), host('esx2', connection_state='disconnected')])
    report, result, _extra = esxi_time.remediate(client, params(), False, False, clock=clock)
    assert result['hosts'][1]['skipped'] == 'host is disconnected'
    assert report.failure_message() is None
    assert all(call[0] == 'esx1' for call in client.calls)
    report = esxi_time.remediate(client, params(fail_on_unreachable=True), False, False, clock=clock)[0]
    assert report.failure_message() == '1 of 2 hosts failed: esx2: host is disconnected'


def test_faulting_host_fails_while_the_rest_succeed():
    client = FakeClient([host('esx1'), host('esx2'), host('esx3')],
                        faults={('esx2', 'UpdateDateTimeConfig'): 'HostConfigFault'})
    report, result, _extra = esxi_time.remediate(client, params(), False, False, clock=clock)
    assert result['summary']['failed'] == 1 and result['summary']['changed'] == 2
    assert 'esx2: UpdateDateTimeConfig failed: HostConfigFault' in report.failure_message()
    assert {call[0] for call in client.calls if call[1] == 'StartService'} == {'esx1', 'esx3'}


def test_info_reports_state_and_offset():
    client = FakeClient([host('esx1', offset=12.5, ntp_servers=['a.example.com']),
                         host('esx2', connection_state='notResponding')])
    report, result = esxi_time.report_info(client, params(), clock=clock)
    first, second = result['hosts']
    assert first['ntp_servers'] == ['a.example.com'] and first['offset_seconds'] == 12.5 and first['drifted']
    assert first['host_time'].startswith('2026-01-01T12:00:12.5')
    assert second['skipped'] == 'host is notResponding'
    assert result['changed'] is False and client.calls == []
    assert report.failure_message() is None


# ---- ESXi 7.0.3 / 8.0 ----------------------------------------------------------------------

def host_703(name='esx703', **overrides):
    values = dict(supports_protocol=True, protocol='ntp', ntp_enabled=True, product_version='7.0.3', api_version='7.0.3.0')
    values.update(overrides)
    return host(name, **values)


def host_803(name='esx803', **overrides):
    values = dict(supports_protocol=True, protocol='ntp', ntp_enabled=True, product_version='8.0.3', api_version='8.0.2.0',
                  firewall_user_controllable=False, firewall_ip_configurable=True)
    values.update(overrides)
    return host(name, **values)


def test_service_owned_ruleset_is_never_written_and_follows_ntpd():
    desired, actions = esxi_time.plan_host(host_803(), params())
    assert [action for action, _argument in actions] == ['update_ntp', 'update_service_policy', 'start_service']
    assert desired['firewall_enabled'] is True  # ntpd running opens it
    assert esxi_time.firewall_managed_by(host_803()) == 'ntpd'
    assert esxi_time.firewall_managed_by(host_703()) == 'user'
    client = FakeClient([host_803()])
    result = esxi_time.remediate(client, params(), False, False, clock=clock)[1]
    entry = result['hosts'][0]
    assert not [call for call in client.calls if call[1] in ('EnableRuleset', 'DisableRuleset')]
    assert entry['firewall_managed_by'] == 'ntpd' and entry['after']['firewall_enabled'] is True
    assert any('owned by ntpd' in note for note in entry['version_notes'])


def test_service_owned_ruleset_closes_with_a_stopped_ntpd_without_a_write():
    running = host_803(ntp_servers=['ntp1.example.com', '192.0.2.1'], service_policy='on', service_running=True,
                       firewall_enabled=True)
    desired, actions = esxi_time.plan_host(running, params(service_running=False))
    assert actions == [('stop_service', None)] and desired['firewall_enabled'] is False


def test_disabled_time_services_are_turned_on():
    disabled = host_703(ntp_servers=['ntp1.example.com', '192.0.2.1'], service_policy='on', service_running=True,
                        firewall_enabled=True, ntp_enabled=False)
    desired, actions = esxi_time.plan_host(disabled, params())
    assert actions[0] == ('update_ntp', (['ntp1.example.com', '192.0.2.1'], None, True))
    assert desired['time_services_enabled'] is True


def test_protocol_ptp_switches_and_fails_on_old_hosts():
    client = FakeClient([host_703(), host('esx67')])
    report, result, _extra = esxi_time.remediate(client, params(protocol='ptp'), False, False, clock=clock)
    by_name = {entry['name']: entry for entry in result['hosts']}
    assert by_name['esx703']['after']['protocol'] == 'ptp'
    assert [call[1:] for call in client.calls] == [('UpdateDateTimeConfig', (), 'ptp', True)]
    assert 'needs ESXi 7.0.3' in by_name['esx67']['failed']


def test_ptp_host_reported_not_switched():
    client = FakeClient([host_803(protocol='ptp')])
    result = esxi_time.remediate(client, params(), False, False, clock=clock)[1]
    assert client.calls == [] and result['changed'] is False
    assert any('left on PTP' in note for note in result['hosts'][0]['version_notes'])


def test_partial_failure_shows_what_was_written():
    client = FakeClient([host('esx1')], faults={('esx1', 'UpdateServicePolicy'): 'HostConfigFault'})
    report, result, _extra = esxi_time.remediate(client, params(), False, True, clock=clock)
    entry = result['hosts'][0]
    assert entry['changed'] is True and entry['written'] == ['update_ntp']
    assert entry['failed_action'] == 'update_service_policy'
    assert entry['not_attempted'] == ['start_service', 'set_ruleset']
    assert entry['after']['ntp_servers'] == ['ntp1.example.com', '192.0.2.1']
    assert entry['after']['service_policy'] == 'off'
    assert 'after update_ntp succeeded' in report.failure_message()
    assert result['diff']['after']['esx1']['ntp_servers'] == ['ntp1.example.com', '192.0.2.1']


def test_secure_ntp_restricts_the_ip_list_where_configurable_and_is_idempotent():
    addresses = ['127.0.0.61', '127.0.0.62']
    client = FakeClient([host_803(), host('esx67')])
    result = esxi_time.remediate(client, params(secure_ntp=True), False, False, clock=clock, allowed=addresses)[1]
    assert {call[0] for call in client.calls if call[1] == 'UpdateRuleset'} == {'esx803', 'esx67'}
    assert all(entry['after']['firewall_allowed_hosts'] == addresses for entry in result['hosts'])
    restricted = host_803(ntp_servers=['ntp1.example.com', '192.0.2.1'], service_policy='on', service_running=True,
                          firewall_enabled=True, firewall_all_ip=False, firewall_allowed_ips=['127.0.0.62', '127.0.0.61'])
    assert esxi_time.plan_host(restricted, params(secure_ntp=True), addresses)[1] == []
    fixed_list = host_803(firewall_ip_configurable=False)
    assert 'set_allowed_hosts' not in [a for a, _x in esxi_time.plan_host(fixed_list, params(), addresses)[1]]


def test_resolve_server_addresses_once_and_refuses_unknown_names():
    def resolve(name, port, family, kind):
        if name == 'ntp.fleetfix.test':
            return [(2, 2, 17, '', ('127.0.0.61', 123)), (10, 2, 17, '', ('::1', 123, 0, 0))]
        raise esxi_time.socket.gaierror(-2, 'Name or service not known')
    assert esxi_time.resolve_server_addresses(['ntp.fleetfix.test.', '127.0.0.62'], resolve) == ['127.0.0.61', '127.0.0.62', '::1']
    with pytest.raises(esxi_time.ValidationError, match='cannot resolve nowhere.test'):
        esxi_time.resolve_server_addresses(['nowhere.test'], resolve)


@pytest.mark.parametrize('offset', [-1.0, 0.0, float('nan'), float('inf')])
def test_max_offset_seconds_must_be_positive_and_finite(offset):
    with pytest.raises(esxi_time.ValidationError, match='max_offset_seconds'):
        esxi_time.validate_params(params(max_offset_seconds=offset, step_clock=True))


def test_non_ascii_and_trailing_dot_duplicates_refused():
    with pytest.raises(esxi_time.ValidationError, match='xn--'):
        esxi_time.validate_servers(['\u212Aelvin.example'])
    with pytest.raises(esxi_time.ValidationError, match='more than once'):
        esxi_time.validate_servers(['ntp.example.', 'ntp.example'])
    assert esxi_time.same_servers(['ntp.example.'], ['NTP.example'])


def test_secure_ntp_needs_servers():
    with pytest.raises(esxi_time.ValidationError, match='secure_ntp needs ntp_servers'):
        esxi_time.validate_params(params(secure_ntp=True, ntp_servers=None))


def test_empty_host_list_is_an_empty_scope():
    class Client(FakeClient):
        def find_hosts(self, esxi_hostnames=None, cluster_name=None, datacenter=None):
            assert esxi_hostnames == []
            return []
    client = Client([host('esx1')])
    _report, result, _extra = esxi_time.remediate(client, params(esxi_hostnames=[]), False, False, clock=clock)
    assert result['hosts'] == [] and result['changed'] is False and client.calls == []
    assert 'empty list' in result['msg']
