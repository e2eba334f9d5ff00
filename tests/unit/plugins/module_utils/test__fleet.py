# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

from ansible_collections.fleetfix.remediate.plugins.module_utils._fleet import (
    ProcessError,
    run_bounded,
    run_bounded_in_processes,
)


def where_from(parent):
    """work(): the item, and whether it ran in ``parent`` (the test's process, known when the test runs)."""
    return lambda item: [item, os.getpid() == parent]


def test_processes_share_the_items_and_keep_their_order():
    triples = run_bounded_in_processes(range(10), where_from(os.getpid()), max_workers=4, processes=2)
    assert [item for item, _value, _error in triples] == list(range(10))
    assert all(error is None for _item, _value, error in triples)
    assert [value[0] for _item, value, _error in triples] == list(range(10))
    # the first share here, the second in a forked child
    assert [value[1] for _item, value, _error in triples] == [True] * 5 + [False] * 5


def test_items_follow_the_threads_of_each_process():
    # 3 threads over 2 processes: 2 here, 1 in the child, so 6 of the 9 items here
    triples = run_bounded_in_processes(range(9), where_from(os.getpid()), max_workers=3, processes=2)
    assert [value[1] for _item, value, _error in triples] == [True] * 6 + [False] * 3


def test_one_process_or_one_item_is_run_bounded_here():
    where = where_from(os.getpid())
    for processes, items in ((1, range(6)), (3, [7])):
        triples = run_bounded_in_processes(items, where, max_workers=4, processes=processes)
        assert all(value[1] for _item, value, _error in triples)
    assert run_bounded_in_processes([], where, max_workers=4, processes=2) == []
    # never more processes than threads
    assert all(value[1] for _item, value, _error in run_bounded_in_processes(range(4), where, 1, 4))


def fails_on_odd(item):
    if item % 2:
        raise ValueError('item %d is odd' % item)
    return item


def test_an_exception_in_a_child_comes_back_with_its_type_and_text():
    triples = run_bounded_in_processes(range(4), fails_on_odd, max_workers=2, processes=2)
    assert [value for _item, value, _error in triples] == [0, None, 2, None]
    here, there = triples[1][2], triples[3][2]
    assert isinstance(here, ValueError)  # the first share ran here: the exception itself
    assert isinstance(there, ProcessError) and str(there) == 'ValueError: item 3 is odd'


def test_a_child_that_dies_fails_its_items_not_the_others():
    parent = os.getpid()

    def dies_in_the_child(item):
        if os.getpid() != parent:
            os._exit(9)  # pylint: disable=protected-access
        return item
    triples = run_bounded_in_processes(range(6), dies_in_the_child, max_workers=3, processes=3)
    assert [value for _item, value, _error in triples[:2]] == [0, 1]
    for _item, value, error in triples[2:]:
        assert value is None and isinstance(error, ProcessError)
        assert str(error) == 'the helper process for 2 of the items ended without a result (wait status 2304)'


def test_run_bounded_keeps_going_after_an_exception():
    triples = run_bounded(range(3), fails_on_odd, max_workers=2)
    assert [value for _item, value, _error in triples] == [0, None, 2]
    assert isinstance(triples[1][2], ValueError)
