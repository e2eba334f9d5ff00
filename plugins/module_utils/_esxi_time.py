# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""ESXi time decisions: what each host should look like, the plan to get there, and its run.

Shared by ``esxi_ntp`` and ``esxi_time_info``. Talks to vSphere only through the client of
``_vsphere.py`` (any object with the same methods, so unit tests pass a fake one).
"""

from __future__ import annotations

import datetime
import ipaddress
import math
import re
import socket

from ansible_collections.fleetfix.remediate.plugins.module_utils._dns import parse_server
from ansible_collections.fleetfix.remediate.plugins.module_utils._fleet import FleetReport, HostResult, run_bounded
from ansible_collections.fleetfix.remediate.plugins.module_utils._time_reference import (
    KERBEROS_SKEW_SECONDS,
    TIERS,
    check_sources,
    describe_reference,
    dns_resolver,
    good_sources,
    guests_at_risk,
    host_offset,
    plan_steps,
    refusal,
    step_decision,
    system_resolver,
    tier,
)
from ansible_collections.fleetfix.remediate.plugins.module_utils._vsphere import VSphereError

HOSTNAME_LABEL = re.compile(r'^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$')
REACHABLE_STATES = ('connected',)
PROTOCOLS = ('ntp', 'ptp')


class ValidationError(ValueError):
    """Bad module input, described in a sentence a person can act on."""


def is_valid_server(server):
    """An IPv4/IPv6 address or an ASCII DNS host name (labels of letters, digits and hyphens)."""
    if not isinstance(server, str) or not server or server != server.strip() or not server.isascii():
        return False
    try:
        ipaddress.ip_address(server)
        return True
    except ValueError:
        pass
    name = server[:-1] if server.endswith('.') else server
    if not name or len(name) > 253:
        return False
    labels = name.split('.')
    if all(label.isdigit() for label in labels):
        return False  # looks like a broken IPv4 address such as 10.0.0.256
    return all(HOSTNAME_LABEL.match(label) for label in labels)


def server_key(server):
    """What makes two server entries the same: case and a trailing root dot do not count."""
    return server.lower().rstrip('.')


def source_check_argument_spec():
    """The trusted-time options esxi_ntp and esxi_time_info share (documented in each module)."""
    return dict(
        check_sources=dict(type='bool', default=True),
        ntp_port=dict(type='int', default=123),
        source_resolvers=dict(type='list', elements='str', default=[]),
        kerberos_skew_seconds=dict(type='float', default=KERBEROS_SKEW_SECONDS),
        report_guests=dict(type='bool', default=True),
    )


def check_source_options(params):
    """A sentence for bad trusted-time options, or None."""
    if not 1 <= params['ntp_port'] <= 65535:
        return 'ntp_port must be a UDP port (1-65535), not %s.' % params['ntp_port']
    if params['kerberos_skew_seconds'] < params['max_offset_seconds']:
        return 'kerberos_skew_seconds (%s) must not be below max_offset_seconds (%s).' % (
            params['kerberos_skew_seconds'], params['max_offset_seconds'])
    if params.get('max_step_seconds') is not None and params['max_step_seconds'] <= 0:
        return 'max_step_seconds must be above 0.'
    for text in params.get('source_resolvers') or []:
        try:
            parse_server(text)
        except ValueError as error:
            return 'source_resolvers: %s' % error
    return None


def source_warnings(result):
    """One warning per bad NTP source when a good one was still found (all bad is a failure or the reference says so)."""
    if not (result.get('reference') or {}).get('good'):
        return []
    return ['NTP server %s: %s' % (source['server'], source['problem'])
            for source in result.get('ntp_sources') or [] if source.get('problem')]


def validate_servers(servers):
    """Reject malformed and duplicate entries (case and a trailing dot do not matter); return the list unchanged."""
    servers = list(servers or [])
    malformed = [repr(server) for server in servers if not is_valid_server(server)]
    if malformed:
        raise ValidationError('ntp_servers holds entries that are neither an ASCII host name nor an IP address: %s. '
                              'Write internationalised names in their xn-- form; nothing was changed.' % ', '.join(malformed))
    seen = {}
    duplicates = []
    for server in servers:
        key = server_key(server)
        if key in seen and server not in duplicates:
            duplicates.append(server)
        seen.setdefault(key, server)
    if duplicates:
        raise ValidationError('ntp_servers lists the same server more than once (case and a trailing dot do not matter): %s. '
                              'Remove the duplicates; nothing was changed.' % ', '.join(duplicates))
    return servers


def validate_params(params):
    """Every check of esxi_ntp's arguments that needs no vCenter; raises ``ValidationError``."""
    validate_servers(params.get('ntp_servers'))
    offset = params.get('max_offset_seconds')
    if offset is None or not math.isfinite(offset) or offset <= 0:
        raise ValidationError('max_offset_seconds must be a number of seconds above 0, not %r: with 0, a negative '
                              'value or NaN every host (or none) counts as drifted.' % (offset,))
    if params.get('max_workers', 1) < 1:
        raise ValidationError('max_workers must be 1 or more.')
    if params.get('secure_ntp'):
        if not params.get('ntp_servers') or params.get('state') == 'absent':
            raise ValidationError('secure_ntp needs ntp_servers (with state=present): the ntpClient ruleset is '
                                  'restricted to their addresses.')
        if params.get('firewall') is False:
            raise ValidationError('secure_ntp restricts the ntpClient ruleset that firewall: false closes; use one of them.')


