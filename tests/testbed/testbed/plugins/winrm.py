# Private to this repository's tests, demo and benchmarks.
"""The WinRM test peer: simulated Windows hosts and a domain controller (tests/testbed/winrm_peer).

Options (``--set winrm.NAME=VALUE``) are in ``WinrmPlugin.options``; the variables it
writes, the control API and the emulated commands are described in
tests/testbed/winrm_peer/README.md and COMMANDS.md.
"""

import json
import os
import sys
import urllib.request

from testbed.core import TESTBED_ROOT, Plugin, TestbedError
from testbed.plugins import kdc

# The hosts of group field_servers (winrm_peer.model.FIELD_HOSTS), after dc01 on the ports.
FIELD_HOSTS = ('exde01', 'exfr01', 'exkrb01', 'exnowmic01')
KERBEROS_ONLY = ('exkrb01',)


def host_names(count):
    return ['ex%02d' % index for index in range(1, count + 1)]


def all_names(count):
    """Every host in port order: ex01..exNN, dc01, then the field servers."""
    return host_names(count) + ['dc01'] + list(FIELD_HOSTS)


def fqdn(name, options):
    return '%s.%s.local' % (name, options['domain'].lower())


def realm_name(options):
    return '%s.LOCAL' % options['domain'].upper()


def check_options(options):
    """Raise TestbedError for options the peer cannot start with."""
    if not 1 <= options['hosts'] <= 999:
        raise TestbedError('winrm.hosts must be between 1 and 999, not %s.' % options['hosts'])
    for key in ('https_base_port', 'http_base_port', 'control_port'):
        if not 1 <= options[key] <= 65535:
            raise TestbedError('winrm.%s must be a TCP port (1-65535), not %s.' % (key, options[key]))
    count = len(all_names(options['hosts']))
    ranges = {
        'https_base_port': range(options['https_base_port'], options['https_base_port'] + count),
        'http_base_port': range(options['http_base_port'], options['http_base_port'] + count),
    }
    if set(ranges['https_base_port']) & set(ranges['http_base_port']) or any(
            options['control_port'] in ports for ports in ranges.values()):
        raise TestbedError('winrm ports overlap: https %d-%d, http %d-%d, control %d; move one of them.' % (
            ranges['https_base_port'][0], ranges['https_base_port'][-1], ranges['http_base_port'][0],
            ranges['http_base_port'][-1], options['control_port']))
    if ranges['https_base_port'][-1] > 65535 or ranges['http_base_port'][-1] > 65535:
        raise TestbedError('winrm: %d hosts do not fit below port 65535; lower the base ports.' % options['hosts'])
    if options['restart_seconds'] < 0 or options['event_interval_seconds'] < 0:
        raise TestbedError('winrm.restart_seconds and winrm.event_interval_seconds must be 0 or more.')
    if not options['password'] or ':' in options['user'] or ':' in options['domain']:
        raise TestbedError('winrm.password must not be empty, and user and domain must not contain ":".')


def inventory_part(options, state_dir, krb5_conf=None):
    """The launcher variables and the groups exchange_servers, domain_controllers and field_servers."""
    ca_path = os.path.join(state_dir, 'winrm', 'ca.pem')
    user = '%s\\%s' % (options['domain'], options['user'])
    names = host_names(options['hosts'])
    ordered = all_names(options['hosts'])

    def field_vars(name):
        values = host_vars(ordered.index(name))
        if name in KERBEROS_ONLY:
            # Kerberos names the account by its principal; the service principal is HTTP/<fqdn>, and the
            # peer is reached at 127.0.0.1, so the name Kerberos uses is given explicitly.
            values.update(ansible_user='%s@%s' % (options['user'], realm_name(options)),
                          ansible_winrm_transport='kerberos',
                          ansible_winrm_kerberos_hostname_override=fqdn(name, options))
        return values

    def host_vars(index):
        return {
            'ansible_connection': 'winrm',
            'ansible_host': '127.0.0.1',
            'ansible_port': options['https_base_port'] + index,
            'ansible_user': user,
            'ansible_password': options['password'],
            'ansible_winrm_transport': 'ntlm',
            'ansible_winrm_scheme': 'https',
            'ansible_winrm_server_cert_validation': 'validate',
            'ansible_winrm_ca_trust_path': ca_path,
            'testbed_winrm_http_port': options['http_base_port'] + index,
        }
    return {
        'vars': {
            'testbed_winrm_control_url': 'http://127.0.0.1:%d' % options['control_port'],
            'testbed_winrm_ca_path': ca_path,
            'testbed_winrm_user': user,
            'testbed_winrm_password': options['password'],
            'testbed_winrm_hosts': names,
            'testbed_winrm_dc': 'dc01',
            'testbed_winrm_domain': options['domain'],
            'testbed_winrm_restart_seconds': options['restart_seconds'],
            'testbed_winrm_event_interval_seconds': options['event_interval_seconds'],
            # The simulated hosts start their services at once: the dcom_10009 role need not
            # wait its real-world 30 s after a restart before counting events.
            'dcom_10009_settle_seconds': 2,
            'testbed_winrm_ports': {name: {'https': options['https_base_port'] + index,
                                           'http': options['http_base_port'] + index}
                                    for index, name in enumerate(ordered)},
            'testbed_winrm_field_hosts': list(FIELD_HOSTS),
            'testbed_winrm_kerberos_only_hosts': list(KERBEROS_ONLY),
            'testbed_winrm_realm': realm_name(options),
            'testbed_winrm_kerberos_user': '%s@%s' % (options['user'], realm_name(options)),
            'testbed_winrm_fqdns': {name: fqdn(name, options) for name in ordered},
            # Kerberos clients (pykerberos, kinit) read the realm's KDC from this file (KRB5_CONFIG).
            'testbed_winrm_krb5_conf': krb5_conf,
        },
        'groups': {
            'exchange_servers': {'hosts': {name: host_vars(index) for index, name in enumerate(names)}},
            'domain_controllers': {'hosts': {'dc01': host_vars(len(names))}},
            'field_servers': {'hosts': {name: field_vars(name) for name in FIELD_HOSTS}},
        },
    }


