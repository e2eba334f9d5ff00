# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from ansible_collections.fleetfix.remediate.plugins.module_utils import _ntp as ntp

SENT = 1767268800.0  # 2026-01-01T12:00:00Z


def answer(sent_timestamp, leap=0, version=4, mode=4, stratum=3, reference_id=b'\x7f\x7f\x01\x01',
           receive=SENT + 600.01, transmit=SENT + 600.02, root_delay=0, root_dispersion=0x0800, size=48):
    header = (leap << 6) | (version << 3) | mode
    data = ntp.PACKET.pack(header, stratum, 6, -20, root_delay, root_dispersion, reference_id, 0, sent_timestamp,
                           ntp.to_ntp_timestamp(receive) if receive else 0, ntp.to_ntp_timestamp(transmit) if transmit else 0)
    return data[:size]


def request():
    return ntp.build_request(SENT, nonce=0x1234)


def test_request_is_client_mode_version_4_with_the_nonce():
    data, timestamp = request()
    assert len(data) == 48
    assert data[0] == 0x23  # leap 0, version 4, mode 3
    assert struct.unpack('!Q', data[40:48])[0] == timestamp
    assert timestamp & 0xFFFF == 0x1234
    assert abs(ntp.from_ntp_timestamp(timestamp) - SENT) < 0.0001


def test_timestamps_round_trip_and_era_1():
    assert abs(ntp.from_ntp_timestamp(ntp.to_ntp_timestamp(SENT)) - SENT) < 1e-6
    # 2040: the 32-bit NTP seconds have wrapped (era 1)
    later = 2209075200.0
    assert abs(ntp.from_ntp_timestamp(ntp.to_ntp_timestamp(later)) - later) < 1e-6


def test_good_answer_offset_and_round_trip():
    _data, timestamp = request()
    parsed = ntp.parse_response(answer(timestamp), timestamp, SENT, SENT + 0.04)
    assert parsed['stratum'] == 3
    assert parsed['leap'] == 0
    assert parsed['reference_id'] == '127.127.1.1'
    assert parsed['kiss_code'] is None
    # ((600.01 - 0) + (600.02 - 0.04)) / 2
    assert parsed['offset_seconds'] == pytest.approx(599.995, abs=1e-4)
    assert parsed['round_trip_seconds'] == pytest.approx(0.03, abs=1e-4)
    assert parsed['root_dispersion'] == pytest.approx(0.03125)


def test_stratum_1_reference_id_is_text():
    _data, timestamp = request()
    assert ntp.parse_response(answer(timestamp, stratum=1, reference_id=b'GPS\0'), timestamp, SENT, SENT)['reference_id'] == 'GPS'


@pytest.mark.parametrize('code', ['DENY', 'RSTR', 'RATE'])
def test_kiss_of_death(code):
    _data, timestamp = request()
    parsed = ntp.parse_response(answer(timestamp, stratum=0, leap=3, reference_id=code.encode(), receive=0, transmit=0),
                                timestamp, SENT, SENT)
    assert parsed['kiss_code'] == code
    assert parsed['offset_seconds'] is None


def test_leap_alarm_is_parsed_not_rejected():
    # what chronyd without a source sends: leap 3, stratum 0, reference id 0 (not a kiss code)
    _data, timestamp = request()
    parsed = ntp.parse_response(answer(timestamp, leap=3, stratum=0, reference_id=b'\0\0\0\0'), timestamp, SENT, SENT)
    assert parsed['leap'] == 3
    assert parsed['stratum'] == 0
    assert parsed['kiss_code'] is None


@pytest.mark.parametrize('changes, message', [
    (dict(size=47), 'short packet (47 bytes'),
    (dict(size=0), 'short packet (0 bytes'),
    (dict(mode=3), 'mode 3 answer'),
    (dict(mode=5), 'mode 5 answer'),
    (dict(version=2), 'NTP version 2'),
    (dict(version=7), 'NTP version 7'),
    (dict(transmit=0), 'zero transmit timestamp'),
    (dict(receive=0), 'zero receive timestamp'),
])
def test_bad_packets(changes, message):
    _data, timestamp = request()
    with pytest.raises(ntp.NtpPacketError, match=message.replace('(', r'\(')):
        ntp.parse_response(answer(timestamp, **changes), timestamp, SENT, SENT)