def resolve_server_addresses(servers, resolve=socket.getaddrinfo):
    """The IPv4/IPv6 addresses of ``servers`` (resolved once, on the controller), sorted; raises ``ValidationError``."""
    addresses = set()
    unresolved = []
    for server in servers:
        try:
            ipaddress.ip_address(server)
            addresses.add(server)
            continue
        except ValueError:
            pass
        try:
            answers = resolve(server.rstrip('.'), 123, 0, socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError, OSError) as error:
            unresolved.append('%s (%s)' % (server, getattr(error, 'strerror', None) or error))
            continue
        for _family, _type, _proto, _canon, sockaddr in answers:
            addresses.add(sockaddr[0])
    if unresolved:
        raise ValidationError('secure_ntp needs the addresses of the NTP servers, and the controller cannot resolve %s. '
                              'Nothing was changed.' % ', '.join(unresolved))
    return sorted(addresses, key=lambda address: (ipaddress.ip_address(address).version, ipaddress.ip_address(address)))


def same_servers(first, second):
    """Equal as sets, ignoring order, case and a trailing dot."""
    return sorted(server_key(server) for server in first) == sorted(server_key(server) for server in second)


def desired_servers(current, requested, state='present', exclusive=True):
    """The server list a host should end up with; keeps the current list when nothing changes."""
    requested_keys = {server_key(server) for server in requested}
    if state == 'absent':
        wanted = [server for server in current if server_key(server) not in requested_keys]
    elif exclusive:
        wanted = list(requested)
    else:
        current_keys = {server_key(server) for server in current}
        wanted = list(current) + [server for server in requested if server_key(server) not in current_keys]
    return list(current) if same_servers(current, wanted) else wanted


def firewall_managed_by(current):
    """``ntpd`` where the host's ntpClient ruleset follows the service (ESXi 8.0.2+), else ``user``."""
    return 'ntpd' if current.get('firewall_user_controllable') is False else 'user'


def allowed_hosts(current):
    """The ntpClient ruleset's allowed hosts as reported: ``['all']`` or the addresses."""
    if current.get('firewall_all_ip', True):
        return ['all']
    return sorted(current.get('firewall_allowed_ips') or [])


def stays_on_ptp(current, params):
    """A 7.0.3+ host on PTP is left on PTP unless the task asks for ``protocol: ntp``."""
    return bool(current.get('supports_protocol')) and current.get('protocol') == 'ptp' and params.get('protocol') != 'ntp'


