# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: the compliance report's model.

The capability roles leave their results as facts; this turns them into areas of rows. A row's
status is decided in one place (``Row.status``) from what the row was told (failures, things
that need a human, a skip, a change, notes), and the text shown beside it is taken from the same
findings, so the two cannot disagree. Templates only lay the model out.

Adding a section: write a function ``rows_<area>(results, context)`` that yields ``Row``s and add
an ``Area`` to ``AREAS``. Adding a field: read it in that function, then either put it in the
row's before/after text, give the row a finding or a note, or put it in ``row.details`` and name
it in the area's ``columns``.
"""

from __future__ import annotations

import datetime
import re

SCHEMA = 'fleetfix.remediate/compliance-report'
SCHEMA_VERSION = 1

# Most severe first: a row takes the first status whose condition holds.
STATUSES = ('missing', 'failed', 'attention', 'skipped', 'changed', 'compliant')
NEEDS_HUMAN = ('missing', 'failed', 'attention')


def status_labels(check_mode):
    return {
        'compliant': 'compliant',
        'changed': 'would change' if check_mode else 'changed',
        'attention': 'needs attention',
        'failed': 'failed',
        'skipped': 'skipped',
        'missing': 'no result',
    }


class Row:
    """One host or domain of an area. Tell it what was found; it decides its status."""

    def __init__(self, area, subject, scope='', source=''):
        self.area = area
        self.subject = subject
        self.scope = scope or ''
        self.source = source or ''
        self.before = ''
        self.action = ''
        self.after = ''
        self.actions = []
        self.details = {}
        self._failures = []
        self._attention = []
        self._notes = []
        self._skipped = None
        self._missing = None
        self._changed = False

    def fail(self, text):
        self._failures.append(text or 'failed')
        return self

    def needs_human(self, text):
        self._attention.append(text)
        return self

    def note(self, text):
        """Information that does not change the status (shown in neutral colours)."""
        self._notes.append(text)
        return self

    def skip(self, reason):
        self._skipped = reason or 'skipped'
        return self

    def no_result(self, reason):
        self._missing = reason
        return self

    def changed(self, value=True):
        self._changed = self._changed or bool(value)
        return self

    @property
    def status(self):
        if self._missing is not None:
            return 'missing'
        if self._failures:
            return 'failed'
        if self._attention:
            return 'attention'
        if self._skipped is not None:
            return 'skipped'
        if self._changed:
            return 'changed'
        return 'compliant'

    @property
    def problem(self):
        """Why the row needs a human (empty for every other status)."""
        status = self.status
        if status == 'missing':
            return self._missing
        if status in ('failed', 'attention'):
            return '; '.join(self._failures + self._attention)
        return ''

    def to_dict(self, check_mode):
        status = self.status
        return {
            'key': row_key(self.area, self.scope, self.subject),
            'area': self.area,
            'subject': self.subject,
            'scope': self.scope,
            'source': self.source,
            'status': status,
            'needs_human': status in NEEDS_HUMAN,
            # after this run: compliant, or brought to compliance (not in check mode)
            'in_desired_state': status == 'compliant' or (status == 'changed' and not check_mode),
            'before': self.before,
            'action': self.action or 'none',
            'actions': list(self.actions),
            'after': self.after,
            'problem': self.problem,
            'skip_reason': self._skipped if status == 'skipped' else '',
            'notes': list(self._notes),
            'details': dict(self.details),
        }


def row_key(area, scope, subject):
    return '%s/%s/%s' % (area, scope or '', subject)


def _natural(text):
    return [(0, int(part), '') if part.isdigit() else (1, 0, part.lower()) for part in re.split(r'(\d+)', str(text or '')) if part]


def row_order(row):
    """Rows sort by name (esx2 before esx10), then scope: a merged report orders them as an unsliced one."""
    return (_natural(row['subject']), _natural(row['scope']))


class Area:
    def __init__(self, area_id, title, subject_label, scope_label, what, rows, columns=()):
        self.id = area_id
        self.title = title
        self.subject_label = subject_label
        self.scope_label = scope_label
        self.what = what
        self.rows = rows
        self.columns = list(columns)


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _list(value):
    return list(value) if isinstance(value, (list, tuple)) else []


def _dicts(value):
    """The entries of a list that are mappings (a malformed entry is left out, not an error)."""
    return [entry for entry in _list(value) if isinstance(entry, dict)]


def _number(value):
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# --- ESXi time ------------------------------------------------------------------------------

# The esxi_ntp module's clock tiers (issue 11) and the words the report uses for them.
ESXI_TIERS = {'ok': 'in time', 'warning': 'beyond max_offset_seconds', 'critical': 'Kerberos fails here', 'unknown': 'not measured'}

# Exactly the actions _esxi_time.plan_host emits (the unit tests compare the two).
ESXI_ACTION_LABELS = {
    'update_ntp': 'set the NTP servers',
    'set_ruleset': 'opened the ntpClient firewall ruleset',
    'update_service_policy': 'set the ntpd start-up policy',
    'start_service': 'started ntpd',
    'restart_service': 'restarted ntpd',
    'stop_service': 'stopped ntpd',
}


def esxi_state(state):
    if not isinstance(state, dict) or not state:
        return 'unknown'
    servers = ', '.join(str(server) for server in _list(state.get('ntp_servers'))) or '(none)'
    text = 'NTP %s; ntpd %s, %s; firewall %s' % (
        servers, state.get('service_policy') or '?',
        'running' if state.get('service_running') else 'stopped',
        'open' if state.get('firewall_enabled') else 'closed')
    allowed = _list(state.get('firewall_allowed_hosts'))
    if allowed and allowed != ['all']:
        text += ' to %s' % ', '.join(str(address) for address in allowed)
    if state.get('protocol'):
        text += '; protocol %s' % state['protocol']
    if state.get('time_services_enabled') is False:
        text += '; time services off'
    return text


def _offsets_before(info):
    offsets = {}
    for entry in _list(_mapping(info).get('hosts')):
        if isinstance(entry, dict) and entry.get('name') is not None:
            offsets[entry['name']] = _number(entry.get('offset_seconds'))
    return offsets


def rows_esxi_time(results, context):
    """``results``: {vcenter: esxi_time_result or None}; input ``esxi_time_info``: {vcenter: esxi_time_info_result}."""
    infos = _mapping(context['inputs'].get('esxi_time_info'))
    for vcenter, result in results.items():
        if not isinstance(result, dict):
            yield Row('esxi_time', vcenter, vcenter, vcenter).no_result(
                'no result: the vCenter was unreachable or its play did not run')
            continue
        hosts = _dicts(result.get('hosts'))
        if not hosts:
            row = Row('esxi_time', vcenter, vcenter, vcenter)
            if result.get('failed'):
                row.fail(result.get('msg') or 'failed')
            else:
                row.skip(result.get('msg') or 'no ESXi host in scope')
            yield row
            continue
        offsets_before = _offsets_before(infos.get(vcenter))
        for host in hosts:
            yield _esxi_host_row(vcenter, host, offsets_before, context)
        if result.get('failed') and not any(host.get('failed') or host.get('drifted') for host in hosts):
            # the run failed after the hosts were read (for example the role's own check)
            yield Row('esxi_time', vcenter, vcenter, vcenter).fail(result.get('msg') or 'failed')


def _esxi_host_row(vcenter, host, offsets_before, context):
    name = host.get('name')
    row = Row('esxi_time', name, vcenter, vcenter)
    labels = [ESXI_ACTION_LABELS.get(action, str(action)) for action in _list(host.get('actions'))]
    if host.get('clock_stepped'):
        labels.append('stepped the clock')
    if host.get('restarted') and 'restarted ntpd' not in labels:
        labels.append('restarted ntpd')
    row.actions = [str(action) for action in _list(host.get('actions'))]
    offset_after = _number(host.get('offset_seconds'))
    if name in offsets_before:
        offset_before = offsets_before[name]
    elif _number(host.get('initial_offset_seconds')) is not None:
        offset_before = _number(host.get('initial_offset_seconds'))
    else:
        offset_before = offset_after
    tier = host.get('tier') if host.get('tier') in ESXI_TIERS else None
    row.details = {'offset_before': offset_before, 'offset_after': offset_after,
                   'tier': ESXI_TIERS[tier] if tier else None, 'esxi_version': host.get('esxi_version'),
                   'firewall_managed_by': host.get('firewall_managed_by')}
    row.before = esxi_state(host.get('before'))
    row.after = esxi_state(host.get('after'))
    if host.get('failed'):
        written = [ESXI_ACTION_LABELS.get(action, str(action)) for action in _list(host.get('written'))]
        text = str(host['failed'])
        if host.get('failed_action') or written:
            text = '%s%s failed (%s)%s' % (
                'partly changed: %s; ' % ', '.join(written) if written else '',
                ESXI_ACTION_LABELS.get(host.get('failed_action'), host.get('failed_action') or 'a write'), text,
                '; not attempted: %s' % ', '.join(ESXI_ACTION_LABELS.get(action, str(action)) for action in _list(host.get('not_attempted')))
                if _list(host.get('not_attempted')) else '')
        row.fail(text)
    elif host.get('skipped'):
        row.skip(str(host['skipped']))
    for note in _list(host.get('version_notes')):
        row.note(str(note))
    if host.get('drifted'):
        text = 'clock still %.1f s off after the run' % (offset_after or 0.0)
        if tier == 'critical' or host.get('kerberos_fails'):
            text += ': Kerberos fails here'
        if host.get('step_refused'):
            text += ' (not stepped: %s)' % host['step_refused']
        row.needs_human(text)
    row.changed(host.get('changed'))
    if _list(host.get('written')) and row.status == 'failed':
        row.action = 'wrote: ' + ', '.join(ESXI_ACTION_LABELS.get(action, str(action)) for action in host['written'])
    elif labels:
        prefix = 'attempted: ' if row.status == 'failed' else ('would: ' if context['check_mode'] else '')
        row.action = prefix + ', '.join(labels)
    return row


def _signed(value):
    return '-' if value is None else '%+.3f s' % value


def rows_ntp_sources(results, context):
    """The NTP servers each vCenter's hosts use, asked from the controller, and the reference clock chosen."""
    for vcenter, result in results.items():
        if not isinstance(result, dict):
            continue
        for source in _dicts(result.get('ntp_sources')):
            row = Row('ntp_sources', str(source.get('server') or source.get('address') or '?'), vcenter, vcenter)
            offset = _number(source.get('offset_seconds'))
            if source.get('problem'):
                row.needs_human(str(source['problem']))
            state = ('stratum %s, offset %s, reference %s' % (source.get('stratum'), _signed(offset), source.get('reference_id') or '-')
                     if source.get('reachable') else 'no answer')
            if source.get('address') and source.get('address') != source.get('server'):
                state = '%s: %s' % (source['address'], state)
            row.before = row.after = state
            row.action = 'checked (read-only)'
            row.details = {'stratum': source.get('stratum'), 'offset_seconds': offset}
            yield row
        reference = result.get('reference')
        if isinstance(reference, dict) and reference:
            against = reference.get('server') or 'the controller clock'
            row = Row('ntp_sources', 'reference: %s' % against, vcenter, vcenter)
            if reference.get('good'):
                row.note(str(reference.get('reason') or 'the best good source'))
            else:
                row.needs_human(str(reference.get('reason') or 'no good NTP source: offsets are against the controller clock'))
            controller = _number(reference.get('controller_offset_seconds'))
            if controller is None:
                controller = _number(result.get('controller_offset_seconds'))
            row.before = row.after = 'host offsets measured against %s%s' % (
                against, '; controller clock %s from it' % _signed(controller) if controller is not None else '')
            row.action = 'checked (read-only)'
            row.details = {'stratum': reference.get('stratum'), 'offset_seconds': _number(reference.get('offset_seconds'))}
            yield row