def test_answer_to_another_request_is_refused():
    _data, timestamp = request()
    with pytest.raises(ntp.NtpPacketError, match='origin timestamp'):
        ntp.parse_response(answer(timestamp + 1), timestamp, SENT, SENT)


def test_version_3_server_is_accepted():
    _data, timestamp = request()
    assert ntp.parse_response(answer(timestamp, version=3), timestamp, SENT, SENT)['stratum'] == 3


class Responder:
    """A UDP server on loopback that answers each request with ``reply(request) -> [datagrams]``."""

    def __init__(self, reply):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.requests = 0
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(1024)
            except socket.timeout:
                continue
            except OSError:
                return
            self.requests += 1
            for datagram in self.reply(data):
                self.sock.sendto(datagram, peer)

    def close(self):
        self.running = False
        self.thread.join()
        self.sock.close()


def server_reply(offset=0.0, **changes):
    def reply(data):
        origin = struct.unpack('!Q', data[40:48])[0]
        now = time.time() + offset
        return [answer(origin, receive=now, transmit=now, **changes)]
    return reply


@pytest.fixture
def responder():
    started = []

    def start(reply):
        started.append(Responder(reply))
        return started[-1]
    yield start
    for item in started:
        item.close()


def test_query_real_socket_measures_the_offset(responder):
    server = responder(server_reply(offset=600.0))
    result = ntp.query_server('ntp.test', '127.0.0.1', port=server.port, samples=3, timeout=1.0)
    assert result['reachable'] is True
    assert result['samples'] == 3
    assert server.requests == 3
    assert result['offset_seconds'] == pytest.approx(600.0, abs=0.5)
    assert result['round_trip_seconds'] < 0.5
    assert result['error'] is None


def test_query_stops_at_a_kiss_of_death(responder):
    server = responder(server_reply(stratum=0, reference_id=b'DENY'))
    result = ntp.query_server('ntp.test', '127.0.0.1', port=server.port, samples=3, timeout=1.0)
    assert result['kiss_code'] == 'DENY'
    assert server.requests == 1


def test_query_skips_a_stale_answer_and_keeps_ours(responder):
    def reply(data):
        origin = struct.unpack('!Q', data[40:48])[0]
        now = time.time()
        return [answer(origin ^ 0xFFFF, receive=now, transmit=now), answer(origin, receive=now, transmit=now)]
    server = responder(reply)
    result = ntp.query_server('ntp.test', '127.0.0.1', port=server.port, samples=1, timeout=1.0)
    assert result['samples'] == 1
    assert result['offset_seconds'] == pytest.approx(0.0, abs=0.5)


def test_query_silent_server_times_out_quickly(responder):
    server = responder(lambda data: [])
    started = time.monotonic()
    result = ntp.query_server('ntp.test', '127.0.0.1', port=server.port, samples=2, timeout=0.2)
    assert time.monotonic() - started < 1.5
    assert result['reachable'] is False
    assert result['error'] == 'no answer within 0.2 s'


def test_query_bad_packets_say_why(responder):
    server = responder(lambda data: [b'\x24' * 20])
    result = ntp.query_server('ntp.test', '127.0.0.1', port=server.port, samples=2, timeout=0.5)
    assert result['reachable'] is True
    assert result['offset_seconds'] is None
    assert 'short packet (20 bytes' in result['error']


def test_query_closed_port_is_unreachable_at_once():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    started = time.monotonic()
    result = ntp.query_server('ntp.test', '127.0.0.1', port=port, samples=3, timeout=1.0)
    assert time.monotonic() - started < 1.0
    assert result['reachable'] is False
    assert 'unreachable' in result['error']


def test_query_bad_address_never_raises():
    result = ntp.query_server('ntp.test', 'not an address', port=123)
    assert result['reachable'] is False
    assert result['error'].startswith('cannot send to not an address')
