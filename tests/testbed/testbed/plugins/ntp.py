# Private to this repository's tests, demo and benchmarks.
"""NTP sources on loopback: Debian's chronyd as real NTP servers, one of them deliberately wrong.

| instance       | address    | what it serves                                                   |
|----------------|------------|------------------------------------------------------------------|
| good           | 127.0.0.61 | chronyd ``local stratum 3``: stratum 3, leap 0, the right time    |
| unsynchronised | 127.0.0.62 | chronyd without a source: stratum 0, leap 3 (alarm)               |
| wrong          | 127.0.0.63 | chronyd ``local stratum 3`` under faketime: 10 minutes ahead      |
| (unreachable)  | 127.0.0.64 | nothing listens: ICMP port unreachable                            |
| good2          | 127.0.0.65 | a second good chronyd (``local stratum 3``), for lists of two     |

All on one UDP port (option ``port``, 11123 by default, so no privileges are needed; the
modules' ``ntp_port`` option points at it). ``-x`` keeps every chronyd off the system clock;
``cmdport 0`` opens no control socket. Variables: ``testbed_ntp_*`` (see ``inventory_part``).
"""

import glob
import os
import shutil
import socket
import struct
import time

from testbed.core import Plugin, TestbedError

ADDRESSES = {
    'good': '127.0.0.61',
    'unsynchronised': '127.0.0.62',
    'wrong': '127.0.0.63',
    'good2': '127.0.0.65',
}
UNREACHABLE = '127.0.0.64'
CHRONYD = '/usr/sbin/chronyd'
FAKETIME_LIBRARIES = '/usr/lib/*/faketime/libfaketime.so.1'
NTP_EPOCH_OFFSET = 2208988800


def check_options(options):
    if not 1 <= options['port'] <= 65535:
        raise TestbedError('ntp.port must be a UDP port (1-65535), not %s.' % options['port'])
    if abs(options['wrong_offset_seconds']) < 60:
        raise TestbedError('ntp.wrong_offset_seconds must be a minute or more, not %s.' % options['wrong_offset_seconds'])


def faketime_library():
    found = sorted(glob.glob(FAKETIME_LIBRARIES))
    return found[0] if found else None


def configuration(name, address, port, work_dir):
    """chrony.conf of one instance: serves NTP on ``address:port`` only, never touches the clock."""
    lines = [
        'bindaddress %s' % address,
        'port %d' % port,
        'allow 127.0.0.0/8',
        'cmdport 0',
        'pidfile %s' % os.path.join(work_dir, name + '.pid'),
        'driftfile %s' % os.path.join(work_dir, name + '.drift'),
    ]
    if name != 'unsynchronised':
        lines.append('local stratum 3')
    return '\n'.join(lines) + '\n'


def probe(address, port, timeout=0.5):
    """``(leap, stratum, offset_seconds)`` of one NTP answer, or None."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.connect((address, port))
        sent = time.time()
        value = sent + NTP_EPOCH_OFFSET
        request = bytearray(48)
        request[0] = 0x23
        struct.pack_into('!II', request, 40, int(value), int((value % 1) * (1 << 32)))
        sock.send(bytes(request))
        data = sock.recv(512)
    except OSError:
        return None
    finally:
        sock.close()
    if len(data) < 48:
        return None
    seconds, fraction = struct.unpack_from('!II', data, 40)
    server_time = seconds + fraction / float(1 << 32) - NTP_EPOCH_OFFSET
    return data[0] >> 6, data[1], server_time - sent


def inventory_part(options):
    port = options['port']
    return {
        'vars': {
            'testbed_ntp_port': port,
            'testbed_ntp_good': ADDRESSES['good'],
            'testbed_ntp_unsynchronised': ADDRESSES['unsynchronised'],
            'testbed_ntp_wrong': ADDRESSES['wrong'],
            'testbed_ntp_unreachable': UNREACHABLE,
            'testbed_ntp_good2': ADDRESSES['good2'],
            'testbed_ntp_wrong_offset_seconds': options['wrong_offset_seconds'],
            'testbed_ntp_faketime_library': faketime_library(),
            # the esxi_time role's source check asks the PDC emulators (dc1/dc2 -> 127.0.0.61/62) on this port
            'esxi_time_ntp_port': port,
        },
    }


def port_free(address, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


class NtpPlugin(Plugin):
    name = 'ntp'
    description = 'NTP: chronyd good (stratum 3, twice), unsynchronised (leap alarm) and 10 minutes wrong on 127.0.0.61-65'
    options = {
        'port': 11123,
        'wrong_offset_seconds': 600.0,
    }

    def build(self, ctx):
        check_options(ctx.options)
        if not os.access(CHRONYD, os.X_OK):
            raise TestbedError('ntp: %s is missing; install the Debian package chrony (`make setup`).' % CHRONYD)
        if not shutil.which('faketime') or not faketime_library():
            raise TestbedError('ntp: faketime is missing; install the Debian package faketime (`make setup`).')

    def start(self, ctx):
        options = ctx.options
        check_options(options)
        port = options['port']
        busy = ['%s:%d' % (address, port) for address in list(ADDRESSES.values()) + [UNREACHABLE]
                if not port_free(address, port)]
        if busy:
            raise TestbedError('ntp: something already listens on %s; stop it (`python -m testbed down --only ntp`) '
                               'or choose another port with --set ntp.port=N.' % ', '.join(busy))
        for name, address in ADDRESSES.items():
            path = os.path.join(ctx.work_dir, name + '.conf')
            with open(path, 'w', encoding='utf-8') as handle:
                handle.write(configuration(name, address, port, ctx.work_dir))
            argv = [CHRONYD, '-f', path, '-x', '-d']
            if name == 'wrong':
                argv = [shutil.which('faketime'), '-f', '%+ds' % int(options['wrong_offset_seconds'])] + argv
            ctx.spawn(name, argv)
        expected = {
            'good': lambda answer: answer[0] == 0 and answer[1] == 3 and abs(answer[2]) < 1,
            'good2': lambda answer: answer[0] == 0 and answer[1] == 3 and abs(answer[2]) < 1,
            'unsynchronised': lambda answer: answer[0] == 3,
            'wrong': lambda answer: answer[0] == 0 and abs(answer[2] - options['wrong_offset_seconds']) < 5,
        }
        for name, address in ADDRESSES.items():
            ctx.wait_until(lambda name=name, address=address: (probe(address, port) or None) and expected[name](probe(address, port)),
                           'chronyd %s (%s:%d)' % (name, address, port), timeout=20, label=name)
        return inventory_part(options)


PLUGIN = NtpPlugin()
