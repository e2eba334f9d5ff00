# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The "Ignore Delegation Failure" RPC policy (DCOM event 10009): read, decide, write, restart.

Everything here works on Windows Server 2008 R2 with PowerShell 2.0: the host is read and
changed with ``reg.exe``, ``wmic`` and ``wevtutil`` through the cmd shell, and restarted
with ``shutdown.exe``. PowerShell (the GroupPolicy module) is used only on a domain
controller for ``method: gpo``. The audit of a host is ONE command line (three tools
chained with ``&``, each section opened by an ``echo`` marker and closed by an ``&&``/``||``
marker that carries its exit status), so it costs one Command and one Receive.

The parsers take the tools' documented output (CRLF line ends, wmic's ``\\r\\r\\n``) and
are tested against published examples; ``manage`` holds the decisions and talks to the
host only through a ``_winrm.WinRMClient`` (or a stand-in with ``run``, ``run_powershell``
and ``reset``). ``argument_spec`` and ``run_task`` are the whole task, shared by the module's
``main()`` (AnsibleModule) and the action plugin, which runs it inside the Ansible worker.
"""

from __future__ import annotations

import datetime
import re
import time
import traceback
import xml.etree.ElementTree as ET

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.fleetfix.remediate.plugins.module_utils import _winrm
from ansible_collections.fleetfix.remediate.plugins.module_utils._fleet import FleetReport, HostResult
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import (
    ACCESS_DENIED,
    UNREACHABLE,
    WinRMClient,
    WinRMError,
    validate_options,
    winrm_argument_spec,
)

POLICY_KEY = r'HKLM\Software\Policies\Microsoft\Windows NT\Rpc'
POLICY_KEY_FULL = r'HKEY_LOCAL_MACHINE\Software\Policies\Microsoft\Windows NT\Rpc'
VALUE_NAME = 'IgnoreDelegationFailure'
EVENT_PROVIDER = 'Microsoft-Windows-DistributedCOM'
EVENT_ID = 10009
EVENT_NAMESPACE = '{http://schemas.microsoft.com/win/2004/08/events/event}'
DEFAULT_GPO = 'Default Domain Policy'

MARKER_BEGIN = '__FLEETFIX_BEGIN_%s__'
MARKER_OK = '__FLEETFIX_OK__'
MARKER_FAILED = '__FLEETFIX_FAILED__'
SECTIONS = ('reg', 'os', 'events')

# Further error kinds of this capability (beside those of _winrm).
GPO_NOT_FOUND = 'gpo_not_found'
COMMAND_FAILED = 'command_failed'
NOT_BACK = 'not_back'

# Compiled when the module is imported: the action plugin's module is imported in Ansible's main
# process, so every forked worker inherits them instead of compiling them again for its one host.
_BEGIN_MARKER = re.compile(r'^__FLEETFIX_BEGIN_(\w+?)__$')
_REG_VALUE_LINE = re.compile(r'^ {4}(.+?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$')
# Fixed-width fields read with int() rather than strptime, whose first call in a process
# imports _strptime and builds its locale tables (a cost every forked worker paid again).
_CIM_DATETIME = re.compile(r'^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})([+-])(\d{3})$')
_EVENT_TIME = re.compile(r'^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z?$')
_LIST_LINE = re.compile(r'^(\w+)\s*:\s?(.*)$')

SHUTDOWN_ALREADY_SCHEDULED = 1190
SHUTDOWN_IN_PROGRESS = 1115
REBOOT_DELAY_SECONDS = 2
REBOOT_POLL_SECONDS = 2


class DelegationError(WinRMError):
    """A failure of this capability, with a ``kind`` like WinRMError's."""


