# Private to this repository's tests, demo and benchmarks.
"""The vCenter simulator: govmomi's vcsim extended with ESXi host time (tests/testbed/vcsim).

Options (``--set vcsim.NAME=VALUE``) are in ``VcsimPlugin.options``; the control API and
the variables it writes are described in tests/testbed/vcsim/README.md.
"""

import glob
import json
import os
import shutil
import ssl
import subprocess
import urllib.request

from testbed.core import TESTBED_ROOT, Plugin, TestbedError
from testbed.guests import guests

SOURCE_DIR = os.path.join(TESTBED_ROOT, 'vcsim')
BINARY = os.path.join(SOURCE_DIR, 'vcsim')
GOPATH = '/usr/share/gocode'
GOVMOMI_SIMULATOR = os.path.join(GOPATH, 'src', 'github.com', 'vmware', 'govmomi', 'simulator')
DATACENTER = 'DC0'
SETUP_HINT = 'Run `make setup` (it installs the Debian packages golang-go and golang-github-vmware-govmomi-dev).'


def host_names(clusters, hosts_per_cluster, standalone_hosts):
    """The host names govmomi's VPX model gives, by cluster (None for standalone hosts)."""
    by_cluster = {}
    for cluster in range(clusters):
        by_cluster['%s_C%d' % (DATACENTER, cluster)] = [
            '%s_C%d_H%d' % (DATACENTER, cluster, host) for host in range(hosts_per_cluster)]
    standalone = ['%s_H%d' % (DATACENTER, host) for host in range(standalone_hosts)]
    return by_cluster, standalone


ESX_VERSIONS = ('6.7.0', '7.0.3', '8.0.0', '8.0.1', '8.0.2', '8.0.3')


def _version_tuple(version):
    return tuple(int(part) for part in version.split('.'))


def host_versions(options):
    """``{host: ESXi version}``: ``options['versions']`` cycled over the hosts in name order."""
    by_cluster, standalone = host_names(options['clusters'], options['hosts_per_cluster'], options['standalone_hosts'])
    names = sorted([name for hosts in by_cluster.values() for name in hosts] + standalone)
    versions = version_list(options['versions'])
    return {name: versions[index % len(versions)] for index, name in enumerate(names)}


def version_list(text):
    versions = ['6.7.0' if item.strip() == '6.7' else item.strip() for item in str(text).split(',') if item.strip()]
    unknown = [version for version in versions if version not in ESX_VERSIONS]
    if not versions or unknown:
        raise TestbedError('vcsim.versions must list ESXi versions from %s, not %r.' % (', '.join(ESX_VERSIONS), text))
    return versions


def special_hosts(options):
    """The hosts that start on PTP (the first ``ptp_hosts`` on ESXi 8) and with time services
    disabled (the first ``disabled_hosts`` on 7.0.3), in name order."""
    versions = host_versions(options)
    on_8 = [name for name in sorted(versions) if _version_tuple(versions[name]) >= (8, 0, 0)]
    on_703 = [name for name in sorted(versions) if (7, 0, 3) <= _version_tuple(versions[name]) < (8, 0, 0)]
    if len(on_8) < options['ptp_hosts'] or len(on_703) < options['disabled_hosts']:
        raise TestbedError('vcsim.ptp_hosts (%d) needs that many ESXi 8 hosts (there are %d) and vcsim.disabled_hosts '
                           '(%d) that many 7.0.3 hosts (there are %d): change vcsim.versions or set them to 0.' % (
                               options['ptp_hosts'], len(on_8), options['disabled_hosts'], len(on_703)))
    return on_8[:options['ptp_hosts']], on_703[:options['disabled_hosts']]


def check_options(options):
    """Raise TestbedError for options the simulator cannot start with."""
    for key in ('clusters', 'hosts_per_cluster', 'standalone_hosts', 'drifted', 'vms_per_host', 'ptp_hosts', 'disabled_hosts'):
        if options[key] < 0:
            raise TestbedError('vcsim.%s must be 0 or more, not %s.' % (key, options[key]))
    if not 1 <= options['port'] <= 65535:
        raise TestbedError('vcsim.port must be a TCP port (1-65535), not %s.' % options['port'])
    if options['clusters'] * options['hosts_per_cluster'] + options['standalone_hosts'] == 0:
        raise TestbedError('vcsim needs at least one host: raise vcsim.hosts_per_cluster or vcsim.standalone_hosts.')
    if not options['password']:
        raise TestbedError('vcsim.password must not be empty.')
    special_hosts(options)


def inventory_part(options):
    """The launcher variables and the ``vcenters`` group for a simulator started with ``options``."""
    by_cluster, standalone = host_names(options['clusters'], options['hosts_per_cluster'], options['standalone_hosts'])
    all_hosts = sorted([name for names in by_cluster.values() for name in names] + standalone)
    port = options['port']
    ptp, disabled = special_hosts(options)
    return {
        'vars': {
            'testbed_vcsim_hostname': '127.0.0.1',
            'testbed_vcsim_port': port,
            'testbed_vcsim_username': options['username'],
            'testbed_vcsim_password': options['password'],
            'testbed_vcsim_control_url': 'https://127.0.0.1:%d/fleetfix' % port,
            'testbed_vcsim_datacenter': DATACENTER,
            'testbed_vcsim_clusters': sorted(by_cluster),
            'testbed_vcsim_hosts': all_hosts,
            'testbed_vcsim_hosts_by_cluster': by_cluster,
            'testbed_vcsim_standalone_hosts': standalone,
            'testbed_vcsim_drifted_hosts': all_hosts[:options['drifted']],
            'testbed_vcsim_drift_seconds': options['drift_seconds'],
            'testbed_vcsim_api_version': '8.0.3.0',
            'testbed_vcsim_host_versions': host_versions(options),
            'testbed_vcsim_ptp_hosts': ptp,
            'testbed_vcsim_disabled_hosts': disabled,
            'testbed_vcsim_vms': guests(all_hosts, options['vms_per_host'])['vms'],
        },
        'groups': {
            'vcenters': {
                'hosts': {
                    'vcsim01': {
                        'ansible_connection': 'local',
                        'ansible_python_interpreter': '{{ ansible_playbook_python }}',
                        'esxi_time_vcenter_hostname': '127.0.0.1',
                        'esxi_time_vcenter_port': port,
                        'esxi_time_vcenter_username': options['username'],
                        'esxi_time_vcenter_password': options['password'],
                        'esxi_time_vcenter_validate_certs': False,
                    },
                },
            },
        },
    }


