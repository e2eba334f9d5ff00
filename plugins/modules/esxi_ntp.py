#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: esxi_ntp
short_description: Make ESXi hosts keep time with NTP, across a whole vCenter
version_added: 0.1.0
description:
  - Sets the NTP servers of every ESXi host in scope, sets the C(ntpd) service policy and starts
    (or restarts) it, and opens the C(ntpClient) firewall ruleset where the host lets a user
    open it.
  - Writes in an order every ESXi release accepts - servers (and on 7.0.3 and later the time
    protocol and C(enabled)), then the service policy and the service, then the ruleset - because
    from ESXi 7.0.3 the ruleset cannot be opened while C(ntpd) is stopped, and from 8.0.2 it is
    owned by C(ntpd) (C(userControllable=false)), opens while C(ntpd) runs and is never written
    (RV(hosts[].firewall_managed_by=ntpd)).
  - Each host is handled by its own release, so one run covers a vCenter with ESXi 6.7, 7.0.3
    and 8.0 hosts.
  - First asks the NTP servers themselves from the controller (O(check_sources)) and refuses to point
    any host at them when none keeps good time (O(require_good_source)); the message names each server and its problem.
  - Reads each host's clock and measures it against the best good NTP server (the RV(reference)),
    not against the controller clock, whose own offset is reported too; reports hosts beyond
    O(max_offset_seconds) (tier V(warning)) and beyond O(kerberos_skew_seconds) (tier V(critical)),
    optionally steps their clocks when that is safe (O(step_clock)), and lists the VMs of drifted hosts (RV(guests_at_risk)).
  - Reads the state of all hosts with the vSphere PropertyCollector in a constant number of
    round trips, logs in once, writes only to hosts that differ, and runs the per-host work
    with a bounded number of workers.
  - One failing host does not stop the others; the module fails at the end naming every failed
    host and the vSphere fault behind it. Disconnected hosts are skipped with the reason.
author:
  - Fleetfix contributors (@fleetfix)
extends_documentation_fragment:
  - fleetfix.remediate.vsphere
  - fleetfix.remediate.vsphere.HOST_SCOPE
  - fleetfix.remediate.trusted_time
  - fleetfix.remediate.attributes
  - fleetfix.remediate.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the hosts and their clocks and makes no write call.
  diff_mode:
    support: full
options:
  ntp_servers:
    description:
      - NTP servers, as host names or IP addresses.
      - Compared with each host's list ignoring order and case. Duplicates and malformed entries
        fail the module before anything is touched.
      - When not set, the server lists are left alone and only the service, firewall and clock are handled.
    type: list
    elements: str
  state:
    description:
      - V(present) puts O(ntp_servers) on the hosts (see O(exclusive)); V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With V(true), each host's list becomes exactly O(ntp_servers); an empty list clears the servers.
      - With V(false), only the missing servers are added.
      - Ignored with O(state=absent).
    type: bool
    default: true
  service_policy:
    description:
      - The start-up policy of the C(ntpd) service.
    type: str
    choices: ['on', automatic, 'off']
    default: 'on'
  service_running:
    description:
      - Whether C(ntpd) should be running (V(true)) or stopped (V(false)).
    type: bool
    default: true
  restart_on_change:
    description:
      - Restart a running C(ntpd) when its server list (or protocol) changed, so it uses the new servers.
    type: bool
    default: true
  firewall:
    description:
      - Whether the C(ntpClient) firewall ruleset should be enabled (V(true)) or disabled (V(false)).
    type: bool
    default: true
  max_offset_seconds:
    description:
      - A host whose clock differs from the reference by more than this is reported as drifted (tier V(warning)).
    type: float
    default: 5
  require_good_source:
    description:
      - With O(check_sources), refuse to configure O(ntp_servers) (no write at all) when none of them is good;
        the message names every server and its problem. V(false) configures them anyway.
      - When some are good and some are not, the servers are configured and each bad one is named in a warning.
    type: bool
    default: true
  step_clock:
    description:
      - Set the clock of a drifted host after NTP is fixed, when that is safe. The decision is made once for the fleet
        and reported in RV(step); every drifted host not stepped says why in RV(hosts[].step_refused).
      - Hosts are stepped to the reference's time only when the reference is good and the controller clock agrees with it
        (within O(max_offset_seconds)). When they disagree nothing is stepped, unless the median of the connected hosts
        (three or more) clearly sides with one of the two clocks; then hosts are stepped to that one and RV(step.reason) says why.
      - Without a good reference (or with O(check_sources=false)) nothing is stepped.
    type: bool
    default: false
  max_step_seconds:
    description:
      - Never step a clock by more than this; a larger step is refused with its reason. Raise it to allow one.
    type: float
    default: 3600
  fail_on_drift:
    description:
      - Fail the module (after working on every host) when a host is left drifted.
    type: bool
    default: false
  fail_on_unreachable:
    description:
      - Count disconnected or not-responding hosts as failed instead of skipped.
    type: bool
    default: false
  max_workers:
    description:
      - How many hosts are worked on at the same time.
    type: int
    default: 16
  protocol:
    description:
      - The time protocol of hosts on ESXi 7.0.3 and later (older hosts only have NTP).
      - When not set, each host keeps its protocol; a host on PTP is reported
        (RV(hosts[].version_notes)) and left alone, NTP hosts get NTP as configured here.
      - V(ntp) switches PTP hosts to NTP. V(ptp) switches hosts to PTP and leaves their NTP
        settings, service and ruleset alone; it fails on hosts older than 7.0.3.
      - Hosts whose time services are disabled (C(enabled=false), 7.0.3 and later) are turned
        on, except with V(ptp) where they are turned on with PTP.
    type: str
    choices: [ntp, ptp]
  secure_ntp:
    description:
      - Restrict the C(ntpClient) firewall ruleset's allowed hosts to the addresses of
        O(ntp_servers), as PowerCLI's C(Set-VMHostSecureNTP) does. The names are resolved on the
        controller, once per run; a name that does not resolve fails the module before any change.
      - Applies wherever the ruleset's IP list is configurable, also on ESXi 8.0.2 and later where
        the ruleset itself is owned by C(ntpd) (C(ipListUserConfigurable=true)).
      - With V(false) the allowed hosts are left as they are.
    type: bool
    default: false
