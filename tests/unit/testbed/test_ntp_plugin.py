# Private to this repository's tests: the NTP sources' launcher plug-in, with real chronyd.
from __future__ import annotations

import os
import shutil
import socket

import pytest

from testbed.core import Context, TestbedError, stop_process
from testbed.plugins import ntp


def options(**changes):
    result = dict(ntp.PLUGIN.options)
    result.update(changes)
    return result


def free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(('127.0.0.61', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def test_variables_are_the_documented_contract():
    variables = ntp.inventory_part(options())['vars']
    assert variables['testbed_ntp_port'] == variables['esxi_time_ntp_port'] == 11123
    assert variables['testbed_ntp_good'] == '127.0.0.61'
    assert variables['testbed_ntp_unsynchronised'] == '127.0.0.62'
    assert variables['testbed_ntp_wrong'] == '127.0.0.63'
    assert variables['testbed_ntp_unreachable'] == '127.0.0.64'
    assert variables['testbed_ntp_wrong_offset_seconds'] == 600.0
    # every address the tests send NTP to is on loopback
    assert all(variables[key].startswith('127.') for key in variables if key.endswith(('good', 'unsynchronised', 'wrong', 'unreachable')))


def test_configuration_serves_without_touching_the_clock(tmp_path):
    good = ntp.configuration('good', '127.0.0.61', 11123, str(tmp_path))
    assert 'local stratum 3' in good and 'cmdport 0' in good and 'bindaddress 127.0.0.61' in good
    assert 'local' not in ntp.configuration('unsynchronised', '127.0.0.62', 11123, str(tmp_path))


@pytest.mark.parametrize('changes, message', [
    (dict(port=0), 'ntp.port must be a UDP port'),
    (dict(wrong_offset_seconds=5.0), 'a minute or more'),
])
def test_bad_options_are_refused(changes, message):
    with pytest.raises(TestbedError, match=message):
        ntp.check_options(options(**changes))


@pytest.mark.skipif(not os.access(ntp.CHRONYD, os.X_OK) or not shutil.which('faketime'), reason='needs chrony and faketime')
def test_real_chronyd_serves_good_unsynchronised_and_wrong_time(tmp_path):
    ctx = Context(ntp.PLUGIN, str(tmp_path), options(port=free_port()))
    try:
        part = ntp.PLUGIN.start(ctx)
        port = part['vars']['testbed_ntp_port']
        leap, stratum, offset = ntp.probe('127.0.0.61', port)
        assert (leap, stratum) == (0, 3) and abs(offset) < 1
        leap, _stratum, _offset = ntp.probe('127.0.0.62', port)
        assert leap == 3
        leap, stratum, offset = ntp.probe('127.0.0.63', port)
        assert (leap, stratum) == (0, 3) and abs(offset - 600) < 5
        assert ntp.probe('127.0.0.64', port) is None
    finally:
        for record in ctx.processes:
            stop_process(record)