def rows_guests_at_risk(results, context):
    """The powered-on VMs of hosts that were drifted before the run: those booted while drifted need a restart."""
    for vcenter, result in results.items():
        if not isinstance(result, dict):
            continue
        for guest in _dicts(result.get('guests_at_risk')):
            row = Row('guests_at_risk', str(guest.get('name') or '?'), str(guest.get('host') or ''), vcenter)
            sync = guest.get('tools_time_sync')
            state = '%s; booted %s; VMware Tools time sync %s' % (
                guest.get('guest_os') or 'guest OS unknown', guest.get('boot_time') or 'at an unknown time',
                'on' if sync else 'off' if sync is False else 'unknown')
            row.before = row.after = state
            row.action = 'none'
            if guest.get('booted_while_drifted'):
                row.needs_human('%s: it booted while its host\'s clock was drifted' % (guest.get('advice') or 'restart or resync this guest'))
            yield row


# --- DCOM 10009 -----------------------------------------------------------------------------

def dcom_value(state):
    value = state.get('value') if isinstance(state, dict) else None
    if value is None:
        return 'IgnoreDelegationFailure not set'
    return 'IgnoreDelegationFailure = %s' % value


def rows_dcom_10009(results, context):
    """``results``: {exchange server: dcom_10009_result or None}."""
    check_mode = context['check_mode']
    for server, result in results.items():
        if not isinstance(result, dict):
            yield Row('dcom_10009', server, '', server).no_result(
                'no result: the host was unreachable or its play did not run')
            continue
        os_info = _mapping(result.get('os'))
        scope = str(os_info.get('caption') or '') + (' (affected)' if os_info.get('affected') else '')
        row = Row('dcom_10009', server, scope, server)
        actions = []
        if result.get('changed'):
            actions.append('set IgnoreDelegationFailure = 1' + (' (%s)' % result['method'] if result.get('method') else ''))
        if result.get('rebooted'):
            actions.append('restarted')
        events = _mapping(result.get('dcom_10009'))
        since_boot = events.get('since_boot')
        if result.get('failed'):
            text = result.get('msg') or 'failed'
            if result.get('error_kind') == 'clock_skew':
                text += ' (the usual cause is the time: see ESXi time)'
            row.fail(text)
        elif result.get('skipped'):
            # not reached: the rollout stopped before this host (it was not read)
            row.needs_human(result.get('msg') or 'not reached: the rollout stopped before this host')
        elif result.get('reboot_required') and not result.get('rebooted'):
            text = result.get('msg') or 'restart needed before the policy applies'
            if check_mode:
                row.note(text)
            else:
                row.needs_human(text)
        elif result.get('rebooted') and isinstance(since_boot, int) and since_boot > 0:
            row.needs_human('%d DCOM 10009 events since the restart' % since_boot)
        row.changed(result.get('changed'))
        row.before = dcom_value(result.get('before'))
        after = dcom_value(result.get('after'))
        if since_boot is not None:
            after += '; %s DCOM 10009 events since boot' % since_boot
            if events.get('newest'):
                after += ' (newest %s)' % events['newest']
        row.after = after
        if os_info.get('source') == 'Get-WmiObject':
            row.note('WMIC missing, read with PowerShell (Get-WmiObject)')
        if os_info and os_info.get('affected') is False:
            row.note('this Windows release is not affected by the DCOM 10009 flood: no restart needed')
        row.details = {
            'events_since_boot': since_boot if isinstance(since_boot, int) else None,
            'restart': result.get('restart') or None,
        }
        if actions:
            row.action = ('would: ' if check_mode else '') + ', '.join(actions)
        yield row


