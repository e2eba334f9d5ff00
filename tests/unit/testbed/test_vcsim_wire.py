# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The vCenter simulator's wire format, field by field, against a real vCenter 8.0.3 / ESXi 8.0.3.

Starts the simulator (tests/testbed/vcsim, built when needed) on a free loopback port, fetches an
ESXi 8.0.3 host's ``config`` as pyVmomi does (``Fetch``) and compares the elements of
``product``, ``dateTimeInfo``, the ``ntpd`` service and the ``ntpClient`` ruleset with the
recording in ``../shared/recordings/vsphere/`` (read in place, never copied).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import urllib.request
from xml.etree import ElementTree

import pytest

from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.test__vsphere_client import recording

HERE = os.path.dirname(os.path.abspath(__file__))
TESTBED = os.path.normpath(os.path.join(HERE, '..', '..', 'testbed'))
VIM = '{urn:vim25}'
PASSWORD = 'wire-test-only'
# Values that differ by nature (names, builds, times) or by the host's configuration.
FREE_VALUES = {'product/fullName', 'product/build', 'product/patchLevel', 'dateTimeInfo/ntpConfig/server',
               'dateTimeInfo/ntpConfig/configFile', 'dateTimeInfo/ntpDuration', 'dateTimeInfo/ntpRunTime'}


def binary():
    sys.path.insert(0, TESTBED)
    try:
        from testbed.plugins import vcsim  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.remove(TESTBED)
    if vcsim.needs_build():
        if not shutil.which('go') or not os.path.isdir(vcsim.GOVMOMI_SIMULATOR):
            pytest.fail('the simulator needs go and govmomi: run make setup')
        # Go's own build cache (GOCACHE, else ~/.cache/go-build) keeps later builds short
        env = dict(os.environ, GOPATH=vcsim.GOPATH, GO111MODULE='off', GOFLAGS='')
        subprocess.run(['go', 'build', '-o', vcsim.BINARY, '.'], cwd=vcsim.SOURCE_DIR, env=env, check=True,
                       capture_output=True, timeout=300)
    return vcsim.BINARY


# Per test: ansible-test forks for every test, and a module-scoped fixture is torn down only in the
# last fork, so the simulators of the others would keep running.
@pytest.fixture
def simulator():
    process = subprocess.Popen([binary(), '-listen', '127.0.0.1:0', '-clusters', '1', '-hosts-per-cluster', '3',
                                '-standalone-hosts', '0', '-versions', '6.7.0,7.0.3,8.0.3', '-drifted', '0'],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=dict(os.environ, VCSIM_PASSWORD=PASSWORD))
    try:
        line = process.stdout.readline()
        assert line.startswith('vcsim ready on '), line
        port = int(line.split()[3].rsplit(':', 1)[1])
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def unverified():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def control(port, path, body=None):
    request = urllib.request.Request('https://127.0.0.1:%d/fleetfix/%s' % (port, path),
                                     data=None if body is None else json.dumps(body).encode(), method='POST' if body else 'GET')
    with urllib.request.urlopen(request, context=unverified(), timeout=30) as response:  # nosec - local test peer
        return json.load(response)


@pytest.fixture
def session(simulator):
    """A logged-in pyVmomi session: its cookie and each host's moid by name."""
    connect = pytest.importorskip('pyVim.connect')
    vim = pytest.importorskip('pyVmomi').vim
    service_instance = connect.SmartConnect(host='127.0.0.1', port=simulator, user='administrator@vsphere.local',
                                            pwd=PASSWORD, sslContext=unverified())
    try:
        content = service_instance.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
        moids = {host.name: host._moId for host in view.view}  # pylint: disable=protected-access
        yield dict(port=simulator, cookie=service_instance._stub.cookie, moids=moids)  # pylint: disable=protected-access
    finally:
        connect.Disconnect(service_instance)


def fetch(session, moid, prop):
    envelope = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><Fetch xmlns="urn:vim25">'
                '<_this type="HostSystem">%s</_this><prop>%s</prop></Fetch></soapenv:Body></soapenv:Envelope>' % (moid, prop))
    connection = http.client.HTTPSConnection('127.0.0.1', session['port'], context=unverified(), timeout=30)
    try:
        connection.request('POST', '/sdk', envelope, {'Content-Type': 'text/xml', 'SOAPAction': 'urn:vim25/8.0.3.0',
                                                      'Cookie': session['cookie']})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 200, body[:500]
    return body


