#!/usr/bin/env python
# Private to this test: the capability roles' results for a large estate, as the roles leave them
# (esxi_time_result per vCenter, dcom_10009_result per Exchange server, federation_dns_result on the
# controller), written as a JSON vars file. Deterministic: every tenth ESXi host was changed, every
# hundredth is still drifted, every fiftieth Exchange server failed, every twentieth domain lacks its
# proof on one nameserver.
from __future__ import annotations

import json
import sys


def esxi_host(number):
    name = 'esx-%04d.corp.fleetfix.test' % number
    changed = number % 10 == 0
    drifted = number % 100 == 7
    good = {'ntp_servers': ['dc1.corp.fleetfix.test', 'dc2.corp.fleetfix.test'], 'service_policy': 'on',
            'service_running': True, 'firewall_enabled': True, 'protocol': None}
    before = dict(good, ntp_servers=[], service_policy='off', service_running=False) if changed else good
    offset = 95.0 + number / 100.0 if drifted else round(((number * 37) % 200 - 100) / 1000.0, 3)
    return {
        'name': name, 'changed': changed, 'skipped': None, 'failed': None, 'before': before, 'after': good,
        'actions': ['update_ntp', 'update_service_policy', 'start_service'] if changed else [],
        'offset_seconds': offset, 'drifted': drifted, 'restarted': False, 'clock_stepped': False,
    }, (-300.0 - number / 10.0 if changed else offset)


def main():
    path, esxi_count, exchange_count, domain_count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    vcenters = {}
    per_vcenter = max(1, esxi_count // 4)
    for number in range(1, esxi_count + 1):
        vcenter = 'vc%02d.corp.fleetfix.test' % ((number - 1) // per_vcenter + 1)
        entry = vcenters.setdefault(vcenter, {'result': {'changed': False, 'failed': False, 'msg': '', 'hosts': []},
                                              'info': {'hosts': []}})
        host, offset_before = esxi_host(number)
        entry['result']['hosts'].append(host)
        entry['result']['changed'] = entry['result']['changed'] or host['changed']
        entry['info']['hosts'].append({'name': host['name'], 'offset_seconds': offset_before})
    exchange = {}
    for number in range(1, exchange_count + 1):
        name = 'cas-%03d.corp.fleetfix.test' % number
        if number % 50 == 0:
            exchange[name] = {'failed': True, 'changed': False,
                              'msg': 'WinRM on %s did not answer within 30 s' % name}
        else:
            exchange[name] = {'failed': False, 'msg': '', 'changed': number % 4 == 0, 'method': 'registry',
                              'before': {'value': None if number % 4 == 0 else 1}, 'after': {'value': 1},
                              'reboot_required': False, 'rebooted': number % 4 == 0, 'restart': 'done',
                              'os': {'caption': 'Microsoft Windows Server 2008 R2 Enterprise', 'affected': True},
                              'dcom_10009': {'since_boot': 0, 'newest': None}}
    domains = []
    for number in range(1, domain_count + 1):
        name = 'tenant-%04d.fleetfix.test' % number
        nameservers = ['ns1.%s' % name, 'ns2.%s' % name]
        missing = number % 20 == 0
        domains.append({
            'name': name, 'zone': name, 'nameservers': nameservers,
            'found_on': nameservers[:1] if missing else nameservers, 'missing_on': nameservers[1:] if missing else [],
            'stale_on': nameservers[1:] if number % 33 == 0 else [], 'serials': {nameservers[0]: 2, nameservers[1]: 1},
            'unreachable': [], 'internal_only': False, 'errors': [], 'ok': not missing,
        })
    dns = {'ok': False, 'msg': '', 'domains': domains, 'autodiscover': []}
    with open(path, 'w') as handle:
        json.dump({'estate_vcenters': vcenters, 'estate_exchange': exchange, 'estate_dns': dns}, handle)
    print(json.dumps({
        'subjects': esxi_count + exchange_count + domain_count,
        'esxi_attention': sum(1 for number in range(1, esxi_count + 1) if number % 100 == 7),
        'esxi_changed': esxi_count // 10,
        'exchange_failed': exchange_count // 50,
        'domains_missing': domain_count // 20,
    }))


if __name__ == '__main__':
    main()
