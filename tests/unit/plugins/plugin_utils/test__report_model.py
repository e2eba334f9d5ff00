# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import itertools
import json
import os

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _esxi_time as esxi_time
from ansible_collections.fleetfix.remediate.plugins.plugin_utils import _report_model as model

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
SCHEMA_FILE = os.path.join(COLLECTION, 'roles', 'compliance_report', 'files', 'compliance-report.schema.json')


def esxi_host(name, **overrides):
    values = dict(name=name, changed=False, skipped=None, failed=None,
                  before={'ntp_servers': ['dc1.lab'], 'service_policy': 'on', 'service_running': True,
                          'firewall_enabled': True, 'protocol': None},
                  after={'ntp_servers': ['dc1.lab'], 'service_policy': 'on', 'service_running': True,
                         'firewall_enabled': True, 'protocol': None},
                  actions=[], offset_seconds=0.1, drifted=False, restarted=False, clock_stepped=False)
    values.update(overrides)
    return values


def esxi_inputs(*hosts, **result):
    values = dict(changed=any(host['changed'] for host in hosts), failed=False, msg='', hosts=list(hosts))
    values.update(result)
    return {'esxi_time': {'vc': values}}


def rows(inputs, check_mode=False):
    report = model.build(inputs, check_mode=check_mode, generated='2026-12-01T10:00:00Z')
    return [row for area in report['areas'] for row in area['rows']]


def one(inputs, check_mode=False):
    found = rows(inputs, check_mode)
    assert len(found) == 1
    return found[0]


def test_every_action_the_esxi_module_emits_has_a_label_and_no_label_is_for_one_it_never_emits():
    emitted = set()
    params = dict(ntp_servers=['dc1.lab'], state='present', exclusive=True, restart_on_change=True, firewall=True)
    for servers, supports, protocol, enabled, firewall, policy, running, want_policy, want_running in itertools.product(
            ([], ['dc1.lab']), (False, True), (None, 'ptp', 'ntp'), (None, False, True), (False, True),
            ('off', 'on'), (False, True), ('on', 'off'), (False, True)):
        current = dict(ntp_servers=servers, supports_protocol=supports, protocol=protocol, ntp_enabled=enabled,
                       firewall_enabled=firewall, service_policy=policy, service_running=running)
        _desired, actions = esxi_time.plan_host(current, dict(params, service_policy=want_policy, service_running=want_running))
        emitted.update(action for action, _argument in actions)
    assert emitted == set(model.ESXI_ACTION_LABELS)
    assert 'update_protocol' not in model.ESXI_ACTION_LABELS


@pytest.mark.parametrize('host, status, problem', [
    (esxi_host('esx1'), 'compliant', ''),
    (esxi_host('esx1', changed=True, actions=['update_ntp', 'start_service']), 'changed', ''),
    (esxi_host('esx1', failed='vim.fault.HostConfigFault: locked'), 'failed', 'vim.fault.HostConfigFault: locked'),
    (esxi_host('esx1', skipped='host is disconnected', before=None, after=None, offset_seconds=None), 'skipped', ''),
    (esxi_host('esx1', drifted=True, offset_seconds=95.25), 'attention', 'clock still 95.2 s off after the run'),
    (esxi_host('esx1', failed='fault', drifted=True, offset_seconds=95.0), 'failed', 'fault; clock still 95.0 s off after the run'),
])
def test_esxi_statuses(host, status, problem):
    row = one(esxi_inputs(host))
    assert (row['status'], row['problem']) == (status, problem)
    assert row['needs_human'] == (status in ('failed', 'attention'))
    assert row['in_desired_state'] == (status in ('compliant', 'changed'))


