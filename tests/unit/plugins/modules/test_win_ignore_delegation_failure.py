# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.fleetfix.remediate.plugins.module_utils import _winrm
from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import UNREACHABLE, WinRMError
from ansible_collections.fleetfix.remediate.plugins.modules import win_ignore_delegation_failure as module
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.rpc_delegation_samples import (
    REG_MISSING,
    FakeClient,
    audit_output,
    ok,
)

SECRET = 'S3cret-Passw0rd!'
CONNECTION = dict(winrm_host='127.0.0.1', winrm_port=15990, winrm_user='FLEETFIX\\administrator', winrm_password=SECRET)


def run_module(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


def test_check_and_diff_mode(fake, capsys):
    fake['client'] = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False))])
    result = run_module(dict(CONNECTION, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert result['changed'] is True
    assert result['diff'] == {'before': {'value': None}, 'after': {'value': 1}}
    assert len(fake['client'].commands) == 1 and fake['client'].closed
    assert SECRET not in json.dumps(result)
    assert result['invocation']['module_args']['winrm_password'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def test_errors_are_sentences_with_a_kind(fake, capsys):
    fake['client'] = FakeClient([WinRMError('Host unreachable: cannot connect to WinRM at https://127.0.0.1:15990/wsman',
                                            UNREACHABLE)])
    result = run_module(CONNECTION, capsys)
    assert result['failed'] is True and result['error_kind'] == UNREACHABLE
    assert result['msg'].startswith('Host unreachable')


def test_bad_input_fails_before_connecting(fake, capsys):
    result = run_module(dict(CONNECTION, winrm_transport='basic', winrm_scheme='http', method='gpo', reboot=True), capsys)
    assert result['failed'] is True
    assert 'Basic authentication over plain HTTP' in result['msg']
    assert 'reboot applies to method registry only' in result['msg']
    assert 'options' not in fake


def test_a_write_and_the_result_without_diff(fake, capsys):
    fake['client'] = FakeClient([ok(audit_output(reg=REG_MISSING, reg_ok=False)), ok('The operation completed successfully.\r\n')])
    result = run_module(dict(CONNECTION, state='present'), capsys)
    assert result['changed'] is True and result['after'] == {'value': 1} and 'diff' not in result
    assert fake['client'].commands[1].startswith('reg add') and fake['client'].closed
    assert fake['options']['winrm_password'] == SECRET


def test_missing_pywinrm_is_named(fake, capsys, monkeypatch):
    monkeypatch.setattr(_winrm, 'HAS_PYWINRM', False)
    monkeypatch.setattr(_winrm, 'PYWINRM_IMPORT_ERROR', 'Traceback: ModuleNotFoundError: No module named winrm')
    result = run_module(CONNECTION, capsys)
    assert result['failed'] is True
    assert 'Failed to import the required Python library (pywinrm)' in result['msg']
    assert 'options' not in fake


def test_an_unexpected_error_is_a_sentence_without_the_password(fake, capsys):
    fake['client'] = FakeClient([KeyError('parser lost %s' % SECRET)])
    result = run_module(CONNECTION, capsys)
    assert result['failed'] is True and 'error_kind' not in result
    assert result['msg'].startswith('Unexpected KeyError while managing HKLM')
    assert SECRET not in json.dumps(result)