def version_notes(current, params):
    """Sentences on how this host's release was handled (shown in the result and the report)."""
    notes = []
    if not current.get('supports_protocol'):
        notes.append('ESXi %s: no time protocol setting before 7.0.3; NTP only' % (current.get('product_version') or '?'))
    if stays_on_ptp(current, params):
        notes.append('keeps time with PTP: left on PTP (set protocol: ntp to switch it)')
    if firewall_managed_by(current) == 'ntpd':
        notes.append('ntpClient ruleset is owned by ntpd (ESXi 8.0.2+): it opens while ntpd runs and is never written')
    return notes


def desired_state(current, params, allowed=None):
    """The reported fields a host should have after the run, given its state and the arguments."""
    if stays_on_ptp(current, params) or params.get('protocol') == 'ptp':
        wanted = reported_state(current)
        if params.get('protocol') == 'ptp' and current.get('supports_protocol'):
            wanted.update(protocol='ptp', time_services_enabled=True)
        return wanted
    servers = current['ntp_servers']
    if params.get('ntp_servers') is not None:
        servers = desired_servers(current['ntp_servers'], params['ntp_servers'], params['state'], params['exclusive'])
    protocol = current.get('protocol')
    enabled = current.get('ntp_enabled')
    if current.get('supports_protocol'):
        protocol = 'ntp'
        enabled = True
    firewall = params['firewall']
    if current.get('firewall_enabled') is None:
        firewall = None
    elif firewall_managed_by(current) == 'ntpd':
        firewall = params['service_running']
    wanted_hosts = allowed_hosts(current)
    if allowed is not None and current.get('firewall_ip_configurable') is not False:
        wanted_hosts = list(allowed)
    return dict(
        ntp_servers=servers,
        service_policy=params['service_policy'],
        service_running=params['service_running'],
        firewall_enabled=firewall,
        protocol=protocol,
        time_services_enabled=enabled,
        firewall_allowed_hosts=wanted_hosts,
    )


def reported_state(current):
    return dict(
        ntp_servers=list(current.get('ntp_servers') or []),
        service_policy=current.get('service_policy'),
        service_running=current.get('service_running'),
        firewall_enabled=current.get('firewall_enabled'),
        protocol=current.get('protocol'),
        time_services_enabled=current.get('ntp_enabled'),
        firewall_allowed_hosts=allowed_hosts(current),
    )


def plan_host(current, params, allowed=None):
    """The ordered list of ``(action, argument)`` writes that bring ``current`` to the desired state.

    The order works on every release: servers (and protocol/enabled), then the service policy and
    the service, then the ruleset, which on 7.0.3+ cannot be opened while ntpd is stopped and on
    8.0.2+ is owned by ntpd (never written; only its IP list, for secure NTP).
    Actions: ``update_ntp`` ((servers, protocol, enabled)), ``update_service_policy`` (policy),
    ``start_service``, ``restart_service``, ``stop_service``, ``set_ruleset`` (enabled),
    ``set_allowed_hosts`` (addresses).
    """
    desired = desired_state(current, params, allowed)
    actions = []
    if params.get('protocol') == 'ptp':
        if current.get('supports_protocol') and (current.get('protocol') != 'ptp' or current.get('ntp_enabled') is False):
            actions.append(('update_ntp', (list(current['ntp_servers']), 'ptp', True)))
        return desired, actions
    if stays_on_ptp(current, params):
        return desired, actions
    servers_changed = not same_servers(current['ntp_servers'], desired['ntp_servers'])
    protocol = enabled = None
    if current.get('supports_protocol'):
        if current.get('protocol') != 'ntp':
            protocol = 'ntp'
        if current.get('ntp_enabled') is not True:
            enabled = True
    time_changed = servers_changed or protocol is not None or enabled is not None
    if time_changed:
        actions.append(('update_ntp', (desired['ntp_servers'], protocol, enabled)))
    if current.get('service_policy') != desired['service_policy']:
        actions.append(('update_service_policy', desired['service_policy']))
    if desired['service_running']:
        if not current.get('service_running'):
            actions.append(('start_service', None))
        elif time_changed and params.get('restart_on_change', True):
            actions.append(('restart_service', None))
    elif current.get('service_running'):
        actions.append(('stop_service', None))
    if (firewall_managed_by(current) == 'user' and current.get('firewall_enabled') is not None
            and current['firewall_enabled'] != desired['firewall_enabled']):
        actions.append(('set_ruleset', desired['firewall_enabled']))
    if allowed is not None and current.get('firewall_ip_configurable') is not False and \
            desired['firewall_allowed_hosts'] != allowed_hosts(current):
        actions.append(('set_allowed_hosts', list(allowed)))
    return desired, actions