def command_line(options):
    """The simulator's argv (the password goes in the environment, not on the command line)."""
    return [
        BINARY,
        '-listen', '127.0.0.1:%d' % options['port'],
        '-clusters', str(options['clusters']),
        '-hosts-per-cluster', str(options['hosts_per_cluster']),
        '-standalone-hosts', str(options['standalone_hosts']),
        '-drifted', str(options['drifted']),
        '-drift-seconds', repr(float(options['drift_seconds'])),
        '-username', options['username'],
        '-versions', ','.join(version_list(options['versions'])),
        '-ptp-hosts', ','.join(special_hosts(options)[0]),
        '-disabled-hosts', ','.join(special_hosts(options)[1]),
    ]


def needs_build(binary=BINARY, source_dir=SOURCE_DIR):
    """True when the binary is missing or older than one of its Go sources."""
    try:
        built = os.path.getmtime(binary)
    except OSError:
        return True
    return any(os.path.getmtime(path) > built for path in glob.glob(os.path.join(source_dir, '*.go')))


def start_timeout(options):
    """Seconds to wait for the simulator: creating hosts takes a few milliseconds each."""
    hosts = options['clusters'] * options['hosts_per_cluster'] + options['standalone_hosts']
    return 30.0 + hosts / 20.0


def build_binary(work_dir):
    """Compile the simulator when it is missing or older than its sources (vcsim and esx parts)."""
    if not needs_build():
        print('vcsim: %s is up to date' % BINARY)
        return
    go = shutil.which('go')
    if not go:
        raise TestbedError('vcsim: the Go compiler (go) is not installed. ' + SETUP_HINT)
    if not os.path.isdir(GOVMOMI_SIMULATOR):
        raise TestbedError('vcsim: govmomi sources are missing (%s). %s' % (GOVMOMI_SIMULATOR, SETUP_HINT))
    env = dict(os.environ)
    env.update({
        'GOPATH': GOPATH,
        'GO111MODULE': 'off',
        'GOFLAGS': '',
        'GOCACHE': os.environ.get('GOCACHE') or os.path.join(work_dir, 'gocache'),
    })
    print('vcsim: compiling %s from %s (GOPATH=%s GO111MODULE=off go build; about 30 s the first time)' % (
        BINARY, SOURCE_DIR, GOPATH), flush=True)
    result = subprocess.run([go, 'build', '-o', BINARY, '.'], cwd=SOURCE_DIR, env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TestbedError('vcsim: go build failed in %s:\n%s%s' % (SOURCE_DIR, result.stdout, result.stderr))


class VcsimPlugin(Plugin):
    name = 'vcsim'
    description = 'vCenter simulator with ESXi host time (govmomi vcsim, HTTPS)'
    options = {
        'port': 18443,
        'clusters': 2,
        'hosts_per_cluster': 3,
        'standalone_hosts': 1,
        'drifted': 1,
        'drift_seconds': 600.0,
        'username': 'administrator@vsphere.local',
        'password': 'FleetFix-vcsim-1!',
        'versions': '6.7.0,7.0.3,8.0.3',
        'ptp_hosts': 1,
        'disabled_hosts': 1,
        'vms_per_host': 3,
    }

    def build(self, ctx):
        check_options(ctx.options)
        build_binary(ctx.work_dir)

    def start(self, ctx):
        options = ctx.options
        check_options(options)
        by_cluster, standalone = host_names(options['clusters'], options['hosts_per_cluster'], options['standalone_hosts'])
        vms_file = os.path.join(ctx.work_dir, 'vms.json')
        with open(vms_file, 'w', encoding='utf-8') as handle:
            json.dump(guests(sorted([name for names in by_cluster.values() for name in names] + standalone),
                             options['vms_per_host']), handle)
        ctx.spawn('vcsim', command_line(options) + ['-vms-file', vms_file], env={'VCSIM_PASSWORD': options['password']})
        stats_url = 'https://127.0.0.1:%d/fleetfix/stats' % options['port']
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE

        def answers():
            try:
                with urllib.request.urlopen(stats_url, timeout=5, context=unverified) as response:  # nosec - local test peer
                    return 'requests' in json.load(response)
            except (OSError, ValueError):
                return False
        ctx.wait_until(answers, 'the vCenter simulator at %s' % stats_url, timeout=start_timeout(options), label='vcsim')
        part = inventory_part(options)
        hosts_url = 'https://127.0.0.1:%d/fleetfix/hosts' % options['port']
        with urllib.request.urlopen(hosts_url, timeout=60, context=unverified) as response:  # nosec - local test peer
            served = sorted(host['name'] for host in json.load(response))
        if served != part['vars']['testbed_vcsim_hosts']:
            raise TestbedError('vcsim serves hosts %s, not the expected %s; govmomi names hosts differently '
                               'than testbed/plugins/vcsim.py assumes.' % (served[:5], part['vars']['testbed_vcsim_hosts'][:5]))
        return part


PLUGIN = VcsimPlugin()
