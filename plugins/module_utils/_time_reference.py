# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""Trusted time decisions: which NTP sources are good, which one is the reference, how far the
controller and each host are from it, when a clock step is safe, and the Kerberos tiers.

Pure functions over plain dicts (the answers of ``_ntp.query_server``), except ``check_sources``,
which asks the servers through the NTP client (any callable with its signature in tests).

Signs: a source's ``offset_seconds`` is how far the source's clock is ahead of the
controller's; ``controller_offset_seconds`` how far the controller's clock is ahead of the
reference's; a host's ``offset_seconds`` how far the host's clock is ahead of the reference's.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket

from ansible_collections.fleetfix.remediate.plugins.module_utils._fleet import run_bounded
from ansible_collections.fleetfix.remediate.plugins.module_utils._ntp import (
    LEAP_ALARM,
    NTP_PORT,
    UNSYNCHRONISED_STRATUM,
    KISS_CODES,
    empty_result,
    query_server,
)

# RFC 5905 section 7.3: MAXDIST, the largest root distance a client accepts from a server
MAX_ROOT_DISTANCE = 1.5
# above this a server is too far down the tree to trust as a domain's time source
MAX_STRATUM = 10
KERBEROS_SKEW_SECONDS = 300.0
TIERS = ('ok', 'warning', 'critical', 'unknown')
TIER_WORDS = {
    'ok': 'in time',
    'warning': 'beyond max_offset_seconds',
    'critical': 'Kerberos fails here',
    'unknown': 'not measured',
}


def _seconds(value):
    return '%.1f s' % abs(value) if abs(value) >= 0.1 else '%.3f s' % abs(value)


def basic_problem(source, max_stratum=MAX_STRATUM):
    """The problem of one source on its own (before comparing sources), or None."""
    if not source.get('reachable'):
        return 'unreachable: %s' % (source.get('error') or 'no answer')
    if source.get('kiss_code'):
        code = source['kiss_code']
        return 'kiss-of-death %s: %s' % (code, KISS_CODES.get(code, 'the server refuses to serve time'))
    if source.get('offset_seconds') is None:
        return 'no usable answer: %s' % (source.get('error') or 'unknown')
    if source.get('leap') == LEAP_ALARM or source.get('stratum') in (0, UNSYNCHRONISED_STRATUM):
        return 'unsynchronised (leap alarm %s, stratum %s): the server has no good time itself' % (
            source.get('leap'), source.get('stratum'))
    if source['stratum'] > max_stratum:
        return 'stratum %d is too high (at most %d)' % (source['stratum'], max_stratum)
    distance = (source.get('root_delay') or 0.0) / 2.0 + (source.get('root_dispersion') or 0.0)
    if distance > MAX_ROOT_DISTANCE:
        return 'root distance %.3f s is beyond %.1f s: its time is too uncertain' % (distance, MAX_ROOT_DISTANCE)
    return None


def _median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2.0


def judge_sources(sources, max_offset_seconds, max_stratum=MAX_STRATUM):
    """Set ``problem`` on every source (None when good); returns the same list.

    Sources that are fine on their own are compared: with three or more, one further than
    ``max_offset_seconds`` from their median is a falseticker; two that disagree leave no
    majority, and neither is trusted.
    """
    for source in sources:
        source['problem'] = basic_problem(source, max_stratum)
    candidates = [source for source in sources if source['problem'] is None]
    if len(candidates) >= 3:
        median = _median([source['offset_seconds'] for source in candidates])
        for source in candidates:
            distance = source['offset_seconds'] - median
            if abs(distance) > max_offset_seconds:
                source['problem'] = 'far from the other sources: %s %s their median' % (
                    _seconds(distance), 'ahead of' if distance > 0 else 'behind')
    elif len(candidates) == 2:
        first, second = candidates
        distance = first['offset_seconds'] - second['offset_seconds']
        if abs(distance) > max_offset_seconds:
            first['problem'] = 'far from the other source: %s %s %s (two sources, no majority)' % (
                _seconds(distance), 'ahead of' if distance > 0 else 'behind', second['server'])
            second['problem'] = 'far from the other source: %s %s %s (two sources, no majority)' % (
                _seconds(distance), 'behind' if distance > 0 else 'ahead of', first['server'])
    return sources


def good_sources(sources):
    return [source for source in sources if source.get('problem') is None]