def state_after(current, written):
    """The reported fields after the ``written`` actions (those that succeeded) on ``current``."""
    after = reported_state(current)
    for action, argument in written:
        if action == 'update_ntp':
            servers, protocol, enabled = argument
            after['ntp_servers'] = list(servers)
            if protocol is not None:
                after['protocol'] = protocol
            if enabled is not None:
                after['time_services_enabled'] = enabled
        elif action == 'update_service_policy':
            after['service_policy'] = argument
        elif action in ('start_service', 'restart_service', 'stop_service'):
            after['service_running'] = action != 'stop_service'
            if firewall_managed_by(current) == 'ntpd' and after['firewall_enabled'] is not None:
                after['firewall_enabled'] = after['service_running']
        elif action == 'set_ruleset':
            after['firewall_enabled'] = argument
        elif action == 'set_allowed_hosts':
            after['firewall_allowed_hosts'] = list(argument)
    return after


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def measure_offset(client, current, clock=utc_now):
    """Seconds the host clock is ahead of the controller (negative: behind), and the host time."""
    before = clock()
    host_time = client.query_date_time(current)
    after = clock()
    if host_time.tzinfo is None:
        host_time = host_time.replace(tzinfo=datetime.timezone.utc)
    controller_time = before + (after - before) / 2
    return round((host_time - controller_time).total_seconds(), 3) or 0.0, host_time


def _execute(client, current, actions, written):
    """Run ``actions`` in order, appending each one that succeeded to ``written``; stop at the first fault."""
    for action, argument in actions:
        if action == 'update_ntp':
            servers, protocol, enabled = argument
            client.update_ntp(current, servers, protocol=protocol, enabled=enabled)
        elif action == 'set_ruleset':
            client.set_ruleset(current, argument)
        elif action == 'set_allowed_hosts':
            client.set_ruleset_allowed_hosts(current, argument)
        elif action == 'update_service_policy':
            client.update_service_policy(current, argument)
        elif action == 'start_service':
            client.start_service(current)
        elif action == 'restart_service':
            client.restart_service(current)
        elif action == 'stop_service':
            client.stop_service(current)
        written.append((action, argument))


def unreachable_reason(current):
    state = current.get('connection_state')
    if state in REACHABLE_STATES:
        return None
    return 'host is %s' % state


def host_facts(current, params):
    """What every result of a host says about its release, whatever happened."""
    return dict(esxi_version=current.get('product_version'), api_version=current.get('api_version'),
                protocol_applicable=bool(current.get('supports_protocol')),
                firewall_managed_by=firewall_managed_by(current), version_notes=version_notes(current, params))


