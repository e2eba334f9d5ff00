# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _time_reference as reference
from ansible_collections.fleetfix.remediate.plugins.module_utils._ntp import empty_result


def source(server, offset=0.01, stratum=3, leap=0, **changes):
    value = empty_result(server, '127.0.0.61', 123)
    value.update(reachable=True, stratum=stratum, leap=leap, reference_id='127.127.1.1', root_delay=0.0,
                 root_dispersion=0.03, offset_seconds=offset, round_trip_seconds=0.001, samples=3)
    value.update(changes)
    return value


def judged(*sources):
    return reference.judge_sources(list(sources), 5.0)


@pytest.mark.parametrize('changes, problem', [
    (dict(reachable=False, offset_seconds=None, error='no answer within 1.0 s'), 'unreachable: no answer within 1.0 s'),
    (dict(stratum=0, leap=3, kiss_code='DENY', offset_seconds=None), 'kiss-of-death DENY: the server denies access'),
    (dict(stratum=0, leap=3), 'unsynchronised (leap alarm 3, stratum 0)'),
    (dict(stratum=16, leap=0), 'unsynchronised (leap alarm 0, stratum 16)'),
    (dict(stratum=3, leap=3), 'unsynchronised (leap alarm 3, stratum 3)'),
    (dict(stratum=12), 'stratum 12 is too high (at most 10)'),
    (dict(root_dispersion=2.0), 'root distance 2.000 s is beyond 1.5 s'),
    (dict(offset_seconds=None, error='short packet (20 bytes, an NTP header has 48)'), 'no usable answer: short packet'),
])
def test_problem_of_one_source(changes, problem):
    assert judged(source('dc1', **changes))[0]['problem'].startswith(problem)


def test_good_source_has_no_problem_and_is_the_reference():
    sources = judged(source('dc1', offset=0.2))
    assert sources[0]['problem'] is None
    ref = reference.describe_reference(sources)
    assert ref['server'] == 'dc1'
    assert ref['good'] is True
    assert ref['controller_offset_seconds'] == -0.2
    assert ref['against'] == 'reference'


def test_falseticker_among_three_is_named():
    sources = judged(source('a', 0.01), source('b', 600.0), source('c', -0.02))
    assert [item['problem'] for item in sources[::2]] == [None, None]
    assert sources[1]['problem'] == 'far from the other sources: 600.0 s ahead of their median'


def test_two_sources_that_disagree_leave_no_majority():
    sources = judged(source('a', 0.01), source('b', 600.0))
    assert sources[0]['problem'] == 'far from the other source: 600.0 s behind b (two sources, no majority)'
    assert sources[1]['problem'] == 'far from the other source: 600.0 s ahead of a (two sources, no majority)'
    assert reference.choose_reference(sources) is None
    assert 'no good NTP source' in reference.describe_reference(sources)['reason']


def test_bad_source_does_not_count_against_a_good_one():
    sources = judged(source('good', 0.01), source('unsync', 0.0, stratum=0, leap=3))
    assert sources[0]['problem'] is None
    assert sources[1]['problem'].startswith('unsynchronised')


def test_reference_prefers_lower_stratum_then_distance():
    sources = judged(source('s4', stratum=4), source('s2b', stratum=2, root_dispersion=0.2), source('s2a', stratum=2))
    assert reference.choose_reference(sources)['server'] == 's2a'


def test_check_off_measures_against_the_controller():
    ref = reference.describe_reference([], checked=False)
    assert ref['good'] is False and ref['against'] == 'controller' and ref['offset_seconds'] == 0.0
    assert 'source check is off' in ref['reason']


def test_host_offset_against_the_reference():
    ref = reference.describe_reference(judged(source('dc1', offset=-600.0)))
    # the controller is 600 s ahead of the reference; a host 600 s behind the controller is in time
    assert ref['controller_offset_seconds'] == 600.0
    assert reference.host_offset(-600.0, ref) == 0.0
    assert reference.host_offset(0.0, ref) == 600.0
    assert reference.host_offset(None, ref) is None


@pytest.mark.parametrize('offset, expected', [
    (0.0, 'ok'), (5.0, 'ok'), (-5.1, 'warning'), (300.0, 'warning'), (300.5, 'critical'), (-600, 'critical'), (None, 'unknown'),
])
def test_tiers(offset, expected):
    assert reference.tier(offset, 5.0, 300.0) == expected


def good_reference(offset):
    return reference.describe_reference(judged(source('dc1', offset=offset)))


