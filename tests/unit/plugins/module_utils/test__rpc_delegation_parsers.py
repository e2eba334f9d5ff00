# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_errors as errors
from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_parsers as parsers
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.rpc_delegation_samples import (
    UTC,
    REG_SET,
    REG_ZERO,
    REG_MISSING,
    REG_MISSING_DE,
    REG_MISSING_FR,
    REG_KEY_WITHOUT_VALUE,
    REG_PARENT_WITH_RPC,
    WMIC,
    EVENT,
    events_xml,
    audit_output,
    REG_KEY_LISTING,
)


def test_parse_reg_query():
    assert parsers.parse_reg_query(REG_SET) == ('REG_DWORD', 1)
    assert parsers.parse_reg_query(REG_ZERO) == ('REG_DWORD', 0)
    assert parsers.parse_reg_query(REG_SET.replace('0x1', '0xa')) == ('REG_DWORD', 10)
    assert parsers.parse_reg_query(REG_SET.replace('REG_DWORD    0x1', 'REG_SZ    yes')) == ('REG_SZ', 'yes')
    assert parsers.parse_reg_query(REG_SET.replace('IgnoreDelegationFailure', 'Other')) == (None, None)
    assert parsers.parse_reg_query('') == (None, None)


def test_parse_wmic_and_os_facts():
    facts = parsers.os_facts(parsers.parse_wmic_value(WMIC))
    assert facts['caption'] == 'Microsoft Windows Server 2008 R2 Enterprise'
    assert facts['version'] == '6.1.7601'
    assert facts['affected'] is True
    assert facts['boot_time'] == datetime.datetime(2026, 11, 24, 10, 28, 33, 719117, tzinfo=UTC)
    assert parsers.is_affected('Microsoft Windows Server 2012 R2 Standard', '6.3.9600') is False
    assert parsers.is_affected('Microsoft Windows 7 Professional', '6.1.7601') is False


def test_cim_datetime_offsets():
    assert parsers.parse_cim_datetime('20261124112833.000000+060') == datetime.datetime(2026, 11, 24, 10, 28, 33, tzinfo=UTC)
    assert parsers.parse_cim_datetime('20261124052833.000000-300') == datetime.datetime(2026, 11, 24, 10, 28, 33, tzinfo=UTC)
    assert parsers.parse_cim_datetime('garbage') is None


def test_parse_events_with_and_without_root():
    text = events_xml('2026-11-24T10:31:33.7191170Z')
    events = parsers.parse_events(text)
    assert events == [{'time': datetime.datetime(2026, 11, 24, 10, 31, 33, 719117, tzinfo=UTC), 'record_id': 1000,
                       'event_id': 10009, 'provider': 'Microsoft-Windows-DistributedCOM',
                       'computer': 'ex01.fleetfix.local', 'target': 'dc01.fleetfix.local'}]
    bare = EVENT % ('2026-11-24T10:31:33.7191170Z', 7) + '\r\n' + EVENT % ('2026-11-24T10:31:38.0000000Z', 8) + '\r\n'
    assert [event['record_id'] for event in parsers.parse_events(bare)] == [7, 8]
    assert parsers.parse_events('<Events>\r\n</Events>\r\n') == []
    assert parsers.parse_events('') == []
    with pytest.raises(errors.DelegationError):
        parsers.parse_events('<Events><Event>')


def test_events_since_boot_counts_and_flags_the_limit():
    boot = datetime.datetime(2026, 11, 24, 10, 28, 33, tzinfo=UTC)
    events = parsers.parse_events(events_xml('2026-11-24T10:31:33.7191170Z', '2026-11-24T10:29:00.0Z',
                                             '2026-11-24T10:00:00.0Z'))
    summary = parsers.events_since(events, boot, limit=50)
    assert summary == {'since_boot': 2, 'complete': True, 'newest': '2026-11-24T10:31:33.719117Z',
                       'newest_target': 'dc01.fleetfix.local'}
    assert parsers.events_since(events[:2], boot, limit=2)['complete'] is False
    assert parsers.events_since([], boot, limit=50) == {'since_boot': 0, 'complete': True, 'newest': None,
                                                        'newest_target': None}


def test_split_sections():
    sections = parsers.split_sections(audit_output(reg=REG_MISSING, reg_ok=False))
    assert sections['reg'] == (False, REG_MISSING.rstrip('\r\n'))
    assert sections['os'][0] is True and 'Caption=' in sections['os'][1]
    assert set(sections) == {'reg', 'reg_up1', 'os', 'events'}


@pytest.mark.parametrize('missing', [REG_MISSING, REG_MISSING_DE, REG_MISSING_FR, 'anything Windows may say\r\n'])
def test_a_missing_value_is_told_by_the_parent_key_not_by_the_sentence(missing):
    sections = parsers.split_sections(audit_output(reg=missing, reg_ok=False))
    assert parsers.policy_value_from_sections(sections) == (None, None, None)


def test_the_key_without_the_value_is_a_missing_value():
    sections = parsers.split_sections(audit_output(reg=REG_KEY_WITHOUT_VALUE))
    assert parsers.policy_value_from_sections(sections) == (None, None, None)


def test_a_key_that_exists_but_cannot_be_read_is_a_failure_quoting_windows():
    denied = 'FEHLER: Zugriff verweigert\r\n'
    sections = parsers.split_sections(audit_output(reg=denied, reg_ok=False, ancestors=[(REG_PARENT_WITH_RPC, True)]))
    assert parsers.policy_value_from_sections(sections) == (None, None, denied.rstrip('\r\n'))


