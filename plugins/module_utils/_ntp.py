# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The NTP client of the collection: RFC 5905 client mode over UDP, from the controller.

Why not a library: ``ntplib`` (the one maintained NTP client on PyPI) sends one request, has
no check of the origin timestamp, does not tell a kiss-of-death from an unsynchronised
server and raises on anything unexpected; what the collection needs (several samples, the
packet checks below, never an exception) is the 48-byte packet of RFC 5905 section 7.3 and
about a hundred lines, with no new dependency on the controller or in the execution
environment.

``query_server`` asks one address several times with a short timeout each and returns a
plain dict (see ``empty_result``); it never raises for what the network or the server does.
``parse_response`` checks one packet and is what the unit tests exercise.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import time

NTP_PORT = 123
NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01
PACKET = struct.Struct('!BBbbII4sQQQQ')
PACKET_BYTES = PACKET.size  # 48: the header without extension fields or MAC
CLIENT_MODE = 3
SERVER_MODE = 4
BROADCAST_MODE = 5
CLIENT_VERSION = 4
ACCEPTED_VERSIONS = (3, 4)
LEAP_ALARM = 3
UNSYNCHRONISED_STRATUM = 16
# RFC 5905 section 7.4: kiss codes are four ASCII letters in the reference id of a stratum 0 packet
KISS_CODES = {
    'DENY': 'the server denies access to this client',
    'RSTR': 'the server restricts access to this client',
    'RATE': 'the server asks this client to slow down (rate limit)',
}


class NtpPacketError(ValueError):
    """A response that is not a usable NTP server answer; the message says why."""


def to_ntp_timestamp(unix_seconds):
    """Unix seconds (float) -> 64-bit NTP timestamp (era 0, fine until 2036)."""
    value = unix_seconds + NTP_EPOCH_OFFSET
    seconds = int(value)
    fraction = int((value - seconds) * (1 << 32)) & 0xFFFFFFFF
    return ((seconds & 0xFFFFFFFF) << 32) | fraction


def from_ntp_timestamp(timestamp):
    """64-bit NTP timestamp -> Unix seconds; era 1 (after 2036-02-07) when the seconds wrapped."""
    seconds = timestamp >> 32
    fraction = (timestamp & 0xFFFFFFFF) / float(1 << 32)
    if seconds < 0x80000000:  # RFC 4330 section 3: MSB 0 means era 1 for times after 2036
        seconds += 1 << 32
    return seconds + fraction - NTP_EPOCH_OFFSET


def short_to_seconds(value):
    """NTP short format (16.16 fixed point) -> seconds."""
    return value / 65536.0


def reference_id_text(stratum, raw):
    """The reference id as a person reads it: four letters at stratum 0 and 1, an IPv4 address above."""
    if stratum <= 1:
        text = raw.rstrip(b'\0').decode('ascii', 'replace')
        return text if text.isprintable() else raw.hex()
    # above stratum 1: the IPv4 address of the upstream server (or a hash of an IPv6 one)
    return '.'.join(str(byte) for byte in raw)


def build_request(transmit_unix, nonce=0):
    """A client-mode request and its transmit timestamp, which the server must echo as origin.

    ``nonce`` (16 bits) replaces the lowest bits of the fraction (15 microseconds at most), so
    a forged or stale answer cannot guess the origin (RFC 5905 section 9.1).
    """
    header = (0 << 6) | (CLIENT_VERSION << 3) | CLIENT_MODE
    timestamp = (to_ntp_timestamp(transmit_unix) & ~0xFFFF) | (nonce & 0xFFFF)
    return PACKET.pack(header, 0, 0, 0, 0, 0, b'\0\0\0\0', 0, 0, 0, timestamp), timestamp


