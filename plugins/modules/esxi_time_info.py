#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: esxi_time_info
short_description: Report the NTP and clock state of ESXi hosts, across a whole vCenter
version_added: 0.1.0
description:
  - For every ESXi host in scope, reports its NTP servers, the C(ntpd) service policy and
    whether it runs, the C(ntpClient) firewall ruleset, the time protocol, the time zone, the host
    clock and its offset against the reference (the best good NTP server, asked from the controller
    first with O(check_sources)), with the controller's own offset from it; each host's tier
    (V(warning) beyond O(max_offset_seconds), V(critical) beyond O(kerberos_skew_seconds)); and the
    powered-on VMs of drifted hosts (RV(guests_at_risk)).
  - Reads all hosts with the vSphere PropertyCollector in a constant number of round trips and
    reads the clocks with a bounded number of workers. Shares its code with M(fleetfix.remediate.esxi_ntp).
author:
  - Fleetfix contributors (@fleetfix)
extends_documentation_fragment:
  - fleetfix.remediate.vsphere
  - fleetfix.remediate.vsphere.HOST_SCOPE
  - fleetfix.remediate.trusted_time
  - fleetfix.remediate.attributes
  - fleetfix.remediate.attributes.CONTROLLER
  - fleetfix.remediate.attributes.INFO_MODULE
options:
  ntp_servers:
    description:
      - The NTP servers O(check_sources) asks. Default, the servers configured on the hosts in scope.
    type: list
    elements: str
  max_offset_seconds:
    description:
      - A host whose clock differs from the reference by more than this is reported as drifted (tier V(warning)).
    type: float
    default: 5
  max_workers:
    description:
      - How many host clocks are read at the same time.
    type: int
    default: 16
seealso:
  - module: fleetfix.remediate.esxi_ntp
'''

EXAMPLES = r'''
- name: Report the time state of every host of a vCenter
  fleetfix.remediate.esxi_time_info:
    hostname: vcenter.example.com
    username: administrator@vsphere.local
    password: "{{ vcenter_password }}"
  register: esxi_time

- name: Show the drifted hosts
  ansible.builtin.debug:
    msg: "{{ esxi_time.hosts | selectattr('drifted') | map(attribute='name') | list }}"
'''

RETURN = r'''
hosts:
  description: One entry per host in scope, in name order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The host name in vCenter.
      type: str
    skipped:
      description: Why the host was not read (for example V(host is disconnected)), or V(null).
      type: str
    failed:
      description: The error that prevented reading the host clock, or V(null).
      type: str
    changed:
      description: Always V(false).
      type: bool
    ntp_servers:
      description: The NTP servers.
      type: list
      elements: str
    service_policy:
      description: The start-up policy of C(ntpd) (V(on), V(automatic), V(off)).
      type: str
    service_running:
      description: Whether C(ntpd) runs.
      type: bool
    firewall_enabled:
      description: Whether the C(ntpClient) firewall ruleset is enabled.
      type: bool
    protocol:
      description: The time protocol (vSphere 7.0.3 and later), or V(null).
      type: str
    protocol_applicable:
      description: Whether the host API has the protocol field.
      type: bool
    time_services_enabled:
      description: Whether the host's time services are enabled (vSphere 7.0.3 and later), or V(null).
      type: bool
    firewall_allowed_hosts:
      description: The addresses the C(ntpClient) ruleset allows, or V([all]).
      type: list
      elements: str
    firewall_managed_by:
      description: V(ntpd) where the C(ntpClient) ruleset is owned by the service (ESXi 8.0.2 and later), else V(user).
      type: str
    esxi_version:
      description: The host's ESXi version, for example V(8.0.3).
      type: str
    api_version:
      description: The host's API version, for example V(8.0.2.0).
      type: str
    version_notes:
      description: Sentences on what the host's release means for time remediation.
      type: list
      elements: str
    time_zone:
      description: The host time zone.
      type: str
    connection_state:
      description: The host's connection state in vCenter.
      type: str
    host_time:
      description: The host clock (ISO 8601, UTC) when read.
      type: str
    offset_seconds:
      description: How many seconds the host clock is ahead of the reference (negative when behind).
      type: float
    offset_from_controller_seconds:
      description: The same against the controller's clock.
      type: float
    drifted:
      description: Whether the offset is beyond O(max_offset_seconds).
      type: bool
    tier:
      description: V(ok), V(warning) (beyond O(max_offset_seconds)), V(critical) (beyond O(kerberos_skew_seconds), Kerberos fails here) or V(unknown).
      type: str
    kerberos_fails:
      description: Whether the host is in tier V(critical).
      type: bool
  sample:
    - name: esx01.example.com
      changed: false
      skipped: null
      failed: null
      ntp_servers: [dc1.example.com]
      service_policy: 'on'
      service_running: true
      firewall_enabled: true
      protocol: null
      protocol_applicable: false
      time_services_enabled: null
      firewall_allowed_hosts: [all]
      firewall_managed_by: user
      esxi_version: 6.7.0
      api_version: 6.7.3
      version_notes: ['ESXi 6.7.0: no time protocol setting before 7.0.3; NTP only']
      time_zone: UTC
      connection_state: connected
      host_time: '2026-01-01T10:00:00.120000+00:00'
      offset_seconds: 0.12
      offset_from_controller_seconds: 0.124
      drifted: false
      tier: ok
      kerberos_fails: false
msg:
  description: Why no host was read, when O(esxi_hostnames) is an empty list.
  returned: when O(esxi_hostnames=[])
  type: str
