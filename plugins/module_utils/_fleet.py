# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""Per-host results of a fleet run: keep going when one host fails, count, and fail at the end.

A module that works on many hosts (or domains) records one ``HostResult`` per item, runs the
per-item work with ``run_bounded`` so one exception never stops the others, and ends with
``FleetReport.finish``, which exits normally or fails naming every item that failed.
"""

from __future__ import annotations

import concurrent.futures


class HostResult:
    """What happened to one host: changed, skipped (with a reason) or failed (with a message)."""

    def __init__(self, name, **fields):
        self.name = name
        self.changed = False
        self.skipped = None
        self.failed = None
        self.fields = dict(fields)

    def skip(self, reason):
        self.skipped = reason

    def fail(self, message):
        self.failed = message

    @property
    def ok(self):
        return self.failed is None and self.skipped is None

    def as_dict(self):
        result = {'name': self.name, 'changed': self.changed, 'skipped': self.skipped, 'failed': self.failed}
        result.update(self.fields)
        return result


def run_bounded(items, work, max_workers):
    """Call ``work(item)`` for every item with at most ``max_workers`` threads.

    Returns ``(item, value, error)`` triples in the order of ``items``; an exception raised
    by one call is returned as its ``error`` and never stops the others.
    """
    items = list(items)
    if not items:
        return []
    if max_workers <= 1 or len(items) == 1:
        triples = []
        for item in items:
            try:
                triples.append((item, work(item), None))
            except Exception as error:  # pylint: disable=broad-exception-caught
                triples.append((item, None, error))
        return triples
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(max_workers, len(items))) as pool:
        futures = [pool.submit(work, item) for item in items]
        triples = []
        for item, future in zip(items, futures):
            error = future.exception()
            triples.append((item, None if error else future.result(), error))
        return triples


class FleetReport:
    """The per-host results of one module run, their summary and the closing message."""

    def __init__(self, noun='host'):
        self.noun = noun
        self.results = []

    def add(self, result):
        self.results.append(result)
        return result

    @property
    def changed(self):
        return any(result.changed for result in self.results)

    @property
    def failed(self):
        return [result for result in self.results if result.failed is not None]

    def summary(self, **extra_counts):
        counts = {
            'total': len(self.results),
            'changed': sum(1 for result in self.results if result.changed and result.failed is None),
            'ok': sum(1 for result in self.results if result.ok),
            'skipped': sum(1 for result in self.results if result.skipped is not None),
            'failed': len(self.failed),
        }
        counts.update(extra_counts)
        return counts

    def failure_message(self):
        """``'2 of 10 hosts failed: esx1: <why>; esx2: <why>'``, or None when nothing failed."""
        failed = self.failed
        if not failed:
            return None
        plural = self.noun if len(self.results) == 1 else self.noun + 's'
        details = '; '.join('%s: %s' % (result.name, result.failed) for result in failed)
        return '%d of %d %s failed: %s' % (len(failed), len(self.results), plural, details)

    def as_list(self):
        return [result.as_dict() for result in self.results]

    def finish(self, module, result, extra_failure=None):
        """Exit the module with ``result``; fail (after reporting everything) when any item failed.

        ``extra_failure`` is a further reason to fail (for example drift with fail_on_drift).
        """
        reasons = [reason for reason in (self.failure_message(), extra_failure) if reason]
        if reasons:
            module.fail_json(msg='. '.join(reasons), **result)
        module.exit_json(**result)