def choose_reference(sources):
    """The good source with the lowest stratum, then root distance, then round trip; or None."""
    good = good_sources(sources)
    if not good:
        return None
    return min(good, key=lambda source: (
        source['stratum'], (source.get('root_delay') or 0.0) / 2.0 + (source.get('root_dispersion') or 0.0),
        source.get('round_trip_seconds') or 0.0))


def describe_reference(sources, checked=True):
    """The ``reference`` return value: which clock offsets are measured against."""
    if not checked:
        return dict(server=None, address=None, stratum=None, good=False, controller_offset_seconds=None,
                    offset_seconds=0.0, against='controller',
                    reason='the source check is off: offsets are against the controller clock')
    reference = choose_reference(sources)
    if reference is None:
        problems = '; '.join('%s: %s' % (source['server'], source['problem']) for source in sources) or 'no NTP servers'
        return dict(server=None, address=None, stratum=None, good=False, controller_offset_seconds=None,
                    offset_seconds=0.0, against='controller',
                    reason='no good NTP source (%s): offsets are against the controller clock' % problems)
    return dict(server=reference['server'], address=reference['address'], stratum=reference['stratum'], good=True,
                controller_offset_seconds=round(-reference['offset_seconds'], 3) or 0.0,
                offset_seconds=reference['offset_seconds'], against='reference',
                reason='%s: stratum %s, the best good source' % (reference['server'], reference['stratum']))


def host_offset(offset_from_controller, reference):
    """A host's offset against the reference, from its offset against the controller."""
    if offset_from_controller is None:
        return None
    return round(offset_from_controller - (reference.get('offset_seconds') or 0.0), 3) or 0.0


def tier(offset_seconds, max_offset_seconds, kerberos_skew_seconds=KERBEROS_SKEW_SECONDS):
    """``ok``, ``warning`` (beyond ``max_offset_seconds``), ``critical`` (beyond the Kerberos tolerance) or ``unknown``."""
    if offset_seconds is None:
        return 'unknown'
    if abs(offset_seconds) > kerberos_skew_seconds:
        return 'critical'
    if abs(offset_seconds) > max_offset_seconds:
        return 'warning'
    return 'ok'


def plan_steps(reference, offsets_from_controller, max_offset_seconds):
    """Whether drifted hosts may be stepped, to which clock, and why.

    ``offsets_from_controller``: the measured offsets of the connected hosts (before any step).
    Returns ``dict(allowed, target, target_offset_seconds, reason)`` where ``target`` is
    ``reference`` or ``controller`` and ``target_offset_seconds`` how far that clock is ahead
    of the controller's (the step sets a host to controller time plus that).
    """
    if not reference.get('good'):
        return dict(allowed=False, target=None, target_offset_seconds=None,
                    reason='no clock was stepped: there is no good NTP source to step to (%s)' % reference['reason'])
    name = reference['server']
    controller_offset = reference['controller_offset_seconds']
    if abs(controller_offset) <= max_offset_seconds:
        return dict(allowed=True, target='reference', target_offset_seconds=reference['offset_seconds'],
                    reason='the controller clock agrees with %s (%s apart)' % (name, _seconds(controller_offset)))
    disagreement = 'the controller clock is %s %s %s' % (
        _seconds(controller_offset), 'ahead of' if controller_offset > 0 else 'behind', name)
    measured = [offset for offset in offsets_from_controller if offset is not None]
    if len(measured) >= 3:
        median = _median(measured)
        median_from_reference = median - reference['offset_seconds']
        near_reference = abs(median_from_reference) <= max_offset_seconds
        near_controller = abs(median) <= max_offset_seconds
        if near_reference and not near_controller:
            return dict(allowed=True, target='reference', target_offset_seconds=reference['offset_seconds'],
                        reason='%s; the median of %d connected hosts is %s from %s, so hosts are stepped to %s' % (
                            disagreement, len(measured), _seconds(median_from_reference), name, name))
        if near_controller and not near_reference:
            return dict(allowed=True, target='controller', target_offset_seconds=0.0,
                        reason='%s; the median of %d connected hosts is %s from the controller and %s from %s, '
                               'so hosts are stepped to the controller clock' % (
                                   disagreement, len(measured), _seconds(median), _seconds(median_from_reference), name))
    return dict(allowed=False, target=None, target_offset_seconds=None,
                reason='no clock was stepped: %s and the connected hosts do not clearly side with either' % disagreement)