def test_esxi_row_fields():
    host = esxi_host('esx02', changed=True, actions=['update_ntp', 'set_ruleset', 'update_service_policy', 'start_service'],
                     clock_stepped=True, offset_seconds=0.3,
                     before={'ntp_servers': [], 'service_policy': 'off', 'service_running': False, 'firewall_enabled': False,
                             'protocol': 'ptp'})
    inputs = esxi_inputs(host)
    inputs['esxi_time_info'] = {'vc': {'hosts': [{'name': 'esx02', 'offset_seconds': -312.5}]}}
    row = one(inputs)
    assert row['key'] == 'esxi_time/vc/esx02'
    assert (row['scope'], row['source']) == ('vc', 'vc')
    assert row['before'] == 'NTP (none); ntpd off, stopped; firewall closed; protocol ptp'
    assert row['after'] == 'NTP dc1.lab; ntpd on, running; firewall open'
    assert row['action'] == ('set the NTP servers, opened the ntpClient firewall ruleset, set the ntpd start-up policy, '
                             'started ntpd, stepped the clock')
    assert row['actions'] == ['update_ntp', 'set_ruleset', 'update_service_policy', 'start_service']
    assert row['details'] == {'offset_before': -312.5, 'offset_after': 0.3, 'tier': None, 'esxi_version': None,
                              'firewall_managed_by': None}
    audit = one(inputs, check_mode=True)
    assert audit['action'].startswith('would: set the NTP servers')
    assert audit['status'] == 'changed' and not audit['in_desired_state']


def test_esxi_restart_unknown_action_and_failed_prefix():
    row = one(esxi_inputs(esxi_host('esx1', changed=True, actions=['restart_service', 'set_lease'], restarted=True)))
    assert row['action'] == 'restarted ntpd, set_lease'
    failed = one(esxi_inputs(esxi_host('esx1', failed='fault', actions=['update_ntp'])))
    assert failed['action'] == 'attempted: set the NTP servers'


def test_esxi_offset_before_defaults_to_after_without_a_reading():
    details = one(esxi_inputs(esxi_host('esx1', offset_seconds=1.5)))['details']
    assert (details['offset_before'], details['offset_after']) == (1.5, 1.5)


def test_vcenter_without_result_without_hosts_and_failed_after_reading():
    assert one({'esxi_time': {'vc': None}})['status'] == 'missing'
    assert one({'esxi_time': {'vc': None}})['problem'] == 'no result: the vCenter was unreachable or its play did not run'
    assert one({'esxi_time': {'vc': {'hosts': [], 'msg': ''}}})['skip_reason'] == 'no ESXi host in scope'
    failed = one({'esxi_time': {'vc': {'hosts': [], 'failed': True, 'msg': 'cannot log in'}}})
    assert (failed['status'], failed['problem']) == ('failed', 'cannot log in')
    found = rows(esxi_inputs(esxi_host('esx1'), failed=True, msg='role check failed'))
    assert [(row['subject'], row['status']) for row in found] == [('esx1', 'compliant'), ('vc', 'failed')]
    # a host that failed or drifted already explains the vCenter's failure: no extra row
    assert len(rows(esxi_inputs(esxi_host('esx1', drifted=True), failed=True, msg='drifted'))) == 1


def dcom(**overrides):
    values = dict(failed=False, msg='', changed=False, method='registry', before={'value': 1}, after={'value': 1},
                  reboot_required=False, rebooted=False, restart='not needed',
                  os={'caption': 'Microsoft Windows Server 2008 R2 Enterprise', 'affected': True},
                  dcom_10009={'since_boot': 0, 'newest': None})
    values.update(overrides)
    return {'dcom_10009': {'ex01': values}}


@pytest.mark.parametrize('result, check_mode, status, problem, notes', [
    (dcom(), False, 'compliant', '', []),
    (dcom(changed=True, before={'value': None}, rebooted=True), False, 'changed', '', []),
    (dcom(failed=True, msg='Authentication failed'), False, 'failed', 'Authentication failed', []),
    (dcom(changed=True, reboot_required=True), False, 'attention', 'restart needed before the policy applies', []),
    (dcom(changed=True, reboot_required=True, msg='not restarted: the rollout stopped'), False, 'attention',
     'not restarted: the rollout stopped', []),
    (dcom(changed=True, reboot_required=True), True, 'changed', '', ['restart needed before the policy applies']),
    (dcom(rebooted=True, dcom_10009={'since_boot': 3}), False, 'attention', '3 DCOM 10009 events since the restart', []),
])
def test_dcom_statuses(result, check_mode, status, problem, notes):
    row = one(result, check_mode)
    assert (row['status'], row['problem'], row['notes']) == (status, problem, notes)