# --- Federation DNS -------------------------------------------------------------------------

def rows_federation_dns(results, context):
    """``results``: {inventory host that ran the check: federation_dns_result or None}."""
    for dns_host, result in results.items():
        if not isinstance(result, dict):
            if len(results) > 1:
                yield Row('federation_dns', dns_host, '', dns_host).no_result(
                    'no result: the federation DNS check did not run')
            continue
        domains = _dicts(result.get('domains'))
        autodiscover = _dicts(result.get('autodiscover'))
        for domain in domains:
            yield _proof_row(dns_host, domain, result)
        for domain in autodiscover:
            yield _autodiscover_row(dns_host, domain)
        if result.get('failed') and not domains and not autodiscover:
            yield Row('federation_dns', dns_host, '', dns_host).fail(result.get('msg') or 'failed')


def _proof_row(dns_host, domain, result):
    row = Row('federation_dns', domain.get('name'), 'zone %s' % (domain.get('zone') or '?'), dns_host)
    found = _list(domain.get('found_on'))
    missing = _list(domain.get('missing_on'))
    stale = _list(domain.get('stale_on'))
    unreachable = _list(domain.get('unreachable'))
    if missing:
        row.needs_human('proof missing on ' + ', '.join(missing))
    if domain.get('internal_only'):
        row.needs_human('proof only in internal DNS')
    if unreachable and not missing:
        row.needs_human('no answer from ' + ', '.join(unreachable))
    lame = _mapping(domain.get('lame'))
    if lame:
        row.needs_human('lame: ' + '; '.join('%s %s' % (server, reason) for server, reason in sorted(lame.items()))
                        + ' (fix the NS records, not the proof)')
    delegation = _mapping(domain.get('delegation'))
    problems = []
    if _list(delegation.get('not_in_parent')):
        problems.append('%s in the zone\'s NS records but not delegated by %s' % (
            ', '.join(delegation['not_in_parent']), delegation.get('parent') or 'the parent zone'))
    if _list(delegation.get('not_in_zone')):
        problems.append('%s delegated but not in the zone\'s NS records' % ', '.join(delegation['not_in_zone']))
    for server, glue in sorted(_mapping(delegation.get('glue_mismatch')).items()):
        glue = _mapping(glue)
        problems.append('glue of %s (%s) differs from its addresses (%s)' % (
            server, ', '.join(_list(glue.get('glue'))) or 'none', ', '.join(_list(glue.get('published'))) or 'none'))
    if problems:
        row.needs_human('delegation: ' + '; '.join(problems))
    if _list(domain.get('tcp_only')):
        row.needs_human('UDP blocked, only TCP answers on ' + ', '.join(domain['tcp_only']))
    for warning in _list(domain.get('warnings')):
        row.note(str(warning))
    if not domain.get('ok') and row.status == 'compliant':
        row.needs_human('; '.join(_list(domain.get('errors'))) or result.get('msg') or 'check failed')
    if stale:
        serials = _mapping(domain.get('serials'))
        detail = ', '.join('%s (serial %s)' % (ns, serials[ns]) if ns in serials else ns for ns in stale)
        if row.status == 'compliant':
            # the proofs are on every nameserver; the lagging copy matters for the next change
            row.note('older SOA serial on %s: the proofs are there, later changes may not have reached it yet' % detail)
        else:
            row.needs_human('older SOA serial on %s: the zone transfer is behind' % detail)
    state = ('proof TXT on ' + ', '.join(found)) if found else 'proof TXT on no nameserver'
    row.before = row.after = state
    row.action = 'checked (read-only)'
    row.details = {'nameservers': _list(domain.get('nameservers')), 'missing_on': missing, 'stale_on': stale,
                   'addresses': dns_addresses(domain.get('addresses')) or None}
    return row


