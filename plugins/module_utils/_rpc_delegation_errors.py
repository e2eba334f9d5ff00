# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""How the "Ignore Delegation Failure" capability fails: its error kinds beside those of _winrm."""

from __future__ import annotations

from ansible_collections.fleetfix.remediate.plugins.module_utils._winrm import WinRMError

GPO_NOT_FOUND = 'gpo_not_found'
COMMAND_FAILED = 'command_failed'
NOT_BACK = 'not_back'


class DelegationError(WinRMError):
    """A failure of this capability, with a ``kind`` like WinRMError's."""
