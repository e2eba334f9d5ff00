# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""Parsers of what reg.exe, wmic, wevtutil and PowerShell print (pure functions, no host).

They take the tools' documented output (CRLF line ends, wmic's ``\\r\\r\\n``) and are
tested against published examples.
"""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET

from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_commands import (
    MARKER_FAILED,
    MARKER_OK,
    POLICY_KEY,
    POLICY_KEY_ANCESTORS,
    VALUE_NAME,
)
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_errors import COMMAND_FAILED, DelegationError

EVENT_NAMESPACE = '{http://schemas.microsoft.com/win/2004/08/events/event}'

# Compiled when the module is imported: the action plugin's module is imported in Ansible's main
# process, so every forked worker inherits them instead of compiling them again for its one host.
_BEGIN_MARKER = re.compile(r'^__FLEETFIX_BEGIN_(\w+?)__$')
_REG_VALUE_LINE = re.compile(r'^ {4}(.+?) {4}(REG_[A-Z_]+)(?: {4}(.*))?$')
# Fixed-width fields read with int() rather than strptime, whose first call in a process
# imports _strptime and builds its locale tables (a cost every forked worker paid again).
_CIM_DATETIME = re.compile(r'^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})([+-])(\d{3})$')
_EVENT_TIME = re.compile(r'^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z?$')
_LIST_LINE = re.compile(r'^(\w+)\s*:\s?(.*)$')


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


def _full_key(key):
    return 'HKEY_LOCAL_MACHINE' + key[len('HKLM'):] if key.upper().startswith('HKLM\\') else key


def reg_key_lists(text, key):
    """Whether ``reg query KEY`` output shows ``key`` as a subkey (reg prints subkeys as full paths)."""
    wanted = _full_key(key).lower()
    return any(line.strip().lower() == wanted for line in _lines(text))


def policy_value_from_sections(sections):
    """``(value_type, value, None)``, or ``(None, None, failing section text)`` when the value cannot be told.

    Decided from exit codes (the sections' markers) and from what Windows does not translate (value
    lines, key paths), never from reg.exe's error sentence: the key read (exit 0) with no value line,
    or an ancestor read without the next key among its subkeys, means the value is missing.
    """
    reg_ok, reg_text = sections['reg']
    if reg_ok:
        value_type, value = parse_reg_query(reg_text)
        return value_type, value, None
    child = POLICY_KEY
    for index, (ancestor, _name) in enumerate(POLICY_KEY_ANCESTORS, start=1):
        ancestor_ok, ancestor_text = sections.get('reg_up%d' % index, (False, ''))
        if ancestor_ok:
            if reg_key_lists(ancestor_text, child):
                break  # The key is there, yet it could not be read: access denied or worse.
            return None, None, None
        child = ancestor
    return None, None, reg_text


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


def parse_os_properties(text):
    """``{Property: value}`` from wmic's ``/value`` lines or from PowerShell's list view (the Get-WmiObject fallback).

    Also ``source``: ``wmic`` or ``Get-WmiObject``. Property names are WMI's, in every language.
    """
    properties = parse_wmic_value(text)
    if properties.get('LastBootUpTime') or properties.get('Caption'):
        properties['source'] = 'wmic'
        return properties
    for block in parse_powershell_list(text):
        if 'LastBootUpTime' in block or 'Caption' in block:
            block = dict(block)
            block['source'] = 'Get-WmiObject'
            return block
    return {}


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
        # wmic, or Get-WmiObject on a host without WMIC (Windows Server 2025)
        'source': properties.get('source'),
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
        'newest': iso_utc(newest['time']) if newest else None,
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


def iso_utc(stamp):
    return stamp.astimezone(datetime.timezone.utc).isoformat().replace('+00:00', 'Z') if stamp else None


def tool_message(text):
    lines = [line.strip() for line in _lines(text) if line.strip()]
    return ' '.join(lines) or 'no message'


def first_error_line(text):
    """The first line of a (CLIXML-decoded) PowerShell error: the sentence, without the position lines."""
    lines = [line.strip() for line in _lines(text) if line.strip()]
    return lines[0] if lines else 'no message'