def dns_addresses(per_server):
    """Each nameserver's addresses and what each one did, in one line: ``ns1: 127.0.0.2 answered; ns2: ...``."""
    parts = []
    for server, entries in sorted(_mapping(per_server).items()):
        said = []
        for entry in _dicts(entries):
            text = '%s %s' % (entry.get('address') or '?', entry.get('status') or '?')
            transport = entry.get('transport')
            if transport and transport != 'udp':
                text += ' over %s' % transport
            said.append(text)
        if said:
            parts.append('%s: %s' % (server, ', '.join(said)))
    return '; '.join(parts)


def _autodiscover_row(dns_host, domain):
    row = Row('federation_dns', domain.get('name'), 'Autodiscover', dns_host)
    found = []
    for method in _list(domain.get('methods')):
        if isinstance(method, dict):
            points_to = _list(method.get('targets')) or _list(method.get('addresses'))
            found.append('%s %s%s' % (method.get('method') or 'record', method.get('name') or '',
                                      (' -> ' + ', '.join(str(item) for item in points_to)) if points_to else ''))
        else:
            found.append(str(method))
    https = _mapping(domain.get('https'))
    if not domain.get('ok'):
        if found and https.get('checked') and https.get('ok') is not True:
            reasons = [str(attempt.get('reason')) for attempt in _list(https.get('attempts'))
                       if isinstance(attempt, dict) and not attempt.get('ok') and attempt.get('reason')]
            row.needs_human(str(https.get('verdict') or '') or '; '.join(reasons) or 'no Autodiscover endpoint answers over HTTPS')
        else:
            row.needs_human('; '.join(str(error) for error in _list(domain.get('errors')))
                            or 'no Autodiscover A/AAAA, CNAME or SRV record answers')
    state = ('Autodiscover via ' + '; '.join(found)) if found else 'no Autodiscover record'
    if https.get('checked') and https.get('ok') and https.get('verdict'):
        state += '; ' + str(https['verdict'])
    row.before = row.after = state
    row.details = {'https_url': https.get('url'), 'https_method': https.get('method')}
    row.action = 'checked (read-only)'
    return row


