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
    clock and its offset from the controller's UTC clock.
  - Reads all hosts with the vSphere PropertyCollector in a constant number of round trips and
    reads the clocks with a bounded number of workers. Shares its code with M(fleetfix.remediate.esxi_ntp).
author:
  - Fleetfix contributors (@fleetfix)
extends_documentation_fragment:
  - fleetfix.remediate.vsphere
  - fleetfix.remediate.vsphere.HOST_SCOPE
  - fleetfix.remediate.attributes
  - fleetfix.remediate.attributes.CONTROLLER
  - fleetfix.remediate.attributes.INFO_MODULE
options:
  max_offset_seconds:
    description:
      - A host whose clock differs from the controller's UTC clock by more than this is reported as drifted.
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
      description: How many seconds the host clock is ahead of the controller's UTC clock (negative when behind).
      type: float
    drifted:
      description: Whether the offset is beyond O(max_offset_seconds).
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
      drifted: false
msg:
  description: Why no host was read, when O(esxi_hostnames) is an empty list.
  returned: when O(esxi_hostnames=[])
  type: str
summary:
  description: Counts of hosts (C(total), C(ok), C(skipped), C(failed), C(drifted), C(changed)).
  returned: always
  type: dict
  sample: {total: 7, changed: 0, ok: 7, skipped: 0, failed: 0, drifted: 1}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetfix.remediate.plugins.module_utils._esxi_time import ValidationError, report_info, validate_params
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
        max_offset_seconds=dict(type='float', default=5),
        max_workers=dict(type='int', default=16),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        validate_params(module.params)
    except ValidationError as error:
        module.fail_json(msg=str(error))
    client = connect_from_module(module)
    try:
        report, result = report_info(client, module.params)
    except VSphereError as error:
        module.fail_json(msg=str(error))
    finally:
        client.disconnect()
    report.finish(module, result)


if __name__ == '__main__':
    main()
