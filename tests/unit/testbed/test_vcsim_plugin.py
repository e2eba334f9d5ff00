# Private to this repository's tests: the vCenter simulator's launcher plug-in (no Go needed).
from __future__ import annotations

import os
import time

import pytest

from testbed.core import Context, TestbedError, merge_inventory, parse_sets
from testbed.plugins import vcsim


def options(**changes):
    result = dict(vcsim.PLUGIN.options)
    result.update(changes)
    return result


def test_defaults_are_the_documented_contract():
    assert vcsim.PLUGIN.name == 'vcsim'
    assert vcsim.PLUGIN.options['port'] == 18443
    assert vcsim.PLUGIN.options['clusters'] == 2
    assert vcsim.PLUGIN.options['hosts_per_cluster'] == 3
    assert vcsim.PLUGIN.options['standalone_hosts'] == 1
    assert vcsim.PLUGIN.options['drifted'] == 1


def test_default_topology_has_seven_hosts_named_like_govmomi():
    part = vcsim.inventory_part(options())
    variables = part['vars']
    assert variables['testbed_vcsim_hosts'] == [
        'DC0_C0_H0', 'DC0_C0_H1', 'DC0_C0_H2', 'DC0_C1_H0', 'DC0_C1_H1', 'DC0_C1_H2', 'DC0_H0']
    assert variables['testbed_vcsim_clusters'] == ['DC0_C0', 'DC0_C1']
    assert variables['testbed_vcsim_hosts_by_cluster'] == {
        'DC0_C0': ['DC0_C0_H0', 'DC0_C0_H1', 'DC0_C0_H2'],
        'DC0_C1': ['DC0_C1_H0', 'DC0_C1_H1', 'DC0_C1_H2'],
    }
    assert variables['testbed_vcsim_standalone_hosts'] == ['DC0_H0']
    assert variables['testbed_vcsim_drifted_hosts'] == ['DC0_C0_H0']
    assert variables['testbed_vcsim_datacenter'] == 'DC0'


def test_connection_variables_follow_the_options():
    part = vcsim.inventory_part(options(port=18444, username='someone@example.test', password='s3cret'))
    variables = part['vars']
    assert variables['testbed_vcsim_hostname'] == '127.0.0.1'
    assert variables['testbed_vcsim_port'] == 18444
    assert variables['testbed_vcsim_username'] == 'someone@example.test'
    assert variables['testbed_vcsim_password'] == 's3cret'
    assert variables['testbed_vcsim_control_url'] == 'https://127.0.0.1:18444/fleetfix'
    vcenter = part['groups']['vcenters']['hosts']['vcsim01']
    assert vcenter == {
        'ansible_connection': 'local',
        'ansible_python_interpreter': '{{ ansible_playbook_python }}',
        'esxi_time_vcenter_hostname': '127.0.0.1',
        'esxi_time_vcenter_port': 18444,
        'esxi_time_vcenter_username': 'someone@example.test',
        'esxi_time_vcenter_password': 's3cret',
        'esxi_time_vcenter_validate_certs': False,
    }


def test_inventory_part_merges_into_the_launcher_inventory():
    inventory, global_vars = merge_inventory([vcsim.inventory_part(options())])
    assert inventory['all']['children']['vcenters']['hosts']['vcsim01']['esxi_time_vcenter_port'] == 18443
    assert global_vars['testbed_vcsim_port'] == 18443
    assert inventory['all']['vars']['testbed_vcsim_hosts'][0] == 'DC0_C0_H0'


def test_large_topology_and_drift_count():
    part = vcsim.inventory_part(options(clusters=20, hosts_per_cluster=100, standalone_hosts=0, drifted=150))
    variables = part['vars']
    assert len(variables['testbed_vcsim_hosts']) == 2000
    assert len(variables['testbed_vcsim_clusters']) == 20
    assert variables['testbed_vcsim_clusters'][:3] == ['DC0_C0', 'DC0_C1', 'DC0_C10']
    assert len(variables['testbed_vcsim_drifted_hosts']) == 150
    # drifted hosts are the first in name order, as the simulator picks them
    assert variables['testbed_vcsim_drifted_hosts'] == sorted(variables['testbed_vcsim_hosts'])[:150]
    assert vcsim.start_timeout(options(clusters=20, hosts_per_cluster=100)) > vcsim.start_timeout(options())


def test_set_options_are_typed_like_the_defaults():
    settings = parse_sets(['vcsim.clusters=20', 'vcsim.hosts_per_cluster=100', 'vcsim.drift_seconds=30',
                           'vcsim.port=18444'], {'vcsim': vcsim.PLUGIN})
    assert settings == {'vcsim': {'clusters': 20, 'hosts_per_cluster': 100, 'drift_seconds': 30.0, 'port': 18444}}
    with pytest.raises(TestbedError, match='vcsim has no option'):
        parse_sets(['vcsim.hosts=3'], {'vcsim': vcsim.PLUGIN})


