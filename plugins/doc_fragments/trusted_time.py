# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """The trusted-time options of esxi_ntp and esxi_time_info (module_utils/_esxi_time.py source_check_argument_spec)."""

    DOCUMENTATION = r'''
options:
  check_sources:
    description:
      - Ask every NTP server from the controller (RFC 5905 client mode over UDP, three samples of
        at most one second each, all servers at once) before anything else, and report each in
        RV(ntp_sources) - reachable, stratum, leap indicator, reference id, root delay and
        dispersion, its offset from the controller clock and a one-line C(problem).
      - A server is not good when it is unreachable, unsynchronised (leap alarm or stratum 0/16),
        sends a kiss-of-death, is above stratum 10, has a root distance beyond 1.5 s, or is further
        than O(max_offset_seconds) from the median of the other good servers (two that disagree leave no majority).
      - The best good server (lowest stratum, then root distance) is the RV(reference); host offsets are
        measured against it, not against the controller clock, and the controller's own offset from it is reported.
      - With V(false) nothing is asked and offsets are against the controller clock.
    type: bool
    default: true
  ntp_port:
    description:
      - The UDP port the NTP servers are asked on by O(check_sources) (ESXi hosts always use 123).
    type: int
    default: 123
  source_resolvers:
    description:
      - DNS servers (C(IP) or C(IP:port)) that resolve the NTP server names for O(check_sources);
        empty for the controller's own resolver.
    type: list
    elements: str
    default: []
  kerberos_skew_seconds:
    description:
      - The Kerberos tolerance (5 minutes in Active Directory). A host further than this from the
        reference is in tier V(critical), "Kerberos fails here"; beyond O(max_offset_seconds) it is in tier V(warning).
    type: float
    default: 300
  report_guests:
    description:
      - For every host drifted beyond O(max_offset_seconds) (before the run), read its powered-on VMs
        (one PropertyCollector call for all of them) into RV(guests_at_risk).
    type: bool
    default: true
'''
