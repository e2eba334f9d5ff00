# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_commands as commands


def test_audit_command_is_one_line_with_markers():
    line = commands.audit_command(events_limit=20)
    assert '\n' not in line
    # The key's values and subkeys; only when that fails, its parent, then the parent's parent...
    assert line.startswith('echo __FLEETFIX_BEGIN_reg__& (reg query "HKLM\\Software\\Policies\\Microsoft\\Windows NT\\Rpc"'
                           ' 2>&1 && echo __FLEETFIX_OK__|| (echo __FLEETFIX_FAILED__& echo __FLEETFIX_BEGIN_reg_up1__& '
                           '(reg query "HKLM\\Software\\Policies\\Microsoft\\Windows NT" 2>&1 && echo __FLEETFIX_OK__|| '
                           '(echo __FLEETFIX_FAILED__& echo __FLEETFIX_BEGIN_reg_up2__& ')
    # stdin from NUL: wmic reads its console input after printing and would wait for ever over WinRM
    assert 'wmic os get Caption,Version,LastBootUpTime /value < NUL || powershell.exe' in line
    assert ("wevtutil qe System /q:\"*[System[Provider[@Name='Microsoft-Windows-DistributedCOM'] and "
            "(EventID=10009)]]\" /c:20 /rd:true /f:xml /e:Events") in line
    assert 'wevtutil' not in commands.audit_command(check_events=False)


def test_events_command_escapes_nothing_it_does_not_need():
    assert commands.events_command(5) == ('wevtutil qe System /q:"*[System[Provider[@Name=\'Microsoft-Windows-DistributedCOM\'] '
                                          'and (EventID=10009)]]" /c:5 /rd:true /f:xml /e:Events')