AREAS = (
    ('esxi_time', 'ESXi time', 'ESXi host', 'vCenter',
     'NTP servers, ntpd running and on at boot, ntpClient firewall ruleset open, clock within the allowed offset',
     rows_esxi_time,
     ({'key': 'esxi_version', 'label': 'ESXi', 'format': 'text'},
      {'key': 'tier', 'label': 'Clock', 'format': 'text'},
      {'key': 'offset_before', 'label': 'Offset before (s)', 'format': 'seconds'},
      {'key': 'offset_after', 'label': 'Offset after (s)', 'format': 'seconds'})),
    ('ntp_sources', 'NTP sources', 'NTP server', 'vCenter',
     'every NTP server the hosts use answers from the controller, synchronised, with a low stratum and agreeing with the others',
     rows_ntp_sources,
     ({'key': 'stratum', 'label': 'Stratum', 'format': 'number'},
      {'key': 'offset_seconds', 'label': 'Offset (s)', 'format': 'seconds'})),
    ('guests_at_risk', 'Guests at risk', 'VM', 'ESXi host',
     'no VM booted while its host\'s clock was drifted (such a guest starts with the wrong time)',
     rows_guests_at_risk, ()),
    ('dcom_10009', 'DCOM 10009', 'Exchange server', 'Windows',
     'IgnoreDelegationFailure = 1 under HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc, restarted, no new DCOM 10009 event',
     rows_dcom_10009,
     ({'key': 'restart', 'label': 'Restart', 'format': 'text'},
      {'key': 'events_since_boot', 'label': '10009 events since boot', 'format': 'number'})),
    ('federation_dns', 'Federation DNS', 'Domain', 'Zone',
     'federation proof TXT records on every external authoritative nameserver, Autodiscover reachable',
     rows_federation_dns,
     ({'key': 'addresses', 'label': 'Nameserver addresses', 'format': 'text', 'wide': True},)),
)


