# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Connection options of the vSphere modules (paired with _vsphere.vsphere_argument_spec)."""

    # Standard documentation fragment
    DOCUMENTATION = r'''
options:
  hostname:
    description:
      - The vCenter Server or ESXi host to connect to, as a DNS name or an IP address without scheme,
        port or path. Anything else fails before a connection is made.
      - If not set, the value of the E(VMWARE_HOST) environment variable is used.
    type: str
  username:
    description:
      - The user name to log in with.
      - If not set, the value of the E(VMWARE_USER) environment variable is used.
    type: str
    aliases: [admin, user]
  password:
    description:
      - The password of O(username).
      - If not set, the value of the E(VMWARE_PASSWORD) environment variable is used.
    type: str
    aliases: [pass, pwd]
  port:
    description:
      - The HTTPS port of the vCenter Server or ESXi host.
      - If not set, the value of the E(VMWARE_PORT) environment variable is used, then V(443).
    type: int
    default: 443
  validate_certs:
    description:
      - Whether to validate the TLS certificate of the vCenter Server or ESXi host.
      - Set to V(false) only for hosts with self-signed certificates you trust.
      - If not set, the value of the E(VMWARE_VALIDATE_CERTS) environment variable is used, then V(true).
    type: bool
    default: true
  proxy_host:
    description:
      - An HTTP proxy to reach the vCenter Server or ESXi host through.
      - If not set, the value of the E(VMWARE_PROXY_HOST) environment variable is used.
    type: str
  proxy_port:
    description:
      - The port of O(proxy_host). Defaults to V(80) when O(proxy_host) is set.
      - If not set, the value of the E(VMWARE_PROXY_PORT) environment variable is used.
      - Must be from 1 to 65535, and needs O(proxy_host).
    type: int
  connect_timeout:
    description:
      - Seconds to wait for the TCP and TLS connection (through O(proxy_host) if set) and the
        API version discovery of the vCenter Server or ESXi host.
    type: float
    default: 30
  request_timeout:
    description:
      - Seconds to wait for each answer of the vCenter Server or ESXi host. The read of all hosts
        is one request, so keep it generous for large vCenters (2,000 hosts answer in seconds).
      - When the server stops answering, the task ends after this long with a message naming it,
        and every host not yet done fails at once with the same reason.
    type: float
    default: 300
requirements:
  - pyVmomi
notes:
  - All options of this fragment can be set once for every module of the collection with the
    C(fleetfix.remediate.vsphere) action group in C(module_defaults).
'''

    # Which ESXi hosts a fleet module works on.
    HOST_SCOPE = r'''
options:
  esxi_hostnames:
    description:
      - The ESXi hosts to work on, by their names in vCenter (case does not matter).
      - An unknown name fails the module before anything is changed.
      - When none of O(esxi_hostnames), O(cluster_name) and O(datacenter) is set, every host the
        connection can see is in scope.
    type: list
    elements: str
  cluster_name:
    description:
      - Work on the hosts of this cluster. An unknown cluster fails the module.
    type: str
  datacenter:
    description:
      - Work on the hosts of this datacenter (and look O(cluster_name) up in it).
    type: str
    aliases: [datacenter_name]
'''
