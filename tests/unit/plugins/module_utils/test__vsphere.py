# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The streaming PropertyCollector reader of _vsphere: XML as vCenter (and govmomi) sends it."""

from __future__ import annotations

import gzip
import types

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _vsphere

vim = pytest.importorskip('pyVmomi').vim

ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>')
XSI = 'xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type'


def prop(name, xsi_type, inner, extra=''):
    return '<propSet><name>%s</name><val %s="%s"%s>%s</val></propSet>' % (name, XSI, xsi_type, extra, inner)


def ruleset(key, enabled):
    # the other rulesets have rules, services and allowed hosts, and a <key> the reader must not confuse
    return ('<ruleset><key>%s</key><label>%s</label><required>false</required><rule><port>123</port><direction>outbound</direction>'
            '<portType>dst</portType><protocol>udp</protocol></rule><service>x</service><enabled>%s</enabled>'
            '<allowedHosts><allIp>true</allIp></allowedHosts></ruleset>' % (key, key, 'true' if enabled else 'false'))


def service(key, running, policy):
    return ('<service><key>%s</key><label>%s</label><required>false</required><uninstallable>false</uninstallable>'
            '<running>%s</running><ruleset>ntpClient</ruleset><policy>%s</policy><sourcePackage><sourcePackageName>esx-base'
            '</sourcePackageName><description>base</description></sourcePackage></service>' % (
                key, key, 'true' if running else 'false', policy))


def host_object(moid, name, servers=(), ntp_running=False, ntp_policy='off', firewall=False, api='6.5', extra_date_time='',
                with_ntpd=True, with_ruleset=True):
    services = service('TSM', True, 'on') + (service('ntpd', ntp_running, ntp_policy) if with_ntpd else '') + service('xorg', False, 'off')
    rulesets = ruleset('CIMHttpServer', True) + (ruleset('ntpClient', firewall) if with_ruleset else '') + ruleset('ntpServer', not firewall)
    date_time = '<timeZone><key>UTC</key><name>UTC</name><description>UTC</description><gmtOffset>0</gmtOffset></timeZone><ntpConfig>%s</ntpConfig>%s' % (
        ''.join('<server>%s</server>' % server for server in servers), extra_date_time)
    return ''.join([
        '<objects><obj type="HostSystem">%s</obj>' % moid,
        prop('name', 'xsd:string', name),
        prop('runtime.connectionState', 'HostSystemConnectionState', 'connected'),
        prop('config.product.apiVersion', 'xsd:string', api),
        prop('config.dateTimeInfo', 'HostDateTimeInfo', date_time),
        prop('config.service', 'HostServiceInfo', services),
        prop('config.firewall', 'HostFirewallInfo', '<defaultPolicy><incomingBlocked>true</incomingBlocked></defaultPolicy>' + rulesets),
        prop('configManager.dateTimeSystem', 'ManagedObjectReference', 'datetime-%s' % moid, ' type="HostDateTimeSystem"'),
        prop('configManager.serviceSystem', 'ManagedObjectReference', 'service-%s' % moid, ' type="HostServiceSystem"'),
        prop('configManager.firewallSystem', 'ManagedObjectReference', 'firewall-%s' % moid, ' type="HostFirewallSystem"'),
        '</objects>'])


DISCONNECTED = ''.join([
    '<objects><obj type="HostSystem">host-9</obj>',
    prop('name', 'xsd:string', 'esx9'),
    prop('runtime.connectionState', 'HostSystemConnectionState', 'disconnected'),
    '<missingSet><path>config.dateTimeInfo</path><fault><fault xsi:type="HostNotConnected"></fault>'
    '<localizedMessage></localizedMessage></fault></missingSet>',
    '</objects>'])


def response(objects, token=None, method='RetrievePropertiesEx'):
    token_xml = '<token>%s</token>' % token if token else ''
    return (ENVELOPE % ('<%sResponse xmlns="urn:vim25"><returnval>%s%s</returnval></%sResponse>' % (
        method, token_xml, ''.join(objects), method))).encode()