def fields(element, prefix):
    """``[(path, text)]`` of every leaf below ``element``, in document order."""
    leaves = []
    for child in element:
        path = '%s/%s' % (prefix, child.tag.replace(VIM, ''))
        if len(child):
            leaves.extend(fields(child, path))
        else:
            leaves.append((path, (child.text or '').strip()))
    return leaves


def keyed(element, tag, key):
    matches = [item for item in element.iter(VIM + tag) if item.findtext(VIM + 'key') == key]
    assert len(matches) == 1, (tag, key)
    return matches[0]


def recorded(text, tag):
    return ElementTree.fromstring(text.replace('<%s>' % tag, '<%s xmlns="urn:vim25">' % tag, 1))


def compare(ours, theirs, prefix):
    ours_fields = fields(ours, prefix)
    theirs_fields = fields(theirs, prefix)
    # the same fields in the same order ...
    assert [path for path, _value in ours_fields] == [path for path, _value in theirs_fields]
    # ... with the same values, except those that differ by nature
    assert [(path, value) for path, value in ours_fields if path not in FREE_VALUES] == \
        [(path, value) for path, value in theirs_fields if path not in FREE_VALUES]


def host_of_version(port, version):
    hosts = [host for host in control(port, 'hosts') if host['version'] == version]
    assert hosts, version
    return hosts[0]['name']


def config_of(session, name):
    body = fetch(session, session['moids'][name], 'config')
    return ElementTree.fromstring(body).find('.//%sreturnval' % VIM)


def test_esxi_803_host_matches_the_recording(session):
    data = recording()
    name = host_of_version(session['port'], '8.0.3')
    # the recorded host: servers set, ntpd running with policy off (its ruleset then open), NTP
    control(session['port'], 'hosts/' + name, dict(ntp_servers=['time.vmware.com'], service_running=True, service_policy='off'))
    config = config_of(session, name)
    compare(config.find(VIM + 'product'), recorded(data['config_product'], 'product'), 'product')
    compare(config.find(VIM + 'dateTimeInfo'), recorded(data['config_dateTimeInfo'], 'dateTimeInfo'), 'dateTimeInfo')
    compare(keyed(config.find(VIM + 'service'), 'service', 'ntpd'),
            keyed(recorded(data['config_service'], 'service'), 'service', 'ntpd'), 'service')
    compare(keyed(config.find(VIM + 'firewall'), 'ruleset', 'ntpClient'),
            keyed(recorded(data['config_firewall'], 'firewall'), 'ruleset', 'ntpClient'), 'ruleset')


def test_older_releases_lack_the_newer_fields(session):
    config = config_of(session, host_of_version(session['port'], '6.7.0'))
    date_time = [path for path, _value in fields(config.find(VIM + 'dateTimeInfo'), 'dateTimeInfo')]
    assert not [path for path in date_time if 'systemClockProtocol' in path or 'enabled' in path or 'ptp' in path]
    ruleset = [path for path, _value in fields(keyed(config.find(VIM + 'firewall'), 'ruleset', 'ntpClient'), 'r')]
    assert 'r/userControllable' not in ruleset
    config = config_of(session, host_of_version(session['port'], '7.0.3'))
    date_time = [path for path, _value in fields(config.find(VIM + 'dateTimeInfo'), 'dateTimeInfo')]
    assert 'dateTimeInfo/systemClockProtocol' in date_time and 'dateTimeInfo/enabled' in date_time
    ruleset = [path for path, _value in fields(keyed(config.find(VIM + 'firewall'), 'ruleset', 'ntpClient'), 'r')]
    assert 'r/userControllable' not in ruleset  # API 8.0.2 fields


def test_the_vcenter_answers_as_vsphere_8(simulator):
    connection = http.client.HTTPSConnection('127.0.0.1', simulator, context=unverified(), timeout=30)
    connection.request('GET', '/sdk/vimServiceVersions.xml')
    root = ElementTree.fromstring(connection.getresponse().read())
    connection.close()
    assert root.findtext('namespace/version') == '8.0.3.0'
    assert '7.0.3.0' in [item.text for item in root.iter('version')]
