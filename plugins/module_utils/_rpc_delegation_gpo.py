# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The policy in a Group Policy Object: the PowerShell (GroupPolicy module) run on a domain controller."""

from __future__ import annotations

from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_commands import POLICY_KEY, VALUE_NAME
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_errors import COMMAND_FAILED, GPO_NOT_FOUND, DelegationError
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_parsers import first_error_line, parse_powershell_list
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import ACCESS_DENIED


# PowerShell ends a single-quoted string at any of these, not only at the ASCII apostrophe (its tokenizer's
# IsSingleQuote: U+0027, U+2018, U+2019, U+201A, U+201B); inside the string each one doubled stands for itself.
PS_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
_PS_QUOTE_TABLE = {ord(char): char * 2 for char in PS_SINGLE_QUOTES}


def ps_quote(text):
    """``text`` as one PowerShell single-quoted string literal, whatever it holds.

    In a single-quoted string PowerShell expands nothing (``$``, backtick, ``;``, ``|``, double quotes
    and newlines are plain characters); only the five single-quote characters end it, so each is doubled.
    """
    return "'%s'" % text.translate(_PS_QUOTE_TABLE)


def gpo_read_script(gpo_name):
    return '\n'.join([
        'Import-Module GroupPolicy',
        'Get-GPO -Name %s' % ps_quote(gpo_name),
        'Get-GPRegistryValue -Name %s -Key %s -ValueName %s' % (ps_quote(gpo_name), ps_quote(POLICY_KEY), VALUE_NAME),
    ])


def gpo_write_script(gpo_name, action):
    lines = ["$ErrorActionPreference = 'Stop'", 'Import-Module GroupPolicy']
    if action == 'add':
        lines.append('Set-GPRegistryValue -Name %s -Key %s -ValueName %s -Type DWord -Value 1 | Out-Null'
                     % (ps_quote(gpo_name), ps_quote(POLICY_KEY), VALUE_NAME))
    else:
        lines.append('Remove-GPRegistryValue -Name %s -Key %s -ValueName %s | Out-Null'
                     % (ps_quote(gpo_name), ps_quote(POLICY_KEY), VALUE_NAME))
    return '\n'.join(lines)


def read_gpo(client, gpo_name, host_label):
    """``{'gpo_id', 'value'}`` of the policy in the GPO; raises DelegationError for a missing GPO."""
    result = client.run_powershell(gpo_read_script(gpo_name))
    errors = result.stderr or ''
    # FullyQualifiedErrorId (GpoWithNameNotFound, Modules_ModuleNotFound, ...) is not translated; the sentences are.
    if 'GpoWithNameNotFound' in errors:
        raise DelegationError('GPO not found: no Group Policy Object named %r in the domain of %s (check gpo_name). '
                              'Windows said: %s' % (gpo_name, host_label, first_error_line(errors)), GPO_NOT_FOUND)
    if 'ModuleNotFound' in errors:
        raise DelegationError('%s has no GroupPolicy PowerShell module: run method gpo against a domain controller '
                              '(or a host with the GPMC tools). Windows said: %s' % (host_label, first_error_line(errors)),
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
    elif setting is None and errors and 'UnableToRetrievePolicyRegistryItem' not in errors:
        raise DelegationError('Reading GPO %r on %s failed: %s' % (gpo_name, host_label, errors), COMMAND_FAILED)
    return {'gpo_id': gpo.get('Id'), 'value': value}


def write_gpo(client, gpo_name, action, host_label):
    result = client.run_powershell(gpo_write_script(gpo_name, action))
    if result.rc == 0 and not result.stderr:
        return
    errors = result.stderr or result.stdout or 'no message'
    if 'E_ACCESSDENIED' in errors or 'UnauthorizedAccessException' in errors:
        raise DelegationError('Access denied writing %s\\%s in GPO %r through %s: the account must be allowed to edit '
                              'the GPO (Domain Admins or delegated GPO edit rights). Windows said: %s'
                              % (POLICY_KEY, VALUE_NAME, gpo_name, host_label, first_error_line(errors)), ACCESS_DENIED)
    if action == 'delete' and 'UnableToRemovePolicyRegistryItem' in errors:
        return
    raise DelegationError('Writing GPO %r on %s failed: %s' % (gpo_name, host_label, errors), COMMAND_FAILED)