FAULT = (ENVELOPE % ('<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>PropertyCollector:propertyCollector '
                     'does not implement: ContinueRetrievePropertiesEx</faultstring><detail><MethodNotFoundFault xmlns="urn:vim25" '
                     'xsi:type="MethodNotFound"><receiver type="PropertyCollector">propertyCollector</receiver>'
                     '<method>ContinueRetrievePropertiesEx</method></MethodNotFoundFault></detail></soapenv:Fault>')).encode()


def read(body, chunk):
    reader = _vsphere.RetrieveResultReader(_vsphere.parse_time_state)
    for start in range(0, len(body), chunk):
        reader.feed(body[start:start + chunk])
    return reader.close()


@pytest.mark.parametrize('chunk', [1, 7, 1 << 16])
def test_reader_keeps_only_what_the_decision_needs_whatever_the_chunks(chunk):
    body = response([host_object('host-1', 'esx1', servers=['ntp1.example.com', '192.0.2.1'], ntp_running=True,
                                 ntp_policy='on', firewall=True),
                     host_object('host-2', 'esx2'), DISCONNECTED], token='page-2')
    rows, token = read(body, chunk)
    assert token == 'page-2'
    assert rows[0] == dict(moid='host-1', name='esx1', connection_state='connected', api_version='6.5',
                           ntp_servers=['ntp1.example.com', '192.0.2.1'], protocol=None, ntp_enabled=None, time_zone='UTC',
                           service_policy='on', service_running=True, service_present=True, firewall_enabled=True,
                           date_time_system='datetime-host-1', service_system='service-host-1', firewall_system='firewall-host-1',
                           product_version=None, firewall_user_controllable=None, firewall_ip_configurable=None,
                           firewall_all_ip=True, firewall_allowed_ips=[])
    assert (rows[1]['ntp_servers'], rows[1]['service_policy'], rows[1]['service_running'], rows[1]['firewall_enabled']) == ([], 'off', False, False)
    # a property the server could not read is absent, as pyVmomi leaves it unset
    assert rows[2] == dict(moid='host-9', name='esx9', connection_state='disconnected', api_version=None, ntp_servers=[],
                           protocol=None, ntp_enabled=None, time_zone=None, service_policy=None, service_running=False,
                           service_present=False, firewall_enabled=None, date_time_system=None, service_system=None,
                           firewall_system=None, product_version=None, firewall_user_controllable=None,
                           firewall_ip_configurable=None, firewall_all_ip=True, firewall_allowed_ips=[])


def test_reader_without_token_and_newer_fields():
    body = response([host_object('host-3', 'esx3', api='8.0.2',
                                 extra_date_time='<systemClockProtocol>ptp</systemClockProtocol><enabled>false</enabled>',
                                 with_ntpd=False, with_ruleset=False)])
    rows, token = read(body, 1 << 16)
    assert token is None
    assert (rows[0]['protocol'], rows[0]['ntp_enabled'], rows[0]['api_version']) == ('ptp', False, '8.0.2')
    assert (rows[0]['service_present'], rows[0]['service_policy'], rows[0]['firewall_enabled']) == (False, None, None)


class FakeResponse:
    def __init__(self, status, body, encoding=None):
        self.status = status
        self.reason = {200: 'OK', 500: 'Internal Server Error', 503: 'Service Unavailable'}[status]
        self._body = body
        self._encoding = encoding

    def getheader(self, name):
        return self._encoding if name == 'Content-Encoding' else None

    def read(self, amount=None):
        amount = len(self._body) if amount is None else amount
        data, self._body = self._body[:amount], self._body[amount:]
        return data


class FakeConnection:
    def __init__(self, stub):
        self.stub = stub
        self.closed = False

    def request(self, method, path, body, headers):
        self.stub.requests.append((method, path, body, headers))

    def getresponse(self):
        return self.stub.responses.pop(0)

    def close(self):
        self.closed = True


