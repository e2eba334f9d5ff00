# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""_vsphere's client against what real servers send and do: the vCenter 8.0.3 recording, input
refused before connecting, and servers that never answer or die."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _vsphere

vim = pytest.importorskip('pyVmomi').vim

RECORDING = os.path.join('shared', 'recordings', 'vsphere', 'vcenter803_host14.json')


def recording():
    """The real vCenter 8.0.3 / ESXi 8.0.3 recording: ``../shared/recordings/`` beside the
    repository (or beside a folder above it: a worktree, ansible-test's copy)."""
    folder = os.path.dirname(os.path.abspath(__file__))
    while True:
        candidate = os.path.join(folder, RECORDING)
        if os.path.exists(candidate):
            with open(candidate, encoding='utf-8') as stream:
                return json.load(stream)
        parent = os.path.dirname(folder)
        if parent == folder:
            pytest.fail('%s not found beside the repository or any folder above it (CI puts shared/ beside the clone)'
                        % RECORDING)
        folder = parent


def fetch_response(data, child):
    """The recorded config children as a RetrievePropertiesEx answer for host-14."""
    head = data['envelope_head']
    props = ''.join('<propSet><name>config.%s</name><val xsi:type="%s">%s</val></propSet>' % (
        name, xsi_type, inner_xml(data[child[name]])) for name, xsi_type in (
        ('dateTimeInfo', 'HostDateTimeInfo'), ('service', 'HostServiceInfo'), ('firewall', 'HostFirewallInfo'),
        ('product', 'AboutInfo')))
    return (head + '<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="HostSystem">host-14</obj>'
            + props + '</objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>').encode()


def inner_xml(element_text):
    """``<dateTimeInfo>...</dateTimeInfo>`` -> its content."""
    start = element_text.index('>') + 1
    end = element_text.rindex('</')
    return element_text[start:end]


def test_reader_reads_the_real_vcenter_803_host():
    data = recording()
    names = dict(dateTimeInfo='config_dateTimeInfo', service='config_service', firewall='config_firewall',
                 product='config_product')
    body = fetch_response(data, names).replace(b'config.product<', b'config.product.apiVersion<')
    reader = _vsphere.RetrieveResultReader(_vsphere.parse_time_state)
    reader.feed(body)
    rows, _token = reader.close()
    state = rows[0]
    # ESXi 8.0.3 as recorded: NTP, enabled, ntpd running with policy off, the ntpClient ruleset
    # open, owned by ntpd (userControllable false) with a configurable IP list
    assert state['moid'] == 'host-14'
    assert state['protocol'] == 'ntp' and state['ntp_enabled'] is True
    assert state['ntp_servers'] == ['time.vmware.com'] and state['time_zone'] == 'UTC'
    assert (state['service_present'], state['service_running'], state['service_policy']) == (True, True, 'off')
    assert state['firewall_enabled'] is True
    assert state['firewall_user_controllable'] is False and state['firewall_ip_configurable'] is True
    assert state['firewall_all_ip'] is True and state['firewall_allowed_ips'] == []


@pytest.mark.parametrize('hostname, port, proxy_host, proxy_port, message', [
    ('vc 01.example.com', 443, None, None, 'neither a DNS name'),
    ('x' * 5000, 443, None, None, 'neither a DNS name'),
    ('v\u212Aenter.example.com', 443, None, None, 'neither a DNS name'),
    ('https://vc.example.com', 443, None, None, 'without scheme'),
    ('vc.example.com', 0, None, None, 'port must be a TCP port'),
    ('vc.example.com', 70000, None, None, 'port must be a TCP port'),
    ('vc.example.com', 443, 'proxy .example.com', 3128, 'proxy_host'),
    ('vc.example.com', 443, 'proxy.example.com', 99999, 'proxy_port must be'),
    ('vc.example.com', 443, None, 3128, 'proxy_host is not'),
])
def test_bad_connection_input_refused_before_connecting(hostname, port, proxy_host, proxy_port, message):
    with pytest.raises(_vsphere.VSphereError, match=message) as error:
        _vsphere.VSphereClient(hostname, 'admin', 'pw', port=port, proxy_host=proxy_host, proxy_port=proxy_port)
    assert len(str(error.value)) < 400