def test_dcom_row_fields():
    row = one(dcom(changed=True, before={'value': None}, rebooted=True, dcom_10009={'since_boot': 0, 'newest': '2026-11-20T08:01:12Z'}))
    assert row['scope'] == 'Microsoft Windows Server 2008 R2 Enterprise (affected)'
    assert row['before'] == 'IgnoreDelegationFailure not set'
    assert row['after'] == 'IgnoreDelegationFailure = 1; 0 DCOM 10009 events since boot (newest 2026-11-20T08:01:12Z)'
    assert row['action'] == 'set IgnoreDelegationFailure = 1 (registry), restarted'
    assert row['details'] == {'events_since_boot': 0, 'restart': 'not needed'}
    assert one(dcom(changed=True), check_mode=True)['action'] == 'would: set IgnoreDelegationFailure = 1 (registry)'
    missing = one({'dcom_10009': {'ex04': None}})
    assert (missing['status'], missing['source']) == ('missing', 'ex04')


def proof(**overrides):
    values = dict(name='contoso.lab', zone='contoso.lab', nameservers=['ns1', 'ns2'], found_on=['ns1', 'ns2'],
                  missing_on=[], stale_on=[], unreachable=[], internal_only=False, serials={'ns1': 5, 'ns2': 4},
                  errors=[], ok=True)
    values.update(overrides)
    return {'federation_dns': {'localhost': {'ok': values['ok'], 'msg': 'summary', 'domains': [values], 'autodiscover': []}}}


@pytest.mark.parametrize('result, status, problem, notes', [
    (proof(), 'compliant', '', []),
    (proof(found_on=['ns1'], missing_on=['ns2'], ok=False), 'attention', 'proof missing on ns2', []),
    (proof(found_on=[], missing_on=[], internal_only=True, ok=False), 'attention', 'proof only in internal DNS', []),
    (proof(found_on=['ns1'], unreachable=['ns2'], ok=False), 'attention', 'no answer from ns2', []),
    (proof(ok=False, errors=['zone not found']), 'attention', 'zone not found', []),
    (proof(ok=False), 'attention', 'summary', []),
    # proofs on every nameserver, one copy of the zone behind: compliant, and the text says so (no red note)
    (proof(stale_on=['ns2']), 'compliant', '',
     ['older SOA serial on ns2 (serial 4): the proofs are there, later changes may not have reached it yet']),
    (proof(found_on=['ns1'], missing_on=['ns2'], stale_on=['ns2'], ok=False), 'attention',
     'proof missing on ns2; older SOA serial on ns2 (serial 4): the zone transfer is behind', []),
])
def test_federation_proof_statuses_and_their_text_agree(result, status, problem, notes):
    row = one(result)
    assert (row['status'], row['problem'], row['notes']) == (status, problem, notes)
    assert row['scope'] == 'zone contoso.lab'
    assert row['action'] == 'checked (read-only)'


