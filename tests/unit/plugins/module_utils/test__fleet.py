# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.fleetfix.remediate.plugins.module_utils._fleet import run_bounded


def fails_on_odd(item):
    if item % 2:
        raise ValueError('item %d is odd' % item)
    return item


def test_run_bounded_keeps_going_after_an_exception():
    triples = run_bounded(range(3), fails_on_odd, max_workers=2)
    assert [value for _item, value, _error in triples] == [0, None, 2]
    assert isinstance(triples[1][2], ValueError)
