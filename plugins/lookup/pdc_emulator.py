# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: pdc_emulator
short_description: The PDC emulator of an Active Directory domain, from DNS
version_added: 0.1.0
description:
  - Returns the host names of an Active Directory domain's PDC emulator from the SRV record
    C(_ldap._tcp.pdc._msdcs.<domain>), ordered by priority (lowest first) and then weight (highest first).
  - The PDC emulator is the time source Microsoft recommends for the domain, so
    the P(fleetfix.remediate.esxi_time#role) role uses it as its default NTP server.
author:
  - Fleetfix contributors (@fleetfix)
requirements:
  - dnspython >= 2.3
options:
  _terms:
    description:
      - The Active Directory domain names (DNS names, for example V(corp.example.com)).
    type: list
    elements: str
    required: true
  resolvers:
    description:
      - Resolvers (C(IP) or C(IP:port)) to ask instead of the system resolver.
    type: list
    elements: str
    default: []
  timeout:
    description:
      - Seconds to wait for one answer (above 0, at most 300).
    type: float
    default: 3
  retries:
    description:
      - How many times an unanswered UDP query is sent again before TCP is tried (0 or more).
    type: int
    default: 2
seealso:
  - module: fleetfix.remediate.federation_dns
'''

EXAMPLES = r'''
- name: Use the PDC emulator of corp.example.com as NTP server
  ansible.builtin.set_fact:
    ntp_servers: "{{ lookup('fleetfix.remediate.pdc_emulator', 'corp.example.com', resolvers=['10.0.0.53']) }}"

- name: Only the first one
  ansible.builtin.debug:
    msg: "{{ query('fleetfix.remediate.pdc_emulator', 'corp.example.com') | first }}"
'''

RETURN = r'''
_raw:
  description:
    - The host names of the PDC emulator records (without the final dot), best first; for several domains, one
      domain's names after the other's.
  type: list
  elements: str
'''

import asyncio

from ansible.errors import AnsibleError, AnsibleLookupError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.lookup import LookupBase

from ansible_collections.fleetfix.remediate.plugins.module_utils import _dns
from ansible_collections.fleetfix.remediate.plugins.module_utils._federation import ValidationError, normalise_domain


def pdc_record_name(domain):
    """The SRV name of a domain's PDC emulator; ``ValueError`` when it would be too long for DNS."""
    return _dns.check_name(f'_ldap._tcp.pdc._msdcs.{domain}', 'SRV name')


def order_records(records):
    """SRV records by priority (lowest first), then weight (highest first), then name."""
    return sorted(records, key=lambda record: (record['priority'], -record['weight'], record['target']))


async def _srv(client, name):
    try:
        return await client.srv(name)
    finally:
        close = getattr(client, 'close', None)
        if close is not None:
            close()


def pdc_emulators(client, domain):
    records = asyncio.run(_srv(client, pdc_record_name(domain)))
    names = []
    for record in order_records(records):
        if record['target'] not in ('', '.') and record['target'] not in names:
            names.append(record['target'])
    return names


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if not _dns.HAS_DNSPYTHON:
            raise AnsibleError('The fleetfix.remediate.pdc_emulator lookup needs the Python library dnspython '
                               '(pip install dnspython) on the controller.')
        timeout, retries = self.get_option('timeout'), self.get_option('retries')
        if not 0 < timeout <= 300:
            raise AnsibleLookupError(f'pdc_emulator: timeout must be a number of seconds above 0 and at most 300, not {timeout}.')
        if retries < 0:
            raise AnsibleLookupError(f'pdc_emulator: retries must be 0 or more, not {retries}.')
        try:
            resolvers = [_dns.parse_server(text) for text in self.get_option('resolvers') or []]
        except ValueError as error:
            raise AnsibleLookupError(f'pdc_emulator: resolvers: {error}') from None
        client = _dns.DnsClient(resolvers=resolvers, timeout=timeout, retries=retries)
        if not client.resolvers:
            raise AnsibleLookupError('pdc_emulator: no resolver; give resolvers=[...] or configure /etc/resolv.conf.')
        results = []
        for term in terms:
            try:
                domain = normalise_domain(to_native(term))
                pdc_record_name(domain)
            except (ValidationError, ValueError) as error:
                raise AnsibleLookupError(f'pdc_emulator: {error}') from None
            try:
                names = pdc_emulators(client, domain)
            except _dns.DnsError as error:
                raise AnsibleLookupError(f'pdc_emulator: could not look up the PDC emulator of {domain}: {error}') from None
            if not names:
                raise AnsibleLookupError(f'pdc_emulator: {domain} has no SRV record _ldap._tcp.pdc._msdcs.{domain}; '
                                         'is it an Active Directory domain, and do the resolvers know its zone?')
            results.extend(names)
        return results
