# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The wire reader and writer against dnspython, which writes and reads the same messages."""

from __future__ import annotations

import ipaddress
import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.fleetfix.remediate.plugins.module_utils import _dns_wire as wire


@pytest.mark.parametrize('name, rdtype, recursion', [
    ('fed0001.fleetfix.test', 'TXT', False),
    ('_autodiscover._tcp.Contoso.COM.', 'SRV', True),
    ('.', 'NS', True),
    ('exchangedelegation.contoso.com', 'SOA', False),
])
def test_a_query_is_the_one_dnspython_writes(name, rdtype, recursion):
    expected = dns.message.make_query(name.lower(), rdtype, use_edns=0, payload=1232)
    expected.id = 4711
    if not recursion:
        expected.flags &= ~dns.flags.RD
    assert wire.query(4711, name, rdtype, recursion=recursion) == expected.to_wire()


def test_a_renumbered_query_is_the_same_query_under_another_id():
    query = wire.with_id(wire.query(1, 'a.example', 'A'), 0xBEEF)
    parsed = dns.message.from_wire(query)
    assert parsed.id == 0xBEEF and parsed.question[0].name.to_text() == 'a.example.'


@pytest.mark.parametrize('name, problem', [
    ('a' * 64 + '.example', 'a label over 63 characters'),
    ('.'.join(['a' * 63] * 4) + '.example', 'over 255 octets'),
    ('a..example', 'an empty label'),
    ('bücher.example', 'not an ASCII name'),
])
def test_names_that_cannot_go_on_the_wire_are_refused(name, problem):
    with pytest.raises(wire.WireError, match=problem):
        wire.query(1, name, 'TXT')


LABEL = st.text(alphabet='abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_', min_size=1, max_size=20)
NAME = st.lists(LABEL, min_size=1, max_size=5).map(lambda labels: '.'.join(labels) + '.')
TTL = st.integers(min_value=0, max_value=2 ** 31 - 1)


def _record(rdtype):
    if rdtype == 'A':
        return st.ip_addresses(v=4).map(str)
    if rdtype == 'AAAA':
        return st.ip_addresses(v=6).map(str)
    if rdtype in ('NS', 'CNAME', 'PTR'):
        return NAME
    if rdtype == 'TXT':
        return st.lists(st.binary(max_size=255), min_size=1, max_size=3).map(
            lambda strings: ' '.join('"' + ''.join(f'\\{byte:03d}' for byte in value) + '"' for value in strings))
    if rdtype == 'SOA':
        return st.tuples(NAME, NAME, st.integers(min_value=0, max_value=2 ** 32 - 1)).map(
            lambda soa: f'{soa[0]} {soa[1]} {soa[2]} 3600 600 86400 300')
    if rdtype == 'SRV':
        return st.tuples(st.integers(0, 65535), st.integers(0, 65535), st.integers(0, 65535), NAME).map(
            lambda srv: f'{srv[0]} {srv[1]} {srv[2]} {srv[3]}')
    return st.tuples(st.integers(0, 65535), NAME).map(lambda mx: f'{mx[0]} {mx[1]}')


TYPES = ('A', 'AAAA', 'NS', 'CNAME', 'PTR', 'TXT', 'SOA', 'SRV', 'MX')
RRSET = st.sampled_from(TYPES).flatmap(
    lambda rdtype: st.tuples(NAME, TTL, st.just(rdtype), st.lists(_record(rdtype), min_size=1, max_size=3)))
MESSAGE = st.fixed_dictionaries(dict(
    id=st.integers(0, 65535),
    flags=st.sampled_from([dns.flags.QR, dns.flags.QR | dns.flags.AA, dns.flags.QR | dns.flags.TC | dns.flags.RD,
                           dns.flags.QR | dns.flags.RA]),
    rcode=st.sampled_from([dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.REFUSED, dns.rcode.SERVFAIL,
                           dns.rcode.BADVERS]),
    edns=st.booleans(),
    qname=NAME,
    qtype=st.sampled_from(TYPES),
    answer=st.lists(RRSET, max_size=3),
    authority=st.lists(RRSET, max_size=3),
    additional=st.lists(RRSET, max_size=3),
))


def _dnspython_message(spec):
    message = dns.message.Message(id=spec['id'])
    message.flags = spec['flags']
    rcode = spec['rcode'] if spec['edns'] else spec['rcode'] & 0xF
    if spec['edns']:
        message.use_edns(0, payload=1232)
    message.set_rcode(rcode)
    message.question.append(dns.rrset.RRset(dns.name.from_text(spec['qname']), dns.rdataclass.IN,
                                            dns.rdatatype.from_text(spec['qtype'])))
    for section in ('answer', 'authority', 'additional'):
        for name, ttl, rdtype, values in spec[section]:
            rrset = message.find_rrset(getattr(message, section), dns.name.from_text(name), dns.rdataclass.IN,
                                       dns.rdatatype.from_text(rdtype), create=True)
            for value in values:
                rrset.add(dns.rdata.from_text(dns.rdataclass.IN, rdtype, value), ttl)
    return message, rcode


def _expected_value(rdata):
    rdtype = dns.rdatatype.to_text(rdata.rdtype)
    if rdtype in ('A', 'AAAA'):
        return ipaddress.ip_address(rdata.address)
    if rdtype in ('NS', 'CNAME', 'PTR'):
        return rdata.target.to_text().lower()
    if rdtype == 'TXT':
        return b''.join(rdata.strings).decode('utf-8', 'replace')
    if rdtype == 'SOA':
        return dict(mname=rdata.mname.to_text().lower(), rname=rdata.rname.to_text().lower(), serial=rdata.serial)
    if rdtype == 'SRV':
        return dict(priority=rdata.priority, weight=rdata.weight, port=rdata.port, target=rdata.target.to_text().lower())
    return 'raw'