def test_ancestors_are_asked_up_to_one_that_answers():
    missing = REG_MISSING_FR
    policies = '\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\r\nHKEY_LOCAL_MACHINE\\Software\\Policies\\Google\r\n'
    output = audit_output(reg=missing, reg_ok=False, ancestors=[(missing, False), (missing, False), (policies, True)])
    assert parsers.policy_value_from_sections(parsers.split_sections(output)) == (None, None, None)
    # none answers: nothing is known, the key's own message is quoted
    output = audit_output(reg=missing, reg_ok=False, ancestors=[(missing, False)] * 3)
    assert parsers.policy_value_from_sections(parsers.split_sections(output))[2] == missing.rstrip('\r\n')


def test_os_properties_from_wmic_or_from_get_wmiobject():
    assert parsers.parse_os_properties(WMIC)['source'] == 'wmic'
    fallback = ("'wmic' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
                '\r\nCaption        : Microsoft Windows Server 2025 Standard\r\nVersion        : 10.0.26100\r\n'
                'LastBootUpTime : 20261124102833.719117+060\r\n\r\n\r\n')
    facts = parsers.os_facts(parsers.parse_os_properties(fallback))
    assert facts == {'caption': 'Microsoft Windows Server 2025 Standard', 'version': '10.0.26100', 'affected': False,
                     'boot_time': datetime.datetime(2026, 11, 24, 9, 28, 33, 719117, tzinfo=datetime.timezone.utc),
                     'source': 'Get-WmiObject'}


def test_parse_reg_query_listing_of_a_whole_key():
    # value names are case-insensitive on Windows; QWORDs print as hex like DWORDs
    assert parsers.parse_reg_query(REG_KEY_LISTING) == ('REG_QWORD', 0)
    assert parsers.parse_reg_query(REG_KEY_LISTING, 'RestrictRemoteClients') == ('REG_DWORD', 1)
    # string data keeps its inner spaces; a value without data is an empty string
    assert parsers.parse_reg_query(REG_KEY_LISTING, 'Comment') == ('REG_SZ', 'set by   hand')
    assert parsers.parse_reg_query(REG_KEY_LISTING, 'Empty') == ('REG_SZ', '')
    # the subkey line and the key line are not values
    assert parsers.parse_reg_query(REG_KEY_LISTING, 'Sub') == (None, None)
    # a value line must start with reg.exe's four spaces
    assert parsers.parse_reg_query('IgnoreDelegationFailure    REG_DWORD    0x1\r\n') == (None, None)


def test_parse_reg_query_unexpected_dword_text_is_kept():
    assert parsers.parse_reg_query(REG_SET.replace('0x1', 'garbage')) == ('REG_DWORD', 'garbage')


def test_split_sections_drops_a_section_without_its_closing_marker():
    text = '__FLEETFIX_BEGIN_reg__\r\n' + REG_SET + '__FLEETFIX_OK__\r\n__FLEETFIX_BEGIN_os__\r\nCaption=X\r\r\n'
    sections = parsers.split_sections(text)
    assert set(sections) == {'reg'}


def test_wmic_table_noise_and_caption_space():
    properties = parsers.parse_wmic_value('\r\r\n\r\r\nCaption=Microsoft Windows Server 2008 R2 Standard \r\r\n'
                                          'Version=6.1.7600\r\r\n\r\r\n')
    assert properties == {'Caption': 'Microsoft Windows Server 2008 R2 Standard', 'Version': '6.1.7600'}
    facts = parsers.os_facts(properties)
    assert facts['affected'] is True and facts['boot_time'] is None
    assert parsers.is_affected('Microsoft Windows Server 2008 Enterprise', '6.0.6002') is False
    assert parsers.is_affected('Microsoft® Windows Server® 2008 R2 Datacenter', '6.1.7601') is True


def test_parse_event_time_precisions():
    assert parsers.parse_event_time('2026-11-24T10:31:33.7191170Z') == datetime.datetime(2026, 11, 24, 10, 31, 33, 719117, tzinfo=UTC)
    assert parsers.parse_event_time('2026-11-24T10:31:33.5Z') == datetime.datetime(2026, 11, 24, 10, 31, 33, 500000, tzinfo=UTC)
    assert parsers.parse_event_time('2026-11-24T10:31:33Z') == datetime.datetime(2026, 11, 24, 10, 31, 33, tzinfo=UTC)
    assert parsers.parse_event_time('24/11/2026 10:31') is None
    assert parsers.parse_event_time(None) is None


def test_parse_events_keeps_events_without_data_or_time():
    bare = ("<Events><Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
            "<Provider Name='Microsoft-Windows-DistributedCOM'/><EventID>10009</EventID>"
            "<Computer>ex01</Computer></System></Event></Events>")
    assert parsers.parse_events(bare) == [{'time': None, 'record_id': None, 'event_id': 10009,
                                           'provider': 'Microsoft-Windows-DistributedCOM', 'computer': 'ex01', 'target': None}]
    # an event without a time counts for nothing, and the boot time unknown means no count at all
    summary = parsers.events_since(parsers.parse_events(bare), None, limit=50)
    assert summary == {'since_boot': None, 'complete': True, 'newest': None, 'newest_target': None}


def test_events_newest_first_whatever_the_output_order():
    boot = datetime.datetime(2026, 11, 24, 10, 28, 33, tzinfo=UTC)
    events = parsers.parse_events(events_xml('2026-11-24T10:00:00.0Z', '2026-11-24T10:40:00.0Z', '2026-11-24T10:30:00.0Z'))
    summary = parsers.events_since(events, boot, limit=50)
    assert summary['newest'] == '2026-11-24T10:40:00Z'
    assert summary['since_boot'] == 2
