# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_task as rpc_task


@pytest.fixture
def fake(monkeypatch):
    """The WinRM client that _rpc_delegation_task.run_task builds (for the module and the action plugin).

    A test puts a FakeClient in holder['client']; holder['options'] is what run_task gave the
    client (absent when it never built one) and the client's ``closed`` says whether it was closed.
    """
    holder = {}

    def factory(options):
        holder['options'] = options
        client = holder['client']
        client.closed = False
        client.close = lambda: setattr(client, 'closed', True)
        return client
    monkeypatch.setattr(rpc_task, 'WinRMClient', factory)
    return holder