notes:
  - On hosts whose API is vSphere 7.0.3 or later the date/time configuration also gets
    C(protocol=ntp) (unless the host stays on PTP) and C(enabled=true); on older APIs these are
    left alone and each host reports RV(hosts[].protocol_applicable=false).
  - When a write of a host faults, the host's result still says what was written
    (RV(hosts[].written), RV(hosts[].after)), which write failed and what was not attempted.
  - When the vCenter stops answering, the call that waits ends after O(request_timeout) and every
    host not yet done fails at once with the same reason.
seealso:
  - module: fleetfix.remediate.esxi_time_info
  - ref: fleetfix.remediate.esxi_time role <ansible_collections.fleetfix.remediate.esxi_time_role>
    description: Runs this module for a whole vCenter and asserts that no host is left drifted.
'''

EXAMPLES = r'''
- name: Every host of a cluster uses exactly these NTP servers, ntpd on and running, firewall open
  fleetfix.remediate.esxi_ntp:
    hostname: vcenter.example.com
    username: administrator@vsphere.local
    password: "{{ vcenter_password }}"
    cluster_name: Production
    ntp_servers:
      - dc1.example.com
      - dc2.example.com
    step_clock: true

- name: Add a server without removing the others, on two hosts
  fleetfix.remediate.esxi_ntp:
    esxi_hostnames: [esx01.example.com, esx02.example.com]
    ntp_servers: [192.0.2.10]
    exclusive: false

- name: Remove an old server everywhere
  fleetfix.remediate.esxi_ntp:
    ntp_servers: [old-ntp.example.com]
    state: absent
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
    changed:
      description: Whether the host was (or in check mode would be) changed.
      type: bool
    skipped:
      description: Why the host was skipped (for example V(host is disconnected)), or V(null).
      type: str
    failed:
      description: The error (with the vSphere fault) that failed this host, or V(null).
      type: str
    before:
      description: C(ntp_servers), C(service_policy), C(service_running), C(firewall_enabled), C(protocol) before the run.
      type: dict
    after:
      description: The same fields after the run (predicted in check mode); after a fault, the state the successful writes left.
      type: dict
    actions:
      description: The write calls made (or planned in check mode), for example V(update_ntp), V(start_service).
      type: list
      elements: str
    offset_seconds:
      description: How many seconds the host clock is ahead of the reference (negative when behind), after the run.
      type: float
    offset_from_controller_seconds:
      description: The same against the controller's clock.
      type: float
    initial_offset_seconds:
      description: The host clock against the reference before any step.
      type: float
    drifted_before:
      description: Whether the host was beyond O(max_offset_seconds) before the run.
      type: bool
    drifted:
      description: Whether the offset is beyond O(max_offset_seconds) after the run.
      type: bool
    tier:
      description:
        - V(ok), V(warning) (beyond O(max_offset_seconds)), V(critical) (beyond O(kerberos_skew_seconds)
          - Kerberos fails here) or V(unknown) (not measured), after the run.
      type: str
    kerberos_fails:
      description: Whether the host is in tier V(critical).
      type: bool
    step_refused:
      description: Why a drifted host's clock was not stepped with O(step_clock), or V(null).
      type: str
    restarted:
      description: Whether ntpd was restarted.
      type: bool
    clock_stepped:
      description: Whether the host clock was stepped (see RV(step)).
      type: bool
    protocol_applicable:
      description: Whether the host API supports the C(protocol) and C(enabled) date/time fields (vSphere 7.0.3 and later).
      type: bool
    esxi_version:
      description: The host's ESXi version (C(config.product.version)), for example V(8.0.3).
      type: str
    api_version:
      description: The host's API version (C(config.product.apiVersion)), for example V(8.0.2.0).
      type: str
    firewall_managed_by:
      description:
        - V(ntpd) where the C(ntpClient) ruleset is owned by the service (ESXi 8.0.2 and later,
          C(userControllable=false)). Such a ruleset is never written and is open while C(ntpd) runs.
        - V(user) where the module opens or closes it.
      type: str
    version_notes:
      description: Sentences on how the host's release was handled (NTP only before 7.0.3, left on PTP, ruleset owned by ntpd).
      type: list
      elements: str
    written:
      description: The write calls that succeeded (empty in check mode), in order.
      type: list
      elements: str
    failed_action:
      description: The write call that faulted, or V(null).
      type: str
    not_attempted:
      description: The planned write calls after the one that faulted.
      type: list
      elements: str
  sample:
    - name: esx01.example.com
      changed: true
      skipped: null
      failed: null
      before: {ntp_servers: [], service_policy: 'off', service_running: false, firewall_enabled: false, protocol: ntp,
               time_services_enabled: true, firewall_allowed_hosts: [all]}
      after: {ntp_servers: [dc1.example.com], service_policy: 'on', service_running: true, firewall_enabled: true, protocol: ntp,
              time_services_enabled: true, firewall_allowed_hosts: [all]}
      actions: [update_ntp, update_service_policy, start_service]
      written: [update_ntp, update_service_policy, start_service]
      failed_action: null
      not_attempted: []
      esxi_version: 8.0.3
      api_version: 8.0.2.0
      firewall_managed_by: ntpd
      version_notes: ['ntpClient ruleset is owned by ntpd (ESXi 8.0.2+): it opens while ntpd runs and is never written']
      offset_seconds: 0.012
      offset_from_controller_seconds: 0.015
      initial_offset_seconds: 0.012
      drifted_before: false
      drifted: false
      tier: ok
      kerberos_fails: false
      restarted: false
      clock_stepped: false
      step_refused: null
      protocol_applicable: true