# Where the inputs come from: input name -> (the area whose host list to read, the fact each host has).
RESULT_FACTS = (
    ('esxi_time', 'esxi_time', 'esxi_time_result'),
    ('esxi_time_info', 'esxi_time', 'esxi_time_info_result'),
    ('dcom_10009', 'dcom_10009', 'dcom_10009_result'),
    ('federation_dns', 'federation_dns', 'federation_dns_result'),
)


def collect(hostvars, hosts):
    """The inputs of ``build`` from Ansible's ``hostvars`` and the inventory hosts of each area.

    A host that is not in the inventory, or has no result fact, maps to ``None`` (no result).
    """
    inputs = {}
    for name, area_id, fact in RESULT_FACTS:
        values = {}
        for host in _list(_mapping(hosts).get(area_id)):
            variables = hostvars.get(host) if host in hostvars else None
            values[host] = variables.get(fact) if variables is not None else None
        inputs[name] = values
    return inputs


# Sections shown only when the results have rows for them (fields of newer modules).
OPTIONAL_AREAS = ('ntp_sources', 'guests_at_risk')
# Sections built from another area's results.
AREA_INPUTS = {'ntp_sources': 'esxi_time', 'guests_at_risk': 'esxi_time'}


def utc_timestamp(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.strftime('%Y-%m-%dT%H:%M:%SZ')


def build(inputs, check_mode=False, title='Fleetfix compliance report', files=None, generated=None):
    """The report model from ``inputs``: {area id: {inventory host: that host's result(s)}}."""
    inputs = _mapping(inputs)
    context = {'check_mode': bool(check_mode), 'inputs': inputs}
    areas = []
    for area_id, area_title, subject_label, scope_label, what, builder, columns in AREAS:
        results = _mapping(inputs.get(AREA_INPUTS.get(area_id, area_id)))
        rows = [row.to_dict(context['check_mode']) for row in builder(results, context)]
        if not rows and area_id in OPTIONAL_AREAS:
            continue
        rows.sort(key=row_order)
        # a column only when some row has a value for it (older modules do not return every field)
        shown = [dict(column) for column in columns if any(row['details'].get(column['key']) is not None for row in rows)]
        areas.append({'id': area_id, 'title': area_title, 'subject_label': subject_label,
                      'scope_label': scope_label, 'what': what, 'columns': shown, 'rows': rows})
    model = {
        'schema': SCHEMA,
        'schema_version': SCHEMA_VERSION,
        'title': title,
        'generated': generated or utc_timestamp(),
        'check_mode': bool(check_mode),
        'areas': areas,
        'files': dict(files or {}),
        'sources': [],
    }
    return summarize(model)


CHART_HOSTS = 30


def offset_chart(area):
    """The rows of an area's clock offset chart: every measured host, or the CHART_HOSTS largest offsets."""
    measured = [row for row in area['rows'] if (row.get('details') or {}).get('offset_after') is not None]
    if not measured:
        return {'row_keys': [], 'measured': 0}

    def largest(row):
        details = row['details']
        return max(abs(details['offset_after']), abs(details.get('offset_before') or 0.0))
    chosen = set(row['key'] for row in sorted(measured, key=largest, reverse=True)[:CHART_HOSTS])
    return {'row_keys': [row['key'] for row in measured if row['key'] in chosen], 'measured': len(measured)}


def clock_tiers(area):
    """How many rows are in each clock tier (ESXi hosts), in the tiers' order; empty where no row has one."""
    counts = {}
    for row in area['rows']:
        tier = (row.get('details') or {}).get('tier')
        if tier:
            counts[tier] = counts.get(tier, 0) + 1
    return [{'tier': tier, 'label': label, 'count': counts[label]} for tier, label in ESXI_TIERS.items() if label in counts]


def summarize(model):
    """Counts, labels and the list of findings, from the rows (used again after a merge)."""
    check_mode = bool(model.get('check_mode'))
    labels = status_labels(check_mode)
    totals = dict((status, 0) for status in STATUSES)
    totals['subjects'] = 0
    findings = []
    for area in model['areas']:
        counts = dict((status, 0) for status in STATUSES)
        for row in area['rows']:
            counts[row['status']] += 1
            if row['needs_human']:
                findings.append({'area': area['id'], 'area_title': area['title'], 'key': row['key'],
                                 'subject': row['subject'], 'status': row['status'], 'problem': row['problem'],
                                 'text': '%s %s: %s' % (area['title'], row['subject'], row['problem'])})
        counts['total'] = len(area['rows'])
        area['counts'] = counts
        area['chart'] = offset_chart(area)
        area['tiers'] = clock_tiers(area)
        for status in STATUSES:
            totals[status] += counts[status]
        totals['subjects'] += counts['total']
    model['totals'] = totals
    # what needs a human most first: no result, failed, then needs attention (stable: area and row order within)
    model['findings'] = sorted(findings, key=lambda finding: STATUSES.index(finding['status']))
    model['status_labels'] = labels
    model['mode_label'] = 'Audit (check mode, nothing changed)' if check_mode else 'Remediation'
    model['changed_label'] = labels['changed']
    return model
