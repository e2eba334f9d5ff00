#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: federation_dns
short_description: Check that Exchange federation proofs and Autodiscover records are published on every authoritative nameserver
version_added: 0.1.0
description:
  - Before Exchange can add a domain to a federation trust, the domain's proof (the value
    C(Get-FederatedDomainProof -DomainName <domain>) prints, one per federation certificate) must be
    a TXT record in external DNS on every authoritative nameserver of the domain. Partner
    organisations must be reachable through Autodiscover.
  - For every domain, finds the zone (from the parent zone's delegation, or by walking from O(resolvers),
    following CNAMEs and referrals), asks every nameserver of the parent's delegation and of the zone's own NS
    records directly and compares the expected proofs with the TXT values, after joining each record's
    character-strings. Reports the nameservers that lack a proof, those that serve an older SOA serial,
    lame servers (REFUSED, SERVFAIL or no AA flag), servers that answer only over TCP, differences between the
    parent's delegation and the zone's NS records, and proofs that are only visible through O(internal_resolvers).
  - For every domain in O(autodiscover_domains), reports which of C(autodiscover.<domain>) (A/AAAA,
    following CNAMEs), the domain itself and the SRV record C(_autodiscover._tcp.<domain>) exist and where they point.
  - With O(autodiscover_https) (the default) it then checks, as a partner's Exchange or Outlook would,
    whether an Autodiscover endpoint answers, trying in their order
    C(https://<domain>/autodiscover/autodiscover.xml), C(https://autodiscover.<domain>/autodiscover/autodiscover.xml),
    the HTTP redirect method (C(http://autodiscover.<domain>/autodiscover/autodiscover.xml) answering a redirect to an
    https URL, which is then checked) and the target of the SRV record. Each is a TCP connection to the address
    resolved through O(resolvers), TLS with the certificate chain and name validated (SNI and C(Host) set to the
    name) and an anonymous POST of an Autodiscover request; HTTP 401 (Exchange asks for credentials) or 200 with
    Autodiscover XML counts as working. Reports the first working method and why each other one fails.
    Nothing is sent but that request; no credentials are used.
  - All domains and nameservers are queried concurrently, bounded by O(max_concurrency).
  - Read-only; never changes DNS.
author:
  - Fleetfix contributors (@fleetfix)
requirements:
  - dnspython >= 2.3
extends_documentation_fragment:
  - fleetfix.remediate.attributes
  - fleetfix.remediate.attributes.CONTROLLER
  - fleetfix.remediate.attributes.INFO_MODULE
options:
  domains:
    description:
      - The federated domains, including the delegation namespace (typically C(exchangedelegation.<domain>)).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The domain name.
        type: str
        required: true
      proofs:
        description:
          - The proof values that must all be published as TXT records of O(domains[].name).
          - During a certificate rollover there are two.
          - A value that does not look like a proof Exchange prints (base64, 88 characters) gives a warning.
        type: list
        elements: str
        required: true
  autodiscover_domains:
    description:
      - Domains, your own or your partners', whose Autodiscover DNS records are checked.
    type: list
    elements: str
    default: []
  resolvers:
    description:
      - Resolvers (C(IP) or C(IP:port)) used to find each zone's nameservers, to resolve the nameservers'
        names and to look up Autodiscover records, instead of the system resolver.
      - They may be recursive resolvers or authoritative servers of a parent zone (referrals are followed).
    type: list
    elements: str
    default: []
  internal_resolvers:
    description:
      - Internal resolvers (C(IP) or C(IP:port)) also asked for the proofs; a proof that is visible there but on no
        external authoritative nameserver is reported as RV(domains[].internal_only).
    type: list
    elements: str
    default: []
  nameserver_port:
    description:
      - The port on which the authoritative nameservers are asked.
      - By default the port of O(resolvers) when they all use the same one (for test hierarchies on another port), else V(53).
    type: int
  wait_timeout:
    description:
      - Seconds to keep checking, with growing pauses, until everything is ok. V(0) checks once.
    type: int
    default: 0
  query_timeout:
    description:
      - Seconds to wait for one answer over UDP, and again over TCP when UDP did not do.
      - The first UDP wait is shorter, taken from the round trips measured to that server, and doubles with each
        resend; an answer to an earlier datagram is still taken.
    type: float
    default: 3
  query_retries:
    description:
      - How many times an unanswered UDP query is sent again before TCP is tried.
      - A truncated answer, a closed UDP port or bytes that are not DNS go to TCP at once.
    type: int
    default: 2
  max_concurrency:
    description:
      - How many queries are in flight at the same time in all.
      - Each server also has its own limit that halves when it drops or truncates answers (rate limiting) and grows
        back as it answers.
    type: int
    default: 64
  address_families:
    description:
      - Which addresses of each nameserver are asked.
      - V(auto) asks the addresses the controller has a route to (an IPv4-only controller skips IPv6 addresses and says so);
        V(ipv4) or V(ipv6) only that family; V(all) every address.
      - A nameserver counts as reachable when any of its asked addresses answers; RV(domains[].addresses) has the result per address.
    type: str
    choices: [auto, ipv4, ipv6, all]
    default: auto
  autodiscover_https:
    description:
      - Check that an Autodiscover endpoint of each domain of O(autodiscover_domains) answers over HTTPS with a valid
        certificate (see the description). A domain whose records exist but whose endpoints all fail is not ok.
      - With V(false) only the DNS records are checked.
      - Check mode checks too (nothing is ever written).
    type: bool
    default: true
  autodiscover_ca_path:
    description:
      - A PEM bundle of the CA certificates that Autodiscover endpoints' certificates must chain to, instead of the
        controller's system trust store (for a partner with an internal CA, or a test CA).
      - Certificates are always validated (chain, dates and name); there is no option to turn that off.
    type: path
  autodiscover_timeout:
    description:
      - Seconds one Autodiscover exchange (TCP connection, TLS handshake, request and answer) may take.
    type: float
    default: 10
  fail_on_error:
    description:
      - Fail the task when anything is not ok, with a message naming each domain and nameserver at fault.
      - With V(false) the task succeeds and RV(ok) tells the result.
    type: bool
    default: true
seealso:
  - plugin: fleetfix.remediate.pdc_emulator
    plugin_type: lookup
  - name: Get-FederatedDomainProof
    description: The Exchange cmdlet that prints the proof values.
    link: https://learn.microsoft.com/powershell/module/exchange/get-federateddomainproof
'''

EXAMPLES = r'''
- name: Check the proofs of our federated domains and the partners' Autodiscover
  fleetfix.remediate.federation_dns:
    domains:
      - name: contoso.com
        proofs:
          - "{{ contoso_proof }}"
      - name: exchangedelegation.contoso.com
        proofs:
          - "{{ contoso_delegation_proof }}"
    autodiscover_domains:
      - fabrikam.com
    internal_resolvers:
      - 10.0.0.53

- name: Wait up to 30 minutes until a new proof has reached every nameserver
  fleetfix.remediate.federation_dns:
    domains:
      - name: contoso.com
        proofs:
          - "{{ old_proof }}"
          - "{{ new_proof }}"
    wait_timeout: 1800

- name: Only the partners' Autodiscover, their certificates checked against the partners' CA bundle
  fleetfix.remediate.federation_dns:
    autodiscover_domains: [fabrikam.com, tailspintoys.com]
    autodiscover_ca_path: /etc/pki/partners-ca.pem
    fail_on_error: false
  register: partners

- name: DNS records only (no connection to the endpoints)
  fleetfix.remediate.federation_dns:
    autodiscover_domains: [fabrikam.com]
    autodiscover_https: false
'''

RETURN = r'''
ok:
  description:
    - Whether every domain has its proofs on every authoritative nameserver and every Autodiscover domain has a record
      (and, with O(autodiscover_https), an endpoint that answers over HTTPS).
  returned: always
  type: bool
msg:
  description: A summary; when not ok, one sentence per domain and nameserver at fault.
  returned: always
  type: str
attempts:
  description: How many times everything was checked (more than one with O(wait_timeout)).
  returned: success
  type: int
domains:
  description: One entry per domain of O(domains), in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The domain.
      type: str
    zone:
      description: The zone that holds the domain's records.
      type: str
    nameservers:
      description: The authoritative nameservers asked.
      type: list
      elements: str
    txt:
      description: The TXT values each nameserver returned, character-strings joined.
      type: dict
    serials:
      description:
        - The SOA serial of the zone on each nameserver, read when a proof is missing on some nameserver (it tells a copy
          that is behind from a record never added); V(null) per nameserver otherwise.
      type: dict
    found_on:
      description: Nameservers that have every proof.
      type: list
      elements: str
    missing_on:
      description: Nameservers that lack at least one proof.
      type: list
      elements: str
    missing_proofs:
      description: For each nameserver of RV(domains[].missing_on), the proofs it lacks.
      type: dict
    stale_on:
      description: Nameservers that serve an older SOA serial than the newest one seen.
      type: list
      elements: str
    unreachable:
      description: Nameservers that did not answer.
      type: list
      elements: str
    internal_only:
      description: Whether the proofs are visible through O(internal_resolvers) but on no authoritative nameserver.
      type: bool
    internal_txt:
      description: The TXT values each internal resolver returned.
      type: dict
    lame:
      description:
        - Nameservers listed for the zone that do not serve it (lame delegation), with the reason
          (they answer REFUSED, SERVFAIL or without the AA flag). Their TXT values are not used.
      type: dict
    tcp_only:
      description: Nameservers whose UDP port is blocked or closed while TCP answers (UDP blocked, TCP answers).
      type: list
      elements: str
    addresses:
      description:
        - Per nameserver, one entry per address with C(address), C(status) (V(answered), V(lame), V(error),
          V(unreachable) or V(not asked)), C(detail), and for answers C(transport) (V(udp), V(tcp (truncated over UDP)),
          V(tcp (UDP blocked)), or V(tcp (UDP datagram lost)) when a datagram went unanswered but the server answers
          other queries over UDP), C(rcode), C(rtt_ms), C(serial) and C(txt).
      type: dict
    delegation:
      description:
        - The parent zone's delegation against the zone's own NS records (V(null) for a top-level zone or when the
          parent could not be read, see RV(domains[].errors)).
        - C(parent), C(parent_nameservers), C(zone_nameservers), C(not_in_parent) (in the zone's NS records, not
          delegated), C(not_in_zone) (delegated, not in the zone's NS records), C(glue) and C(glue_mismatch)
          (name -> C(glue), C(published)).
      type: dict
    errors:
      description: Problems met while asking (nameservers that did not answer, zones not found).
      type: list
      elements: str
    warnings:
      description: What did not fail the domain but deserves a look (an address of a nameserver that did not answer while another did).
      type: list
      elements: str
    ok:
      description:
        - Whether every authoritative nameserver has every proof, none is lame or TCP-only and the parent's delegation
          matches the zone's NS records.
      type: bool
  sample:
    - name: contoso.com
      zone: contoso.com
      nameservers: [ns1.contoso.com, ns2.contoso.com]
      txt:
        ns1.contoso.com: ["v=spf1 -all", "mMyRLgWHJoQL..."]
        ns2.contoso.com: ["v=spf1 -all"]
      serials: {ns1.contoso.com: 2026010101, ns2.contoso.com: 2026010100}
      found_on: [ns1.contoso.com]
      missing_on: [ns2.contoso.com]
      missing_proofs: {ns2.contoso.com: ["mMyRLgWHJoQL..."]}
      stale_on: [ns2.contoso.com]
      unreachable: []
      internal_only: false
      internal_txt: {}
      lame: {}
      tcp_only: []
      addresses:
        ns1.contoso.com: [{address: 192.0.2.1, status: answered, transport: udp, rcode: NOERROR, rtt_ms: 12.5}]
      delegation: {parent: com, parent_nameservers: [ns1.contoso.com, ns2.contoso.com],
                   zone_nameservers: [ns1.contoso.com, ns2.contoso.com], not_in_parent: [], not_in_zone: [],
                   glue: {}, glue_mismatch: {}}
      errors: []
      warnings: []
      ok: false
autodiscover:
  description: One entry per domain of O(autodiscover_domains).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The domain.
      type: str
    methods:
      description:
        - The Autodiscover records found; each has C(method) (V(autodiscover), V(domain) or V(srv)), C(name),
          and C(addresses) (with C(cnames) followed) or, for SRV, C(targets) as C(host:port).
      type: list
      elements: dict
    errors:
      description: Lookups that failed.
      type: list
      elements: str
    https:
      description:
        - The HTTPS check of the domain's Autodiscover endpoints.
      type: dict
      contains:
        checked:
          description: Whether the endpoints were checked (V(false) with O(autodiscover_https=false)).
          type: bool
        ok:
          description: Whether at least one method works (V(null) when not checked).
          type: bool
        method:
          description: The first working method in the clients' order (V(domain), V(autodiscover), V(redirect), V(srv)), or V(null).
          type: str
        url:
          description: The https URL that works (for V(redirect), the URL redirected to), or V(null).
          type: str
        verdict:
          description: One sentence; when nothing works, why each method fails.
          type: str
        attempts:
          description:
            - One entry per method, in the clients' order, with C(method), C(url) (the URL tried, V(null) without an SRV record),
              C(host), C(port), C(address) (the IP address last tried, V(null) when the name has none), C(ok),
              C(stage) (where it stopped, V(dns), V(tcp), V(tls), V(http), V(redirect), or V(ok)),
              C(status) (the HTTP status, or V(null)), C(reason) (what it answered or why it failed) and
              C(redirect_to) (for V(redirect), the https URL it redirected to).
          type: list
          elements: dict
    ok:
      description:
        - Whether at least one method exists in DNS and, when checked over HTTPS, at least one endpoint works.
      type: bool
  sample:
    - name: fabrikam.com
      methods:
        - {method: autodiscover, name: autodiscover.fabrikam.com, addresses: [203.0.113.25]}
      errors: []
      ok: true
      https:
        checked: true
        ok: true
        method: autodiscover
        url: https://autodiscover.fabrikam.com/autodiscover/autodiscover.xml
        verdict: >-
          Autodiscover answers at https://autodiscover.fabrikam.com/autodiscover/autodiscover.xml (autodiscover method):
          HTTP 401: asks for credentials, as Exchange does (offers Negotiate, NTLM)
        attempts:
          - {method: domain, url: "https://fabrikam.com/autodiscover/autodiscover.xml", host: fabrikam.com, port: 443,
             address: 203.0.113.80, ok: false, stage: http, status: 404, redirect_to: null,
             reason: "HTTP 404: no Autodiscover service at this URL (a web server without Exchange behind it)"}
          - {method: autodiscover, url: "https://autodiscover.fabrikam.com/autodiscover/autodiscover.xml",
             host: autodiscover.fabrikam.com, port: 443, address: 203.0.113.25, ok: true, stage: ok, status: 401,
             redirect_to: null, reason: "HTTP 401: asks for credentials, as Exchange does (offers Negotiate, NTLM)"}
          - {method: redirect, url: "http://autodiscover.fabrikam.com/autodiscover/autodiscover.xml",
             host: autodiscover.fabrikam.com, port: 80, address: 203.0.113.25, ok: false, stage: tcp, status: null,
             redirect_to: null, reason: "nothing listens on 203.0.113.25:80 (connection refused)"}
          - {method: srv, url: null, host: null, port: null, address: null, ok: false, stage: dns, status: null,
             redirect_to: null, reason: "no SRV record _autodiscover._tcp.fabrikam.com"}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetfix.remediate.plugins.module_utils._dns import DnsClient, fail_if_missing_dnspython
from ansible_collections.fleetfix.remediate.plugins.module_utils._federation import ValidationError, run, validate
from ansible_collections.fleetfix.remediate.plugins.module_utils._https import HttpsClient


def main():
    module = AnsibleModule(
        argument_spec=dict(
            domains=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str', required=True),
                proofs=dict(type='list', elements='str', required=True, no_log=False),
            )),
            autodiscover_domains=dict(type='list', elements='str', default=[]),
            resolvers=dict(type='list', elements='str', default=[]),
            internal_resolvers=dict(type='list', elements='str', default=[]),
            nameserver_port=dict(type='int'),
            wait_timeout=dict(type='int', default=0),
            query_timeout=dict(type='float', default=3),
            query_retries=dict(type='int', default=2),
            max_concurrency=dict(type='int', default=64),
            address_families=dict(type='str', default='auto', choices=['auto', 'ipv4', 'ipv6', 'all']),
            autodiscover_https=dict(type='bool', default=True),
            autodiscover_ca_path=dict(type='path'),
            autodiscover_timeout=dict(type='float', default=10),
            fail_on_error=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    fail_if_missing_dnspython(module)
    params = module.params
    try:
        domains, autodiscover, resolvers, internal, warnings = validate(params)
        if params['max_concurrency'] < 1 or params['query_retries'] < 0 or not 0 < params['query_timeout'] <= 300:
            raise ValidationError(f'max_concurrency must be 1 or more, query_retries 0 or more and query_timeout a number '
                                  f'of seconds above 0 and at most 300 (got {params["query_timeout"]}).')
        nameserver_port = params['nameserver_port']
        if nameserver_port is None:
            ports = {port for _ip, port in resolvers}
            nameserver_port = ports.pop() if len(ports) == 1 else 53
        if not 0 < nameserver_port < 65536:
            raise ValidationError('nameserver_port must be between 1 and 65535.')
        https_client = None
        if params['autodiscover_https'] and autodiscover:
            if not 0 < params['autodiscover_timeout'] <= 3600:
                raise ValidationError('autodiscover_timeout must be above 0 and at most 3600 seconds.')
            try:
                https_client = HttpsClient(ca_path=params['autodiscover_ca_path'], timeout=params['autodiscover_timeout'])
            except ValueError as error:
                raise ValidationError(f'autodiscover_ca_path: {error}') from None
    except ValidationError as error:
        module.fail_json(msg=str(error))
    for warning in warnings:
        module.warn(warning)
    client = DnsClient(resolvers=resolvers, timeout=params['query_timeout'], retries=params['query_retries'],
                       max_concurrency=params['max_concurrency'], nameserver_port=nameserver_port,
                       address_families=params['address_families'])
    if not client.resolvers:
        module.fail_json(msg='No resolver: give resolvers, or configure the system resolver (/etc/resolv.conf).')
    try:
        result = run(client, domains, autodiscover, internal_resolvers=internal, nameserver_port=nameserver_port,
                     wait_timeout=params['wait_timeout'], https_client=https_client)
    finally:
        if https_client is not None:
            https_client.close()
    for warning in result.pop('warnings', []):
        module.warn(warning)
    for entry in result['domains']:
        if entry['internal_only']:
            module.warn(f'{entry["name"]}: the proof is visible through the internal resolvers but on no external '
                        'authoritative nameserver; it was probably added to internal DNS only.')
    result['changed'] = False
    if not result['ok'] and params['fail_on_error']:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