def remediate_host(client, current, params, check_mode, clock=utc_now, reference=None, allowed=None):
    """Plan, (unless check mode) apply, and measure one host; returns a ``HostResult``.

    Clock steps come later (``step_drifted``): whether a step is safe depends on the whole fleet.
    ``written`` lists the writes that succeeded; when one faults, ``after`` is the state
    those writes made, ``failed_action`` the write that faulted and ``not_attempted`` the rest.
    """
    reference = reference or describe_reference([], checked=False)
    result = HostResult(current['name'], before=reported_state(current), after=reported_state(current),
                        actions=[], written=[], failed_action=None, not_attempted=[],
                        offset_seconds=None, offset_from_controller_seconds=None,
                        initial_offset_seconds=None, drifted_before=False, drifted=False, restarted=False,
                        clock_stepped=False, step_refused=None, **host_facts(current, params))
    reason = unreachable_reason(current)
    if reason:
        if params.get('fail_on_unreachable'):
            result.fail(reason)
        else:
            result.skip(reason)
        return result
    if not current.get('service_present'):
        result.fail('the host has no ntpd service')
        return result
    if params.get('protocol') == 'ptp' and not current.get('supports_protocol'):
        result.fail('protocol: ptp needs ESXi 7.0.3 or later; this host runs ESXi %s' % (current.get('product_version') or '?'))
        return result
    desired, actions = plan_host(current, params, allowed)
    result.fields['actions'] = [action for action, _argument in actions]
    written = []
    try:
        if check_mode:
            result.fields['after'] = desired
        else:
            _execute(client, current, actions, written)
            result.fields['after'] = state_after(current, written)
        result.changed = bool(actions)
        result.fields['restarted'] = any(action == 'restart_service' for action, _argument in written)
        from_controller, _host_time = measure_offset(client, current, clock)
        offset = host_offset(from_controller, reference)
        drifted = abs(offset) > params['max_offset_seconds']
        result.fields.update(offset_seconds=offset, offset_from_controller_seconds=from_controller,
                             initial_offset_seconds=offset, drifted_before=drifted, drifted=drifted)
    except VSphereError as error:
        if not check_mode:
            result.fields['after'] = state_after(current, written)
            done = len(written)
            if done < len(actions):
                result.fields['failed_action'] = actions[done][0]
                result.fields['not_attempted'] = [action for action, _argument in actions[done + 1:]]
        result.changed = bool(written) or result.fields['clock_stepped']
        result.fields['restarted'] = any(action == 'restart_service' for action, _argument in written)
        if written:
            result.fail('%s (after %s succeeded)' % (error, ', '.join(action for action, _argument in written)))
        else:
            result.fail(str(error))
    result.fields['written'] = [action for action, _argument in written]
    return result


def step_host(client, current, result, plan, reference, params, check_mode, clock=utc_now):
    """Step one drifted host to the plan's target clock (predicted in check mode), then measure again."""
    result.changed = True
    result.fields['clock_stepped'] = True
    target_offset = plan['target_offset_seconds']
    if check_mode:
        predicted = host_offset(target_offset, reference)
        result.fields.update(offset_seconds=predicted, offset_from_controller_seconds=target_offset,
                             drifted=abs(predicted) > params['max_offset_seconds'])
        return result
    try:
        client.update_date_time(current, clock() + datetime.timedelta(seconds=target_offset))
        from_controller, _host_time = measure_offset(client, current, clock)
    except VSphereError as error:
        result.fail(str(error))
        return result
    offset = host_offset(from_controller, reference)
    result.fields.update(offset_seconds=offset, offset_from_controller_seconds=from_controller,
                         drifted=abs(offset) > params['max_offset_seconds'])
    return result


def step_drifted(client, states_by_name, report, reference, params, check_mode, clock=utc_now):
    """Decide once for the fleet whether (and to which clock) drifted hosts are stepped, then step them.

    Returns the ``step`` return value; every drifted host not stepped gets ``step_refused``.
    """
    measured = [result.fields.get('offset_from_controller_seconds') for result in report.results if result.ok]
    plan = plan_steps(reference, measured, params['max_offset_seconds'])
    step = dict(requested=bool(params.get('step_clock')), allowed=plan['allowed'], target=plan['target'], reason=plan['reason'])
    if not params.get('step_clock'):
        step.update(allowed=False, target=None, reason='step_clock is off')
        return step
    to_step = []
    for result in report.results:
        if not (result.ok and result.fields.get('drifted')):
            continue
        allowed, why = step_decision(result.fields.get('offset_from_controller_seconds'), plan, params.get('max_step_seconds'))
        if allowed:
            to_step.append(result)
        else:
            result.fields['step_refused'] = why
    for result, _value, error in run_bounded(
            to_step, lambda result: step_host(client, states_by_name[result.name], result, plan, reference, params, check_mode, clock),
            params['max_workers']):
        if error is not None:
            result.fail('%s: %s' % (type(error).__name__, error))
    return step


