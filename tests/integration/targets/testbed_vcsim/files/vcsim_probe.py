#!/usr/bin/env python
# Private to this repository's tests: drive the vCenter simulator with pyVmomi.
"""Usage: vcsim_probe.py HOST PORT USER OPERATIONS_JSON (password in $VCSIM_PASSWORD).

OPERATIONS_JSON is a list of operations; the answer, on stdout, is one JSON result per
operation:
  {"op": "login", "password": "..."}            -> {"fault": "InvalidLogin"} or {"ok": true}
  {"op": "state"}                                -> {"hosts": {name: {...what the host shows...}}}
  {"op": "call", "host": H, "method": M, ...}   -> {"ok": true} or {"fault": "...", "message": "..."}
"""

import datetime
import json
import os
import ssl
import sys

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim, vmodl


def connect(host, port, user, password):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return SmartConnect(host=host, port=port, user=user, pwd=password, sslContext=context)


def all_hosts(content):
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.HostSystem], True)
    try:
        return {host.name: host for host in view.view}
    finally:
        view.Destroy()


def host_state(host):
    config = host.config
    service_system = host.configManager.serviceSystem
    date_time_system = host.configManager.dateTimeSystem
    firewall_system = host.configManager.firewallSystem
    state = {'connection_state': str(host.runtime.connectionState)}
    state['product_version'] = config.product.version
    state['protocol'] = config.dateTimeInfo.systemClockProtocol
    state['time_services_enabled'] = config.dateTimeInfo.enabled
    ntp_ruleset = [rule for rule in config.firewall.ruleset if rule.key == 'ntpClient'][0]
    state['firewall_user_controllable'] = ntp_ruleset.userControllable
    state['firewall_ip_configurable'] = ntp_ruleset.ipListUserConfigurable
    ntpd = [service for service in config.service.service if service.key == 'ntpd'][0]
    state['config_ntp_servers'] = list(config.dateTimeInfo.ntpConfig.server or [])
    state['config_time_zone'] = config.dateTimeInfo.timeZone.key
    state['config_service_policy'] = ntpd.policy
    state['config_service_running'] = ntpd.running
    state['config_firewall_enabled'] = [rule.enabled for rule in config.firewall.ruleset if rule.key == 'ntpClient'][0]
    ntp_client = [rule for rule in config.firewall.ruleset if rule.key == 'ntpClient'][0]
    state['config_firewall_allowed'] = {
        'all_ip': ntp_client.allowedHosts.allIp, 'ip_address': list(ntp_client.allowedHosts.ipAddress or [])}
    state['system_ntp_servers'] = list(date_time_system.dateTimeInfo.ntpConfig.server or [])
    system_ntpd = [service for service in service_system.serviceInfo.service if service.key == 'ntpd'][0]
    state['system_service_policy'] = system_ntpd.policy
    state['system_service_running'] = system_ntpd.running
    state['system_firewall_enabled'] = [
        rule.enabled for rule in firewall_system.firewallInfo.ruleset if rule.key == 'ntpClient'][0]
    try:
        before = datetime.datetime.now(datetime.timezone.utc)
        host_time = date_time_system.QueryDateTime()
        after = datetime.datetime.now(datetime.timezone.utc)
        middle = before + (after - before) / 2
        state['offset_seconds'] = round((host_time - middle).total_seconds(), 1)
    except vmodl.MethodFault as fault:
        state['offset_seconds'] = None
        state['query_fault'] = type(fault).__name__.split('.')[-1]
    return state


def call(hosts, operation):
    host = hosts[operation['host']]
    method = operation['method']
    if method in ('UpdateDateTimeConfig',):
        target = host.configManager.dateTimeSystem
        config = vim.host.DateTimeConfig(ntpConfig=vim.host.NtpConfig(server=operation['servers']))
        if 'protocol' in operation:
            config.protocol = operation['protocol']
        if 'enabled' in operation:
            config.enabled = operation['enabled']
        args = {'config': config}
    elif method == 'UpdateDateTime':
        target = host.configManager.dateTimeSystem
        args = {'dateTime': datetime.datetime.now(datetime.timezone.utc)}
    elif method == 'QueryDateTime':
        target = host.configManager.dateTimeSystem
        args = {}
    elif method in ('StartService', 'StopService', 'RestartService'):
        target = host.configManager.serviceSystem
        args = {'id': operation.get('id', 'ntpd')}
    elif method == 'UpdateServicePolicy':
        target = host.configManager.serviceSystem
        args = {'id': operation.get('id', 'ntpd'), 'policy': operation['policy']}
    elif method == 'RefreshServices':
        target = host.configManager.serviceSystem
        args = {}
    elif method in ('EnableRuleset', 'DisableRuleset'):
        target = host.configManager.firewallSystem
        args = {'id': operation.get('id', 'ntpClient')}
    elif method == 'UpdateRuleset':
        target = host.configManager.firewallSystem
        allowed = vim.host.Ruleset.IpList(allIp=operation['all_ip'], ipAddress=operation['ip_address'])
        args = {'id': operation.get('id', 'ntpClient'), 'spec': vim.host.Ruleset.RulesetSpec(allowedHosts=allowed)}
    else:
        raise ValueError('unknown method %s' % method)
    try:
        getattr(target, method)(**args)
    except vmodl.MethodFault as fault:
        return {'fault': type(fault).__name__.split('.')[-1], 'message': fault.msg}
    return {'ok': True}


def main():
    host, port, user, operations = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
    password = os.environ['VCSIM_PASSWORD']
    results = []
    service_instance = None
    try:
        for operation in operations:
            if operation['op'] == 'login':
                try:
                    Disconnect(connect(host, port, user, operation['password']))
                    results.append({'ok': True})
                except vim.fault.InvalidLogin:
                    results.append({'fault': 'InvalidLogin'})
                continue
            if service_instance is None:
                service_instance = connect(host, port, user, password)
            hosts = all_hosts(service_instance.RetrieveContent())
            if operation['op'] == 'about':
                about = service_instance.RetrieveContent().about
                results.append({'api_version': about.apiVersion, 'version': about.version,
                                'negotiated': service_instance._stub.versionId})  # pylint: disable=protected-access
            elif operation['op'] == 'state':
                results.append({'hosts': {name: host_state(hosts[name]) for name in sorted(hosts)}})
            elif operation['op'] == 'call':
                results.append(call(hosts, operation))
            else:
                raise ValueError('unknown operation %r' % operation)
    finally:
        if service_instance is not None:
            Disconnect(service_instance)
    json.dump(results, sys.stdout)


if __name__ == '__main__':
    main()