def test_autodiscover_rows():
    result = {'federation_dns': {'localhost': {'ok': False, 'domains': [], 'autodiscover': [
        {'name': 'partner.lab', 'ok': True, 'errors': [],
         'methods': [{'method': 'srv', 'name': '_autodiscover._tcp.partner.lab', 'targets': ['mail.partner.lab:443']},
                     {'method': 'autodiscover', 'name': 'autodiscover.partner.lab', 'addresses': ['127.0.0.1']}, 'odd']},
        {'name': 'gone.lab', 'ok': False, 'errors': [], 'methods': []},
        {'name': 'broken.lab', 'ok': False, 'errors': ['SERVFAIL'], 'methods': []}]}}}
    found = {row['subject']: row for row in rows(result)}
    assert found['partner.lab']['status'] == 'compliant'
    assert found['partner.lab']['after'] == ('Autodiscover via srv _autodiscover._tcp.partner.lab -> mail.partner.lab:443; '
                                             'autodiscover autodiscover.partner.lab -> 127.0.0.1; odd')
    assert found['gone.lab']['problem'] == 'no Autodiscover A/AAAA, CNAME or SRV record answers'
    assert found['gone.lab']['after'] == 'no Autodiscover record'
    assert found['broken.lab']['problem'] == 'SERVFAIL'


def test_federation_without_result_and_failed_without_domains():
    assert rows({'federation_dns': {'localhost': None}}) == []
    found = rows({'federation_dns': {'a': None, 'b': {'failed': True, 'msg': 'no resolver'}}})
    assert [(row['subject'], row['status'], row['problem']) for row in found] == [
        ('a', 'missing', 'no result: the federation DNS check did not run'), ('b', 'failed', 'no resolver')]


def test_every_status_has_text_only_when_a_human_is_needed():
    inputs = esxi_inputs(esxi_host('a'), esxi_host('b', changed=True, actions=['update_ntp']), esxi_host('c', failed='x'),
                         esxi_host('d', skipped='off'), esxi_host('e', drifted=True, offset_seconds=9.0))
    inputs.update(dcom(reboot_required=True, changed=True))
    inputs['federation_dns'] = proof(stale_on=['ns2'])['federation_dns']
    for row in rows(inputs) + rows(inputs, check_mode=True):
        assert bool(row['problem']) == (row['status'] in model.NEEDS_HUMAN), row
        assert bool(row['skip_reason']) == (row['status'] == 'skipped'), row


def test_counts_findings_labels_and_order():
    inputs = esxi_inputs(esxi_host('esx10'), esxi_host('esx2', failed='boom'), esxi_host('esx1', changed=True, actions=['update_ntp']))
    inputs.update(dcom(failed=True, msg='denied'))
    report = model.build(inputs, title='T', files={'html': '/r/x.html'}, generated='2026-12-01T10:00:00Z')
    esxi = report['areas'][0]
    assert [row['subject'] for row in esxi['rows']] == ['esx1', 'esx2', 'esx10']
    assert esxi['counts'] == {'missing': 0, 'failed': 1, 'attention': 0, 'skipped': 0, 'changed': 1, 'compliant': 1, 'total': 3}
    assert report['totals'] == {'missing': 0, 'failed': 2, 'attention': 0, 'skipped': 0, 'changed': 1, 'compliant': 1, 'subjects': 4}
    assert [finding['text'] for finding in report['findings']] == ['ESXi time esx2: boom', 'DCOM 10009 ex01: denied']
    assert report['findings'][0]['subject'] == 'esx2'
    assert (report['title'], report['files'], report['generated']) == ('T', {'html': '/r/x.html'}, '2026-12-01T10:00:00Z')
    assert (report['mode_label'], report['changed_label']) == ('Remediation', 'changed')
    audit = model.build(inputs, check_mode=True)
    assert (audit['mode_label'], audit['changed_label']) == ('Audit (check mode, nothing changed)', 'would change')
    assert audit['status_labels']['changed'] == 'would change'
    assert [area['id'] for area in report['areas']] == ['esxi_time', 'dcom_10009', 'federation_dns']


def test_offset_chart_keeps_the_largest_offsets():
    hosts = [esxi_host('esx%d' % number, offset_seconds=float(number)) for number in range(1, 41)]
    report = model.build(esxi_inputs(*hosts))
    chart = report['areas'][0]['chart']
    assert chart['measured'] == 40
    assert chart['row_keys'] == ['esxi_time/vc/esx%d' % number for number in range(11, 41)]
    small = model.build(esxi_inputs(esxi_host('a'), esxi_host('b', offset_seconds=None, skipped='x')))
    assert small['areas'][0]['chart'] == {'row_keys': ['esxi_time/vc/a'], 'measured': 1}
    assert model.build({})['areas'][0]['chart'] == {'row_keys': [], 'measured': 0}