class TaskError(Exception):
    """Why ``run_task`` gave no result: a sentence a person can act on, the error kind, the traceback if one helps.

    ``error_kind`` is None for bad input (nothing was tried), else one of the kinds of _winrm and
    of this file. ``traceback`` is kept for AnsibleModule (shown at -vvv), never put in a message.
    """

    def __init__(self, message, error_kind=None, traceback_text=None):
        super().__init__(message)
        self.message = message
        self.error_kind = error_kind
        self.traceback = traceback_text

    def result_keys(self):
        """The keys a failed task result carries beside ``failed`` and ``msg``."""
        return {} if self.error_kind is None else {'error_kind': self.error_kind}


# -- command lines ------------------------------------------------------------------------
def _section(name, command):
    # The markers are echoed with no space before the operator: echo keeps trailing spaces.
    return 'echo %s& (%s 2>&1 && echo %s|| echo %s)' % (MARKER_BEGIN % name, command, MARKER_OK, MARKER_FAILED)


def reg_query_command():
    return 'reg query "%s" /v %s' % (POLICY_KEY, VALUE_NAME)


def reg_add_command(value=1):
    return 'reg add "%s" /v %s /t REG_DWORD /d %d /f' % (POLICY_KEY, VALUE_NAME, value)


def reg_delete_command():
    return 'reg delete "%s" /v %s /f' % (POLICY_KEY, VALUE_NAME)


def wmic_os_command():
    return 'wmic os get Caption,Version,LastBootUpTime /value'


def events_command(limit):
    query = "*[System[Provider[@Name='%s'] and (EventID=%d)]]" % (EVENT_PROVIDER, EVENT_ID)
    return 'wevtutil qe System /q:"%s" /c:%d /rd:true /f:xml /e:Events' % (query, limit)


def audit_command(check_events=True, events_limit=50, with_os=True):
    """The one command line that reads the value, the OS and boot time, and the newest 10009 events."""
    sections = [_section('reg', reg_query_command())]
    if with_os:
        sections.append(_section('os', wmic_os_command()))
    if check_events:
        sections.append(_section('events', events_command(events_limit)))
    return ' & '.join(sections)


def boot_time_command():
    return wmic_os_command()


def shutdown_command(delay=REBOOT_DELAY_SECONDS):
    return 'shutdown /r /t %d /c "fleetfix.remediate: %s changed, restarting to apply it" /d p:4:1' % (delay, VALUE_NAME)


# -- parsers ------------------------------------------------------------------------------
def _lines(text):
    return [line.rstrip('\r') for line in (text or '').split('\n')]


def split_sections(stdout):
    """``{name: (ok, body)}`` from the audit's stdout; a section without its closing marker is missing."""
    sections = {}
    current = None
    body = []
    for line in _lines(stdout):
        marker = line.strip()
        begin = _BEGIN_MARKER.match(marker)
        if begin:
            current = begin.group(1)
            body = []
            continue
        if current is not None and marker in (MARKER_OK, MARKER_FAILED):
            sections[current] = (marker == MARKER_OK, '\r\n'.join(body))
            current = None
            continue
        if current is not None:
            body.append(line)
    return sections


def parse_reg_query(text, value_name=VALUE_NAME):
    """``(type, value)`` of ``value_name`` in ``reg query`` output, or ``(None, None)``.

    A line reads ``    NAME    REG_DWORD    0x1``: DWORD/QWORD come back as int, other
    types as the printed text.
    """
    for line in _lines(text):
        match = _REG_VALUE_LINE.match(line)
        if not match or match.group(1).lower() != value_name.lower():
            continue
        value_type = match.group(2)
        data = match.group(3) or ''
        if value_type in ('REG_DWORD', 'REG_QWORD', 'REG_DWORD_BIG_ENDIAN'):
            try:
                return value_type, int(data, 16)
            except ValueError:
                return value_type, data
        return value_type, data
    return None, None