ntp_sources:
  description: Every NTP server asked from the controller (empty with O(check_sources=false)), in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    server:
      description: The server as given.
      type: str
    address:
      description: The IP address asked, or V(null) when the name did not resolve.
      type: str
    port:
      description: The UDP port asked.
      type: int
    reachable:
      description: Whether it answered.
      type: bool
    stratum:
      description: Its stratum (0 = unsynchronised or kiss-of-death, 16 = unsynchronised).
      type: int
    leap:
      description: Its leap indicator (3 = alarm, the server is not synchronised).
      type: int
    reference_id:
      description: Its reference id (an IPv4 address above stratum 1, four letters at stratum 1 or in a kiss-of-death).
      type: str
    root_delay:
      description: Its root delay, in seconds.
      type: float
    root_dispersion:
      description: Its root dispersion, in seconds.
      type: float
    offset_seconds:
      description: How far its clock is ahead of the controller's.
      type: float
    round_trip_seconds:
      description: The round trip of the sample used (the shortest).
      type: float
    samples:
      description: How many answers were usable.
      type: int
    kiss_code:
      description: The kiss-of-death code (V(DENY), V(RSTR), V(RATE)), or V(null).
      type: str
    error:
      description: Why no usable answer came, or V(null).
      type: str
    problem:
      description: V(null) for a good source, else one line saying what is wrong with it.
      type: str
  sample:
    - {server: dc1.corp.example.com, address: 10.0.0.10, port: 123, reachable: true, stratum: 3, leap: 0,
       reference_id: 10.0.0.1, root_delay: 0.012, root_dispersion: 0.03, offset_seconds: 0.004,
       round_trip_seconds: 0.001, samples: 3, kiss_code: null, error: null, problem: null}
reference:
  description: The clock host offsets are measured against.
  returned: always
  type: dict
  contains:
    server:
      description: The chosen good NTP server, or V(null).
      type: str
    address:
      description: Its address.
      type: str
    stratum:
      description: Its stratum.
      type: int
    good:
      description: Whether there is a good reference.
      type: bool
    against:
      description: V(reference), or V(controller) when there is no good source or the check is off.
      type: str
    offset_seconds:
      description: How far the reference is ahead of the controller clock.
      type: float
    controller_offset_seconds:
      description: How far the controller clock is ahead of the reference (V(null) without one).
      type: float
    reason:
      description: Why this clock.
      type: str
  sample: {server: dc1.corp.example.com, address: 10.0.0.10, stratum: 3, good: true, against: reference,
           offset_seconds: 0.004, controller_offset_seconds: -0.004, reason: 'dc1.corp.example.com: stratum 3, the best good source'}
controller_offset_seconds:
  description: How far the controller clock is ahead of the reference (V(null) without one).
  returned: always
  type: float
  sample: -0.004
guests_at_risk:
  description:
    - The powered-on VMs of every drifted host (O(report_guests)).
    - A host found drifted is taken to have been drifted since its own boot, so a VM that booted on it since then
      started with the host's wrong clock (and Windows Time will not correct a large difference).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The VM.
      type: str
    host:
      description: Its host.
      type: str
    guest_os:
      description: Its guest operating system.
      type: str
    tools_time_sync:
      description: Whether VMware Tools periodic time sync (C(syncTimeWithHost)) is on.
      type: bool
    boot_time:
      description: When it last booted (ISO 8601, UTC).
      type: str
    booted_while_drifted:
      description: Whether it booted on the host since the host's boot.
      type: bool
    advice:
      description: V(restart or resync this guest) when it booted while the host was drifted, else V(null).
      type: str
  sample:
    - {name: sql01, host: esx01.example.com, guest_os: Microsoft Windows Server 2019 (64-bit), tools_time_sync: false,
       boot_time: '2026-01-01T08:00:00+00:00', booted_while_drifted: true, advice: restart or resync this guest}
summary:
  description: Counts of hosts (C(total), C(ok), C(skipped), C(failed), C(drifted), C(changed)), C(by_tier) and C(guests_at_risk).
  returned: always
  type: dict
  sample: {total: 7, changed: 0, ok: 7, skipped: 0, failed: 0, drifted: 1, by_tier: {ok: 6, warning: 0, critical: 1, unknown: 0},
           guests_at_risk: 1}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetfix.remediate.plugins.module_utils._esxi_time import (
    ValidationError,
    check_source_options,
    report_info,
    source_check_argument_spec,
    source_warnings,
    validate_params,
)
from ansible_collections.fleetfix.remediate.plugins.module_utils._vsphere import (
    VSphereError,
    connect_from_module,
    host_scope_argument_spec,
    vsphere_argument_spec,
)


def main():
    argument_spec = vsphere_argument_spec()
    argument_spec.update(host_scope_argument_spec())
    argument_spec.update(
        ntp_servers=dict(type='list', elements='str'),
        max_offset_seconds=dict(type='float', default=5),
        max_workers=dict(type='int', default=16),
    )
    argument_spec.update(source_check_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        validate_params(module.params)
    except ValidationError as error:
        module.fail_json(msg=str(error))
    problem = check_source_options(module.params)
    if problem:
        module.fail_json(msg=problem)
    client = connect_from_module(module)
    try:
        report, result = report_info(client, module.params)
    except VSphereError as error:
        module.fail_json(msg=str(error))
    finally:
        client.disconnect()
    for warning in source_warnings(result):
        module.warn(warning)
    report.finish(module, result)


if __name__ == '__main__':
    main()