def test_collect_reads_hostvars_and_marks_hosts_without_a_result():
    hostvars = {'vc': {'esxi_time_result': {'hosts': []}, 'esxi_time_info_result': {'hosts': []}},
                'ex01': {'dcom_10009_result': {'changed': False}}, 'ex02': {}, 'localhost': {}}
    inputs = model.collect(hostvars, {'esxi_time': ['vc'], 'dcom_10009': ['ex01', 'ex02', 'ghost'], 'federation_dns': ['localhost']})
    assert inputs == {'esxi_time': {'vc': {'hosts': []}}, 'esxi_time_info': {'vc': {'hosts': []}},
                      'dcom_10009': {'ex01': {'changed': False}, 'ex02': None, 'ghost': None},
                      'federation_dns': {'localhost': None}}


def test_malformed_results_do_not_raise():
    inputs = {'esxi_time': {'vc': {'hosts': ['junk', {'name': 'esx1', 'before': 'x', 'offset_seconds': 'n/a', 'actions': None}]}},
              'esxi_time_info': {'vc': 'junk'},
              'dcom_10009': {'ex': {'os': None, 'dcom_10009': None, 'before': None}},
              'federation_dns': {'localhost': {'domains': 'junk', 'autodiscover': [None]}}}
    found = rows(inputs)
    assert [(row['subject'], row['status']) for row in found] == [('esx1', 'compliant'), ('ex', 'compliant')]
    assert found[0]['before'] == 'unknown' and found[0]['details']['offset_after'] is None


def test_the_model_validates_against_its_schema():
    jsonschema = pytest.importorskip('jsonschema')
    with open(SCHEMA_FILE) as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    inputs = esxi_inputs(esxi_host('a'), esxi_host('c', failed='x'), esxi_host('d', skipped='off'))
    inputs.update(dcom(reboot_required=True, changed=True))
    inputs['federation_dns'] = proof(stale_on=['ns2'])['federation_dns']
    report = json.loads(json.dumps(model.build(inputs)))
    jsonschema.Draft202012Validator(schema).validate(report)
    report['areas'][0]['rows'][0]['problem'] = 'contradiction'
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(report)


# --- fields other capabilities added (REPORT-FIELDS.md) ---------------------------------------

def test_esxi_tier_step_refused_and_initial_offset():
    host = esxi_host('esx1', drifted=True, offset_seconds=600.0, initial_offset_seconds=600.0, tier='critical',
                     kerberos_fails=True, step_refused='the step of 600.0 s is beyond max_step_seconds')
    report = model.build(esxi_inputs(host))
    row = report['areas'][0]['rows'][0]
    assert row['status'] == 'attention'
    assert row['problem'] == ('clock still 600.0 s off after the run: Kerberos fails here '
                              '(not stepped: the step of 600.0 s is beyond max_step_seconds)')
    assert (row['details']['offset_before'], row['details']['tier']) == (600.0, 'Kerberos fails here')
    assert [column['key'] for column in report['areas'][0]['columns']] == ['tier', 'offset_before', 'offset_after']
    # without the field the column is left out
    plain = model.build(esxi_inputs(esxi_host('esx1')))
    assert [column['key'] for column in plain['areas'][0]['columns']] == ['offset_before', 'offset_after']
    assert one(esxi_inputs(esxi_host('esx1', tier='bogus')))['details']['tier'] is None