def parse_cim_datetime(text):
    """A WMI CIM_DATETIME (``yyyymmddHHMMSS.ffffff+UUU``, UUU minutes from UTC) as aware UTC datetime."""
    match = _CIM_DATETIME.match((text or '').strip())
    if not match:
        return None
    stamp = datetime.datetime(*(int(field) for field in match.group(1, 2, 3, 4, 5, 6, 7)))
    offset = datetime.timedelta(minutes=int(match.group(9)))
    if match.group(8) == '-':
        offset = -offset
    return (stamp - offset).replace(tzinfo=datetime.timezone.utc)


def parse_wmic_value(text):
    """``{Property: value}`` from ``wmic ... /value`` output (values stripped: 2008 R2's caption ends with a space)."""
    properties = {}
    for line in _lines(text):
        line = line.strip('\r')
        if '=' not in line:
            continue
        name, _sep, value = line.partition('=')
        if name.strip():
            properties[name.strip()] = value.strip()
    return properties


def os_facts(properties):
    """``caption``, ``version``, ``affected`` (Windows Server 2008 R2) and ``boot_time`` from wmic os."""
    caption = properties.get('Caption') or None
    version = properties.get('Version') or None
    boot = parse_cim_datetime(properties.get('LastBootUpTime'))
    return {
        'caption': caption,
        'version': version,
        'affected': is_affected(caption, version),
        'boot_time': boot,
    }


def is_affected(caption, version):
    """Whether the OS is Windows Server 2008 R2, where Exchange 2010 SP1 floods event 10009."""
    caption = caption or ''
    if 'Server 2008 R2' in caption:
        return True
    return bool(version and version.startswith('6.1.') and 'Server' in caption)


def parse_event_time(text):
    """An event ``SystemTime`` (``2026-11-24T10:31:33.7191170Z``, 7 fractional digits) as aware UTC datetime."""
    match = _EVENT_TIME.match((text or '').strip())
    if not match:
        return None
    fraction = (match.group(7) or '0')[:6].ljust(6, '0')
    return datetime.datetime(*(int(field) for field in match.group(1, 2, 3, 4, 5, 6)), microsecond=int(fraction),
                             tzinfo=datetime.timezone.utc)


def parse_events(text):
    """The events of ``wevtutil qe ... /f:xml`` output (with or without ``/e:Events``), in output order.

    Each is ``{'time', 'record_id', 'event_id', 'provider', 'computer', 'target'}``.
    """
    text = (text or '').strip()
    if not text:
        return []
    if not text.startswith('<Events'):
        text = '<Events>%s</Events>' % text
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise DelegationError('wevtutil printed XML that cannot be parsed (%s).' % error, COMMAND_FAILED) from None
    events = []
    for event in root.iter(EVENT_NAMESPACE + 'Event'):
        system = event.find(EVENT_NAMESPACE + 'System')
        if system is None:
            continue
        provider = system.find(EVENT_NAMESPACE + 'Provider')
        created = system.find(EVENT_NAMESPACE + 'TimeCreated')
        record = system.find(EVENT_NAMESPACE + 'EventRecordID')
        event_id = system.find(EVENT_NAMESPACE + 'EventID')
        computer = system.find(EVENT_NAMESPACE + 'Computer')
        target = None
        data = event.find(EVENT_NAMESPACE + 'EventData')
        if data is not None:
            first = data.find(EVENT_NAMESPACE + 'Data')
            target = first.text if first is not None else None
        events.append({
            'time': parse_event_time(created.get('SystemTime')) if created is not None else None,
            'record_id': int(record.text) if record is not None and (record.text or '').isdigit() else None,
            'event_id': int(event_id.text) if event_id is not None and (event_id.text or '').isdigit() else None,
            'provider': provider.get('Name') if provider is not None else None,
            'computer': computer.text if computer is not None else None,
            'target': target,
        })
    return events