class FakeStub:
    """The parts of pyVmomi's SoapStubAdapter the streamed call uses."""

    version = 'vim.version.version11'
    cookie = 'vmware_soap_session="abc"'
    versionId = '"urn:vim25/6.5"'
    path = '/sdk'

    def __init__(self, responses):
        self.responses = list(responses)
        self.requests = []
        self.returned = 0
        self.dropped = 0

    def SerializeRequest(self, managed_object, info, args):  # pylint: disable=invalid-name
        return '%s %r' % (info.name, [arg for arg in args if isinstance(arg, str)])

    def GetConnection(self):  # pylint: disable=invalid-name
        return FakeConnection(self)

    def ReturnConnection(self, connection):  # pylint: disable=invalid-name,unused-argument
        self.returned += 1

    def DropConnections(self):  # pylint: disable=invalid-name
        self.dropped += 1


class FakeServiceInstance:
    def __init__(self, stub):
        self._stub = stub


class FakeAbout:
    apiVersion = '6.5'  # pylint: disable=invalid-name


class FakeContent:
    about = FakeAbout()
    propertyCollector = vim.PropertyCollector('propertyCollector')  # pylint: disable=invalid-name


def client_with(responses):
    client = _vsphere.VSphereClient('vc.example.com', 'admin', 'secret-password')
    client.service_instance = FakeServiceInstance(FakeStub(responses))
    client.content = FakeContent()
    return client


def test_read_time_state_follows_pages_and_builds_managed_objects():
    first = response([host_object('host-1', 'esx1')], token='t1')
    second = response([host_object('host-2', 'esx2', firewall=True)], method='ContinueRetrievePropertiesEx')
    client = client_with([FakeResponse(200, first), FakeResponse(200, gzip.compress(second), encoding='gzip')])
    states = client.read_time_state([vim.HostSystem('host-1'), vim.HostSystem('host-2')])
    stub = client.service_instance._stub  # pylint: disable=protected-access
    assert [request[2] for request in stub.requests] == ['RetrievePropertiesEx []', "ContinueRetrievePropertiesEx ['t1']"]
    assert stub.requests[0][3]['Cookie'] == stub.cookie and stub.requests[0][1] == '/sdk'
    assert stub.returned == 2 and stub.dropped == 0
    assert sorted(states) == ['esx1', 'esx2']
    assert states['esx2']['firewall_enabled'] is True and states['esx1']['firewall_enabled'] is False
    assert states['esx1']['ref']._moId == 'host-1'  # pylint: disable=protected-access
    assert isinstance(states['esx1']['date_time_system'], vim.host.DateTimeSystem)
    assert states['esx1']['date_time_system']._moId == 'datetime-host-1'  # pylint: disable=protected-access
    assert states['esx1']['date_time_system']._stub is stub  # pylint: disable=protected-access
    assert states['esx1']['supports_protocol'] is False


def test_fault_is_decoded_without_secrets():
    client = client_with([FakeResponse(500, FAULT)])
    with pytest.raises(_vsphere.VSphereError) as error:
        client.read_time_state([vim.HostSystem('host-1')])
    assert str(error.value) == ('Reading host properties (RetrievePropertiesEx) failed: MethodNotFound: '
                                'PropertyCollector:propertyCollector does not implement: ContinueRetrievePropertiesEx')
    assert 'secret' not in str(error.value)


def test_http_error_and_broken_xml_are_readable():
    client = client_with([FakeResponse(503, b'busy')])
    with pytest.raises(_vsphere.VSphereError, match=r'^Reading host properties \(RetrievePropertiesEx\) failed: '
                                                    r'vCenter/ESXi vc.example.com:443 answered HTTP 503 Service Unavailable$'):
        client.read_time_state([vim.HostSystem('host-1')])
    client = client_with([FakeResponse(200, response([host_object('host-1', 'esx1')])[:-40])])
    with pytest.raises(_vsphere.VSphereError, match=r'^Reading host properties \(RetrievePropertiesEx\) failed: '
                                                    r'vCenter/ESXi vc.example.com:443 sent XML that does not parse \(unclosed token'):
        client.read_time_state([vim.HostSystem('host-1')])
    assert client.service_instance._stub.dropped == 1  # pylint: disable=protected-access


