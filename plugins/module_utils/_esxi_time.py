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
import re

from ansible_collections.fleetfix.remediate.plugins.module_utils._fleet import FleetReport, HostResult, run_bounded
from ansible_collections.fleetfix.remediate.plugins.module_utils._vsphere import VSphereError

HOSTNAME_LABEL = re.compile(r'^(?!-)[a-z0-9-]{1,63}(?<!-)$', re.IGNORECASE)
REPORTED_FIELDS = ('ntp_servers', 'service_policy', 'service_running', 'firewall_enabled', 'protocol')
REACHABLE_STATES = ('connected',)


class ValidationError(ValueError):
    """Bad module input, described in a sentence a person can act on."""


def is_valid_server(server):
    """An IPv4/IPv6 address or a DNS host name (labels of letters, digits and hyphens)."""
    if not isinstance(server, str) or not server or server != server.strip():
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


def validate_servers(servers):
    """Reject malformed and duplicate (case-insensitive) entries; return the list unchanged."""
    servers = list(servers or [])
    malformed = [repr(server) for server in servers if not is_valid_server(server)]
    if malformed:
        raise ValidationError('ntp_servers holds entries that are neither a host name nor an IP address: %s. '
                              'Nothing was changed.' % ', '.join(malformed))
    seen = {}
    duplicates = []
    for server in servers:
        key = server.lower()
        if key in seen and server not in duplicates:
            duplicates.append(server)
        seen.setdefault(key, server)
    if duplicates:
        raise ValidationError('ntp_servers lists the same server more than once (case does not matter): %s. '
                              'Remove the duplicates; nothing was changed.' % ', '.join(duplicates))
    return servers


def same_servers(first, second):
    """Equal as sets, ignoring order and case."""
    return sorted(server.lower() for server in first) == sorted(server.lower() for server in second)


def desired_servers(current, requested, state='present', exclusive=True):
    """The server list a host should end up with; keeps the current list when nothing changes."""
    requested_keys = {server.lower() for server in requested}
    if state == 'absent':
        wanted = [server for server in current if server.lower() not in requested_keys]
    elif exclusive:
        wanted = list(requested)
    else:
        current_keys = {server.lower() for server in current}
        wanted = list(current) + [server for server in requested if server.lower() not in current_keys]
    return list(current) if same_servers(current, wanted) else wanted


def desired_state(current, params):
    """The reported fields a host should have after the run, given its state and the arguments."""
    servers = current['ntp_servers']
    if params.get('ntp_servers') is not None:
        servers = desired_servers(current['ntp_servers'], params['ntp_servers'], params['state'], params['exclusive'])
    protocol = current.get('protocol')
    if current.get('supports_protocol'):
        protocol = 'ntp'
    return dict(
        ntp_servers=servers,
        service_policy=params['service_policy'],
        service_running=params['service_running'],
        firewall_enabled=params['firewall'],
        protocol=protocol,
    )


def reported_state(current):
    return {field: current.get(field) for field in REPORTED_FIELDS}


def plan_host(current, params):
    """The ordered list of ``(action, argument)`` writes that bring ``current`` to the desired state.

    Actions: ``update_ntp`` (servers, set_protocol), ``update_service_policy`` (policy),
    ``set_ruleset`` (enabled), ``start_service``, ``restart_service``, ``stop_service``.
    """
    desired = desired_state(current, params)
    actions = []
    servers_changed = not same_servers(current['ntp_servers'], desired['ntp_servers'])
    protocol_changed = bool(current.get('supports_protocol')) and (
        current.get('protocol') != 'ntp' or current.get('ntp_enabled') is False)
    if servers_changed or protocol_changed:
        actions.append(('update_ntp', (desired['ntp_servers'], bool(current.get('supports_protocol')))))
    if current.get('firewall_enabled') is not None and current['firewall_enabled'] != desired['firewall_enabled']:
        actions.append(('set_ruleset', desired['firewall_enabled']))
    if current.get('service_policy') != desired['service_policy']:
        actions.append(('update_service_policy', desired['service_policy']))
    if desired['service_running']:
        if not current.get('service_running'):
            actions.append(('start_service', None))
        elif (servers_changed or protocol_changed) and params.get('restart_on_change', True):
            actions.append(('restart_service', None))
    elif current.get('service_running'):
        actions.append(('stop_service', None))
    return desired, actions


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