def set_tiers(report, params):
    kerberos = params.get('kerberos_skew_seconds') or KERBEROS_SKEW_SECONDS
    for result in report.results:
        level = tier(result.fields.get('offset_seconds'), params['max_offset_seconds'], kerberos)
        result.fields.update(tier=level, kerberos_fails=level == 'critical')


def tier_counts(hosts):
    counts = dict.fromkeys(TIERS, 0)
    for host in hosts:
        counts[host.get('tier') or 'unknown'] += 1
    return counts


def servers_to_check(params, states):
    """The NTP servers the hosts are (or will be) pointed at: the requested ones, else those configured on the hosts."""
    if params.get('ntp_servers') and params.get('state', 'present') == 'present':
        return list(params['ntp_servers'])
    configured = {}
    for state in states:
        for server in state.get('ntp_servers') or []:
            configured.setdefault(server.lower(), server)
    return list(configured.values())


def trusted_reference(params, states, check=None):
    """``(ntp_sources, reference)``: every server asked from the controller and the chosen reference."""
    if not params.get('check_sources'):
        return [], describe_reference([], checked=False)
    resolvers = params.get('source_resolvers')
    ask = check or check_sources
    sources = ask(servers_to_check(params, states), params['max_offset_seconds'], port=params.get('ntp_port') or 123,
                  resolve=dns_resolver(resolvers) if resolvers else system_resolver)
    return sources, describe_reference(sources)


def read_guests_at_risk(client, states_by_name, drifted_hosts, params):
    """The ``guests_at_risk`` list for the hosts drifted before the run (one PropertyCollector read)."""
    if not drifted_hosts or not params.get('report_guests', True):
        return []
    refs = [states_by_name[name]['ref'] for name in drifted_hosts]
    return guests_at_risk(client.read_guests(refs), drifted_hosts)


def trusted_fields(sources, reference):
    return dict(ntp_sources=sources, reference=reference, controller_offset_seconds=reference['controller_offset_seconds'])


def info_host(client, current, params, clock=utc_now, reference=None):
    """Read-only report of one host: its state, clock and offset against the reference."""
    reference = reference or describe_reference([], checked=False)
    result = HostResult(current['name'], **reported_state(current))
    result.fields.update(time_zone=current.get('time_zone'), connection_state=current.get('connection_state'),
                         host_time=None, offset_seconds=None, offset_from_controller_seconds=None, drifted=False,
                         **host_facts(current, params))
    reason = unreachable_reason(current)
    if reason:
        result.skip(reason)
        return result
    try:
        from_controller, host_time = measure_offset(client, current, clock)
    except VSphereError as error:
        result.fail(str(error))
        return result
    offset = host_offset(from_controller, reference)
    result.fields.update(host_time=host_time.isoformat(), offset_seconds=offset, offset_from_controller_seconds=from_controller,
                         drifted=abs(offset) > params['max_offset_seconds'])
    return result


def read_scope(client, params):
    """The state of every host in scope (constant number of round trips)."""
    hosts = client.find_hosts(esxi_hostnames=params.get('esxi_hostnames'), cluster_name=params.get('cluster_name'),
                              datacenter=params.get('datacenter'))
    states = client.read_time_state([ref for ref, _name in hosts])
    return [states[name] for _ref, name in hosts if name in states]