def test_ntp_sources_and_reference():
    result = {'hosts': [], 'ntp_sources': [
        {'server': 'dc1.corp', 'address': '127.0.0.61', 'reachable': True, 'stratum': 3, 'reference_id': 'GPS',
         'offset_seconds': 0.0012, 'problem': None},
        {'server': 'dc2.corp', 'address': '127.0.0.62', 'reachable': True, 'stratum': 16, 'reference_id': 'INIT',
         'offset_seconds': None, 'problem': 'unsynchronised (leap alarm 3, stratum 16): the server has no good time itself'},
        {'server': '127.0.0.63', 'address': '127.0.0.63', 'reachable': False, 'problem': 'unreachable: port 123 unreachable'},
        'junk'],
        'reference': {'server': 'dc1.corp', 'good': True, 'stratum': 3, 'offset_seconds': 0.0012,
                      'controller_offset_seconds': -0.0012, 'reason': '127.0.0.61: stratum 3, the best good source'}}
    report = model.build({'esxi_time': {'vc': result}})
    area = next(area for area in report['areas'] if area['id'] == 'ntp_sources')
    found = {row['subject']: row for row in area['rows']}
    assert found['dc1.corp']['status'] == 'compliant'
    assert found['dc1.corp']['after'] == '127.0.0.61: stratum 3, offset +0.001 s, reference GPS'
    assert found['dc2.corp']['status'] == 'attention' and found['dc2.corp']['problem'].startswith('unsynchronised')
    assert found['127.0.0.63']['after'] == 'no answer'
    reference = found['reference: dc1.corp']
    assert reference['status'] == 'compliant' and reference['notes'] == ['127.0.0.61: stratum 3, the best good source']
    assert reference['after'] == 'host offsets measured against dc1.corp; controller clock -0.001 s from it'
    bad = model.build({'esxi_time': {'vc': {'hosts': [], 'reference': {'good': False, 'reason': 'no good NTP source (...)'}}}})
    row = next(area for area in bad['areas'] if area['id'] == 'ntp_sources')['rows'][0]
    assert (row['subject'], row['status'], row['problem']) == ('reference: the controller clock', 'attention', 'no good NTP source (...)')


def test_guests_at_risk():
    result = {'guests_at_risk': [
        {'name': 'dc01', 'host': 'esx1', 'guest_os': 'Microsoft Windows Server 2019 (64-bit)', 'tools_time_sync': False,
         'boot_time': '2026-12-01T08:00:00Z', 'booted_while_drifted': True, 'advice': 'restart or resync this guest'},
        {'name': 'web01', 'host': 'esx1', 'tools_time_sync': True, 'booted_while_drifted': False}]}
    area = next(area for area in model.build({'esxi_time': {'vc': dict(result, hosts=[])}})['areas'] if area['id'] == 'guests_at_risk')
    found = {row['subject']: row for row in area['rows']}
    assert found['dc01']['status'] == 'attention'
    assert found['dc01']['problem'] == "restart or resync this guest: it booted while its host's clock was drifted"
    assert found['dc01']['after'] == ('Microsoft Windows Server 2019 (64-bit); booted 2026-12-01T08:00:00Z; '
                                      'VMware Tools time sync off')
    assert found['web01']['status'] == 'compliant' and found['web01']['scope'] == 'esx1'


def test_optional_areas_are_left_out_without_rows():
    assert [area['id'] for area in model.build({})['areas']] == ['esxi_time', 'dcom_10009', 'federation_dns']


@pytest.mark.parametrize('fields, problem', [
    ({'lame': {'ns3': 'answers REFUSED for the zone contoso.lab'}},
     'lame: ns3 answers REFUSED for the zone contoso.lab (fix the NS records, not the proof)'),
    ({'delegation': {'parent': 'lab', 'not_in_parent': ['ns4'], 'not_in_zone': ['ns2'],
                     'glue_mismatch': {'ns1': {'glue': ['127.0.0.9'], 'published': ['127.0.0.1']}}}},
     "delegation: ns4 in the zone's NS records but not delegated by lab; ns2 delegated but not in the zone's NS records; "
     'glue of ns1 (127.0.0.9) differs from its addresses (127.0.0.1)'),
    ({'tcp_only': ['ns2']}, 'UDP blocked, only TCP answers on ns2'),
])
def test_federation_delegation_fields(fields, problem):
    row = one(proof(ok=False, **fields))
    assert (row['status'], row['problem']) == ('attention', problem)