def _execute(client, current, actions):
    for action, argument in actions:
        if action == 'update_ntp':
            servers, set_protocol = argument
            client.update_ntp(current, servers, set_protocol=set_protocol)
        elif action == 'set_ruleset':
            client.set_ruleset(current, argument)
        elif action == 'update_service_policy':
            client.update_service_policy(current, argument)
        elif action == 'start_service':
            client.start_service(current)
        elif action == 'restart_service':
            client.restart_service(current)
        elif action == 'stop_service':
            client.stop_service(current)


def unreachable_reason(current):
    state = current.get('connection_state')
    if state in REACHABLE_STATES:
        return None
    return 'host is %s' % state


def remediate_host(client, current, params, check_mode, clock=utc_now):
    """Plan, (unless check mode) apply, and measure one host; returns a ``HostResult``."""
    result = HostResult(current['name'], before=reported_state(current), after=reported_state(current),
                        actions=[], offset_seconds=None, drifted=False, restarted=False, clock_stepped=False,
                        protocol_applicable=bool(current.get('supports_protocol')))
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
    desired, actions = plan_host(current, params)
    result.fields['actions'] = [action for action, _argument in actions]
    try:
        if not check_mode:
            _execute(client, current, actions)
        if actions:
            result.changed = True
            result.fields['after'] = desired
            result.fields['restarted'] = any(action == 'restart_service' for action, _argument in actions)
        offset, _host_time = measure_offset(client, current, clock)
        result.fields['offset_seconds'] = offset
        drifted = abs(offset) > params['max_offset_seconds']
        if drifted and params.get('step_clock'):
            result.changed = True
            result.fields['clock_stepped'] = True
            if not check_mode:
                client.update_date_time(current, clock())
                offset, _host_time = measure_offset(client, current, clock)
                result.fields['offset_seconds'] = offset
                drifted = abs(offset) > params['max_offset_seconds']
            else:
                drifted = False
        result.fields['drifted'] = drifted
    except VSphereError as error:
        # what was applied before the fault is unknown: report the state read at the start
        result.fields['after'] = reported_state(current)
        result.fail(str(error))
    return result


def info_host(client, current, params, clock=utc_now):
    """Read-only report of one host: its state, clock and offset."""
    result = HostResult(current['name'], **reported_state(current))
    result.fields.update(time_zone=current.get('time_zone'), connection_state=current.get('connection_state'),
                         protocol_applicable=bool(current.get('supports_protocol')),
                         host_time=None, offset_seconds=None, drifted=False)
    reason = unreachable_reason(current)
    if reason:
        result.skip(reason)
        return result
    try:
        offset, host_time = measure_offset(client, current, clock)
    except VSphereError as error:
        result.fail(str(error))
        return result
    result.fields.update(host_time=host_time.isoformat(), offset_seconds=offset,
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


def remediate(client, params, check_mode, diff, clock=utc_now):
    """The whole esxi_ntp run after login: returns ``(report, result dict, extra failure or None)``."""
    states = read_scope(client, params)
    report = run_fleet(client, states, lambda state: remediate_host(client, state, params, check_mode, clock),
                       params['max_workers'])
    hosts = report.as_list()
    drifted = [host['name'] for host in hosts if host.get('drifted')]
    result = dict(changed=report.changed, hosts=hosts, summary=report.summary(drifted=len(drifted)))
    if diff:
        changed_hosts = [host for host in hosts if host['changed'] and not host['failed']]
        result['diff'] = dict(
            before={host['name']: host['before'] for host in changed_hosts},
            after={host['name']: host['after'] for host in changed_hosts},
        )
    extra_failure = None
    if drifted and params.get('fail_on_drift'):
        extra_failure = '%d host%s drifted beyond %s seconds: %s' % (
            len(drifted), '' if len(drifted) == 1 else 's', params['max_offset_seconds'], ', '.join(drifted))
    return report, result, extra_failure


def report_info(client, params, clock=utc_now):
    """The whole esxi_time_info run after login: returns ``(report, result dict)``."""
    states = read_scope(client, params)
    report = run_fleet(client, states, lambda state: info_host(client, state, params, clock), params['max_workers'])
    hosts = report.as_list()
    drifted = sum(1 for host in hosts if host.get('drifted'))
    return report, dict(changed=False, hosts=hosts, summary=report.summary(drifted=drifted))