def _ours_value(rdtype, value):
    if rdtype in (wire.A, wire.AAAA):
        return ipaddress.ip_address(value)
    return 'raw' if isinstance(value, bytes) else value


def _sections(read, expected):
    if expected:
        rrsets = []
        for section in (read.answer, read.authority, read.additional):
            merged = {}
            for rrset in section:
                if rrset.rdtype == dns.rdatatype.OPT:
                    continue
                values = merged.setdefault((rrset.name.to_text().lower(), int(rrset.rdtype)), [])
                values.extend(value for value in map(_expected_value, rrset) if value == 'raw' or value not in values)
            rrsets.append(merged)
        return rrsets
    return [{(rrset.name, rrset.rdtype): [_ours_value(rrset.rdtype, value) for value in rrset] for rrset in section}
            for section in (read.answer, read.authority, read.additional)]


@settings(max_examples=200, deadline=None)
@given(MESSAGE)
def test_every_message_dnspython_writes_reads_as_dnspython_reads_it(spec):
    message, rcode = _dnspython_message(spec)
    data = message.to_wire()
    read = wire.decode(data)
    theirs = dns.message.from_wire(data)
    assert (read.id, read.flags & 0xFFF0, read.rcode) == (theirs.id, theirs.flags & 0xFFF0, rcode)
    assert wire.rcode_text(read.rcode) == dns.rcode.to_text(rcode)
    assert read.authoritative == bool(theirs.flags & dns.flags.AA)
    assert read.truncated == bool(theirs.flags & dns.flags.TC)
    assert read.edns_payload == (1232 if spec['edns'] else None)
    assert read.question == [(spec['qname'].lower(), dns.rdatatype.from_text(spec['qtype']), 1)]
    assert _sections(read, False) == _sections(theirs, True)
    assert read.answers(spec['id'], spec['qname'].lower(), dns.rdatatype.from_text(spec['qtype']))
    assert not read.answers((spec['id'] + 1) % 65536, spec['qname'].lower(), dns.rdatatype.from_text(spec['qtype']))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_are_a_message_or_a_wire_error(data):
    try:
        read = wire.decode(data)
    except wire.WireError:
        return
    assert len(data) >= 12 and read.size == len(data)


@settings(max_examples=200, deadline=None)
@given(MESSAGE, st.data())
def test_a_damaged_message_is_a_message_or_a_wire_error(spec, data):
    damaged = bytearray(_dnspython_message(spec)[0].to_wire())
    for _change in range(data.draw(st.integers(1, 4))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(damaged)))
    try:
        wire.decode(bytes(damaged[:cut]))
    except wire.WireError:
        pass


def test_a_compression_loop_is_a_wire_error():
    # one question whose name is a pointer to itself
    data = struct.pack('!HHHHHH', 1, 0x8000, 1, 0, 0, 0) + b'\xc0\x0c' + struct.pack('!HH', 16, 1)
    with pytest.raises(wire.WireError, match='compression loop'):
        wire.decode(data)


def test_trailing_bytes_are_a_wire_error():
    data = dns.message.make_response(dns.message.make_query('a.example', 'TXT')).to_wire()
    with pytest.raises(wire.WireError, match='2 octets follow the end'):
        wire.decode(data + b'\x00\x00')


def test_an_error_answer_without_the_question_answers_the_query():
    refused = struct.pack('!HHHHHH', 7, 0x8000 | 5, 0, 0, 0, 0)
    noerror = struct.pack('!HHHHHH', 7, 0x8000, 0, 0, 0, 0)
    assert wire.decode(refused).answers(7, 'a.example.', wire.TXT)
    assert not wire.decode(noerror).answers(7, 'a.example.', wire.TXT)


def test_an_answer_in_mixed_case_answers_the_lower_case_question():
    query = dns.message.make_query('A.Example.', 'TXT')
    query.id = 9
    assert wire.decode(dns.message.make_response(query).to_wire()).answers(9, 'a.example.', wire.TXT)


def test_bytes_outside_host_names_are_written_as_in_zone_files():
    data = (struct.pack('!HHHHHH', 1, 0x8000, 1, 0, 0, 0) + b'\x03a.b\x02\x00\xff\x07example\x00'
            + struct.pack('!HH', 16, 1))
    assert wire.decode(data).question[0][0] == 'a\\046b.\\000\\255.example.'


def test_names_parents_and_labels():
    assert wire.absolute(' Contoso.COM ') == 'contoso.com.'
    assert wire.parent_of('a.contoso.com.') == 'contoso.com.'
    assert wire.parent_of('com.') == '.'
    assert wire.label_count('contoso.com.') == 3 and wire.label_count('.') == 1
    assert wire.is_subdomain('a.contoso.com.', 'contoso.com.') and not wire.is_subdomain('acontoso.com.', 'contoso.com.')
    assert wire.is_subdomain('contoso.com.', '.')
    with pytest.raises(wire.WireError):
        wire.parent_of('.')


def test_a_message_over_tcp_carries_its_length():
    assert wire.frame(b'\x01\x02\x03') == b'\x00\x03\x01\x02\x03'
    with pytest.raises(wire.WireError):
        wire.frame(b'\x00' * 65536)