msg:
  description: Why nothing was done, when O(esxi_hostnames) is an empty list.
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
step:
  description: The fleet's clock-step decision (V(null) when the run was refused).
  returned: always
  type: dict
  contains:
    requested:
      description: O(step_clock).
      type: bool
    allowed:
      description: Whether drifted hosts may be stepped.
      type: bool
    target:
      description: V(reference), V(controller) or V(null).
      type: str
    reason:
      description: Why.
      type: str
  sample: {requested: true, allowed: true, target: reference, reason: the controller clock agrees with dc1.corp.example.com (0.004 s apart)}
guests_at_risk:
  description:
    - The powered-on VMs of every host that was drifted before the run (O(report_guests)).
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
guests_error:
  description: Why the VMs of the drifted hosts could not be read, or V(null).
  returned: always
  type: str
summary:
  description: Counts of hosts.
  returned: always
  type: dict
  contains:
    total:
      description: Hosts in scope.
      type: int
    changed:
      description: Hosts changed.
      type: int
    ok:
      description: Hosts neither skipped nor failed.
      type: int
    skipped:
      description: Hosts skipped.
      type: int
    failed:
      description: Hosts failed.
      type: int
    drifted:
      description: Hosts left drifted.
      type: int
    by_tier:
      description: Hosts per tier (C(ok), C(warning), C(critical), C(unknown)) after the run.
      type: dict
    guests_at_risk:
      description: VMs that booted while their host was drifted.
      type: int
  sample: {total: 7, changed: 7, ok: 7, skipped: 0, failed: 0, drifted: 0,
           by_tier: {ok: 7, warning: 0, critical: 0, unknown: 0}, guests_at_risk: 1}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetfix.remediate.plugins.module_utils._esxi_time import (
    ValidationError,
    check_source_options,
    remediate,
    resolve_server_addresses,
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
        state=dict(type='str', default='present', choices=['present', 'absent']),
        exclusive=dict(type='bool', default=True),
        service_policy=dict(type='str', default='on', choices=['on', 'automatic', 'off']),
        service_running=dict(type='bool', default=True),
        restart_on_change=dict(type='bool', default=True),
        firewall=dict(type='bool', default=True),
        max_offset_seconds=dict(type='float', default=5),
        require_good_source=dict(type='bool', default=True),
        step_clock=dict(type='bool', default=False),
        max_step_seconds=dict(type='float', default=3600),
        fail_on_drift=dict(type='bool', default=False),
        fail_on_unreachable=dict(type='bool', default=False),
        max_workers=dict(type='int', default=16),
        protocol=dict(type='str', choices=['ntp', 'ptp']),
        secure_ntp=dict(type='bool', default=False),
    )
    argument_spec.update(source_check_argument_spec())
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    allowed = None
    try:
        validate_params(module.params)
        if module.params['secure_ntp']:
            allowed = resolve_server_addresses(module.params['ntp_servers'])
    except ValidationError as error:
        module.fail_json(msg=str(error))
    problem = check_source_options(module.params)
    if problem:
        module.fail_json(msg=problem)
    client = connect_from_module(module)
    try:
        report, result, extra_failure = remediate(client, module.params, module.check_mode, module._diff, allowed=allowed)
    except VSphereError as error:
        module.fail_json(msg=str(error))
    finally:
        client.disconnect()
    for warning in source_warnings(result):
        module.warn(warning)
    report.finish(module, result, extra_failure)


if __name__ == '__main__':
    main()