def command_line(options, work_dir):
    return [
        sys.executable, '-m', 'winrm_peer',
        '--state', work_dir,
        '--hosts', str(options['hosts']),
        '--https-base-port', str(options['https_base_port']),
        '--http-base-port', str(options['http_base_port']),
        '--control-port', str(options['control_port']),
        '--restart-seconds', repr(float(options['restart_seconds'])),
        '--event-interval-seconds', repr(float(options['event_interval_seconds'])),
        '--domain', options['domain'],
        '--user', options['user'],
    ]


class WinrmPlugin(Plugin):
    name = 'winrm'
    description = ('WinRM peer: simulated Windows Server hosts and a domain controller (WS-Management, NTLM and '
                   'Kerberos)')
    after = ('kdc',)
    options = {
        'hosts': 4,
        'https_base_port': 15990,
        'http_base_port': 16990,
        'control_port': 15980,
        'restart_seconds': 3.0,
        'event_interval_seconds': 5.0,
        'domain': 'FLEETFIX',
        'user': 'administrator',
        'password': 'FleetFix-WinRM-1!',
    }

    def build(self, ctx):
        check_options(ctx.options)
        try:
            import spnego  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
            import cryptography  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
        except ImportError as error:
            raise TestbedError('winrm: the peer needs pyspnego and cryptography (%s); run `make setup`.' % error) from None

    def start(self, ctx):
        options = ctx.options
        check_options(options)
        env = {'WINRM_PEER_PASSWORD': options['password'],
               'PYTHONPATH': TESTBED_ROOT + os.pathsep + os.environ.get('PYTHONPATH', '')}
        realm = self.realm(ctx)
        if realm is not None:
            env.update(register_principals(realm, options, ctx.work_dir))
        ctx.spawn('winrm_peer', command_line(options, ctx.work_dir), env=env)
        url = 'http://127.0.0.1:%d/hosts' % options['control_port']
        expected = all_names(options['hosts'])

        def answers():
            try:
                with urllib.request.urlopen(url, timeout=5) as response:  # nosec - local test peer
                    return [host['name'] for host in json.load(response)] == expected
            except (OSError, ValueError):
                return False
        ctx.wait_until(answers, 'the WinRM peer at %s' % url, timeout=30 + options['hosts'] / 10.0, label='winrm_peer')
        return inventory_part(options, ctx.state_dir, realm.krb5_conf if realm else None)

    @staticmethod
    def realm(ctx):
        """The running KDC's realm (the kdc part's record), or None when it is not up."""
        try:
            with open(os.path.join(ctx.state_dir, 'kdc.json'), 'r', encoding='utf-8') as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        record_options = record.get('options') or {}
        return kdc.Realm(os.path.join(ctx.state_dir, 'kdc'), record_options.get('realm', 'FLEETFIX.LOCAL'),
                         record_options.get('port', 15988), record_options.get('max_skew_seconds', 300))


def register_principals(realm, options, work_dir):
    """The user and every host's HTTP/<fqdn> in the realm, the keytab; the peer's Kerberos environment."""
    if realm.realm != realm_name(options):
        raise TestbedError('winrm: the KDC serves realm %s, the peer domain %s needs %s; start kdc with '
                           '--set kdc.realm=%s.' % (realm.realm, options['domain'], realm_name(options),
                                                    realm_name(options)))
    services = ['HTTP/%s' % fqdn(name, options) for name in all_names(options['hosts'])]
    realm.add_principals([(options['user'], options['password'])] + [(service, None) for service in services])
    keytab = realm.export_keytab(services, os.path.join(work_dir, 'http.keytab'))
    return {'KRB5_KTNAME': 'FILE:%s' % keytab, 'KRB5_CONFIG': realm.krb5_conf, 'KRB5RCACHETYPE': 'none'}


PLUGIN = WinrmPlugin()
