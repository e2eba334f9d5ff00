# Private to this repository's tests, demo and benchmarks.
"""One standalone ESXi host, reached directly (no vCenter): the vCenter simulator's ESX mode.

govmomi's ``simulator.ESX()`` model (``about.apiType`` HostAgent, one host named
``localhost.localdomain``), with the same per-host extensions and control API as the vcsim
part (tests/testbed/vcsim/README.md), on its own port. Options: ``--set esx.NAME=VALUE``.
"""

import json
import os
import ssl
import urllib.request

from testbed.core import Plugin, TestbedError
from testbed.plugins import vcsim

HOST_NAME = 'localhost.localdomain'


def check_options(options):
    if not 1 <= options['port'] <= 65535:
        raise TestbedError('esx.port must be a TCP port (1-65535), not %s.' % options['port'])
    vcsim.version_list(options['version'])
    if ',' in options['version']:
        raise TestbedError('esx.version is one ESXi version, not a list: %r.' % options['version'])
    if not options['password']:
        raise TestbedError('esx.password must not be empty.')


def inventory_part(options):
    port = options['port']
    return {
        'vars': {
            'testbed_esx_hostname': '127.0.0.1',
            'testbed_esx_port': port,
            'testbed_esx_username': options['username'],
            'testbed_esx_password': options['password'],
            'testbed_esx_control_url': 'https://127.0.0.1:%d/fleetfix' % port,
            'testbed_esx_host_name': HOST_NAME,
            'testbed_esx_version': vcsim.version_list(options['version'])[0],
        },
    }


def command_line(options):
    return [
        vcsim.BINARY, '-esx',
        '-listen', '127.0.0.1:%d' % options['port'],
        '-versions', vcsim.version_list(options['version'])[0],
        '-drifted', str(options['drifted']),
        '-username', options['username'],
    ]


class EsxPlugin(Plugin):
    name = 'esx'
    description = 'one standalone ESXi host without vCenter (vcsim in ESX mode, HTTPS)'
    options = {
        'port': 18453,
        'version': '8.0.3',
        'drifted': 0,
        'username': 'root',
        'password': 'FleetFix-esx-1!',
    }

    def build(self, ctx):
        check_options(ctx.options)
        # the same binary, and the vcsim part's Go build cache
        vcsim.build_binary(os.path.join(ctx.state_dir, vcsim.PLUGIN.name))

    def start(self, ctx):
        options = ctx.options
        check_options(options)
        ctx.spawn('esx', command_line(options), env={'VCSIM_PASSWORD': options['password']})
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        hosts_url = 'https://127.0.0.1:%d/fleetfix/hosts' % options['port']

        def answers():
            try:
                with urllib.request.urlopen(hosts_url, timeout=5, context=unverified) as response:  # nosec - local test peer
                    return [host['name'] for host in json.load(response)] == [HOST_NAME]
            except (OSError, ValueError):
                return False
        ctx.wait_until(answers, 'the standalone ESXi simulator at %s' % hosts_url, timeout=30.0, label='esx')
        return inventory_part(options)


PLUGIN = EsxPlugin()