def parse_response(data, sent_timestamp, sent_unix, received_unix):
    """Check one answer and measure with it; raises ``NtpPacketError`` naming what is wrong.

    Returns a dict: ``leap``, ``version``, ``stratum``, ``reference_id``, ``root_delay``,
    ``root_dispersion``, ``offset_seconds`` (the server clock ahead of ours), ``round_trip_seconds``
    and ``kiss_code`` (set on a kiss-of-death, whose other values must not be used).
    """
    if len(data) < PACKET_BYTES:
        raise NtpPacketError('short packet (%d bytes, an NTP header has %d)' % (len(data), PACKET_BYTES))
    (header, stratum, _poll, _precision, root_delay, root_dispersion, reference_id,
     _reference_ts, origin_ts, receive_ts, transmit_ts) = PACKET.unpack_from(data)
    leap = header >> 6
    version = (header >> 3) & 0x7
    mode = header & 0x7
    if version not in ACCEPTED_VERSIONS:
        raise NtpPacketError('NTP version %d answer (expected 3 or 4)' % version)
    if mode != SERVER_MODE:
        raise NtpPacketError('mode %d answer (expected 4, server)' % mode)
    if origin_ts != sent_timestamp:
        raise NtpPacketError('answer does not echo our request (origin timestamp differs)')
    if stratum == 0:
        code = reference_id.rstrip(b'\0').decode('ascii', 'replace')
        if len(code) == 4 and code.isalpha() and code.isupper():
            return dict(leap=leap, version=version, stratum=0, reference_id=code, kiss_code=code,
                        root_delay=None, root_dispersion=None, offset_seconds=None, round_trip_seconds=None)
    if transmit_ts == 0:
        raise NtpPacketError('zero transmit timestamp')
    if receive_ts == 0:
        raise NtpPacketError('zero receive timestamp')
    server_received = from_ntp_timestamp(receive_ts)
    server_sent = from_ntp_timestamp(transmit_ts)
    offset = ((server_received - sent_unix) + (server_sent - received_unix)) / 2.0
    round_trip = max((received_unix - sent_unix) - (server_sent - server_received), 0.0)
    return dict(leap=leap, version=version, stratum=stratum, reference_id=reference_id_text(stratum, reference_id),
                kiss_code=None, root_delay=round(short_to_seconds(root_delay), 6),
                root_dispersion=round(short_to_seconds(root_dispersion), 6),
                offset_seconds=offset, round_trip_seconds=round_trip)


def empty_result(server, address=None, port=NTP_PORT):
    return dict(server=server, address=address, port=port, reachable=False, stratum=None, leap=None,
                reference_id=None, root_delay=None, root_dispersion=None, offset_seconds=None,
                round_trip_seconds=None, samples=0, kiss_code=None, error=None)


def _socket_for(address, port, timeout):
    # an IP address only: a name here would make connect() ask the system resolver
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    # connected: the kernel drops datagrams from other peers and reports ICMP port unreachable
    sock.connect((address, port))
    return sock


def query_server(server, address, port=NTP_PORT, samples=3, timeout=1.0, clock=time.time, pause=0.05):
    """Ask ``address`` (an IP address of ``server``) up to ``samples`` times; never raises.

    Keeps the answer with the shortest round trip (the least disturbed by the network, as
    NTP's clock filter does). ``error`` says why no answer was usable; a kiss-of-death
    stops asking at once.
    """
    result = empty_result(server, address, port)
    try:
        sock = _socket_for(address, port, timeout)
    except (OSError, ValueError, OverflowError) as error:
        result['error'] = 'cannot send to %s port %s: %s' % (address, port, getattr(error, 'strerror', None) or error)
        return result
    errors = []
    best = None
    try:
        for attempt in range(max(samples, 1)):
            if attempt:
                time.sleep(pause)
            sent_unix = clock()
            request, sent_timestamp = build_request(sent_unix, int.from_bytes(os.urandom(2), 'big'))
            try:
                sock.send(request)
                deadline = time.monotonic() + timeout
                while True:
                    sock.settimeout(max(deadline - time.monotonic(), 0.001))
                    data = sock.recv(1024)
                    received_unix = clock()
                    try:
                        answer = parse_response(data, sent_timestamp, sent_unix, received_unix)
                        break
                    except NtpPacketError as error:
                        if 'origin timestamp' not in str(error):
                            raise
                        # a late answer to an earlier request: keep waiting for ours
            except socket.timeout:
                errors.append('no answer within %s s' % timeout)
                continue
            except ConnectionRefusedError:
                errors.append('port %s unreachable (nothing listens there)' % port)
                continue
            except OSError as error:
                errors.append(str(error.strerror or error))
                continue
            except NtpPacketError as error:
                result['reachable'] = True
                errors.append(str(error))
                continue
            result['reachable'] = True
            result['samples'] += 1
            if answer['kiss_code']:
                result.update(stratum=0, leap=answer['leap'], reference_id=answer['reference_id'], kiss_code=answer['kiss_code'])
                return result
            if best is None or answer['round_trip_seconds'] < best['round_trip_seconds']:
                best = answer
    finally:
        sock.close()
    if best is None:
        result['error'] = errors[-1] if errors else 'no answer'
        return result
    result.update((key, best[key]) for key in ('stratum', 'leap', 'reference_id', 'root_delay', 'root_dispersion'))
    result['offset_seconds'] = round(best['offset_seconds'], 6)
    result['round_trip_seconds'] = round(best['round_trip_seconds'], 6)
    return result