def run_fleet(client, states, work, max_workers):
    """Run ``work(state)`` on every host with bounded concurrency; return the ``FleetReport``."""
    report = FleetReport('host')
    for state, value, error in run_bounded(states, work, max_workers):
        if error is not None:
            value = HostResult(state['name'])
            value.fail('%s: %s' % (type(error).__name__, error))
        report.add(value)
    return report


def empty_scope_message(params):
    if params.get('esxi_hostnames') is not None and len(params['esxi_hostnames']) == 0:
        return 'esxi_hostnames is an empty list: no host is in scope and nothing was changed.'
    return None


def remediate(client, params, check_mode, diff, clock=utc_now, check=None, allowed=None):
    """The whole esxi_ntp run after login: returns ``(report, result dict, extra failure or None)``.

    ``allowed`` is the secure-NTP address list for the ntpClient ruleset (None: left alone).
    """
    states = read_scope(client, params)
    sources, reference = trusted_reference(params, states, check)
    if (params.get('check_sources') and params.get('require_good_source', True) and params.get('ntp_servers')
            and params.get('state', 'present') == 'present' and not good_sources(sources)):
        report = FleetReport('host')
        result = dict(changed=False, hosts=[], summary=report.summary(drifted=0), step=None, guests_at_risk=[])
        result.update(trusted_fields(sources, reference))
        return report, result, refusal(sources)
    report = run_fleet(client, states, lambda state: remediate_host(client, state, params, check_mode, clock, reference,
                                                                    allowed),
                       params['max_workers'])
    states_by_name = {state['name']: state for state in states}
    step = step_drifted(client, states_by_name, report, reference, params, check_mode, clock)
    set_tiers(report, params)
    hosts = report.as_list()
    drifted = [host['name'] for host in hosts if host.get('drifted')]
    drifted_before = [host['name'] for host in hosts if host.get('drifted_before') and not host['failed']]
    guests_error = None
    try:
        guests = read_guests_at_risk(client, states_by_name, drifted_before, params)
    except VSphereError as error:
        # the hosts are done; a failed read of their VMs is reported, not a reason to hide that
        guests, guests_error = [], str(error)
    result = dict(changed=report.changed, hosts=hosts, step=step, guests_at_risk=guests, guests_error=guests_error,
                  summary=report.summary(drifted=len(drifted), by_tier=tier_counts(hosts),
                                         guests_at_risk=sum(1 for guest in guests if guest['booted_while_drifted'])))
    result.update(trusted_fields(sources, reference))
    if empty_scope_message(params):
        result['msg'] = empty_scope_message(params)
    if diff:
        changed_hosts = [host for host in hosts if host['changed']]
        result['diff'] = dict(
            before={host['name']: host['before'] for host in changed_hosts},
            after={host['name']: host['after'] for host in changed_hosts},
        )
    extra_failure = None
    if drifted and params.get('fail_on_drift'):
        extra_failure = '%d host%s drifted beyond %s seconds: %s' % (
            len(drifted), '' if len(drifted) == 1 else 's', params['max_offset_seconds'], ', '.join(drifted))
    return report, result, extra_failure


def report_info(client, params, clock=utc_now, check=None):
    """The whole esxi_time_info run after login: returns ``(report, result dict)``."""
    states = read_scope(client, params)
    sources, reference = trusted_reference(params, states, check)
    report = run_fleet(client, states, lambda state: info_host(client, state, params, clock, reference), params['max_workers'])
    set_tiers(report, params)
    hosts = report.as_list()
    drifted = [host['name'] for host in hosts if host.get('drifted') and not host['failed']]
    guests = read_guests_at_risk(client, {state['name']: state for state in states}, drifted, params)
    result = dict(changed=False, hosts=hosts, guests_at_risk=guests,
                  summary=report.summary(drifted=len(drifted), by_tier=tier_counts(hosts),
                                         guests_at_risk=sum(1 for guest in guests if guest['booted_while_drifted'])))
    result.update(trusted_fields(sources, reference))
    if empty_scope_message(params):
        result['msg'] = empty_scope_message(params)
    return report, result