def events_since(events, boot_time, limit):
    """``{'since_boot', 'complete', 'newest', 'newest_target'}`` for 10009 events newest first."""
    relevant = [event for event in events if event['time'] is not None]
    relevant.sort(key=lambda event: event['time'], reverse=True)
    newest = relevant[0] if relevant else None
    if boot_time is None:
        since = None
    else:
        since = sum(1 for event in relevant if event['time'] >= boot_time)
    return {
        'since_boot': since,
        # Only the newest ``limit`` events are read: when all of them are since the boot, more may exist.
        'complete': since is None or len(events) < limit or since < len(events),
        'newest': _iso(newest['time']) if newest else None,
        'newest_target': newest['target'] if newest else None,
    }


def parse_powershell_list(text):
    """The blocks of PowerShell's list view (``Name : Value`` lines, blocks split by blank lines)."""
    blocks = []
    current = {}
    last_name = None
    for line in _lines(text):
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
            last_name = None
            continue
        match = _LIST_LINE.match(line)
        if match:
            last_name = match.group(1)
            current[last_name] = match.group(2).strip()
        elif last_name and line.startswith(' '):
            current[last_name] += ' ' + line.strip()  # a long value wrapped by the formatter
    if current:
        blocks.append(current)
    return blocks


def _iso(stamp):
    return stamp.astimezone(datetime.timezone.utc).isoformat().replace('+00:00', 'Z') if stamp else None


def _reg_error(text):
    lines = [line.strip() for line in _lines(text) if line.strip()]
    return ' '.join(lines) or 'no message'


def _first_error(text):
    """The first line of a (CLIXML-decoded) PowerShell error: the sentence, without the position lines."""
    lines = [line.strip() for line in _lines(text) if line.strip()]
    return lines[0] if lines else 'no message'


# -- decisions ----------------------------------------------------------------------------
def desired_value(state):
    return 1 if state == 'present' else None


def plan_change(current_value, state):
    """The write to make: ``'add'``, ``'delete'`` or None when the value is already as wanted."""
    if state == 'present':
        return None if current_value == 1 else 'add'
    return None if current_value is None else 'delete'


def validate_params(params):
    """Problems with the module's own options (the connection options are checked by _winrm)."""
    problems = []
    if params.get('method') == 'gpo':
        if not (params.get('gpo_name') or '').strip():
            problems.append('gpo_name must not be empty with method gpo.')
        elif re.search(r'[\r\n;`$]', params['gpo_name']):
            problems.append('gpo_name %r holds a character not allowed in a GPO name here (newline, ;, ` or $).'
                            % params['gpo_name'])
        if params.get('reboot') or params.get('force_reboot'):
            problems.append('reboot applies to method registry only: with method gpo the task host is a domain '
                            'controller; restart the member servers after they applied the policy '
                            '(the dcom_10009 role does this).')
    if params.get('reboot_timeout') is not None and params['reboot_timeout'] < 10:
        problems.append('reboot_timeout must be at least 10 seconds, not %s.' % params['reboot_timeout'])
    limit = params.get('events_limit')
    if limit is not None and not 1 <= limit <= 10000:
        problems.append('events_limit must be between 1 and 10000, not %s.' % limit)
    if params.get('fleet') is not None:
        # The action plugin runs a fleet task host by host; a module process sees no inventory.
        problems.append('fleet needs the inventory variables of the hosts it names, which only the action plugin '
                        'reads: run the task with ansible-playbook (not the module file on its own).')
    return problems


