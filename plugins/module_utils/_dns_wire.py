# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""DNS messages on the wire (RFC 1035 section 4, EDNS of RFC 6891): a query built, an answer read.

The checks send thousands of queries per run and read few record types of each answer.
dnspython builds a full object model of every message (names, rdata sets, hashing for
de-duplication), which on 1,000 federated domains cost half the check's time; this reads just
what ``_dns.DnsClient`` uses: header, question, and the records of each section, with the data
of A, AAAA, NS, CNAME, PTR, TXT, SOA and SRV decoded (other types keep their raw bytes).

Names are absolute, lower case texts (``"ns1.example.com."``; ``"."`` is the root), bytes
outside letters, digits, ``-`` and ``_`` written ``\\DDD`` as in zone files. Every malformed
input raises ``WireError``; nothing else is raised for any bytes.
"""

from __future__ import annotations

import socket
import struct

QR = 0x8000
AA = 0x0400
TC = 0x0200
RD = 0x0100
CLASS_IN = 1
OPT = 41
A, NS, CNAME, SOA, PTR, TXT, AAAA, SRV = 1, 2, 5, 6, 12, 16, 28, 33
RCODES = {0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 6: 'YXDOMAIN',
          7: 'YXRRSET', 8: 'NXRRSET', 9: 'NOTAUTH', 10: 'NOTZONE', 16: 'BADVERS'}
TYPES = {'A': A, 'NS': NS, 'CNAME': CNAME, 'SOA': SOA, 'PTR': PTR, 'TXT': TXT, 'AAAA': AAAA, 'SRV': SRV}
TYPE_NAMES = {value: key for key, value in TYPES.items()}
# an error answer may come without the question (RFC 1035 leaves it open; servers do both)
QUESTIONLESS_RCODES = (1, 2, 4, 5)
MAX_NAME_OCTETS = 255
MAX_POINTERS = 127

_HEADER = struct.Struct('!HHHHHH')
_QUESTION = struct.Struct('!HH')
_RECORD = struct.Struct('!HHIH')
_SOA_SERIAL = struct.Struct('!I')
_SRV = struct.Struct('!HHH')
_PLAIN = frozenset(b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_')


class WireError(ValueError):
    """Bytes that are not a well-formed DNS message (or a name that cannot be put on the wire)."""


def rcode_text(rcode):
    return RCODES.get(rcode, f'RCODE{rcode}')


def type_number(rdtype):
    """``"TXT"`` or ``16`` -> 16."""
    if isinstance(rdtype, int):
        return rdtype
    try:
        return TYPES[rdtype.upper()]
    except KeyError:
        raise WireError(f'unknown record type {rdtype}') from None


def type_text(rdtype):
    return TYPE_NAMES.get(rdtype, f'TYPE{rdtype}')


def absolute(name):
    """A name as text, absolute and lower case: ``"Example.COM"`` -> ``"example.com."``."""
    name = name.strip().lower()
    return name if name.endswith('.') else name + '.'


def is_subdomain(name, parent):
    """Whether ``name`` is ``parent`` or below it (both absolute texts as this file makes them)."""
    return parent == '.' or name == parent or name.endswith('.' + parent)


def parent_of(name):
    """``"a.example.com."`` -> ``"example.com."``; the root has no parent (``WireError``)."""
    if name == '.':
        raise WireError('the root has no parent')
    return name.split('.', 1)[1] or '.'


def label_count(name):
    """Labels of an absolute name, the root counted (``"example.com."`` -> 3, as dnspython counts)."""
    return 1 if name == '.' else name.count('.') + 1


def encode_name(name):
    """An absolute or relative name (text) in wire format; ``WireError`` when it cannot be one."""
    text = absolute(name)
    if text == '.':
        return b'\x00'
    out = bytearray()
    for label in text[:-1].split('.'):
        try:
            raw = label.encode('ascii')
        except UnicodeEncodeError:
            raise WireError(f'{name} is not an ASCII name (give the IDNA "xn--" form)') from None
        if not raw:
            raise WireError(f'{name} has an empty label')
        if len(raw) > 63:
            raise WireError(f'{name} has a label over 63 characters')
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > MAX_NAME_OCTETS:
        raise WireError(f'{name} is over 255 octets on the wire')
    return bytes(out)


def query(ident, qname, rdtype, recursion=True, payload=1232):
    """A query for ``qname``/``rdtype`` (class IN), with an EDNS OPT record advertising ``payload``."""
    flags = RD if recursion else 0
    header = _HEADER.pack(ident, flags, 1, 0, 0, 1 if payload else 0)
    body = encode_name(qname) + _QUESTION.pack(type_number(rdtype), CLASS_IN)
    if payload:
        # root name, type OPT, class = payload size, TTL 0 (extended rcode 0, version 0), no options
        body += b'\x00' + _RECORD.pack(OPT, payload, 0, 0)
    return header + body


def with_id(wire, ident):
    """The same query under another message id."""
    return ident.to_bytes(2, 'big') + wire[2:]


def _label_text(raw):
    if all(byte in _PLAIN for byte in raw):
        return raw.decode('ascii').lower()
    return ''.join(chr(byte).lower() if byte in _PLAIN else f'\\{byte:03d}' for byte in raw)


def read_name(data, offset):
    """The name at ``offset`` (following compression pointers): ``(text, offset after it)``."""
    labels = []
    end = None
    pointers = 0
    octets = 1
    size_of_data = len(data)
    while True:
        if offset >= size_of_data:
            raise WireError('a name runs past the end of the message')
        size = data[offset]
        if size >= 0xC0:
            if offset + 1 >= size_of_data:
                raise WireError('a compression pointer runs past the end of the message')
            if end is None:
                end = offset + 2
            pointers += 1
            if pointers > MAX_POINTERS:
                raise WireError('a name has a compression loop')
            offset = ((size & 0x3F) << 8) | data[offset + 1]
            continue
        if size > 63:
            raise WireError(f'a name has an unknown label type 0x{size:02x}')
        offset += 1
        if size == 0:
            break
        if offset + size > size_of_data:
            raise WireError('a label runs past the end of the message')
        octets += size + 1
        if octets > MAX_NAME_OCTETS:
            raise WireError('a name is over 255 octets')
        labels.append(_label_text(data[offset:offset + size]))
        offset += size
    return ('.'.join(labels) + '.' if labels else '.'), (offset if end is None else end)


class RRset:
    """The records of one name and type in one section: ``name``, ``rdtype``, ``ttl`` (the
    lowest) and ``values``: an address text (A, AAAA), a name (NS, CNAME, PTR), the record's
    character-strings joined and decoded as UTF-8 (TXT: long values arrive split in 255-octet
    strings), ``dict(mname, rname, serial)`` (SOA), ``dict(priority, weight, port, target)``
    (SRV), else the raw rdata bytes."""

    __slots__ = ('name', 'rdtype', 'ttl', 'values')

    def __init__(self, name, rdtype, ttl):
        self.name = name
        self.rdtype = rdtype
        self.ttl = ttl
        self.values = []

    def __iter__(self):
        return iter(self.values)

    def __len__(self):
        return len(self.values)

    def __getitem__(self, index):
        return self.values[index]

    def __repr__(self):
        return f'RRset({self.name} {type_text(self.rdtype)} {self.values!r})'


def _rdata(data, rdtype, start, end):
    if rdtype == A:
        if end - start != 4:
            raise WireError('an A record is not 4 octets')
        return socket.inet_ntop(socket.AF_INET, data[start:end])
    if rdtype == AAAA:
        if end - start != 16:
            raise WireError('an AAAA record is not 16 octets')
        return socket.inet_ntop(socket.AF_INET6, data[start:end])
    if rdtype in (NS, CNAME, PTR):
        name, after = read_name(data, start)
        if after != end:
            raise WireError(f'a {type_text(rdtype)} record has trailing bytes')
        return name
    if rdtype == TXT:
        parts = []
        offset = start
        while offset < end:
            size = data[offset]
            if offset + 1 + size > end:
                raise WireError('a TXT character-string runs past its record')
            parts.append(data[offset + 1:offset + 1 + size])
            offset += 1 + size
        return b''.join(parts).decode('utf-8', 'replace')
    if rdtype == SOA:
        mname, offset = read_name(data, start)
        rname, offset = read_name(data, offset)
        if offset + 20 != end:
            raise WireError('an SOA record has the wrong length')
        return dict(mname=mname, rname=rname, serial=_SOA_SERIAL.unpack_from(data, offset)[0])
    if rdtype == SRV:
        if end - start < 7:
            raise WireError('an SRV record is too short')
        priority, weight, port = _SRV.unpack_from(data, start)
        target, after = read_name(data, start + 6)
        if after != end:
            raise WireError('an SRV record has trailing bytes')
        return dict(priority=priority, weight=weight, port=port, target=target)
    return bytes(data[start:end])


class Message:
    """A DNS message as read by ``decode``: ``id``, ``flags``, ``rcode`` (with the EDNS
    extended bits), ``question`` (``(name, type, class)`` tuples), ``answer``, ``authority``
    and ``additional`` (lists of ``RRset``; the OPT record is not among them), ``edns_payload``
    (``None`` without EDNS) and ``size`` (octets)."""

    __slots__ = ('id', 'flags', 'rcode', 'question', 'answer', 'authority', 'additional', 'edns_payload', 'size')

    @property
    def authoritative(self):
        return bool(self.flags & AA)

    @property
    def truncated(self):
        return bool(self.flags & TC)

    def answers(self, ident, qname, rdtype):
        """Whether this is the response to the query ``ident`` for ``qname`` (absolute text) / ``rdtype``."""
        if self.id != ident or not self.flags & QR or self.flags & 0x7800:
            return False
        if not self.question:
            return self.rcode in QUESTIONLESS_RCODES
        return self.question == [(qname, rdtype, CLASS_IN)]

    def rrsets(self, section, rdtype, name=None):
        return [rrset for rrset in getattr(self, section) if rrset.rdtype == rdtype and (name is None or rrset.name == name)]


def decode(data):
    """The ``Message`` in ``data`` (bytes); ``WireError`` when the bytes are not a DNS message."""
    data = bytes(data)
    if len(data) < 12:
        raise WireError(f'{len(data)} octets are shorter than a DNS header')
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    message = Message()
    message.id, message.flags, message.size = ident, flags, len(data)
    message.edns_payload = None
    rcode = flags & 0x000F
    offset = 12
    question = []
    for _index in range(qdcount):
        name, offset = read_name(data, offset)
        if offset + 4 > len(data):
            raise WireError('the question runs past the end of the message')
        rdtype, rdclass = _QUESTION.unpack_from(data, offset)
        offset += 4
        question.append((name, rdtype, rdclass))
    message.question = question
    sections = []
    for section, count in enumerate((ancount, nscount, arcount)):
        rrsets = []
        by_key = {}
        for _index in range(count):
            name, offset = read_name(data, offset)
            if offset + 10 > len(data):
                raise WireError('a record header runs past the end of the message')
            rdtype, rdclass, ttl, length = _RECORD.unpack_from(data, offset)
            offset += 10
            end = offset + length
            if end > len(data):
                raise WireError('a record runs past the end of the message')
            if rdtype == OPT:
                if section != 2 or name != '.' or message.edns_payload is not None:
                    raise WireError('a misplaced or repeated OPT record')
                message.edns_payload = rdclass
                rcode |= (ttl >> 24) << 4
                offset = end
                continue
            if rdclass != CLASS_IN:
                # CHAOS and other classes carry nothing the checks read
                offset = end
                continue
            value = _rdata(data, rdtype, offset, end)
            offset = end
            key = (name, rdtype)
            rrset = by_key.get(key)
            if rrset is None:
                rrset = by_key[key] = RRset(name, rdtype, ttl)
                rrsets.append(rrset)
            rrset.ttl = min(rrset.ttl, ttl)
            if value not in rrset.values:
                rrset.values.append(value)
        sections.append(rrsets)
    if offset != len(data):
        raise WireError(f'{len(data) - offset} octets follow the end of the message')
    message.answer, message.authority, message.additional = sections
    message.rcode = rcode
    return message


def frame(wire):
    """A message with the two-octet length prefix of DNS over TCP (RFC 1035 4.2.2)."""
    if len(wire) > 65535:
        raise WireError('a message over 65,535 octets cannot go over TCP')
    return len(wire).to_bytes(2, 'big') + wire