def test_federation_warnings_are_notes():
    row = one(proof(warnings=['ns6 answers on 127.0.0.4 but not on ::1']))
    assert (row['status'], row['notes']) == ('compliant', ['ns6 answers on 127.0.0.4 but not on ::1'])


def test_autodiscover_over_https():
    methods = [{'method': 'autodiscover', 'name': 'autodiscover.partner.lab', 'addresses': ['127.0.0.73']}]
    good = {'name': 'partner.lab', 'ok': True, 'errors': [], 'methods': methods,
            'https': {'checked': True, 'ok': True, 'method': 'autodiscover', 'url': 'https://autodiscover.partner.lab/x',
                      'verdict': 'Autodiscover answers at https://autodiscover.partner.lab/x: HTTP 401', 'attempts': []}}
    bad = {'name': 'expired.lab', 'ok': False, 'errors': [], 'methods': methods,
           'https': {'checked': True, 'ok': False, 'verdict': '', 'attempts': [
               {'method': 'domain', 'ok': False, 'reason': 'nothing listens on 127.0.0.72:443'},
               {'method': 'autodiscover', 'ok': False, 'reason': 'the certificate has expired (127.0.0.73:443)'}]}}
    found = {row['subject']: row for row in rows({'federation_dns': {'localhost': {'domains': [], 'autodiscover': [good, bad]}}})}
    assert found['partner.lab']['status'] == 'compliant'
    assert found['partner.lab']['after'].endswith('; Autodiscover answers at https://autodiscover.partner.lab/x: HTTP 401')
    assert found['partner.lab']['details'] == {'https_url': 'https://autodiscover.partner.lab/x', 'https_method': 'autodiscover'}
    assert found['expired.lab']['problem'] == ('nothing listens on 127.0.0.72:443; '
                                               'the certificate has expired (127.0.0.73:443)')


def test_findings_list_what_needs_a_human_most_first():
    inputs = esxi_inputs(esxi_host('a', drifted=True), esxi_host('b', failed='boom'))
    inputs['dcom_10009'] = {'ex1': None}
    report = model.build(inputs)
    assert [(finding['status'], finding['subject']) for finding in report['findings']] == [
        ('missing', 'ex1'), ('failed', 'b'), ('attention', 'a')]


def test_esxi_releases_partial_failures_and_notes():
    host = esxi_host('esx1', esxi_version='8.0.3', firewall_managed_by='ntpd', failed='vim.fault.HostConfigFault',
                     written=['update_ntp'], failed_action='update_service_policy', not_attempted=['start_service'],
                     version_notes=['ntpClient ruleset is owned by ntpd (ESXi 8.0.2+): it opens while ntpd runs and is never written'],
                     before={'ntp_servers': [], 'service_policy': 'off', 'service_running': False, 'firewall_enabled': True,
                             'firewall_allowed_hosts': ['127.0.0.1'], 'protocol': 'ntp', 'time_services_enabled': False})
    report = model.build(esxi_inputs(host))
    row = report['areas'][0]['rows'][0]
    assert row['status'] == 'failed'
    assert row['problem'] == ('partly changed: set the NTP servers; set the ntpd start-up policy failed (vim.fault.HostConfigFault); '
                              'not attempted: started ntpd')
    assert row['action'] == 'wrote: set the NTP servers'
    assert row['notes'] == ['ntpClient ruleset is owned by ntpd (ESXi 8.0.2+): it opens while ntpd runs and is never written']
    assert row['before'] == 'NTP (none); ntpd off, stopped; firewall open to 127.0.0.1; protocol ntp; time services off'
    assert (row['details']['esxi_version'], row['details']['firewall_managed_by']) == ('8.0.3', 'ntpd')
    assert [column['key'] for column in report['areas'][0]['columns']] == ['esxi_version', 'offset_before', 'offset_after']
    ptp = one(esxi_inputs(esxi_host('esx2', version_notes=['keeps time with PTP: left on PTP (set protocol: ntp to switch it)'])))
    assert ptp['status'] == 'compliant' and ptp['notes'][0].startswith('keeps time with PTP')