def read_state(client, check_events, events_limit, host_label):
    """One command: value, OS facts and events. Returns a dict (``value``, ``value_type``, ``os``, ``events``)."""
    result = client.run(audit_command(check_events=check_events, events_limit=events_limit))
    sections = split_sections(result.stdout)
    if 'reg' not in sections:
        raise DelegationError('The audit command on %s did not run as expected (exit %s): %s'
                              % (host_label, result.rc, _reg_error(result.stderr or result.stdout)), COMMAND_FAILED)
    reg_ok, reg_text = sections['reg']
    if reg_ok:
        value_type, value = parse_reg_query(reg_text)
    elif 'unable to find' in reg_text.lower():
        value_type, value = None, None
    else:
        kind = ACCESS_DENIED if 'access is denied' in reg_text.lower() else COMMAND_FAILED
        raise DelegationError('reg query %s on %s failed: %s' % (POLICY_KEY, host_label, _reg_error(reg_text)), kind)
    state = {'value': value, 'value_type': value_type, 'os': None, 'boot_time': None, 'events': None, 'warnings': []}
    os_ok, os_text = sections.get('os', (False, 'no output'))
    if os_ok:
        facts = os_facts(parse_wmic_value(os_text))
        state['boot_time'] = facts.pop('boot_time')
        state['os'] = facts
    else:
        state['warnings'].append('wmic os on %s failed: %s' % (host_label, _reg_error(os_text)))
    if check_events:
        events_ok, events_text = sections.get('events', (False, 'no output'))
        if events_ok:
            state['events'] = events_since(parse_events(events_text), state['boot_time'], events_limit)
        else:
            state['warnings'].append('wevtutil on %s failed: %s' % (host_label, _reg_error(events_text)))
    return state


def read_boot_time(client):
    result = client.run(boot_time_command())
    if result.rc != 0:
        raise DelegationError('wmic os failed (exit %s): %s' % (result.rc, _reg_error(result.stderr or result.stdout)),
                              COMMAND_FAILED)
    return parse_cim_datetime(parse_wmic_value(result.stdout).get('LastBootUpTime'))


def write_value(client, action, host_label):
    command = reg_add_command(1) if action == 'add' else reg_delete_command()
    result = client.run(command)
    if result.rc == 0:
        return
    message = _reg_error(result.stderr or result.stdout)
    if 'access is denied' in message.lower():
        raise DelegationError(
            'Access denied writing %s\\%s on %s: the WinRM account needs local administrator rights '
            '(and UAC remote restrictions must allow it).' % (POLICY_KEY, VALUE_NAME, host_label), ACCESS_DENIED)
    if action == 'delete' and 'unable to find' in message.lower():
        return  # Someone removed it in between: the wanted state holds.
    raise DelegationError('reg %s on %s failed (exit %s): %s' % (action, host_label, result.rc, message), COMMAND_FAILED)


def reboot_and_wait(client, old_boot_time, timeout, host_label, sleep=time.sleep, clock=time.monotonic):
    """Schedule a restart and wait until WinRM answers with a new boot time; returns it."""
    result = client.run(shutdown_command())
    if result.rc not in (0, SHUTDOWN_ALREADY_SCHEDULED, SHUTDOWN_IN_PROGRESS):
        raise DelegationError('shutdown /r on %s failed (exit %s): %s'
                              % (host_label, result.rc, _reg_error(result.stderr or result.stdout)),
                              ACCESS_DENIED if 'access is denied' in (result.stderr or '').lower() else COMMAND_FAILED)
    client.reset()
    deadline = clock() + timeout
    last_error = None
    while clock() < deadline:
        sleep(REBOOT_POLL_SECONDS)
        try:
            boot_time = read_boot_time(client)
        except WinRMError as error:
            # Down, refusing connections or half-started services: all expected while it restarts.
            last_error = error
            client.reset()
            continue
        if boot_time is not None and (old_boot_time is None or boot_time != old_boot_time):
            return boot_time
    why = ' (last error: %s)' % last_error.message.rstrip('.') if last_error is not None else ''
    raise DelegationError('%s did not come back within reboot_timeout (%s seconds) after the restart%s.'
                          % (host_label, timeout, why), NOT_BACK)


# -- GPO ----------------------------------------------------------------------------------
def _ps_quote(text):
    return "'%s'" % text.replace("'", "''")


def gpo_read_script(gpo_name):
    return '\n'.join([
        'Import-Module GroupPolicy',
        'Get-GPO -Name %s' % _ps_quote(gpo_name),
        'Get-GPRegistryValue -Name %s -Key %s -ValueName %s' % (_ps_quote(gpo_name), _ps_quote(POLICY_KEY), VALUE_NAME),
    ])


