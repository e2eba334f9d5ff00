# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_task as task
from ansible_collections.fleetfix.remediate.tests.unit.plugins.module_utils.rpc_delegation_samples import (
    PARAMS,
)


@pytest.mark.parametrize('changes, expected', [
    (dict(method='gpo', gpo_name=' '), 'gpo_name must not be empty'),
    (dict(method='gpo', gpo_name='a\x00b'), 'control character, which no GPO name has'),
    (dict(state='absent', force_reboot=True), 'force_reboot applies to state present only'),
    (dict(method='gpo', gpo_name='X', reboot=True), 'reboot applies to method registry only'),
    (dict(method='gpo', gpo_name='X', force_reboot=True), 'reboot applies to method registry only'),
    (dict(reboot_timeout=5), 'reboot_timeout must be at least 10 seconds'),
    (dict(events_limit=0), 'events_limit must be between 1 and 10000'),
])
def test_validate_params(changes, expected):
    problems = task.validate_params(dict(PARAMS, **changes))
    assert any(expected in problem for problem in problems), problems
    assert task.validate_params(PARAMS) == []


@pytest.mark.parametrize('changes, expected', [
    (dict(method='gpo', gpo_name='two\nlines'), "holds a line break"),
    (dict(method='gpo', gpo_name='two\r\nlines'), "holds a line break"),
    (dict(method='gpo', gpo_name='tab\there'), "another control character"),
    (dict(state='absent', force_reboot=True, reboot=True), 'with state absent use reboot'),
    (dict(reboot_timeout=5), 'reboot_timeout must be at least 10 seconds, not 5'),
    (dict(events_limit=10001), 'events_limit must be between 1 and 10000, not 10001'),
])
def test_validate_params_more(changes, expected):
    problems = task.validate_params(dict(PARAMS, **changes))
    assert any(expected in problem for problem in problems), problems


def test_validate_params_accepts_the_defaults_and_quoted_gpo_names():
    assert task.validate_params(PARAMS) == []
    assert task.validate_params(dict(PARAMS, method='gpo', gpo_name="Exchange's (CAS) Policy")) == []


def test_the_module_process_refuses_fleet():
    assert task.validate_params(dict(PARAMS, fleet=['ex01']))[0].startswith('fleet needs the inventory variables')
