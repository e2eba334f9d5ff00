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
  gpo_result:
    description:
      - With O(method=gpo), the registered result of the O(method=gpo) task that wrote the GPO through the domain
        controller (run once for all hosts). The task host is then a member server that gets the policy from that
        GPO; the task reads it (never writes it, in any mode) and returns its record, the GPO's change
        (C(changed), RV(gpo), RV(gpo_id)) with this server's own value (RV(after)), OS, events and whether it
        needs a restart after its next policy refresh (RV(restart)). A GPO task that failed makes every member's
        task fail, naming the GPO and why.
    type: dict
  reboot:
    description:
      - When the host needs a restart (the value changed, or is set but DCOM 10009 events still appeared since the
        last boot), restart it with C(shutdown /r) and wait until WinRM answers again with a new boot time.
        A host whose value was applied since the boot (no event since), or whose OS the fault does not affect
        (not Windows Server 2008 R2), needs none and is not restarted (see O(force_reboot)).
      - After the restart the 10009 events since the new boot are counted again (O(post_reboot_delay)); when the
        host still logs them, the policy is not in effect and the task fails (RV(restart=done), the record kept).
      - Without it the module returns RV(reboot_required=true) and RV(restart=needed).
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
  post_reboot_delay:
    description:
      - Seconds to wait after the host is back from the restart before counting the DCOM 10009 events since its
        new boot, so that the Exchange services have started (and would have logged the event again).
    type: int
    default: 0
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
notes:
  - The host's C(ansible_connection) stays C(winrm) and its shell C(powershell), and is not used to connect;
    the action plugin validates the options, talks WinRM and builds the result inside the Ansible worker process
    on the controller, with the controller's Python and its pywinrm. No module is transferred, no Python process
    is started per host and nothing (no temporary folder) is created on the Windows host, so neither
    C(delegate_to) nor Python on Windows is needed.
  - The connection settings are those of the C(ansible.builtin.winrm) connection plugin for the host, as Ansible
    resolves them (its variables such as C(ansible_host), C(ansible_port), C(ansible_user), C(ansible_password),
    C(ansible_winrm_transport), C(ansible_winrm_scheme), the pass-through C(ansible_winrm_server_cert_validation),
    C(ansible_winrm_ca_trust_path), C(ansible_winrm_message_encryption), C(ansible_winrm_operation_timeout_sec),
    C(ansible_winrm_read_timeout_sec), the C(remote_user) keyword, C(-u) and C(--ask-pass)); a C(winrm_*) option
    of the task wins. Delegated to V(localhost), the task host's settings and the O(winrm_host) and other
    options apply. Delegated to a Windows host (a domain controller for O(method=gpo)), that host's settings.
  - The result is what a module would return (C(invocation), C(warnings)), with no C(no_log) value (the
    password) anywhere in it.
  - To audit or fix many hosts, run the task on all of them and raise C(forks); restart them a batch at a time
    with the P(fleetfix.remediate.dcom_10009#role) role and the C(fleetfix.remediate.dcom_10009) playbook
    (C(serial)).
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
  returned: success
  type: str
  sample: registry
before:
  description: The value before the run.
  returned: success
  type: dict
  contains:
    value:
      description: V(1), V(0), another value, or V(null) when the value does not exist.
      type: raw
  sample: {value: null}
after:
  description: The value after the run (predicted in check mode).
  returned: success
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
  returned: success
  type: bool
rebooted:
  description: Whether the host was restarted by this run.
  returned: success
  type: bool
restart:
  description:
    - What became of the host's restart, V(not needed), V(needed) (without O(reboot)), V(would restart) (check
      mode), V(done), V(not back) or V(failed) (the task fails, with this record); with O(method=gpo)
      V(after refresh) (the member servers restart after their policy refresh) or V(not needed).
  returned: success and when a restart failed
  type: str
  sample: done
error_kind:
  description:
    - Why the task failed, for example V(unreachable), V(authentication), V(access_denied), V(not_back) (no new
      boot time within O(reboot_timeout)) or V(still_logging) (10009 events after the restart).
  returned: failure
  type: str
  sample: not_back
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
gpo_name:
  description: The GPO written with O(method=gpo).
  returned: with O(method=gpo)
  type: str
gpo_id:
  description: The GUID of that GPO.
  returned: with O(method=gpo)
  type: str
gpo:
  description: The GPO's value before and after the run (RV(before) and RV(after) are then the member server's own).
  returned: with O(method=gpo) and O(gpo_result)
  type: dict
  sample: {before: {value: null}, after: {value: 1}}
'''