def test_dcom_not_reached_clock_skew_and_os_notes():
    not_reached = one(dcom(skipped=True, restart='not reached', msg='not reached, the rollout stopped after ex02 failed',
                           before=None, after=None, os=None))
    assert (not_reached['status'], not_reached['problem']) == ('attention', 'not reached, the rollout stopped after ex02 failed')
    skew = one(dcom(failed=True, error_kind='clock_skew', msg='the clock of ex01 is 400 s off the KDC'))
    assert skew['problem'] == 'the clock of ex01 is 400 s off the KDC (the usual cause is the time: see ESXi time)'
    modern = one(dcom(os={'caption': 'Microsoft Windows Server 2025 Standard', 'affected': False, 'source': 'Get-WmiObject'}))
    assert modern['status'] == 'compliant'
    assert modern['notes'] == ['WMIC missing, read with PowerShell (Get-WmiObject)',
                               'this Windows release is not affected by the DCOM 10009 flood: no restart needed']


def test_esxi_area_counts_hosts_per_clock_tier_in_tier_order():
    report = model.build(esxi_inputs(esxi_host('esx1', tier='critical', drifted=True, offset_seconds=600.0),
                                     esxi_host('esx2', tier='ok'), esxi_host('esx3', tier='ok'),
                                     esxi_host('esx4', tier='warning', drifted=True, offset_seconds=9.0)))
    esxi = report['areas'][0]
    assert esxi['tiers'] == [{'tier': 'ok', 'label': 'in time', 'count': 2},
                             {'tier': 'warning', 'label': 'beyond max_offset_seconds', 'count': 1},
                             {'tier': 'critical', 'label': 'Kerberos fails here', 'count': 1}]
    # areas whose rows have no tier (and hosts without one) count nothing
    assert [area['tiers'] for area in model.build(dcom(changed=True))['areas'] if area['id'] == 'dcom_10009'] == [[]]
    assert model.build(esxi_inputs(esxi_host('esx1')))['areas'][0]['tiers'] == []


def test_dcom_restart_and_events_are_columns():
    report = model.build(dcom(changed=True, restart='would restart', dcom_10009={'since_boot': 12}), check_mode=True)
    area = [area for area in report['areas'] if area['id'] == 'dcom_10009'][0]
    assert [column['key'] for column in area['columns']] == ['restart', 'events_since_boot']
    assert area['rows'][0]['details'] == {'events_since_boot': 12, 'restart': 'would restart'}
    # a result without either (an unreachable host) leaves the columns out
    bare = [area for area in model.build(dcom(failed=True, msg='denied', restart=None, dcom_10009={}))['areas']
            if area['id'] == 'dcom_10009'][0]
    assert bare['columns'] == []


def test_federation_rows_show_each_nameserver_address_and_what_it_did():
    addresses = {'ns2.contoso.lab': [{'address': '127.0.0.3', 'status': 'answered', 'transport': 'tcp (UDP blocked)'}],
                 'ns1.contoso.lab': [{'address': '127.0.0.2', 'status': 'answered', 'transport': 'udp'},
                                     {'address': '::1', 'status': 'not asked', 'detail': 'no IPv6 route'}]}
    row = one(proof(addresses=addresses))
    assert row['details']['addresses'] == ('ns1.contoso.lab: 127.0.0.2 answered, ::1 not asked; '
                                           'ns2.contoso.lab: 127.0.0.3 answered over tcp (UDP blocked)')
    assert one(proof())['details']['addresses'] is None
    assert model.dns_addresses({'ns1': ['bogus', {'address': '127.0.0.2'}], 'ns2': 'x'}) == 'ns1: 127.0.0.2 ?'
