#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: win_ignore_delegation_failure
short_description: Stop DCOM event 10009 floods with the "Ignore Delegation Failure" RPC policy
version_added: 0.1.0
description:
  - Sets (or removes) the DWORD C(IgnoreDelegationFailure) under
    C(HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc) on a Windows host, directly in its registry
    or in a Group Policy Object through a domain controller.
  - This is the fix for the DistributedCOM event 10009 ("DCOM was unable to communicate with the
    computer ... using any of the configured protocols") that Exchange 2010 SP1 Client Access Servers
    on Windows Server 2008 R2 write to the System log. The policy applies after a restart.
  - Runs on the controller with pywinrm, inside the Ansible worker process of the task (its action plugin);
    no Python is needed on Windows. Use it as a task of the Windows hosts of your inventory; the connection
    comes from the host's usual C(ansible_host), C(ansible_user), C(ansible_password), C(ansible_winrm_*)
    variables unless the C(winrm_*) options are set.
  - Works on Windows Server 2008 R2 with PowerShell 2.0, reading and writing with C(reg.exe), C(wmic),
    C(wevtutil) and C(shutdown.exe). The audit is one command in one shell. PowerShell (the GroupPolicy
    module) is used only for O(method=gpo).
author:
  - Fleetfix contributors (@fleetfix)
extends_documentation_fragment:
  - fleetfix.remediate.winrm
  - fleetfix.remediate.attributes
  - fleetfix.remediate.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the value, the OS and the events and writes nothing.
  diff_mode:
    support: full
  action:
    support: full
    description: Indicates this has a corresponding action plugin so some parts of the options can be set on the controller.
    details:
      - The action plugin does the whole task in the Ansible worker process on the controller; it starts no module process.
options:
  state:
    description:
      - V(present) sets the value to V(1) (ignore delegation failures); V(absent) removes the value
        (not configured, which behaves as off).
    type: str
    choices: [present, absent]
    default: present
  method:
    description:
      - V(registry) writes the value on the host itself.
      - V(gpo) writes it into the Group Policy Object O(gpo_name) through the task host, which must be a
        domain controller (or have the GroupPolicy PowerShell module). Member servers apply it at their
        next policy refresh, and need a restart after that.
    type: str
    choices: [registry, gpo]
    default: registry
  gpo_name:
    description:
      - The display name of the GPO for O(method=gpo).
      - Any characters but line breaks and control characters; the name is passed to PowerShell as one
        single-quoted string (every quote form PowerShell knows doubled), so no name can run code.
    type: str
    default: Default Domain Policy
  reboot:
    description:
      - When the value changed (or is set but DCOM 10009 events still appeared since the last boot), restart
        the host with C(shutdown /r) and wait until WinRM answers again with a new boot time.
      - Without it the module returns RV(reboot_required=true).
      - Only with O(method=registry).
    type: bool
    default: false
  force_reboot:
    description:
      - Restart the host (and wait for it, as with O(reboot)) even when the value is already set and no
        10009 event appeared since the last boot, for example because an earlier task set it without restarting.
      - Only with O(state=present) and O(method=registry) (with O(state=absent) the task fails and says to use
        O(reboot)); implies O(reboot).
    type: bool
    default: false
  reboot_timeout:
    description:
      - Seconds to wait for the host to come back after the restart before failing.
    type: int
    default: 600
  check_events:
    description:
      - Read the newest DistributedCOM 10009 events of the System log and count those since the last boot.
    type: bool
    default: true
  events_limit:
    description:
      - How many of the newest 10009 events are read. When all of them are since the boot,
        RV(dcom_10009.since_boot) is a lower bound and RV(dcom_10009.complete) is V(false).
    type: int
    default: 50
  fleet:
    description:
      - Act on all these inventory hosts from this one task, which then runs once (C(run_once=true), see the examples), instead
        of on the task host. Each host is reached with its own C(ansible_host), C(ansible_port),
        C(ansible_user), C(ansible_password) and C(ansible_winrm_*) variables, as a task of that host would be;
        a variable set on the play, a role, a block or the task applies to every host, and so do the
        C(winrm_*) options of the task (except O(winrm_host), which is refused).
      - The hosts are read (and fixed) at the same time, O(max_workers) at a time, from threads spread over
        up to one process per CPU of the controller (at most 4). Every host is tried; the task fails at the
        end naming each host that failed and why. Per-host results are in RV(hosts), counts in RV(summary).
      - For an audit or a fix of hundreds of hosts this is much faster than a task per host, which costs
        Ansible a worker process per host. It does not restart hosts (O(reboot) and O(force_reboot) are
        refused; restart them a batch at a time with the P(fleetfix.remediate.dcom_10009#role) role) and applies
        to O(method=registry) only.
    type: list
    elements: str
  max_workers:
    description:
      - With O(fleet), how many hosts are talked to at the same time.
    type: int
    default: 16
notes:
  - The host's C(ansible_connection) stays C(winrm) and its shell C(powershell), and is not used; the action
    plugin validates the options, talks WinRM and builds the result inside the Ansible worker process on the
    controller, with the controller's Python and its pywinrm. No module is transferred, no Python process is
    started per host and nothing (no temporary folder) is created on the Windows host, so neither
    C(delegate_to) nor Python on Windows is needed. Delegated to V(localhost), the O(winrm_host) and other
    options still apply. Delegated to a Windows host (a domain controller for O(method=gpo)), that host's
    C(ansible_*) variables give the connection.
  - The module file stays a complete module whose C(main()) runs the same code, and the action returns what
    it would (C(invocation), C(warnings)), with no C(no_log) value (the password) anywhere in the result.
seealso:
  - ref: fleetfix.remediate.dcom_10009 role <ansible_collections.fleetfix.remediate.dcom_10009_role>
    description: Applies the fix to every Exchange server and restarts them a few at a time.
  - name: Microsoft RPC policy settings (RPC.admx)
    description: The "Ignore Delegation Failure" Group Policy setting.
    link: https://learn.microsoft.com/en-us/windows/client-management/mdm/policy-csp-admx-rpc
'''

EXAMPLES = r'''
- name: Audit every Exchange server (no change)
  fleetfix.remediate.win_ignore_delegation_failure:
  check_mode: true
  register: dcom_audit

- name: Apply the fix and restart the host
  fleetfix.remediate.win_ignore_delegation_failure:
    reboot: true
    reboot_timeout: 900

- name: Remove the value again
  fleetfix.remediate.win_ignore_delegation_failure:
    state: absent

- name: Set the policy in a GPO through a domain controller
  fleetfix.remediate.win_ignore_delegation_failure:
    method: gpo
    gpo_name: Exchange Servers Policy
  delegate_to: "{{ groups['domain_controllers'][0] }}"
  run_once: true

- name: Audit every host of the play from one task (fast for large fleets)
  fleetfix.remediate.win_ignore_delegation_failure:
    fleet: "{{ ansible_play_hosts }}"
    max_workers: 25
  check_mode: true
  run_once: true
  register: dcom_fleet

- name: Show the hosts that still need the fix
  ansible.builtin.debug:
    msg: "{{ dcom_fleet.hosts | selectattr('changed') | map(attribute='name') | list }}"
  run_once: true

- name: From localhost, with explicit connection options
  fleetfix.remediate.win_ignore_delegation_failure:
    winrm_host: ex01.example.com
    winrm_user: EXAMPLE\administrator
    winrm_password: "{{ vault_windows_password }}"
    winrm_ca_trust_path: /etc/pki/example-ca.pem
  delegate_to: localhost
'''

RETURN = r'''
method:
  description: V(registry) or V(gpo).
  returned: without O(fleet)
  type: str
  sample: registry
before:
  description: The value before the run.
  returned: without O(fleet)
  type: dict
  contains:
    value:
      description: V(1), V(0), another value, or V(null) when the value does not exist.
      type: raw
  sample: {value: null}
after:
  description: The value after the run (predicted in check mode).
  returned: without O(fleet)
  type: dict
  contains:
    value:
      description: V(1), V(0), another value, or V(null) when the value does not exist.
      type: raw
  sample: {value: 1}
reboot_required:
  description:
    - Whether the host needs a restart to apply the policy (it changed, or is set but 10009 events appeared since the boot).
    - With O(method=gpo), whether the member servers need one after their policy refresh.
  returned: without O(fleet)
  type: bool
rebooted:
  description: Whether the host was restarted by this run.
  returned: without O(fleet)
  type: bool
boot_time:
  description: The host's last boot time (UTC, ISO 8601), after the restart when it was restarted.
  returned: with O(method=registry)
  type: str
  sample: '2026-11-24T10:28:33.719117Z'
os:
  description: The host's operating system (from C(wmic os), or PowerShell's C(Get-WmiObject) on a host without WMIC).
  returned: with O(method=registry), when it could be read
  type: dict
  contains:
    caption:
      description: The OS name.
      type: str
      sample: Microsoft Windows Server 2008 R2 Enterprise
    version:
      description: The OS version.
      type: str
      sample: 6.1.7601
    affected:
      description: Whether this is Windows Server 2008 R2, where Exchange 2010 SP1 causes the event flood.
      type: bool
    source:
      description: How the OS and boot time were read, V(wmic) or V(Get-WmiObject) (Windows Server 2025 ships without WMIC).
      type: str
      sample: wmic
dcom_10009:
  description: The DistributedCOM 10009 events of the System log (after the restart when there was one).
  returned: with O(method=registry) and O(check_events=true), when wevtutil could be read
  type: dict
  contains:
    since_boot:
      description: How many 10009 events were logged since the last boot (null when the boot time is unknown).
      type: int
    complete:
      description: Whether RV(dcom_10009.since_boot) counts all of them (false when O(events_limit) was reached).
      type: bool
    newest:
      description: The time (UTC, ISO 8601) of the newest 10009 event in the log, or null.
      type: str
    newest_target:
      description: The computer DCOM could not reach in the newest event.
      type: str
  sample: {since_boot: 0, complete: true, newest: '2026-11-20T08:01:12.1000000Z', newest_target: dc01.example.com}
hosts:
  description:
    - With O(fleet), one entry per host, in the order of O(fleet) (each host once).
    - Each entry has the keys a task of that host returns (RV(method), RV(before), RV(after),
      RV(reboot_required), RV(rebooted), RV(os), RV(boot_time), RV(dcom_10009)) when it was read.
  returned: with O(fleet)
  type: list
  elements: dict
  contains:
    name:
      description: The inventory host.
      type: str
    changed:
      description: Whether the value changed (would change in check mode) on this host.
      type: bool
    failed:
      description: Why this host failed (unreachable, authentication, access denied...), or null.
      type: str
    skipped:
      description: Always null (kept for the shape every fleetfix fleet result shares).
      type: str
    error_kind:
      description: The kind of failure (for example V(unreachable), V(authentication)) when the host failed.
      type: str
  sample:
    - {name: ex01, changed: true, failed: null, skipped: null, method: registry, before: {value: null},
       after: {value: 1}, reboot_required: true, rebooted: false, boot_time: '2026-11-24T10:28:33.719117Z',
       os: {caption: Microsoft Windows Server 2008 R2 Enterprise, version: 6.1.7601, affected: true},
       dcom_10009: {since_boot: 42, complete: true, newest: '2026-11-24T11:01:12.1000000Z', newest_target: dc01.example.com}}
summary:
  description: With O(fleet), counts of hosts.
  returned: with O(fleet)
  type: dict
  contains:
    total:
      description: Hosts in O(fleet).
      type: int
    changed:
      description: Hosts whose value changed (would change in check mode).
      type: int
    ok:
      description: Hosts that did not fail.
      type: int
    skipped:
      description: Always 0.
      type: int
    failed:
      description: Hosts that failed.
      type: int
    reboot_required:
      description: Hosts that need a restart to apply the policy.
      type: int
    affected:
      description: Hosts running Windows Server 2008 R2.
      type: int
    logging_10009:
      description: Hosts that logged DCOM 10009 events since their last boot.
      type: int
  sample: {total: 100, changed: 97, ok: 99, skipped: 0, failed: 1, reboot_required: 97, affected: 80, logging_10009: 97}
gpo_name:
  description: The GPO written with O(method=gpo).
  returned: with O(method=gpo)
  type: str
gpo_id:
  description: The GUID of that GPO.
  returned: with O(method=gpo)
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_task import (
    TaskError,
    argument_spec,
    run_task,
)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = run_task(module.params, check_mode=module.check_mode, diff=module._diff)
    except TaskError as error:
        if error.traceback:
            module.fail_json(msg=error.message, exception=error.traceback, **error.result_keys())
        module.fail_json(msg=error.message, **error.result_keys())
    for warning in result.pop('warnings'):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
