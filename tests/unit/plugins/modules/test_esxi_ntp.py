# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.fleetfix.remediate.plugins.module_utils import _vsphere
from ansible_collections.fleetfix.remediate.plugins.modules import esxi_ntp, esxi_time_info
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.test__esxi_time import FakeClient, host

SECRET = 'S3cret-Passw0rd!'
# check_sources off: these tests must not send NTP (or DNS) anywhere; test__esxi_time covers the check
CONNECTION = dict(hostname='vcenter.example.com', username='admin@vsphere.local', password=SECRET, check_sources=False)


class FakeSession(FakeClient):
    disconnected = False

    def query_date_time(self, state):
        # the module measures against the real clock
        return datetime.datetime.now(datetime.timezone.utc)

    def disconnect(self):
        self.disconnected = True


def run_module(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def session(monkeypatch):
    fake = FakeSession([host('esx1'), host('esx2', connection_state='disconnected')])
    monkeypatch.setattr(esxi_ntp, 'connect_from_module', lambda module: fake)
    monkeypatch.setattr(esxi_time_info, 'connect_from_module', lambda module: fake)
    return fake


def test_esxi_ntp_remediates_and_logs_out(session, capsys):
    result = run_module(esxi_ntp, dict(CONNECTION, ntp_servers=['ntp.example.com']), capsys)
    assert result['changed'] is True
    assert result['summary'] == dict(total=2, changed=1, ok=1, skipped=1, failed=0, drifted=0,
                                     by_tier=dict(ok=1, warning=0, critical=0, unknown=1), guests_at_risk=0)
    assert ('esx1', 'UpdateDateTimeConfig', ('ntp.example.com',), None, None) in session.calls
    assert session.disconnected
    assert SECRET not in json.dumps(result)


def test_esxi_ntp_check_mode_and_diff(session, capsys):
    result = run_module(esxi_ntp, dict(CONNECTION, ntp_servers=['ntp.example.com'], _ansible_check_mode=True,
                                       _ansible_diff=True), capsys)
    assert result['changed'] is True and session.calls == []
    assert result['diff']['before']['esx1']['ntp_servers'] == []
    assert result['diff']['after']['esx1']['ntp_servers'] == ['ntp.example.com']


def test_esxi_ntp_rejects_bad_servers_before_connecting(monkeypatch, capsys):
    def refuse(module):
        raise AssertionError('must not connect')
    monkeypatch.setattr(esxi_ntp, 'connect_from_module', refuse)
    result = run_module(esxi_ntp, dict(CONNECTION, ntp_servers=['a.example.com', 'A.EXAMPLE.COM']), capsys)
    assert result['failed'] is True and 'more than once' in result['msg']


def test_esxi_ntp_fails_at_the_end_naming_the_host(session, capsys):
    session.faults[('esx1', 'UpdateDateTimeConfig')] = 'HostConfigFault'
    result = run_module(esxi_ntp, dict(CONNECTION, ntp_servers=['ntp.example.com']), capsys)
    assert result['failed'] is True
    assert result['msg'] == '1 of 2 hosts failed: esx1: UpdateDateTimeConfig failed: HostConfigFault'
    assert len(result['hosts']) == 2


def test_esxi_time_info_reads_only(session, capsys):
    result = run_module(esxi_time_info, dict(CONNECTION, _ansible_check_mode=True), capsys)
    assert result['changed'] is False and session.calls == []
    assert [entry['name'] for entry in result['hosts']] == ['esx1', 'esx2']


def test_connection_errors_are_readable_and_secret_free(monkeypatch, capsys):
    class Refusing(_vsphere.VSphereClient):
        def connect(self):
            raise _vsphere.VSphereError('Cannot log in to %s:%s as %s: vCenter rejected the user name or password.'
                                        % (self.hostname, self.port, self.username))
    monkeypatch.setattr(_vsphere, 'VSphereClient', Refusing)
    monkeypatch.setattr(_vsphere, 'HAS_PYVMOMI', True)
    result = run_module(esxi_ntp, dict(CONNECTION, ntp_servers=[]), capsys)
    assert result['failed'] is True
    assert result['msg'] == ('Cannot log in to vcenter.example.com:443 as admin@vsphere.local: '
                             'vCenter rejected the user name or password.')
    assert SECRET not in json.dumps(result)


def test_environment_fallbacks(monkeypatch):
    monkeypatch.setenv('VMWARE_VALIDATE_CERTS', 'false')
    spec = _vsphere.vsphere_argument_spec()
    assert spec['password']['no_log'] is True
    assert spec['validate_certs']['default'] is True
    assert spec['hostname']['fallback'][1] == ['VMWARE_HOST']


def test_esxi_ntp_refuses_bad_sources_naming_them(session, capsys, monkeypatch):
    from ansible_collections.fleetfix.remediate.plugins.module_utils import _esxi_time
    from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.test__esxi_time import good_check
    monkeypatch.setattr(_esxi_time, 'check_sources', good_check(0.0, problem='unsynchronised (leap alarm 3, stratum 0): x'))
    result = run_module(esxi_ntp, dict(CONNECTION, check_sources=True, ntp_servers=['dc1.example.com']), capsys)
    assert result['failed'] is True and session.calls == []
    assert result['msg'].startswith('None of the NTP servers keeps good time, so no host was pointed at them: '
                                    'dc1.example.com: unsynchronised (leap alarm 3, stratum 0)')
    assert result['ntp_sources'][0]['server'] == 'dc1.example.com'


def test_bad_trusted_time_options_are_refused(session, capsys):
    result = run_module(esxi_ntp, dict(CONNECTION, ntp_servers=['a.example.com'], ntp_port=0), capsys)
    assert result['failed'] and 'ntp_port must be a UDP port' in result['msg']
    result = run_module(esxi_ntp, dict(CONNECTION, ntp_servers=['a.example.com'], source_resolvers=['not-an-ip']), capsys)
    assert result['failed'] and result['msg'].startswith('source_resolvers:')