@pytest.mark.parametrize('name', ['connect_timeout', 'request_timeout'])
@pytest.mark.parametrize('value', [0, -1, float('nan'), float('inf')])
def test_timeouts_must_be_positive(name, value):
    with pytest.raises(_vsphere.VSphereError, match=name):
        _vsphere.VSphereClient('127.0.0.1', 'admin', 'pw', **{name: value})


@pytest.mark.parametrize('hostname', ['vc01.example.com', '127.0.0.1', '::1', '[::1]', 'vc_01.corp', 'vc.example.com.'])
def test_good_host_names(hostname):
    assert _vsphere.VSphereClient(hostname, 'admin', 'pw').hostname == hostname


@pytest.fixture
def silent_listener():
    """A TCP listener on loopback that accepts connections and never answers."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(('127.0.0.1', 0))
    server.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_a_listener_that_never_answers_ends_within_the_connect_timeout(silent_listener):
    client = _vsphere.VSphereClient('127.0.0.1', 'admin', 'pw', port=silent_listener, validate_certs=False,
                                    connect_timeout=0.5, request_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(_vsphere.VSphereError) as error:
        client.connect()
    assert time.monotonic() - started < 5
    assert str(error.value) == ('Cannot connect: vCenter/ESXi 127.0.0.1:%d did not answer within 0.5 seconds '
                                '(connect_timeout); check that it is up and that no firewall drops the connection.'
                                % silent_listener)


def test_a_refused_connection_names_the_vcenter():
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(_vsphere.VSphereError, match=r'127\.0\.0\.1:%d refused the connection' % port):
        _vsphere.VSphereClient('127.0.0.1', 'admin', 'pw', port=port, connect_timeout=2).connect()


def test_a_dead_proxy_is_blamed_not_the_vcenter():
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(_vsphere.VSphereError, match=r'HTTP proxy 127\.0\.0\.1:%d refused .*\(the proxy, not the vCenter\)' % port):
        _vsphere.VSphereClient('127.0.0.2', 'admin', 'pw', proxy_host='127.0.0.1', proxy_port=port, connect_timeout=2).connect()


def test_after_a_timeout_later_calls_fail_at_once_naming_the_reason():
    client = _vsphere.VSphereClient('vc.example.com', 'admin', 'pw', request_timeout=3)
    calls = []

    def hanging(**kwargs):
        calls.append(kwargs)
        raise socket.timeout('timed out')
    state = dict(date_time_system=type('System', (), {'QueryDateTime': staticmethod(hanging)})())
    with pytest.raises(_vsphere.VSphereError, match='did not answer within 3 seconds'):
        client.query_date_time(state)
    with pytest.raises(_vsphere.VSphereError, match=r'^not attempted: vCenter/ESXi vc\.example\.com:443 earlier'):
        client.query_date_time(state)
    assert len(calls) == 1


def test_reads_are_guarded_too():
    client = _vsphere.VSphereClient('vc.example.com', 'admin', 'pw')

    class Content:
        rootFolder = None  # pylint: disable=invalid-name

        class viewManager:  # pylint: disable=invalid-name
            @staticmethod
            def CreateContainerView(*args):  # pylint: disable=invalid-name
                raise ConnectionRefusedError(111, 'Connection refused')
    client.content = Content()
    with pytest.raises(_vsphere.VSphereError) as error:
        client.find_hosts()
    assert str(error.value) == ('Finding the hosts in scope failed: vCenter/ESXi vc.example.com:443 refused the '
                                'connection; check that it is running and that port is right.')


def test_update_ntp_sends_protocol_only_to_hosts_that_know_it():
    sent = []
    system = type('System', (), {'UpdateDateTimeConfig': staticmethod(lambda config: sent.append(config) or None)})()
    client = _vsphere.VSphereClient('vc.example.com', 'admin', 'pw')
    client.update_ntp(dict(date_time_system=system, supports_protocol=True), ['a'], protocol='ntp', enabled=True)
    assert (sent[0].protocol, sent[0].enabled, list(sent[0].ntpConfig.server)) == ('ntp', True, ['a'])
    client.update_ntp(dict(date_time_system=system, supports_protocol=False), ['a'])
    assert sent[1].protocol is None and sent[1].enabled is None
    with pytest.raises(_vsphere.VSphereError, match='no time protocol setting'):
        client.update_ntp(dict(date_time_system=system, supports_protocol=False, product_version='6.7.0'), ['a'], enabled=True)