def step_decision(offset_from_controller, plan, max_step_seconds):
    """``(step, reason)`` for one drifted host: ``reason`` says why a step was refused."""
    if not plan['allowed']:
        return False, plan['reason']
    if offset_from_controller is None:
        return False, 'the host clock could not be read'
    step = plan['target_offset_seconds'] - offset_from_controller
    if max_step_seconds is not None and abs(step) > max_step_seconds:
        return False, 'the step of %s is beyond max_step_seconds (%s s); raise it to allow this step' % (
            _seconds(step), max_step_seconds)
    return True, None


def refusal(sources):
    """The message of a refused configuration: every server and its problem."""
    return 'None of the NTP servers keeps good time, so no host was pointed at them: %s. ' \
           'Fix the source (or give other servers), or set require_good_source: false to configure them anyway.' % (
               '; '.join('%s: %s' % (source['server'], source['problem']) for source in sources))


def system_resolver(server, port):
    """The addresses of ``server`` from the controller's resolver (``getaddrinfo``), IPv4 first."""
    try:
        ipaddress.ip_address(server)
        return [server]
    except ValueError:
        pass
    infos = socket.getaddrinfo(server, port, type=socket.SOCK_DGRAM)
    addresses = []
    for family, _type, _proto, _name, sockaddr in sorted(infos, key=lambda info: info[0] != socket.AF_INET):
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    return addresses


def dns_resolver(resolvers):
    """A ``resolve(server, port)`` that asks ``resolvers`` (``IP`` or ``IP:port`` texts) through the DNS client."""
    # imported here: only runs that name resolvers need dnspython
    from ansible_collections.fleetfix.remediate.plugins.module_utils import _dns  # pylint: disable=import-outside-toplevel
    servers = [_dns.parse_server(text) for text in resolvers]

    def resolve(server, port):
        try:
            ipaddress.ip_address(server)
            return [server]
        except ValueError:
            pass
        # one client per call: each source is resolved in its own thread, with its own event loop
        client = _dns.DnsClient(resolvers=servers, timeout=2.0, retries=1)
        try:
            return sorted(asyncio.run(client.addresses(server)), key=lambda address: ':' in address)
        except _dns.DnsError as error:
            raise OSError(0, str(error)) from None
    return resolve


def guests_at_risk(guests_by_host, drifted_hosts):
    """The powered-on VMs of the hosts that were drifted, each flagged when it booted with the host's wrong clock.

    Without a history of the host clock, a host found drifted is taken to have been so since its
    own boot (an ESXi host without working NTP runs free from the clock it booted with): a VM
    that booted on it since then started with the wrong time; one that booted earlier came by
    vMotion from another host.
    """
    rows = []
    for host in sorted(drifted_hosts):
        info = guests_by_host.get(host)
        if not info:
            continue
        host_boot = info.get('boot_time')
        for vm in sorted(info.get('vms') or [], key=lambda vm: vm.get('name') or ''):
            if vm.get('power_state') != 'poweredOn':
                continue
            booted = vm.get('boot_time')
            while_drifted = booted is None or host_boot is None or booted >= host_boot
            rows.append(dict(name=vm.get('name'), host=host, guest_os=vm.get('guest_os'),
                             tools_time_sync=vm.get('tools_time_sync'), boot_time=_iso(booted),
                             booted_while_drifted=while_drifted,
                             advice='restart or resync this guest' if while_drifted else None))
    return rows


def _iso(value):
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc).isoformat()


def check_sources(servers, max_offset_seconds, port=NTP_PORT, resolve=system_resolver, query=query_server,
                  samples=3, timeout=1.0, max_stratum=MAX_STRATUM):
    """Ask every server at once (one thread each) and judge them; returns the ``ntp_sources`` list."""
    def ask(server):
        try:
            addresses = resolve(server, port)
        except (OSError, ValueError) as error:
            result = empty_result(server, None, port)
            result['error'] = 'cannot resolve %s: %s' % (server, getattr(error, 'strerror', None) or error)
            return result
        if not addresses:
            result = empty_result(server, None, port)
            result['error'] = 'cannot resolve %s: no address' % server
            return result
        return query(server, addresses[0], port=port, samples=samples, timeout=timeout)

    sources = []
    for server, value, error in run_bounded(servers, ask, max(len(servers), 1)):
        if error is not None:
            value = empty_result(server, None, port)
            value['error'] = '%s: %s' % (type(error).__name__, error)
        sources.append(value)
    return judge_sources(sources, max_offset_seconds, max_stratum)
