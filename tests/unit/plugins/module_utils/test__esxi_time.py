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
                  max_workers=4, esxi_hostnames=None, cluster_name=None, datacenter=None)
    values.update(overrides)
    return values


def host(name='esx1', **overrides):
    values = dict(name=name, ref=name, connection_state='connected', supports_protocol=False,
                  ntp_servers=[], protocol=None, ntp_enabled=None, time_zone='UTC', service_policy='off',
                  service_running=False, service_present=True, firewall_enabled=False, offset=0.0)
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

    def update_ntp(self, state, servers, set_protocol=False):
        self._write(state, 'UpdateDateTimeConfig', tuple(servers), set_protocol)

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
    with pytest.raises(esxi_time.ValidationError, match=r"'bad_name'.*Nothing was changed"):
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
    assert [action for action, _argument in actions] == [
        'update_ntp', 'set_ruleset', 'update_service_policy', 'start_service']
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
    assert actions == [('set_ruleset', False), ('update_service_policy', 'off'), ('stop_service', None)]


def test_plan_without_servers_leaves_the_list_alone():
    configured = host(ntp_servers=['x.example.com'], service_policy='on', service_running=True, firewall_enabled=True)
    assert esxi_time.plan_host(configured, params(ntp_servers=None))[1] == []


def test_protocol_set_only_where_the_api_supports_it():
    servers = ['192.0.2.1', 'ntp1.example.com']
    modern = host(ntp_servers=servers, service_policy='on', service_running=True, firewall_enabled=True,
                  supports_protocol=True, protocol='ptp', ntp_enabled=True)
    desired, actions = esxi_time.plan_host(modern, params())
    assert actions[0] == ('update_ntp', (servers, True))
    assert desired['protocol'] == 'ntp'
    old = dict(modern, supports_protocol=False)
    assert esxi_time.plan_host(old, params())[1] == []


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
    assert [call[1] for call in client.calls] == ['UpdateDateTimeConfig', 'EnableRuleset', 'UpdateServicePolicy',
                                                  'StartService']
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