def gpo_write_script(gpo_name, action):
    lines = ["$ErrorActionPreference = 'Stop'", 'Import-Module GroupPolicy']
    if action == 'add':
        lines.append('Set-GPRegistryValue -Name %s -Key %s -ValueName %s -Type DWord -Value 1 | Out-Null'
                     % (_ps_quote(gpo_name), _ps_quote(POLICY_KEY), VALUE_NAME))
    else:
        lines.append('Remove-GPRegistryValue -Name %s -Key %s -ValueName %s | Out-Null'
                     % (_ps_quote(gpo_name), _ps_quote(POLICY_KEY), VALUE_NAME))
    return '\n'.join(lines)


def read_gpo(client, gpo_name, host_label):
    """``{'gpo_id', 'value'}`` of the policy in the GPO; raises DelegationError for a missing GPO."""
    result = client.run_powershell(gpo_read_script(gpo_name))
    errors = result.stderr or ''
    if 'GpoWithNameNotFound' in errors or 'could not be found' in errors:
        raise DelegationError('GPO not found: no Group Policy Object named %r in the domain of %s (check gpo_name). '
                              'Windows said: %s' % (gpo_name, host_label, _first_error(errors)), GPO_NOT_FOUND)
    if 'ModuleNotFound' in errors or 'not loaded because no valid module file' in errors:
        raise DelegationError('%s has no GroupPolicy PowerShell module: run method gpo against a domain controller '
                              '(or a host with the GPMC tools). Windows said: %s' % (host_label, _first_error(errors)),
                              COMMAND_FAILED)
    blocks = parse_powershell_list(result.stdout)
    gpo = next((block for block in blocks if 'DisplayName' in block and 'Id' in block), None)
    if gpo is None:
        raise DelegationError('Reading GPO %r on %s failed: %s' % (gpo_name, host_label, errors or 'no output'), COMMAND_FAILED)
    setting = next((block for block in blocks if block.get('ValueName', '').lower() == VALUE_NAME.lower()), None)
    value = None
    if setting is not None and setting.get('PolicyState', 'Set') != 'Delete':
        raw = setting.get('Value')
        value = int(raw) if raw is not None and raw.lstrip('-').isdigit() else raw
    elif setting is None and errors and 'UnableToRetrievePolicyRegistryItem' not in errors and 'was not found' not in errors:
        raise DelegationError('Reading GPO %r on %s failed: %s' % (gpo_name, host_label, errors), COMMAND_FAILED)
    return {'gpo_id': gpo.get('Id'), 'value': value}


def write_gpo(client, gpo_name, action, host_label):
    result = client.run_powershell(gpo_write_script(gpo_name, action))
    if result.rc == 0 and not result.stderr:
        return
    errors = result.stderr or result.stdout or 'no message'
    if 'E_ACCESSDENIED' in errors or 'Access is denied' in errors:
        raise DelegationError('Access denied writing %s\\%s in GPO %r through %s: the account must be allowed to edit '
                              'the GPO (Domain Admins or delegated GPO edit rights). Windows said: %s'
                              % (POLICY_KEY, VALUE_NAME, gpo_name, host_label, _first_error(errors)), ACCESS_DENIED)
    if action == 'delete' and 'UnableToRemovePolicyRegistryItem' in errors:
        return
    raise DelegationError('Writing GPO %r on %s failed: %s' % (gpo_name, host_label, errors), COMMAND_FAILED)


