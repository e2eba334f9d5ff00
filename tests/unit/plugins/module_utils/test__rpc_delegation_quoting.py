# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""No GPO name leaves its PowerShell string: one test per kind of character, and a property over any name.

``ps_tokens`` reads a script as PowerShell's tokenizer does for what matters here: a string opened by any
of the five single quotes (U+0027, U+2018..U+201B) ends at the next one that is not doubled; inside it
nothing is special ($, backtick, ;, |, double quotes, newlines are plain characters).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.fleetfix.remediate.plugins.module_utils import _rpc_delegation_gpo as gpo
from ansible_collections.fleetfix.remediate.plugins.module_utils._rpc_delegation_task import validate_params

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
DOUBLE_QUOTES = '"\u201c\u201d\u201e'


def ps_tokens(script):
    """``[('string', value) | ('code', text)]`` of a script, as PowerShell splits code from single-quoted strings."""
    tokens, code, index = [], '', 0
    while index < len(script):
        char = script[index]
        if char in SINGLE_QUOTES:
            if code:
                tokens.append(('code', code))
                code = ''
            value, index = '', index + 1
            while True:
                if index >= len(script):
                    raise ValueError('unterminated string')
                if script[index] in SINGLE_QUOTES:
                    if index + 1 < len(script) and script[index + 1] in SINGLE_QUOTES:
                        value += script[index + 1]
                        index += 2
                        continue
                    index += 1
                    break
                value += script[index]
                index += 1
            tokens.append(('string', value))
        else:
            code += char
            index += 1
    if code:
        tokens.append(('code', code))
    return tokens


def strings_of(script):
    return [value for kind, value in ps_tokens(script) if kind == 'string']


def code_of(script):
    return ''.join(value for kind, value in ps_tokens(script) if kind == 'code')


def scripts(name):
    return [gpo.gpo_read_script(name), gpo.gpo_write_script(name, 'add'), gpo.gpo_write_script(name, 'delete')]


SAFE_CODE = {gpo.gpo_read_script('X'): code_of(gpo.gpo_read_script('X')),
             'add': code_of(gpo.gpo_write_script('X', 'add')), 'delete': code_of(gpo.gpo_write_script('X', 'delete'))}


def assert_contained(name):
    for script, expected_code in zip(scripts(name), SAFE_CODE.values()):
        # The name comes back whole from each string that holds it, and the code around the strings is the
        # same as for a harmless name: nothing of the name became code.
        assert name in strings_of(script)
        assert code_of(script) == expected_code


@pytest.mark.parametrize('name', [
    "Exchange's Policy",                                                       # ASCII apostrophe
    'Exchange Servers Policy\u2019 | Remove-GPO -Name \u2019Default Domain Policy',  # the injection
    'Left\u2018 ; Remove-GPO x; \u2018',                                        # U+2018
    'Low\u201a | Stop-Computer | \u201a',                                       # U+201A
    'Reversed\u201b; exit; \u201b',                                             # U+201B
    "Mixed '\u2018\u2019\u201a\u201b quotes'",                                  # all five, in a row
    "Doubled ''\u2019\u2019 already",                                           # pairs stay pairs
    'Policy $(Remove-GPO x) ${env:x} $x',                                       # dollar: subexpressions, variables
    'Policy `$x `n `0 back`',                                                   # backtick escapes
    'Policy "double" \u201cleft\u201d \u201elow\u201d',                         # double quotes of every form
    'Policy ; & | > < @() {} [x] #comment',                                     # statement and pipeline characters
    'Ends with a quote\u2019',
    '\u2019',
])
def test_every_kind_of_character_stays_in_its_string(name):
    assert_contained(name)


@pytest.mark.parametrize('name', ['two\nlines', 'two\r\nlines', 'carriage\rreturn', 'nul\x00byte', 'tab\there'])
def test_line_breaks_and_control_characters_are_refused_and_still_quoted(name):
    problems = validate_params(dict(method='gpo', gpo_name=name, state='present'))
    assert any('control character' in problem for problem in problems)
    assert_contained(name)  # were one to reach the quoting, it would stay inside too


def test_the_seeds_quoting_let_the_injection_out():
    name = 'Exchange Servers Policy\u2019 | Remove-GPO -Name \u2019Default Domain Policy'
    seed_script = 'Get-GPO -Name %s' % ("'%s'" % name.replace("'", "''"))
    assert 'Remove-GPO' in code_of(seed_script)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list(SINGLE_QUOTES + DOUBLE_QUOTES + "$`;|&(){}@#<>\\ \t\n\ra-z0-9\u00e9\u00fc"))
               | st.characters(), min_size=1, max_size=40))
def test_no_generated_gpo_name_leaves_its_string(name):
    assert_contained(name)