@pytest.mark.parametrize('changes, message', [
    ({'clusters': -1}, 'vcsim.clusters must be 0 or more'),
    ({'drifted': -2}, 'vcsim.drifted must be 0 or more'),
    ({'port': 70000}, 'vcsim.port must be a TCP port'),
    ({'clusters': 0, 'standalone_hosts': 0}, 'at least one host'),
    ({'password': ''}, 'password must not be empty'),
    ({'versions': '6.7.0,9.9'}, 'vcsim.versions must list ESXi versions'),
    ({'versions': '6.7.0', 'ptp_hosts': 1}, 'needs that many ESXi 8 hosts'),
    ({'versions': '8.0.3', 'disabled_hosts': 2}, 'that many 7.0.3 hosts'),
])
def test_bad_options_are_refused_with_a_message(changes, message):
    with pytest.raises(TestbedError, match=message):
        vcsim.check_options(options(**changes))


def test_command_line_keeps_the_password_out_of_argv():
    argv = vcsim.command_line(options(port=18555, clusters=4, hosts_per_cluster=5, standalone_hosts=2, drifted=3))
    assert argv[0] == vcsim.BINARY
    pairs = dict(zip(argv[1::2], argv[2::2]))
    assert pairs == {
        '-listen': '127.0.0.1:18555', '-clusters': '4', '-hosts-per-cluster': '5',
        '-standalone-hosts': '2', '-drifted': '3', '-drift-seconds': '600.0',
        '-username': 'administrator@vsphere.local',
        '-versions': '6.7.0,7.0.3,8.0.3', '-ptp-hosts': 'DC0_C0_H2', '-disabled-hosts': 'DC0_C0_H1',
    }
    assert vcsim.PLUGIN.options['password'] not in argv


def test_needs_build_when_missing_or_older_than_a_source(tmp_path):
    source = tmp_path / 'main.go'
    source.write_text('package main\n')
    binary = tmp_path / 'vcsim'
    assert vcsim.needs_build(str(binary), str(tmp_path))
    binary.write_text('binary')
    now = time.time()
    os.utime(source, (now - 100, now - 100))
    os.utime(binary, (now, now))
    assert not vcsim.needs_build(str(binary), str(tmp_path))
    os.utime(source, (now + 10, now + 10))
    assert vcsim.needs_build(str(binary), str(tmp_path))


def test_build_without_go_says_run_make_setup(tmp_path, monkeypatch):
    monkeypatch.setattr(vcsim, 'needs_build', lambda *args: True)
    monkeypatch.setattr(vcsim.shutil, 'which', lambda name: None)
    ctx = Context(vcsim.PLUGIN, str(tmp_path), options())
    with pytest.raises(TestbedError, match='Go compiler.*make setup'):
        vcsim.PLUGIN.build(ctx)


def test_build_without_govmomi_says_run_make_setup(tmp_path, monkeypatch):
    monkeypatch.setattr(vcsim, 'needs_build', lambda *args: True)
    monkeypatch.setattr(vcsim.shutil, 'which', lambda name: '/usr/bin/go')
    monkeypatch.setattr(vcsim, 'GOVMOMI_SIMULATOR', str(tmp_path / 'missing'))
    ctx = Context(vcsim.PLUGIN, str(tmp_path), options())
    with pytest.raises(TestbedError, match='govmomi sources are missing.*make setup'):
        vcsim.PLUGIN.build(ctx)


def test_build_reports_a_compiler_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(vcsim, 'needs_build', lambda *args: True)
    monkeypatch.setattr(vcsim.shutil, 'which', lambda name: '/bin/false')
    monkeypatch.setattr(vcsim, 'GOVMOMI_SIMULATOR', str(tmp_path))
    ctx = Context(vcsim.PLUGIN, str(tmp_path), options())
    with pytest.raises(TestbedError, match='go build failed'):
        vcsim.PLUGIN.build(ctx)
    assert 'compiling' in capsys.readouterr().out


def test_build_skips_an_up_to_date_binary(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(vcsim, 'needs_build', lambda *args: False)
    monkeypatch.setattr(vcsim.shutil, 'which', lambda name: pytest.fail('go must not be looked for'))
    vcsim.PLUGIN.build(Context(vcsim.PLUGIN, str(tmp_path), options()))
    assert 'up to date' in capsys.readouterr().out


def test_the_default_fleet_mixes_releases_with_one_ptp_and_one_disabled_host():
    part = vcsim.inventory_part(options())['vars']
    assert part['testbed_vcsim_api_version'] == '8.0.3.0'
    assert part['testbed_vcsim_host_versions'] == {
        'DC0_C0_H0': '6.7.0', 'DC0_C0_H1': '7.0.3', 'DC0_C0_H2': '8.0.3', 'DC0_C1_H0': '6.7.0',
        'DC0_C1_H1': '7.0.3', 'DC0_C1_H2': '8.0.3', 'DC0_H0': '6.7.0'}
    assert part['testbed_vcsim_ptp_hosts'] == ['DC0_C0_H2']
    assert part['testbed_vcsim_disabled_hosts'] == ['DC0_C0_H1']


def test_the_esx_part_runs_the_same_binary_in_esx_mode():
    from testbed.plugins import esx  # pylint: disable=import-outside-toplevel
    options = dict(esx.PLUGIN.options)
    argv = esx.command_line(options)
    assert argv[:2] == [vcsim.BINARY, '-esx']
    assert dict(zip(argv[2::2], argv[3::2]))['-versions'] == '8.0.3'
    assert options['password'] not in argv
    part = esx.inventory_part(options)['vars']
    assert part['testbed_esx_host_name'] == 'localhost.localdomain' and part['testbed_esx_port'] == 18453
    with pytest.raises(TestbedError, match='one ESXi version'):
        esx.check_options(dict(options, version='7.0.3,8.0.3'))