# -- the whole job ------------------------------------------------------------------------
def manage(client, params, check_mode=False, host_label=None, sleep=time.sleep, clock=time.monotonic):
    """Bring the policy to ``params['state']`` on one host (or GPO); returns the module result."""
    host_label = host_label or getattr(client, 'label', None) or getattr(client, 'host', 'the host')
    if params.get('method') == 'gpo':
        return _manage_gpo(client, params, check_mode, host_label)
    state = params.get('state', 'present')
    check_events = params.get('check_events', True)
    events_limit = params.get('events_limit') or 50
    current = read_state(client, check_events, events_limit, host_label)
    action = plan_change(current['value'], state)
    warnings = list(current['warnings'])
    after_value = desired_value(state) if action else current['value']
    if action and not check_mode:
        write_value(client, action, host_label)
    changed = action is not None
    events = current['events']
    # A value of 1 with new 10009 events since the boot: set after the last restart, not applied yet.
    pending = (state == 'present' and not changed and current['value'] == 1 and events is not None
               and bool(events.get('since_boot')))
    # force_reboot: the value was set earlier (by a run without reboot) and has not been applied by a restart since.
    force = bool(params.get('force_reboot'))
    reboot_required = changed or pending or (force and state == 'present' and after_value == 1)
    rebooted = False
    boot_time = current['boot_time']
    if reboot_required and (params.get('reboot') or force) and not check_mode:
        if boot_time is None:
            raise DelegationError('Cannot restart %s safely: its boot time could not be read with wmic, so its return '
                                  'could not be detected.' % host_label, COMMAND_FAILED)
        boot_time = reboot_and_wait(client, boot_time, params.get('reboot_timeout') or 600, host_label,
                                    sleep=sleep, clock=clock)
        rebooted = True
        changed = True
        reboot_required = False
        if check_events:
            after = read_state(client, True, events_limit, host_label)
            events = after['events']
            after_value = after['value']
            warnings.extend(after['warnings'])
    result = {
        'changed': changed,
        'method': 'registry',
        'before': {'value': current['value']},
        'after': {'value': after_value},
        'reboot_required': reboot_required,
        'rebooted': rebooted,
        'os': current['os'],
        'boot_time': _iso(boot_time),
        'dcom_10009': events,
        'warnings': warnings,
    }
    return result


def _manage_gpo(client, params, check_mode, host_label):
    gpo_name = params.get('gpo_name') or DEFAULT_GPO
    state = params.get('state', 'present')
    current = read_gpo(client, gpo_name, host_label)
    action = plan_change(current['value'], state)
    if action and not check_mode:
        write_gpo(client, gpo_name, action, host_label)
    return {
        'changed': action is not None,
        'method': 'gpo',
        'gpo_name': gpo_name,
        'gpo_id': current['gpo_id'],
        'before': {'value': current['value']},
        'after': {'value': desired_value(state) if action else current['value']},
        # Member servers apply the GPO at their next policy refresh and need a restart after it.
        'reboot_required': action is not None,
        'rebooted': False,
        'os': None,
        'boot_time': None,
        'dcom_10009': None,
        'warnings': [],
    }


def is_unreachable(error):
    return getattr(error, 'kind', None) == UNREACHABLE


# -- the task, for the module and the action plugin ---------------------------------------
def argument_spec():
    """The module's options: the winrm doc fragment's connection options and the policy's own."""
    spec = winrm_argument_spec()
    spec.update(
        state=dict(type='str', default='present', choices=['present', 'absent']),
        method=dict(type='str', default='registry', choices=['registry', 'gpo']),
        gpo_name=dict(type='str', default=DEFAULT_GPO),
        reboot=dict(type='bool', default=False),
        force_reboot=dict(type='bool', default=False),
        reboot_timeout=dict(type='int', default=600),
        check_events=dict(type='bool', default=True),
        events_limit=dict(type='int', default=50),
        fleet=dict(type='list', elements='str'),
        max_workers=dict(type='int', default=16),
    )
    return spec


# -- one task for a whole fleet (the action plugin's ``fleet`` option) ----------------------
# What each host's entry of a fleet result keeps of its own task result.
FLEET_HOST_KEYS = ('method', 'before', 'after', 'reboot_required', 'rebooted', 'os', 'boot_time', 'dcom_10009',
                   'error_kind')


