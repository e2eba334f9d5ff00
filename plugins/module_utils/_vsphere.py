# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The one pyVmomi client of the collection: connection options, login, host reads and writes.

Modules never import pyVmomi; they build their argument spec with ``vsphere_argument_spec``
and ``host_scope_argument_spec`` and talk to vCenter (or a single ESXi host) through
``VSphereClient``. Every error leaves this file as ``VSphereError`` with a sentence a person
can act on and never a secret.
"""

from __future__ import annotations

import functools
import http.client
import io
import ipaddress
import math
import re
import socket
import ssl
import threading
import traceback
import zlib
from xml.etree import ElementTree

from ansible.module_utils.basic import env_fallback, missing_required_lib

PYVMOMI_IMPORT_ERROR = None
try:
    from pyVim import connect as pyvim_connect
    from pyVmomi import SoapAdapter, VmomiSupport, vim, vmodl
except ImportError:
    PYVMOMI_IMPORT_ERROR = traceback.format_exc()
    HAS_PYVMOMI = False
else:
    HAS_PYVMOMI = True


NTP_SERVICE_KEY = 'ntpd'
NTP_RULESET_KEY = 'ntpClient'

# Only what the decision needs. config.service and config.firewall are whole lists (about 30
# services and 40 rulesets per host, 24 kB of XML); neither govmomi nor pyVmomi offers a
# smaller path to one ruleset's state, so their responses are parsed by read_time_state's
# streaming reader, which keeps only the ntpd service and the ntpClient ruleset.
HOST_PROPERTIES = [
    'name',
    'runtime.connectionState',
    'config.product.apiVersion',
    'config.product.version',
    'config.dateTimeInfo',
    'config.service',
    'config.firewall',
    'configManager.dateTimeSystem',
    'configManager.serviceSystem',
    'configManager.firewallSystem',
]

VIM_NAMESPACE = 'urn:vim25'
_VIM = {'vim': VIM_NAMESPACE}
_OBJECTS_TAG = '{%s}objects' % VIM_NAMESPACE
_RETURNVAL_TAG = '{%s}returnval' % VIM_NAMESPACE
READ_CHUNK_BYTES = 1 << 16

DEFAULT_CONNECT_TIMEOUT = 30.0
DEFAULT_REQUEST_TIMEOUT = 300.0
# A DNS label as vCenter and ESXi accept it (ASCII only: no IDNA surprises before connecting)
_HOST_LABEL = re.compile(r'^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$')


def vsphere_argument_spec():
    """The connection options documented by the ``fleetfix.remediate.vsphere`` doc fragment."""
    return dict(
        hostname=dict(type='str', fallback=(env_fallback, ['VMWARE_HOST'])),
        username=dict(type='str', aliases=['user', 'admin'], fallback=(env_fallback, ['VMWARE_USER'])),
        password=dict(type='str', aliases=['pass', 'pwd'], no_log=True, fallback=(env_fallback, ['VMWARE_PASSWORD'])),
        port=dict(type='int', default=443, fallback=(env_fallback, ['VMWARE_PORT'])),
        validate_certs=dict(type='bool', default=True, fallback=(env_fallback, ['VMWARE_VALIDATE_CERTS'])),
        proxy_host=dict(type='str', fallback=(env_fallback, ['VMWARE_PROXY_HOST'])),
        proxy_port=dict(type='int', fallback=(env_fallback, ['VMWARE_PROXY_PORT'])),
        connect_timeout=dict(type='float', default=DEFAULT_CONNECT_TIMEOUT),
        request_timeout=dict(type='float', default=DEFAULT_REQUEST_TIMEOUT),
    )


def _is_host_name(name):
    """An IPv4/IPv6 address (IPv6 optionally in brackets) or an ASCII DNS name."""
    if not isinstance(name, str) or not name or len(name) > 253:
        return False
    bare = name[1:-1] if name.startswith('[') and name.endswith(']') else name
    try:
        ipaddress.ip_address(bare)
        return True
    except ValueError:
        pass
    labels = (name[:-1] if name.endswith('.') else name).split('.')
    if all(label.isdigit() for label in labels):
        return False  # a broken IPv4 address such as 10.0.0.256
    return all(_HOST_LABEL.match(label) for label in labels)


def _is_port(port):
    return isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535


def _is_timeout(seconds):
    return isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and math.isfinite(seconds) and seconds > 0


def validate_connection(hostname, port, proxy_host=None, proxy_port=None,
                        connect_timeout=DEFAULT_CONNECT_TIMEOUT, request_timeout=DEFAULT_REQUEST_TIMEOUT):
    """Refuse connection options that cannot work, before any connection is made."""
    if not hostname:
        raise VSphereError('No vCenter or ESXi host name given: set hostname or the VMWARE_HOST environment variable.')
    shown = hostname if len(hostname) <= 80 else hostname[:77] + '...'
    if not _is_host_name(hostname):
        raise VSphereError('hostname %r is neither a DNS name (ASCII letters, digits, hyphens, at most 253 characters) '
                           'nor an IP address; give the vCenter or ESXi host name without scheme, port or path.' % shown)
    if not _is_port(port):
        raise VSphereError('port must be a TCP port from 1 to 65535, not %r.' % (port,))
    if proxy_host is not None and not _is_host_name(proxy_host):
        raise VSphereError('proxy_host %r is neither a DNS name nor an IP address.' % (
            proxy_host if len(proxy_host) <= 80 else proxy_host[:77] + '...'))
    if proxy_port is not None and not _is_port(proxy_port):
        raise VSphereError('proxy_port must be a TCP port from 1 to 65535, not %r.' % (proxy_port,))
    if proxy_port is not None and not proxy_host:
        raise VSphereError('proxy_port is set but proxy_host is not: set both to use a proxy, or neither.')
    for name, seconds in (('connect_timeout', connect_timeout), ('request_timeout', request_timeout)):
        if not _is_timeout(seconds):
            raise VSphereError('%s must be a number of seconds above 0, not %r.' % (name, seconds))


def host_scope_argument_spec():
    """The host scope options documented by the ``fleetfix.remediate.vsphere.HOST_SCOPE`` fragment."""
    return dict(
        esxi_hostnames=dict(type='list', elements='str'),
        cluster_name=dict(type='str'),
        datacenter=dict(type='str', aliases=['datacenter_name']),
    )


class VSphereError(Exception):
    """A readable failure of a vSphere call; the message never holds a secret."""


def check_library(module):
    """Fail the module once, with the traceback, when pyVmomi is missing."""
    if not HAS_PYVMOMI:
        module.fail_json(msg=missing_required_lib('pyvmomi'), exception=PYVMOMI_IMPORT_ERROR)


def describe_fault(error):
    """A short sentence for a vSphere fault or a transport error (no secrets, no traceback)."""
    if HAS_PYVMOMI and isinstance(error, vmodl.MethodFault):
        name = type(error).__name__.split('.')[-1]
        message = getattr(error, 'msg', None) or ''
        fault_messages = getattr(error, 'faultMessage', None) or []
        details = [getattr(item, 'message', None) for item in fault_messages]
        details = [detail for detail in details if detail]
        text = '; '.join([message] + details if message else details)
        return '%s: %s' % (name, text) if text else name
    return '%s: %s' % (type(error).__name__, error)


def describe_transport_error(error, where, timeout):
    """A sentence for a socket, TLS or HTTP failure talking to ``where``."""
    if isinstance(error, (socket.timeout, TimeoutError)):
        return ('%s did not answer within %s seconds; check that it is up and not overloaded, '
                'or raise request_timeout' % (where, _seconds(timeout)))
    if isinstance(error, ConnectionRefusedError):
        return '%s refused the connection; check that it is running and that port is right' % where
    if isinstance(error, (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
                          http.client.IncompleteRead)):
        return '%s closed the connection in the middle of an answer; check that it is still running' % where
    if isinstance(error, socket.gaierror):
        return 'the name of %s does not resolve (%s); check hostname and the controller\'s DNS' % (where, error.strerror or error)
    if isinstance(error, ssl.SSLError):
        return 'TLS error talking to %s: %s' % (where, error.reason or error)
    if isinstance(error, OSError):
        return 'cannot talk to %s: %s' % (where, error.strerror or error)
    if isinstance(error, http.client.HTTPException):
        return '%s sent an answer that is not HTTP (%s: %s); check port' % (where, type(error).__name__, error)
    return '%s: %s: %s' % (where, type(error).__name__, error)


def _seconds(value):
    return ('%g' % value) if isinstance(value, (int, float)) else str(value)


TRANSPORT_ERRORS = (OSError, http.client.HTTPException)


def _version_tuple(version):
    parts = []
    for part in str(version or '').split('.'):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def api_at_least(version, minimum):
    """Whether the dotted ``version`` is ``minimum`` or later (unknown versions are not)."""
    actual = _version_tuple(version)
    return bool(actual) and actual >= _version_tuple(minimum)


class RetrieveResultReader:
    """Streams one RetrievePropertiesEx / ContinueRetrievePropertiesEx response.

    pyVmomi turns every element of a response into a typed object (about 7 s of CPU for the
    config.firewall of 2,000 hosts); this reader parses with the C expat parser of
    ElementTree while the bytes arrive, hands each ``<objects>`` element to ``convert`` and
    then drops it, so only what ``convert`` keeps stays in memory. ``convert(moid, values)``
    gets the object's ``moId`` and ``{property path: <val> element}``; a property the server
    could not read (``missingSet``) is absent, as with pyVmomi.
    """

    def __init__(self, convert):
        self._convert = convert
        self._parser = ElementTree.XMLPullParser(events=('end',))
        self.rows = []
        self.token = None

    def feed(self, data):
        self._parser.feed(data)
        self._drain()

    def close(self):
        self._parser.close()
        self._drain()
        return self.rows, self.token

    def _drain(self):
        for _event, element in self._parser.read_events():
            if element.tag == _OBJECTS_TAG:
                moid = element.findtext('vim:obj', None, _VIM)
                values = {}
                for prop in element.iterfind('vim:propSet', _VIM):
                    values[prop.findtext('vim:name', None, _VIM)] = prop.find('vim:val', _VIM)
                self.rows.append(self._convert(moid, values))
                element.clear()
            elif element.tag == _RETURNVAL_TAG:
                self.token = element.findtext('vim:token', None, _VIM)


def _text(element, path):
    return None if element is None else element.findtext(path, None, _VIM)


def _xml_bool(text):
    return None if text is None else text.strip() == 'true'


def _keyed_item(element, item_tag, key):
    """The child ``item_tag`` of ``element`` whose ``key`` is ``key``, or None."""
    if element is None:
        return None
    for item in element.iterfind('vim:%s' % item_tag, _VIM):
        if item.findtext('vim:key', None, _VIM) == key:
            return item
    return None


def parse_time_state(moid, values):
    """Plain values of one host from its ``<val>`` elements (see ``HOST_PROPERTIES``).

    Fields a host's release does not send (``protocol``, ``ntp_enabled`` before 7.0.3,
    ``firewall_user_controllable`` before API 8.0.2) are None.
    """
    date_time = values.get('config.dateTimeInfo')
    servers = [] if date_time is None else [server.text or '' for server in date_time.iterfind('vim:ntpConfig/vim:server', _VIM)]
    ntp_service = _keyed_item(values.get('config.service'), 'service', NTP_SERVICE_KEY)
    ntp_ruleset = _keyed_item(values.get('config.firewall'), 'ruleset', NTP_RULESET_KEY)
    allowed = None if ntp_ruleset is None else ntp_ruleset.find('vim:allowedHosts', _VIM)
    return dict(
        moid=moid,
        name=_text(values.get('name'), '.'),
        connection_state=_text(values.get('runtime.connectionState'), '.') or 'unknown',
        api_version=_text(values.get('config.product.apiVersion'), '.'),
        product_version=_text(values.get('config.product.version'), '.'),
        ntp_servers=servers,
        protocol=_text(date_time, 'vim:systemClockProtocol'),
        ntp_enabled=_xml_bool(_text(date_time, 'vim:enabled')),
        time_zone=_text(date_time, 'vim:timeZone/vim:key'),
        service_policy=_text(ntp_service, 'vim:policy'),
        service_running=bool(_xml_bool(_text(ntp_service, 'vim:running'))),
        service_present=ntp_service is not None,
        firewall_enabled=_xml_bool(_text(ntp_ruleset, 'vim:enabled')),
        firewall_user_controllable=_xml_bool(_text(ntp_ruleset, 'vim:userControllable')),
        firewall_ip_configurable=_xml_bool(_text(ntp_ruleset, 'vim:ipListUserConfigurable')),
        firewall_all_ip=True if allowed is None else bool(_xml_bool(_text(allowed, 'vim:allIp'))),
        firewall_allowed_ips=[] if allowed is None else [item.text or '' for item in allowed.iterfind('vim:ipAddress', _VIM)],
        date_time_system=_text(values.get('configManager.dateTimeSystem'), '.'),
        service_system=_text(values.get('configManager.serviceSystem'), '.'),
        firewall_system=_text(values.get('configManager.firewallSystem'), '.'),
    )


def _guarded(what):
    """Turn every pyVmomi and transport error of a client method into a ``VSphereError`` naming the vCenter."""
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            self.check_alive()
            try:
                return method(self, *args, **kwargs)
            except VSphereError:
                raise
            except vmodl.MethodFault as error:
                raise VSphereError('%s on %s failed: %s.' % (what, self.where, describe_fault(error))) from None
            except TRANSPORT_ERRORS as error:
                raise VSphereError('%s failed: %s.' % (what, self.lost(error))) from None
        return wrapper
    return decorate


class VSphereClient:
    """One login to vCenter or ESXi per module run, shared by every worker thread.

    Every call waits at most ``request_timeout`` seconds for each answer (the connection and
    version discovery ``connect_timeout``). Once the server stops answering (timeout, refused,
    reset), later calls fail at once with the same reason instead of waiting again.
    """

    def __init__(self, hostname, username, password, port=443, validate_certs=True,
                 proxy_host=None, proxy_port=None, pool_size=None,
                 connect_timeout=DEFAULT_CONNECT_TIMEOUT, request_timeout=DEFAULT_REQUEST_TIMEOUT):
        validate_connection(hostname, port, proxy_host, proxy_port, connect_timeout, request_timeout)
        if not username:
            raise VSphereError('No user name given: set username or the VMWARE_USER environment variable.')
        if password is None:
            raise VSphereError('No password given: set password or the VMWARE_PASSWORD environment variable.')
        self.hostname = hostname
        self.username = username
        self._password = password
        self.port = port
        self.validate_certs = validate_certs
        self.proxy_host = proxy_host
        self.proxy_port = proxy_port if proxy_port is not None else (80 if proxy_host else None)
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.service_instance = None
        self.content = None
        self.negotiated_version = None
        self._lost_reason = None
        self._lost_lock = threading.Lock()

    @property
    def where(self):
        return 'vCenter/ESXi %s:%s' % (self.hostname, self.port)

    # ---- a server that stopped answering -----------------------------------------------

    def lost(self, error):
        """Record (once) that the server stopped answering; return the sentence for ``error``."""
        reason = describe_transport_error(error, self.where, self.request_timeout)
        if isinstance(error, (socket.timeout, TimeoutError, ConnectionError, http.client.RemoteDisconnected,
                              http.client.IncompleteRead)):
            with self._lost_lock:
                if self._lost_reason is None:
                    self._lost_reason = reason
        return reason

    def check_alive(self):
        if self._lost_reason is not None:
            raise VSphereError('not attempted: %s earlier in this run (%s)' % (self.where, self._lost_reason))

    # ---- login ----------------------------------------------------------------------------

    def _ssl_context(self):
        # An explicit context always: pyVim silently skips validation for localhost otherwise.
        if self.validate_certs:
            return ssl.create_default_context()
        return ssl._create_unverified_context()  # pylint: disable=protected-access

    def _discover_version(self, context):
        """The newest API version both pyVmomi and the server speak (/sdk/vimServiceVersions.xml).

        pyVim's own discovery has no timeout; this one waits ``connect_timeout`` at most.
        """
        host = self.hostname[1:-1] if self.hostname.startswith('[') else self.hostname
        if self.proxy_host:
            connection = http.client.HTTPSConnection(self.proxy_host, self.proxy_port, context=context,
                                                     timeout=self.connect_timeout)
            connection.set_tunnel(host, self.port)
        else:
            connection = http.client.HTTPSConnection(host, self.port, context=context, timeout=self.connect_timeout)
        try:
            connection.request('GET', '/sdk/vimServiceVersions.xml')
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise VSphereError('%s is not a vSphere API endpoint: /sdk/vimServiceVersions.xml answered HTTP %s %s; '
                               'check hostname and port.' % (self.where, response.status, response.reason))
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            raise VSphereError('%s is not a vSphere API endpoint: /sdk/vimServiceVersions.xml is not XML; '
                               'check hostname and port.' % self.where) from None
        offered = set()
        for namespace in root.iter('namespace'):
            if namespace.findtext('name') == 'urn:vim25':
                offered.update(version.text for version in namespace.iter('version'))
        for version in VmomiSupport.GetServiceVersions('vim25'):
            if VmomiSupport.versionIdMap.get(version) in offered:
                return version
        raise VSphereError('%s offers API versions %s, none of which this pyVmomi speaks; update pyVmomi.' % (
            self.where, ', '.join(sorted(offered)) or '(none)'))

    def _describe_connect_error(self, error):
        if self.proxy_host:
            proxy = 'the HTTP proxy %s:%s' % (self.proxy_host, self.proxy_port)
            if isinstance(error, OSError) and 'Tunnel connection failed' in str(error):
                return '%s could not open a tunnel to %s (%s); check that the proxy may reach it' % (proxy, self.where, error)
            if isinstance(error, (socket.timeout, TimeoutError)):
                return 'neither %s nor %s answered within %s seconds; check the proxy and connect_timeout' % (
                    proxy, self.where, _seconds(self.connect_timeout))
            return describe_transport_error(error, proxy, self.connect_timeout) + ' (the proxy, not the vCenter)'
        if isinstance(error, (socket.timeout, TimeoutError)):
            return ('%s did not answer within %s seconds (connect_timeout); check that it is up and that no '
                    'firewall drops the connection' % (self.where, _seconds(self.connect_timeout)))
        return describe_transport_error(error, self.where, self.connect_timeout)

    def connect(self):
        context = self._ssl_context()
        try:
            version = self._discover_version(context)
        except VSphereError:
            raise
        except ssl.SSLCertVerificationError as error:
            raise VSphereError('Cannot validate the TLS certificate of %s (%s). Install a certificate the controller trusts, '
                               'or set validate_certs: false if you accept the risk.' % (self.where, error.verify_message)) from None
        except TRANSPORT_ERRORS as error:
            raise VSphereError('Cannot connect: %s.' % self._describe_connect_error(error)) from None
        options = dict(host=self.hostname, port=self.port, user=self.username, pwd=self._password, version=version,
                       sslContext=context, disableSslCertValidation=not self.validate_certs,
                       httpConnectionTimeout=self.request_timeout)
        if self.proxy_host:
            options.update(httpProxyHost=self.proxy_host, httpProxyPort=self.proxy_port)
        try:
            self.service_instance = pyvim_connect.Connect(**options)
            self.content = self.service_instance.RetrieveContent()
        except vim.fault.InvalidLogin:
            raise VSphereError('Cannot log in to %s as %s: it rejected the user name or password.' % (self.where, self.username)) from None
        except ssl.SSLCertVerificationError as error:
            raise VSphereError('Cannot validate the TLS certificate of %s (%s). Install a certificate the controller trusts, '
                               'or set validate_certs: false if you accept the risk.' % (self.where, error.verify_message)) from None
        except vmodl.MethodFault as error:
            raise VSphereError('Cannot log in to %s: %s.' % (self.where, describe_fault(error))) from None
        except TRANSPORT_ERRORS as error:
            raise VSphereError('Cannot log in: %s.' % describe_transport_error(error, self.where, self.request_timeout)) from None
        self.negotiated_version = VmomiSupport.versionIdMap.get(version)
        if self.pool_size:
            # pyVmomi keeps 5 idle connections; with more worker threads every extra call would
            # open (and close) a TLS connection of its own
            stub = self.service_instance._stub  # pylint: disable=protected-access
            stub.poolSize = max(getattr(stub, 'poolSize', 0), self.pool_size)
        return self

    def disconnect(self):
        if self.service_instance is not None:
            if self._lost_reason is None:
                try:
                    pyvim_connect.Disconnect(self.service_instance)
                except Exception:  # pylint: disable=broad-exception-caught
                    pass  # the session times out on its own; a failed logout must not fail the run
            self.service_instance = None

    @property
    def api_version(self):
        """The API version both sides use: the lower of the server's and the negotiated one."""
        server = self.content.about.apiVersion
        if self.negotiated_version and _version_tuple(self.negotiated_version) < _version_tuple(server):
            return self.negotiated_version
        return server

    # ---- reads -------------------------------------------------------------------------

    @staticmethod
    def _retrieve_request(object_specs, obj_type, path_set):
        """The filter spec and options of one RetrievePropertiesEx for ``path_set`` of ``object_specs``."""
        prop_spec = vmodl.query.PropertyCollector.PropertySpec(type=obj_type, pathSet=path_set, all=False)
        filter_spec = vmodl.query.PropertyCollector.FilterSpec(objectSet=object_specs, propSet=[prop_spec])
        return filter_spec, vmodl.query.PropertyCollector.RetrieveOptions(maxObjects=5000)

    def _retrieve(self, object_specs, obj_type, path_set):
        """RetrievePropertiesEx plus ContinueRetrievePropertiesEx pages: one round trip per page."""
        collector = self.content.propertyCollector
        filter_spec, options = self._retrieve_request(object_specs, obj_type, path_set)
        rows = []
        result = collector.RetrievePropertiesEx(specSet=[filter_spec], options=options)
        while result is not None:
            for obj in result.objects:
                values = {prop.name: prop.val for prop in (obj.propSet or [])}
                rows.append((obj.obj, values))
            if not result.token:
                break
            result = collector.ContinueRetrievePropertiesEx(token=result.token)
        return rows

    def _container_rows(self, container, obj_type, path_set):
        view = self.content.viewManager.CreateContainerView(container, [obj_type], True)
        try:
            traversal = vmodl.query.PropertyCollector.TraversalSpec(
                name='view', path='view', skip=False, type=vim.view.ContainerView)
            object_spec = vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[traversal])
            return self._retrieve([object_spec], obj_type, path_set)
        finally:
            if self._lost_reason is None:
                view.DestroyView()

    @_guarded('Finding the hosts in scope')
    def find_hosts(self, esxi_hostnames=None, cluster_name=None, datacenter=None):
        """The host objects in scope: ``[(moref, name)]`` in name order.

        Unknown datacenter, cluster or host names raise ``VSphereError`` naming them. An empty
        ``esxi_hostnames`` list (not None) is an empty scope: no host, no read.
        """
        if esxi_hostnames is not None and len(esxi_hostnames) == 0:
            return []
        container = self.content.rootFolder
        if datacenter:
            matches = [obj for obj, values in self._container_rows(container, vim.Datacenter, ['name'])
                       if values.get('name') == datacenter]
            if not matches:
                raise VSphereError('Datacenter %s not found on %s.' % (datacenter, self.hostname))
            container = matches[0]
        if cluster_name:
            matches = [obj for obj, values in self._container_rows(container, vim.ClusterComputeResource, ['name'])
                       if values.get('name') == cluster_name]
            if not matches:
                where = ' in datacenter %s' % datacenter if datacenter else ''
                raise VSphereError('Cluster %s not found%s on %s.' % (cluster_name, where, self.hostname))
            container = matches[0]
        hosts = [(obj, values.get('name')) for obj, values in self._container_rows(container, vim.HostSystem, ['name'])]
        if esxi_hostnames:
            by_name = {}
            for obj, name in hosts:
                by_name.setdefault(name.lower(), (obj, name))
            missing = [name for name in esxi_hostnames if name.lower() not in by_name]
            if missing:
                raise VSphereError('ESXi host%s not found in the given scope: %s.' % (
                    's' if len(missing) > 1 else '', ', '.join(missing)))
            seen = set()
            hosts = []
            for name in esxi_hostnames:
                if name.lower() not in seen:
                    seen.add(name.lower())
                    hosts.append(by_name[name.lower()])
        return sorted(hosts, key=lambda host: host[1])

    @_guarded('Reading the hosts\' time settings')
    def read_time_state(self, host_refs):
        """The NTP-related state of ``host_refs`` in one PropertyCollector call (plus pages).

        Returns ``{name: state}`` dicts with plain Python values the decisions use.
        """
        if not host_refs:
            return {}
        object_specs = [vmodl.query.PropertyCollector.ObjectSpec(obj=ref, skip=False) for ref in host_refs]
        refs_by_id = {ref._moId: ref for ref in host_refs}  # pylint: disable=protected-access
        states = {}
        for values in self._retrieve_streamed(object_specs, vim.HostSystem, HOST_PROPERTIES, parse_time_state):
            states[values['name']] = self._time_state(refs_by_id.get(values.pop('moid')), values)
        return states

    def read_guests(self, host_refs):
        """The VMs of ``host_refs`` and the hosts' boot times, in one PropertyCollector call (plus pages).

        Returns ``{host name: {'boot_time': datetime or None, 'vms': [vm dict]}}``; each VM dict has
        ``name``, ``power_state``, ``boot_time`` (datetime or None), ``guest_os`` and ``tools_time_sync``.
        """
        if not host_refs:
            return {}
        collector = self.content.propertyCollector
        query = vmodl.query.PropertyCollector
        to_vms = query.TraversalSpec(name='host_vms', type=vim.HostSystem, path='vm', skip=False)
        object_specs = [query.ObjectSpec(obj=ref, skip=False, selectSet=[to_vms]) for ref in host_refs]
        prop_specs = [
            query.PropertySpec(type=vim.HostSystem, pathSet=['name', 'runtime.bootTime'], all=False),
            query.PropertySpec(type=vim.VirtualMachine, all=False, pathSet=[
                'name', 'runtime.host', 'runtime.powerState', 'runtime.bootTime', 'config.guestFullName',
                'config.tools.syncTimeWithHost']),
        ]
        filter_spec = query.FilterSpec(objectSet=object_specs, propSet=prop_specs)
        options = query.RetrieveOptions(maxObjects=5000)
        hosts_by_id, vms = {}, []
        try:
            result = collector.RetrievePropertiesEx(specSet=[filter_spec], options=options)
            while result is not None:
                for obj in result.objects:
                    values = {prop.name: prop.val for prop in (obj.propSet or [])}
                    if isinstance(obj.obj, vim.HostSystem):
                        hosts_by_id[obj.obj._moId] = dict(  # pylint: disable=protected-access
                            name=values.get('name'), boot_time=values.get('runtime.bootTime'), vms=[])
                    else:
                        vms.append(values)
                if not result.token:
                    break
                result = collector.ContinueRetrievePropertiesEx(token=result.token)
        except vmodl.MethodFault as error:
            raise VSphereError('Reading the VMs of the hosts failed: %s' % describe_fault(error)) from None
        except (OSError, ssl.SSLError) as error:
            raise VSphereError('Reading the VMs of the hosts failed: %s' % error) from None
        for values in vms:
            host = values.get('runtime.host')
            owner = hosts_by_id.get(host._moId) if host is not None else None  # pylint: disable=protected-access
            if owner is None:
                continue
            owner['vms'].append(dict(name=values.get('name'), power_state=str(values.get('runtime.powerState') or ''),
                                     boot_time=values.get('runtime.bootTime'), guest_os=values.get('config.guestFullName'),
                                     tools_time_sync=values.get('config.tools.syncTimeWithHost')))
        return {host['name']: host for host in hosts_by_id.values()}

    def _time_state(self, ref, values):
        stub = self.service_instance._stub  # pylint: disable=protected-access
        systems = (('date_time_system', vim.host.DateTimeSystem), ('service_system', vim.host.ServiceSystem),
                   ('firewall_system', vim.host.FirewallSystem))
        for field, managed_type in systems:
            values[field] = managed_type(values[field], stub) if values[field] else None
        values.update(ref=ref, supports_protocol=api_at_least(self.api_version, '7.0.3') and api_at_least(values['api_version'], '7.0.3'))
        return values

    def _retrieve_streamed(self, object_specs, obj_type, path_set, convert):
        """Like ``_retrieve``, but each object goes through ``convert`` (see ``RetrieveResultReader``)."""
        collector = self.content.propertyCollector
        filter_spec, options = self._retrieve_request(object_specs, obj_type, path_set)
        rows, token = self._call_streamed(collector, 'RetrievePropertiesEx', [[filter_spec], options], convert)
        while token:
            more, token = self._call_streamed(collector, 'ContinueRetrievePropertiesEx', [token], convert)
            rows.extend(more)
        return rows

    def _call_streamed(self, managed_object, method_name, args, convert):
        """One SOAP call sent as pyVmomi sends it (same request, session and connection pool),
        its response read by ``RetrieveResultReader``; a fault is decoded by pyVmomi."""
        stub = self.service_instance._stub  # pylint: disable=protected-access
        info = type(managed_object)._GetMethodInfo(method_name)  # pylint: disable=protected-access
        what = 'Reading host properties (%s)' % method_name
        headers = {'Cookie': stub.cookie, 'SOAPAction': stub.versionId,
                   'Content-Type': 'text/xml; charset=UTF-8', 'Accept-Encoding': 'identity'}
        headers.update(getattr(stub, '_customHeaders', None) or {})
        request = stub.SerializeRequest(managed_object, info, args)
        connection = stub.GetConnection()
        try:
            connection.request('POST', stub.path, request, headers)
            response = connection.getresponse()
            encoding = (response.getheader('Content-Encoding') or 'identity').lower()
            # wbits 47: zlib or gzip header, whichever the server sent
            decompressor = zlib.decompressobj(47) if encoding in ('gzip', 'deflate') else None
            if response.status != 200:
                body = response.read()
                connection.close()
                if decompressor is not None:
                    body = decompressor.decompress(body)
                self._raise_fault(what, response, body, info)
            reader = RetrieveResultReader(convert)
            while True:
                chunk = response.read(READ_CHUNK_BYTES)
                if not chunk:
                    break
                reader.feed(decompressor.decompress(chunk) if decompressor is not None else chunk)
            if getattr(response, 'length', None):
                # http.client ends a read short of Content-Length quietly: the server died mid-answer
                raise http.client.IncompleteRead(b'', response.length)
            result = reader.close()
        except TRANSPORT_ERRORS as error:
            connection.close()
            stub.DropConnections()
            raise VSphereError('%s failed: %s.' % (what, self.lost(error))) from None
        except ElementTree.ParseError as error:
            connection.close()
            stub.DropConnections()
            raise VSphereError('%s failed: %s sent XML that does not parse (%s).' % (what, self.where, error)) from None
        stub.ReturnConnection(connection)
        return result

    def _raise_fault(self, what, response, body, info):
        if response.status == 500:
            try:
                fault = SoapAdapter.SoapResponseDeserializer(self.service_instance._stub).Deserialize(  # pylint: disable=protected-access
                    io.BytesIO(body), info.result)
            except Exception:  # pylint: disable=broad-exception-caught
                fault = None  # not a SOAP fault: report the HTTP status below
            if isinstance(fault, vmodl.MethodFault):
                raise VSphereError('%s failed: %s' % (what, describe_fault(fault)))
        raise VSphereError('%s failed: %s answered HTTP %s %s' % (what, self.where, response.status, response.reason))

    # ---- per-host calls (each raises VSphereError) ---------------------------------------

    def _call(self, what, method, *args, **kwargs):
        self.check_alive()
        try:
            return method(*args, **kwargs)
        except vmodl.MethodFault as error:
            raise VSphereError('%s failed: %s' % (what, describe_fault(error))) from None
        except TRANSPORT_ERRORS as error:
            raise VSphereError('%s failed: %s' % (what, self.lost(error))) from None

    def query_date_time(self, state):
        return self._call('QueryDateTime', state['date_time_system'].QueryDateTime)

    def update_date_time(self, state, when):
        return self._call('UpdateDateTime', state['date_time_system'].UpdateDateTime, dateTime=when)

    def update_ntp(self, state, servers, protocol=None, enabled=None):
        """UpdateDateTimeConfig with the servers; ``protocol``/``enabled`` only where the host's API has them (7.0.3)."""
        config = vim.host.DateTimeConfig(ntpConfig=vim.host.NtpConfig(server=list(servers)))
        if state.get('supports_protocol'):
            if protocol is not None:
                config.protocol = protocol
            if enabled is not None:
                config.enabled = enabled
        elif protocol is not None or enabled is not None:
            raise VSphereError('UpdateDateTimeConfig not sent: ESXi %s (API %s) has no time protocol setting (vSphere 7.0.3)'
                               % (state.get('product_version') or '?', state.get('api_version') or '?'))
        return self._call('UpdateDateTimeConfig', state['date_time_system'].UpdateDateTimeConfig, config=config)

    def update_service_policy(self, state, policy):
        return self._call('UpdateServicePolicy', state['service_system'].UpdateServicePolicy, id=NTP_SERVICE_KEY, policy=policy)

    def start_service(self, state):
        return self._call('StartService', state['service_system'].StartService, id=NTP_SERVICE_KEY)

    def stop_service(self, state):
        return self._call('StopService', state['service_system'].StopService, id=NTP_SERVICE_KEY)

    def restart_service(self, state):
        return self._call('RestartService', state['service_system'].RestartService, id=NTP_SERVICE_KEY)

    def set_ruleset(self, state, enabled):
        firewall = state['firewall_system']
        if enabled:
            return self._call('EnableRuleset', firewall.EnableRuleset, id=NTP_RULESET_KEY)
        return self._call('DisableRuleset', firewall.DisableRuleset, id=NTP_RULESET_KEY)

    def set_ruleset_allowed_hosts(self, state, addresses):
        """UpdateRuleset of ntpClient: ``addresses`` only (a list), or every address (None)."""
        if addresses is None:
            allowed = vim.host.Ruleset.IpList(allIp=True)
        else:
            allowed = vim.host.Ruleset.IpList(allIp=False, ipAddress=list(addresses))
        spec = vim.host.Ruleset.RulesetSpec(allowedHosts=allowed)
        return self._call('UpdateRuleset', state['firewall_system'].UpdateRuleset, id=NTP_RULESET_KEY, spec=spec)


def connect_from_module(module):
    """Check the library, log in once with the module's connection options, or fail readably."""
    check_library(module)
    params = module.params
    try:
        return VSphereClient(params['hostname'], params['username'], params['password'], port=params['port'],
                             validate_certs=params['validate_certs'], proxy_host=params['proxy_host'],
                             proxy_port=params['proxy_port'], pool_size=params.get('max_workers'),
                             connect_timeout=params['connect_timeout'], request_timeout=params['request_timeout']).connect()
    except VSphereError as error:
        module.fail_json(msg=str(error))