def test_step_allowed_when_controller_agrees():
    plan = reference.plan_steps(good_reference(0.3), [0.0, 600.0], 5.0)
    assert plan['allowed'] and plan['target'] == 'reference'
    assert plan['target_offset_seconds'] == 0.3
    assert 'agrees with dc1' in plan['reason']
    assert reference.step_decision(600.0, plan, 3600.0) == (True, None)


def test_step_refused_when_controller_disagrees_and_hosts_do_not_side():
    plan = reference.plan_steps(good_reference(-600.0), [0.0, -600.0], 5.0)
    assert plan['allowed'] is False
    assert plan['reason'] == ('no clock was stepped: the controller clock is 600.0 s ahead of dc1 and the connected '
                              'hosts do not clearly side with either')
    step, why = reference.step_decision(0.0, plan, 3600.0)
    assert step is False and why == plan['reason']


def test_step_to_the_reference_when_the_fleet_sides_with_it():
    # the controller is 600 s ahead; most hosts agree with the reference
    plan = reference.plan_steps(good_reference(-600.0), [-600.0, -600.1, -599.9, 0.0], 5.0)
    assert plan['allowed'] and plan['target'] == 'reference' and plan['target_offset_seconds'] == -600.0
    assert 'the median of 4 connected hosts is 0.000 s from dc1' in plan['reason'] or 'median of 4' in plan['reason']
    # the drifted host (on the controller's time) is stepped back by 600 s
    assert reference.step_decision(0.0, plan, 3600.0) == (True, None)


def test_step_to_the_controller_when_the_fleet_sides_with_it():
    plan = reference.plan_steps(good_reference(600.0), [0.0, 0.1, -0.1, 900.0], 5.0)
    assert plan['allowed'] and plan['target'] == 'controller' and plan['target_offset_seconds'] == 0.0
    assert 'stepped to the controller clock' in plan['reason']


def test_two_hosts_are_not_a_fleet_majority():
    plan = reference.plan_steps(good_reference(-600.0), [-600.0, -600.0], 5.0)
    assert plan['allowed'] is False


def test_no_good_source_no_step():
    plan = reference.plan_steps(reference.describe_reference(judged(source('dc1', stratum=16))), [0.0], 5.0)
    assert plan['allowed'] is False
    assert 'no good NTP source' in plan['reason']
    plan = reference.plan_steps(reference.describe_reference([], checked=False), [0.0], 5.0)
    assert 'source check is off' in plan['reason']


def test_max_step_seconds():
    plan = reference.plan_steps(good_reference(0.0), [0.0], 5.0)
    step, why = reference.step_decision(-7200.0, plan, 3600.0)
    assert step is False
    assert why == 'the step of 7200.0 s is beyond max_step_seconds (3600.0 s); raise it to allow this step'
    assert reference.step_decision(-7200.0, plan, None) == (True, None)
    assert reference.step_decision(None, plan, 3600.0) == (False, 'the host clock could not be read')


def test_refusal_names_every_server_and_problem():
    sources = judged(source('dc1', stratum=0, leap=3), source('dc9', reachable=False, offset_seconds=None, error='no answer within 1.0 s'))
    message = reference.refusal(sources)
    assert 'dc1: unsynchronised (leap alarm 3, stratum 0)' in message
    assert 'dc9: unreachable: no answer within 1.0 s' in message
    assert 'require_good_source: false' in message


def test_check_sources_resolves_asks_and_judges():
    asked = []

    def resolve(server, port):
        if server == 'missing.test':
            raise OSError(-2, 'Name or service not known')
        return {'dc1.test': ['127.0.0.61'], 'empty.test': []}.get(server, [server])

    def query(server, address, port, samples, timeout):
        asked.append((server, address, port, samples, timeout))
        if server == 'boom.test':
            raise RuntimeError('unexpected')
        return source(server, address=address, port=port)

    sources = reference.check_sources(['dc1.test', 'missing.test', 'empty.test', 'boom.test'], 5.0, port=11123,
                                      resolve=resolve, query=query, samples=2, timeout=0.5)
    assert [item['server'] for item in sources] == ['dc1.test', 'missing.test', 'empty.test', 'boom.test']
    assert sources[0]['problem'] is None and sources[0]['address'] == '127.0.0.61'
    assert sources[1]['problem'] == 'unreachable: cannot resolve missing.test: Name or service not known'
    assert sources[2]['problem'] == 'unreachable: cannot resolve empty.test: no address'
    assert sources[3]['problem'] == 'unreachable: RuntimeError: unexpected'
    assert ('dc1.test', '127.0.0.61', 11123, 2, 0.5) in asked


def test_system_resolver_takes_addresses_as_they_are():
    assert reference.system_resolver('127.0.0.61', 123) == ['127.0.0.61']
    assert reference.system_resolver('::1', 123) == ['::1']
