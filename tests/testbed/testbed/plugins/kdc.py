# Private to this repository's tests, demo and benchmarks.
"""A real MIT Kerberos KDC (Debian's krb5-kdc) for the test domain's realm, on loopback.

The realm (``FLEETFIX.LOCAL`` by default, the WinRM peer's domain) lives in the part's own
state folder: ``kdc.conf``, ``krb5.conf`` (what clients and the WinRM peer use, through
``KRB5_CONFIG``), the database made with ``kdb5_util create -s`` and principals added with
``kadmin.local`` (no kadmind, no network). ``krb5kdc -n`` serves UDP and TCP on
127.0.0.1:<port> until the launcher stops it. The WinRM part adds its user and the hosts'
``HTTP/<fqdn>`` service principals with ``add_principal`` / ``export_keytab``.

The functions are also used by tests that start a KDC of their own (``Realm``).
"""

import os
import shutil
import signal
import socket
import subprocess
import time

from testbed.core import Plugin, TestbedError

KDC_BINARY = '/usr/sbin/krb5kdc'
KDB5_UTIL = '/usr/sbin/kdb5_util'
KADMIN_LOCAL = '/usr/sbin/kadmin.local'
FAKETIME = 'faketime'
# Written into the state folder only; the realm holds nothing but test principals.
MASTER_PASSWORD = 'fleetfix-testbed-kdc-master'  # nosec - a test realm's master key, not a secret


class Realm:
    """One realm's files in ``work_dir`` and the commands that act on its database."""

    def __init__(self, work_dir, realm, port, max_skew=300, host='127.0.0.1'):
        self.work_dir = os.path.abspath(work_dir)
        self.realm = realm
        self.port = int(port)
        self.max_skew = int(max_skew)
        self.host = host
        self.krb5_conf = os.path.join(self.work_dir, 'krb5.conf')
        self.kdc_conf = os.path.join(self.work_dir, 'kdc.conf')
        self.database = os.path.join(self.work_dir, 'principal')
        self.stash = os.path.join(self.work_dir, 'stash')
        self.pid_file = os.path.join(self.work_dir, 'krb5kdc.pid')

    def env(self):
        """The environment every Kerberos tool of this realm runs with (no system files read)."""
        return {'KRB5_CONFIG': self.krb5_conf, 'KRB5_KDC_PROFILE': self.kdc_conf, 'KRB5RCACHETYPE': 'none'}

    def write_config(self):
        os.makedirs(self.work_dir, exist_ok=True)
        domain = self.realm.lower()
        # rdns/dns_canonicalize_hostname off: the service principal is HTTP/<the name the client was
        # given>, not whatever a reverse lookup of 127.0.0.1 answers ("localhost").
        with open(self.krb5_conf, 'w', encoding='utf-8') as handle:
            handle.write(
                '[libdefaults]\n'
                '    default_realm = %(realm)s\n'
                '    dns_lookup_kdc = false\n'
                '    dns_lookup_realm = false\n'
                '    dns_canonicalize_hostname = false\n'
                '    rdns = false\n'
                '    udp_preference_limit = 1\n'
                '    clockskew = %(skew)d\n'
                '    kdc_timeout = 2000\n'
                '    max_retries = 1\n'
                '[realms]\n'
                '    %(realm)s = {\n'
                '        kdc = tcp/%(host)s:%(port)d\n'
                '        kdc = %(host)s:%(port)d\n'
                '    }\n'
                '[domain_realm]\n'
                '    .%(domain)s = %(realm)s\n'
                '    %(domain)s = %(realm)s\n'
                % {'realm': self.realm, 'host': self.host, 'port': self.port, 'domain': domain, 'skew': self.max_skew})
        with open(self.kdc_conf, 'w', encoding='utf-8') as handle:
            handle.write(
                '[kdcdefaults]\n'
                '    kdc_listen = %(host)s:%(port)d\n'
                '    kdc_tcp_listen = %(host)s:%(port)d\n'
                '[realms]\n'
                '    %(realm)s = {\n'
                '        database_name = %(database)s\n'
                '        key_stash_file = %(stash)s\n'
                '        acl_file = %(work)s/kadm5.acl\n'
                '        max_life = 10h 0m 0s\n'
                '        max_renewable_life = 1d 0h 0m 0s\n'
                '        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n'
                '    }\n'
                '[logging]\n'
                '    kdc = FILE:%(work)s/kdc.log\n'
                % {'realm': self.realm, 'host': self.host, 'port': self.port, 'database': self.database,
                   'stash': self.stash, 'work': self.work_dir})
        with open(os.path.join(self.work_dir, 'kadm5.acl'), 'w', encoding='utf-8') as handle:
            handle.write('')

    def run(self, argv, stdin=None):
        env = dict(os.environ)
        env.update(self.env())
        try:
            completed = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=60,
                                       check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise TestbedError('kdc: %s failed to run: %s' % (argv[0], error)) from None
        if completed.returncode != 0:
            raise TestbedError('kdc: %s failed (exit %d): %s' % (
                ' '.join(argv[:3]), completed.returncode, (completed.stderr or 'no message').strip()))
        return completed.stdout

    def create(self):
        """A fresh realm database (any previous one in the folder is removed)."""
        for name in os.listdir(self.work_dir) if os.path.isdir(self.work_dir) else ():
            if name.startswith('principal') or name == 'stash' or name.endswith('.keytab'):
                os.unlink(os.path.join(self.work_dir, name))
        self.write_config()
        self.run([KDB5_UTIL, '-r', self.realm, 'create', '-s', '-W', '-P', MASTER_PASSWORD])

    def kadmin(self, queries):
        """Run kadmin.local queries, one a line on its standard input (one process for all of them)."""
        return self.run([KADMIN_LOCAL, '-r', self.realm], stdin=''.join(query + '\n' for query in queries))

    def add_principal(self, name, password=None):
        """A user with ``password`` or, without one, a service with a random key."""
        self.add_principals([(name, password)])

    def add_principals(self, principals):
        queries = []
        for name, password in principals:
            # kadmin.local reads the query as words: a password cannot hold a double quote here.
            if password is not None:
                if '"' in password:
                    raise TestbedError('kdc: a test password must not contain a double quote.')
                queries.append('addprinc -pw "%s" +requires_preauth %s' % (password, name))
            else:
                queries.append('addprinc -randkey %s' % name)
        self.kadmin(queries)

    def export_keytab(self, names, keytab):
        if os.path.exists(keytab):
            os.unlink(keytab)
        self.kadmin(['ktadd -k %s -norandkey %s' % (keytab, name) for name in names])
        os.chmod(keytab, 0o600)
        return keytab

    def command_line(self, clock_offset_seconds=0):
        """krb5kdc in the foreground; with an offset its clock runs that far off (faketime), as a DC's can."""
        argv = [KDC_BINARY, '-n', '-r', self.realm, '-P', self.pid_file]
        if clock_offset_seconds:
            argv = [FAKETIME, '-f', '%+ds' % int(clock_offset_seconds)] + argv
        return argv

    def answers(self):
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                return True
        except OSError:
            return False