def fleet_problems(params, run_once, play_hosts):
    """Why the validated ``params`` of a task with ``fleet`` cannot run as one task for those hosts."""
    problems = []
    if not run_once and play_hosts > 1:
        problems.append('fleet acts on every host it names from one task: add run_once: true to the task, or each of '
                        'the %d hosts of the play would act on the whole fleet.' % play_hosts)
    if params.get('reboot') or params.get('force_reboot'):
        problems.append('fleet does not restart hosts: restart them a batch at a time with the '
                        'fleetfix.remediate.dcom_10009 role, or with reboot on a task of each host.')
    if params.get('method') == 'gpo':
        problems.append('fleet applies to method registry: method gpo writes one GPO through one domain controller, '
                        'a task of that host without fleet.')
    if params.get('winrm_host'):
        problems.append('winrm_host names one host; with fleet each host is reached at its own ansible_host '
                        '(or inventory name).')
    if params.get('max_workers') is not None and params['max_workers'] < 1:
        problems.append('max_workers must be 1 or more, not %s.' % params['max_workers'])
    return problems


def fleet_result(host_results):
    """``[(host, that host's task result)]`` -> the fleet task's result, every host reported.

    ``hosts`` has one entry per host in the given order, ``summary`` the counts; the task
    fails after all of them ran, naming each host that failed and why. Warnings and diffs
    (of the hosts that changed) name their host.
    """
    report = FleetReport()
    warnings = []
    diffs = []
    for name, result in host_results:
        entry = report.add(HostResult(name, **dict((key, result[key]) for key in FLEET_HOST_KEYS if key in result)))
        entry.changed = bool(result.get('changed'))
        if result.get('failed'):
            entry.fail(result.get('msg') or 'failed without a message')
        warnings.extend('%s: %s' % (name, warning) for warning in result.get('warnings') or ())
        if entry.changed and result.get('diff'):
            diffs.append(dict(result['diff'], before_header='%s (before)' % name, after_header='%s (after)' % name))
    entries = [result.fields for result in report.results if result.failed is None]
    summary = report.summary(
        reboot_required=sum(1 for fields in entries if fields.get('reboot_required')),
        affected=sum(1 for fields in entries if (fields.get('os') or {}).get('affected')),
        logging_10009=sum(1 for fields in entries if ((fields.get('dcom_10009') or {}).get('since_boot') or 0) > 0),
    )
    result = {'changed': report.changed, 'hosts': report.as_list(), 'summary': summary, 'warnings': warnings}
    if diffs:
        result['diff'] = diffs
    message = report.failure_message()
    if message:
        result.update(failed=True, msg=message)
    return result


def run_task(params, check_mode=False, diff=False, sleep=time.sleep, clock=time.monotonic):
    """Validated ``params`` (of ``argument_spec``) -> the task's result; raises TaskError.

    The result holds ``warnings`` (a list of sentences) for the caller to hand on, and ``diff``
    in diff mode. Bad input fails before any connection; a missing pywinrm fails next.
    """
    problems = validate_params(params) + validate_options(params)
    if problems:
        raise TaskError(' '.join(problems))
    if not _winrm.HAS_PYWINRM:
        raise TaskError(missing_required_lib('pywinrm'), traceback_text=_winrm.PYWINRM_IMPORT_ERROR)
    client = WinRMClient(params)
    try:
        result = manage(client, params, check_mode=check_mode, sleep=sleep, clock=clock)
    except WinRMError as error:
        raise TaskError(error.message, error.kind) from None
    except Exception as error:  # pylint: disable=broad-exception-caught
        # A bug (or output no parser expected) still ends as a sentence, not as a crashed task.
        host_label = getattr(client, 'label', params.get('winrm_host'))
        raise TaskError('Unexpected %s while managing %s\\%s on %s: %s'
                        % (type(error).__name__, POLICY_KEY, VALUE_NAME, host_label, error),
                        traceback_text=traceback.format_exc()) from None
    finally:
        client.close()
    if diff:
        result['diff'] = {'before': result['before'], 'after': result['after']}
    return result