def test_no_hosts_no_request():
    client = client_with([])
    assert client.read_time_state([]) == {}
    assert client.service_instance._stub.requests == []  # pylint: disable=protected-access


class TruncatedResponse(FakeResponse):
    """An answer whose server died after half of its Content-Length."""

    def __init__(self, body):
        super().__init__(200, body[:len(body) // 2])
        self.length = len(body) - len(body) // 2  # what http.client still expected when the data ended


def test_an_answer_cut_short_is_a_closed_connection_and_stops_the_run():
    client = client_with([TruncatedResponse(response([host_object('host-1', 'esx1')]))])
    with pytest.raises(_vsphere.VSphereError) as error:
        client.read_time_state([vim.HostSystem('host-1')])
    assert str(error.value) == ('Reading host properties (RetrievePropertiesEx) failed: vCenter/ESXi vc.example.com:443 '
                                'closed the connection in the middle of an answer; check that it is still running.')
    with pytest.raises(_vsphere.VSphereError, match='^not attempted: vCenter/ESXi vc.example.com:443 earlier in this run'):
        client.query_date_time(dict(date_time_system=vim.host.DateTimeSystem('dateTimeSystem-1')))


class FakeCollector:
    """RetrievePropertiesEx / ContinueRetrievePropertiesEx answering pages of (moref, {path: value})."""

    def __init__(self, pages):
        self.pages = list(pages)
        self.calls = []

    def _page(self):
        objects, token = self.pages.pop(0)
        return types.SimpleNamespace(token=token, objects=[
            types.SimpleNamespace(obj=obj, propSet=[types.SimpleNamespace(name=name, val=val) for name, val in values.items()])
            for obj, values in objects])

    def RetrievePropertiesEx(self, specSet, options):  # pylint: disable=invalid-name
        self.calls.append(('RetrievePropertiesEx', specSet))
        return self._page()

    def ContinueRetrievePropertiesEx(self, token):  # pylint: disable=invalid-name
        self.calls.append(('ContinueRetrievePropertiesEx', token))
        return self._page()


def test_read_guests_one_call_per_page_from_the_hosts():
    import datetime  # pylint: disable=import-outside-toplevel
    booted = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    host1, host2 = vim.HostSystem('host-1'), vim.HostSystem('host-2')
    collector = FakeCollector([
        ([(host1, {'name': 'esx1', 'runtime.bootTime': booted}),
          (vim.VirtualMachine('vm-1'), {'name': 'win', 'runtime.host': host1, 'runtime.powerState': 'poweredOn',
                                        'runtime.bootTime': booted, 'config.guestFullName': 'Windows',
                                        'config.tools.syncTimeWithHost': False})], 't1'),
        ([(host2, {'name': 'esx2'}),
          (vim.VirtualMachine('vm-2'), {'name': 'lost', 'runtime.host': vim.HostSystem('host-9')})], None),
    ])
    client = client_with([])
    client.content = types.SimpleNamespace(about=FakeAbout(), propertyCollector=collector)
    guests = client.read_guests([host1, host2])
    assert [call[0] for call in collector.calls] == ['RetrievePropertiesEx', 'ContinueRetrievePropertiesEx']
    spec = collector.calls[0][1][0]
    assert [item.obj._moId for item in spec.objectSet] == ['host-1', 'host-2']  # pylint: disable=protected-access
    assert spec.objectSet[0].selectSet[0].path == 'vm'
    assert guests['esx1']['boot_time'] == booted
    assert guests['esx1']['vms'] == [dict(name='win', power_state='poweredOn', boot_time=booted, guest_os='Windows',
                                          tools_time_sync=False)]
    assert guests['esx2'] == dict(name='esx2', boot_time=None, vms=[])
    assert client.read_guests([]) == {}