def start(realm, clock_offset_seconds=0):
    """krb5kdc for ``realm`` in its own session (for tests that run a KDC of their own); waits until it answers."""
    env = dict(os.environ)
    env.update(realm.env())
    process = subprocess.Popen(realm.command_line(clock_offset_seconds), env=env, stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_answers(realm, process)
    except TestbedError:
        stop(process)
        raise
    return process


def stop(process):
    """Stop what ``start`` started, faketime's child included (the whole session)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    # The session may outlive its leader (faketime's child): wait until the port is free again.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def check_options(options):
    if not 1 <= options['port'] <= 65535:
        raise TestbedError('kdc.port must be a TCP/UDP port (1-65535), not %s.' % options['port'])
    if not options['realm'] or options['realm'] != options['realm'].upper() or ' ' in options['realm']:
        raise TestbedError('kdc.realm must be an upper-case realm name such as FLEETFIX.LOCAL, not %r.'
                           % options['realm'])
    if not 1 <= options['max_skew_seconds'] <= 86400:
        raise TestbedError('kdc.max_skew_seconds must be between 1 and 86400, not %s.' % options['max_skew_seconds'])


def realm_of(ctx):
    return Realm(ctx.work_dir, ctx.options['realm'], ctx.options['port'], ctx.options['max_skew_seconds'])


def wait_until_answers(realm, process=None, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not realm.answers():
        if process is not None and process.poll() is not None:
            raise TestbedError('krb5kdc exited (%s) while starting.' % process.returncode)
        if time.monotonic() > deadline:
            raise TestbedError('krb5kdc did not answer on %s:%d within %.0f s.' % (realm.host, realm.port, timeout))
        time.sleep(0.05)


class KdcPlugin(Plugin):
    name = 'kdc'
    description = 'MIT Kerberos KDC (krb5kdc) for the test realm, on loopback'
    options = {
        'realm': 'FLEETFIX.LOCAL',
        'port': 15988,
        # The KDC's (and every acceptor's) tolerance, krb5.conf's clockskew; Windows' default is 5 minutes.
        'max_skew_seconds': 300,
        # The KDC's clock against the hosts' (faketime): beyond max_skew_seconds every host refuses its tickets.
        'clock_offset_seconds': 0,
    }

    def build(self, ctx):
        check_options(ctx.options)
        missing = [path for path in (KDC_BINARY, KDB5_UTIL, KADMIN_LOCAL) if not os.path.exists(path)]
        if missing or not shutil.which('kinit'):
            raise TestbedError('kdc: %s missing; install the Debian packages krb5-kdc, krb5-admin-server and '
                               'krb5-user (tools/setup.sh does).' % ', '.join(missing or ['kinit']))

    def start(self, ctx):
        realm = realm_of(ctx)
        realm.create()
        if ctx.options['clock_offset_seconds'] and not shutil.which(FAKETIME):
            raise TestbedError('kdc.clock_offset_seconds needs faketime (Debian package faketime; tools/setup.sh).')
        ctx.spawn('krb5kdc', realm.command_line(ctx.options['clock_offset_seconds']), env=realm.env())
        ctx.wait_tcp(realm.host, realm.port, timeout=15, label='krb5kdc')
        return {'vars': {
            'testbed_kdc_realm': realm.realm,
            'testbed_kdc_address': '%s:%d' % (realm.host, realm.port),
            'testbed_kdc_krb5_conf': realm.krb5_conf,
            'testbed_kdc_max_skew_seconds': realm.max_skew,
            'testbed_kdc_clock_offset_seconds': ctx.options['clock_offset_seconds'],
        }}


PLUGIN = KdcPlugin()
