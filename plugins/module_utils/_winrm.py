# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The one pywinrm client of the collection: connection options, one shell, several commands.

Modules never import pywinrm; they build their argument spec with ``winrm_argument_spec``
and run commands through ``WinRMClient``. One client holds one ``winrm.protocol.Protocol``
(one HTTP session, so one NTLM context) and one cmd shell: it must not be shared between
threads. Every error leaves this file as ``WinRMError`` with a ``kind`` a caller can branch
on and a sentence a person can act on; the password never appears in it.
"""

from __future__ import annotations

import base64
import codecs
import email.utils
import hashlib
import os
import re
import threading
import time
import traceback

PYWINRM_IMPORT_ERROR = None
try:
    import requests
    from winrm import exceptions as winrm_exceptions
    from winrm.protocol import Protocol
except ImportError:
    PYWINRM_IMPORT_ERROR = traceback.format_exc()
    HAS_PYWINRM = False
else:
    HAS_PYWINRM = True

# Kerberos with a password: the ticket is got in-process into a MEMORY cache (nothing on disk, no kinit
# process, the password on no command line) that pywinrm's pykerberos then reads through KRB5CCNAME.
KRB5_IMPORT_ERROR = None
try:
    import krb5
except ImportError:
    KRB5_IMPORT_ERROR = traceback.format_exc()
    HAS_KRB5 = False
else:
    HAS_KRB5 = True


TRANSPORTS = ['ntlm', 'kerberos', 'credssp', 'basic', 'certificate']
DEFAULT_PORTS = {'https': 5986, 'http': 5985}
# WS-Man fault codes Windows sends (MS-WSMV, winerror.h).
WSMAN_ACCESS_DENIED = 5
WSMAN_OPERATION_TIMEOUT = 2150858793
# The code page the shell prints in (pywinrm's default, the US OEM code page).
SHELL_CODEPAGE = 437
# Looked up when the module is imported: the first lookup of a codec imports its module, and
# the action plugin's imports happen once in Ansible's main process, not in every forked worker.
SHELL_ENCODING = codecs.lookup('cp%d' % SHELL_CODEPAGE).name
POWERSHELL_ENCODING = codecs.lookup('utf-16-le').name

# Error kinds, so callers (and tests) can tell the failures apart.
UNREACHABLE = 'unreachable'
AUTHENTICATION = 'authentication'
CERTIFICATE = 'certificate'
TIMEOUT = 'timeout'
ACCESS_DENIED = 'access_denied'
CONFIGURATION = 'configuration'
PROTOCOL = 'protocol'
CLOCK_SKEW = 'clock_skew'

# How long a command may keep answering w:TimedOut ("no output yet") when the task sets no timeout.
DEFAULT_COMMAND_TIMEOUT = 900
# Kerberos' default tolerance between clocks (MIT clockskew, Windows "Maximum tolerance for computer clock
# synchronization"): 5 minutes.
KERBEROS_MAX_SKEW = 300
# krb5 error codes (krb5/krb5.h, com_err table krb5) that get a sentence of their own.
KRB5_ERRORS = {
    -1765328360: ('wrong password', AUTHENTICATION),  # KRB5KDC_ERR_PREAUTH_FAILED
    -1765328353: ('wrong password', AUTHENTICATION),  # KRB5KRB_AP_ERR_BAD_INTEGRITY
    -1765328378: ('unknown principal', AUTHENTICATION),  # KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN
    -1765328366: ('account locked or disabled', AUTHENTICATION),  # KRB5KDC_ERR_CLIENT_REVOKED
    -1765328361: ('password expired', AUTHENTICATION),  # KRB5KDC_ERR_KEY_EXP
    -1765328347: ('clock skew', CLOCK_SKEW),  # KRB5KRB_AP_ERR_SKEW
    -1765328228: ('kdc unreachable', UNREACHABLE),  # KRB5_KDC_UNREACH
    -1765328230: ('realm unknown', CONFIGURATION),  # KRB5_REALM_CANT_RESOLVE
}
_KRB5_LOCK = threading.Lock()
# principal -> (digest of the password, MEMORY cache name, end time): one ticket per principal and process.
_KRB5_TICKETS = {}
_KRB5_SALT = os.urandom(16)
_KRB5_CACHE_PREFIX = 'MEMORY:fleetfix-'


class _CredentialCacheLease:
    """Who may name the process-wide KRB5CCNAME, which pywinrm's Kerberos authentication reads.

    KRB5CCNAME is one variable per process; GSSAPI reads it whenever a connection authenticates (the
    first request, and again after a reconnect). Clients of the same credential cache share it;
    a client of another cache (another principal, or the controller's own cache for a ticket got
    with kinit) waits until the clients holding the variable are closed, so that no thread ever
    authenticates with another principal's ticket. In Ansible each host runs in its own worker
    process and never waits; only threads of one process (several hosts in one process) do.
    """

    def __init__(self):
        self._condition = threading.Condition()
        self._name = None
        self._holders = 0
        self._controller_ccname = None

    def acquire(self, name, timeout):
        """Name ``name`` (None: the controller's own cache) in KRB5CCNAME until ``release``; False on timeout."""
        with self._condition:
            if not self._condition.wait_for(lambda: self._holders == 0 or self._name == name, timeout):
                return False
            self._holders += 1
            self._name = name
            current = os.environ.get('KRB5CCNAME')
            if name is not None:
                if not (current or '').startswith(_KRB5_CACHE_PREFIX):
                    self._controller_ccname = current
                os.environ['KRB5CCNAME'] = name
            elif (current or '').startswith(_KRB5_CACHE_PREFIX):
                # Back to the cache the controller named before a ticket was got here (kinit's).
                if self._controller_ccname is None:
                    os.environ.pop('KRB5CCNAME', None)
                else:
                    os.environ['KRB5CCNAME'] = self._controller_ccname
            return True

    def release(self):
        with self._condition:
            self._holders -= 1
            if self._holders <= 0:
                self._holders = 0
                self._condition.notify_all()


_KRB5_LEASE = _CredentialCacheLease()


def warm_up():
    """Fill the process-wide caches of a WinRM exchange once, offline, so that forked workers inherit them.

    Ansible forks a fresh worker per host and task from its main process, which imports the action
    plugin (and so this file) once. Whatever a process does the first time only (OpenSSL loading the
    algorithms of its providers for the first TLS context and the first cipher, cryptography's first
    certificate and hash, pyspnego's NTLM tables, the first requests session and prepared request,
    the first WS-Man envelope built and parsed, Python specialising the code on that path) every
    worker would otherwise pay again for its one host. Nothing here talks to a host, reads a
    credential or keeps an object a task uses: each worker still builds its own TLS context (with the
    host's CA), NTLM context and session. Never raises: a failed warm-up only costs the time it saves.
    """
    if not HAS_PYWINRM:
        return False
    try:
        # pylint: disable=import-outside-toplevel
        import ssl
        import xml.etree.ElementTree as ET

        import certifi
        import spnego
        import xmltodict
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers import Cipher
        try:
            from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
        except ImportError:  # cryptography before 43
            from cryptography.hazmat.primitives.ciphers.algorithms import ARC4
        from urllib3.util.ssl_ import create_urllib3_context

        context = create_urllib3_context()
        with open(certifi.where(), encoding='ascii') as handle:
            first_certificate = handle.read().split('-----END CERTIFICATE-----', 1)[0] + '-----END CERTIFICATE-----\n'
        der = ssl.PEM_cert_to_DER_cert(first_certificate[first_certificate.index('-----BEGIN'):])
        context.load_verify_locations(cadata=der)
        # What requests_ntlm computes for channel binding from the host's certificate.
        certificate = x509.load_der_x509_certificate(der)
        digest = hashes.Hash(hashes.SHA256())
        digest.update(der)
        digest.finalize()
        del certificate
        # NTLM seals its session key and signatures with RC4 (from OpenSSL's legacy algorithms).
        Cipher(ARC4(bytes(16)), mode=None).encryptor().update(b'warm-up')
        # An NTLM negotiate message (no password is used before the host's challenge).
        spnego.client('WARMUP\\nobody', 'unused', hostname='localhost', service='HTTP', protocol='ntlm').step()
        protocol = Protocol(endpoint='https://localhost:5986/wsman', transport='ntlm', username='WARMUP\\nobody',
                            password='unused', server_cert_validation='validate')
        session = requests.Session()
        envelope = {'env:Envelope': protocol.build_wsman_header(
            resource_uri='http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd',
            action='http://schemas.xmlsoap.org/ws/2004/09/transfer/Create')}
        message = xmltodict.unparse(envelope).encode('utf-8')
        session.prepare_request(requests.Request('POST', protocol.transport.endpoint, data=message,
                                                 headers=protocol.transport.default_headers))
        session.close()
        ET.fromstring(message)
    except Exception:  # pylint: disable=broad-exception-caught
        return False
    return True


def winrm_argument_spec():
    """The connection options documented by the ``fleetfix.remediate.winrm`` doc fragment."""
    return dict(
        winrm_host=dict(type='str'),
        winrm_port=dict(type='int'),
        winrm_user=dict(type='str'),
        winrm_password=dict(type='str', no_log=True),
        winrm_transport=dict(type='str', default='ntlm', choices=TRANSPORTS),
        winrm_scheme=dict(type='str', default='https', choices=['https', 'http']),
        winrm_server_cert_validation=dict(type='str', default='validate', choices=['validate', 'ignore']),
        winrm_ca_trust_path=dict(type='path'),
        winrm_cert_pem=dict(type='path'),
        winrm_cert_key_pem=dict(type='path', no_log=False),
        winrm_message_encryption=dict(type='str', default='auto', choices=['auto', 'always', 'never']),
        winrm_operation_timeout=dict(type='int', default=20),
        winrm_read_timeout=dict(type='int', default=30),
        winrm_kerberos_hostname_override=dict(type='str'),
        winrm_allow_insecure=dict(type='bool', default=False),
    )


class WinRMError(Exception):
    """A readable failure of a WinRM exchange; ``kind`` is one of the module constants."""

    def __init__(self, message, kind=PROTOCOL):
        super().__init__(message)
        self.kind = kind
        self.message = message


_CLIXML_ESCAPE = re.compile(r'_x([0-9A-Fa-f]{4})_')
_CLIXML_STRING = re.compile(r'<S S="([^"]*)">(.*?)</S>', re.DOTALL)


def _unescape_xml(text):
    return (text.replace('&lt;', '<').replace('&gt;', '>').replace('&quot;', '"')
            .replace('&apos;', "'").replace('&amp;', '&'))


def decode_clixml(text):
    """What PowerShell meant by a ``#< CLIXML`` stream: the error lines, in plain text.

    powershell.exe writes its error stream over WinRM as serialised objects, one
    ``<S S="Error">`` per line with CR/LF escaped as ``_x000D__x000A_``. Text that is not
    CLIXML comes back unchanged.
    """
    if not text or '#< CLIXML' not in text:
        return text
    head, _sep, document = text.partition('#< CLIXML')
    lines = []
    for stream, content in _CLIXML_STRING.findall(document):
        if stream != 'Error':
            continue
        content = _CLIXML_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), _unescape_xml(content))
        lines.append(content)
    decoded = ''.join(lines).replace('\r\n', '\n').strip()
    head = head.strip()
    return '\n'.join(part for part in (head, decoded) if part)


def encode_powershell(script):
    """The ``-EncodedCommand`` argument for ``script`` (base64 of UTF-16LE), as powershell.exe wants it."""
    return base64.b64encode(script.encode(POWERSHELL_ENCODING)).decode('ascii')


class CommandResult:
    """The outcome of one command: exit code and both streams as text (CRLF kept)."""

    def __init__(self, rc, stdout, stderr):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self):
        return 'CommandResult(rc=%r, stdout=%r, stderr=%r)' % (self.rc, self.stdout, self.stderr)


def validate_options(options):
    """Check the connection options before any network traffic; returns a list of problems."""
    problems = []
    if not options.get('winrm_host'):
        problems.append('No WinRM host given: set winrm_host (or ansible_host for the task host).')
    transport = options.get('winrm_transport') or 'ntlm'
    scheme = options.get('winrm_scheme') or 'https'
    if transport == 'certificate':
        if not options.get('winrm_cert_pem') or not options.get('winrm_cert_key_pem'):
            problems.append('The certificate transport needs winrm_cert_pem and winrm_cert_key_pem.')
        if scheme != 'https':
            problems.append('The certificate transport works only over HTTPS: set winrm_scheme to https.')
    else:
        if not options.get('winrm_user'):
            problems.append('No WinRM user given: set winrm_user (or ansible_user for the task host, or ansible-playbook -u).')
        if transport != 'kerberos' and options.get('winrm_password') is None:
            problems.append('No WinRM password given: set winrm_password (or ansible_password for the task host, or ansible-playbook --ask-pass).')
        if transport == 'kerberos' and options.get('winrm_user') and '\\' in options['winrm_user']:
            problems.append('Kerberos names the account by its principal: set winrm_user to user@REALM (for example '
                            'administrator@CORP.EXAMPLE.COM), not %s.' % options['winrm_user'])
    if transport == 'basic' and scheme == 'http' and not options.get('winrm_allow_insecure'):
        problems.append('Basic authentication over plain HTTP would send the password in clear text: use '
                        'winrm_scheme https, another transport, or set winrm_allow_insecure to true.')
    if transport == 'basic' and options.get('winrm_message_encryption') == 'always':
        problems.append('Message encryption works only with the ntlm, kerberos or credssp transports.')
    operation_timeout = options.get('winrm_operation_timeout')
    read_timeout = options.get('winrm_read_timeout')
    if operation_timeout is not None and operation_timeout < 1:
        problems.append('winrm_operation_timeout must be at least 1 second.')
    if operation_timeout is not None and read_timeout is not None and read_timeout <= operation_timeout:
        problems.append('winrm_read_timeout (%s) must be longer than winrm_operation_timeout (%s).'
                        % (read_timeout, operation_timeout))
    port = options.get('winrm_port')
    if port is not None and not 0 < port < 65536:
        problems.append('winrm_port must be between 1 and 65535, not %s.' % port)
    return problems


class WinRMClient:
    """One WinRM connection to one host: one Protocol, one cmd shell, several commands.

    Not thread-safe: pywinrm's NTLM context belongs to one HTTP session, so each thread
    (and each host) needs its own client.
    """

    def __init__(self, options, command_timeout=None, clock=time.monotonic):
        problems = validate_options(options)
        if problems:
            raise WinRMError(' '.join(problems), CONFIGURATION)
        self.host = options['winrm_host']
        self.scheme = options.get('winrm_scheme') or 'https'
        self.port = options.get('winrm_port') or DEFAULT_PORTS[self.scheme]
        self.transport = options.get('winrm_transport') or 'ntlm'
        self.user = options.get('winrm_user')
        self._password = options.get('winrm_password')
        self.server_cert_validation = options.get('winrm_server_cert_validation') or 'validate'
        self.ca_trust_path = options.get('winrm_ca_trust_path')
        self.cert_pem = options.get('winrm_cert_pem')
        self.cert_key_pem = options.get('winrm_cert_key_pem')
        self.message_encryption = options.get('winrm_message_encryption') or 'auto'
        self.operation_timeout = options.get('winrm_operation_timeout') or 20
        self.read_timeout = options.get('winrm_read_timeout') or 30
        self.kerberos_hostname_override = options.get('winrm_kerberos_hostname_override')
        # The task's own timeout: how long one command may keep answering "no output yet".
        self.command_timeout = command_timeout or DEFAULT_COMMAND_TIMEOUT
        self.clock = clock
        self.kdc_offset = None
        self.endpoint = '%s://%s:%s/wsman' % (self.scheme, _bracket(self.host), self.port)
        # How messages name the host: several hosts behind one address differ by their port.
        self.label = self.host if self.port == DEFAULT_PORTS[self.scheme] else '%s:%s' % (_bracket(self.host), self.port)
        self._protocol = None
        self._shell_id = None
        self._krb5_lease = False
        self.commands_run = 0

    # -- connection -------------------------------------------------------------------------
    def _new_protocol(self):
        kwargs = dict(
            endpoint=self.endpoint,
            transport=self.transport,
            username=self.user,
            password=self._password,
            server_cert_validation=self.server_cert_validation,
            read_timeout_sec=self.read_timeout,
            operation_timeout_sec=self.operation_timeout,
            message_encryption=self.message_encryption,
        )
        if self.ca_trust_path:
            kwargs['ca_trust_path'] = self.ca_trust_path
        if self.transport == 'kerberos':
            try:
                self._kerberos_ticket()
            except WinRMError:
                self._release_credential_cache()
                raise
            kwargs['password'] = None  # pykerberos takes the ticket from the cache, never a password
            if self.kerberos_hostname_override:
                kwargs['kerberos_hostname_override'] = self.kerberos_hostname_override
        if self.transport == 'certificate':
            kwargs.update(cert_pem=self.cert_pem, cert_key_pem=self.cert_key_pem)
        try:
            return Protocol(**kwargs)
        except Exception as error:  # pylint: disable=broad-exception-caught
            self._release_credential_cache()
            raise self.describe(error) from None

    # -- Kerberos ---------------------------------------------------------------------------
    def _kerberos_ticket(self):
        """A ticket for ``winrm_user``: got with the password, or checked in the controller's cache without one."""
        if not HAS_KRB5:
            raise WinRMError('The kerberos transport needs the Python library krb5 (pip install pywinrm[kerberos] '
                             'pyspnego[kerberos]; see requirements.txt) and the system Kerberos libraries (bindep.txt).',
                             CONFIGURATION)
        if self._password is None:
            self._lease_credential_cache(None)
            self._check_ticket_cache()
            return
        self._lease_credential_cache(self._ticket_with_password())

    def _lease_credential_cache(self, name):
        if self._krb5_lease:
            return
        if not _KRB5_LEASE.acquire(name, self.command_timeout):
            raise WinRMError('Kerberos: another thread of this process kept the credential cache (KRB5CCNAME) of another '
                             'principal for more than %s seconds; run hosts with different Kerberos users in separate '
                             'processes (Ansible forks do).' % self.command_timeout, TIMEOUT)
        self._krb5_lease = True

    def _release_credential_cache(self):
        if self._krb5_lease:
            self._krb5_lease = False
            _KRB5_LEASE.release()

    def _ticket_with_password(self):
        """The name of the MEMORY cache holding a ticket of ``winrm_user``, got with the password when needed."""
        digest = hashlib.sha256(_KRB5_SALT + self._password.encode('utf-8')).hexdigest()
        with _KRB5_LOCK:
            known = _KRB5_TICKETS.get(self.user)
            if known and known[0] == digest and known[2] - time.time() > 60:
                self.kdc_offset = known[3]
                return known[1]
            context = krb5.init_context()
            name = _KRB5_CACHE_PREFIX + hashlib.sha256(self.user.encode('utf-8')).hexdigest()[:16]
            try:
                principal = krb5.parse_name_flags(context, self.user.encode('utf-8'))
                options = krb5.get_init_creds_opt_alloc(context)
                creds = krb5.get_init_creds_password(context, principal, options, password=self._password.encode('utf-8'))
                cache = krb5.cc_resolve(context, name.encode('ascii'))
                krb5.cc_initialize(context, cache, principal)
                krb5.cc_store_cred(context, cache, creds)
            except krb5.Krb5Error as error:
                raise self._kerberos_error(error) from None
            # The KDC's clock against ours (MIT corrects its own requests for it; a Windows host does not).
            self.kdc_offset = creds.times.authtime - time.time()
            _KRB5_TICKETS[self.user] = (digest, name, creds.times.endtime, self.kdc_offset)
            return name

    def _check_ticket_cache(self):
        context = krb5.init_context()
        try:
            cache = krb5.cc_default(context)
            cache_name = krb5.cc_get_name(context, cache)
            cache_name = cache_name.decode('utf-8', 'replace') if isinstance(cache_name, bytes) else str(cache_name)
            holder = krb5.unparse_name_flags(context, krb5.cc_get_principal(context, cache)).decode('utf-8', 'replace')
        except krb5.Krb5Error:
            raise WinRMError(
                'No Kerberos ticket: the controller\'s credential cache (KRB5CCNAME=%s) holds no ticket for %s. Run '
                'kinit %s before the play, or give winrm_password (ansible_password) so that the task gets one.'
                % (os.environ.get('KRB5CCNAME', 'the default'), self.user, self.user), AUTHENTICATION) from None
        if holder.lower() != self.user.lower():
            raise WinRMError('No Kerberos ticket for %s: the controller\'s credential cache %s holds one for %s. Run '
                             'kinit %s, or give winrm_password.' % (self.user, cache_name, holder, self.user),
                             AUTHENTICATION)

    def _kerberos_error(self, error):
        text = self._scrub(error.args[0] if error.args else error)
        match = re.search(r'\s(-?\d{6,})$', text)
        code = int(match.group(1)) if match else None
        sentence = text[:match.start()].strip() if match else text
        realm = self.user.rpartition('@')[2]
        what, kind = KRB5_ERRORS.get(code, (None, AUTHENTICATION))
        if what == 'wrong password':
            message = ('Kerberos authentication failed: the KDC of realm %s refused the password of %s (wrong password).'
                       % (realm, self.user))
        elif what == 'unknown principal':
            message = 'Kerberos authentication failed: the KDC of realm %s knows no user %s.' % (realm, self.user)
        elif what == 'clock skew':
            message = ('Clock skew: the controller\'s clock and the KDC\'s (realm %s) differ by more than Kerberos '
                       'allows (5 minutes by default); correct the controller\'s time.' % realm)
        elif what == 'kdc unreachable':
            message = ('KDC unreachable: no KDC of realm %s answered (the KDCs come from krb5.conf or KRB5_CONFIG); is '
                       'the domain controller up and its port 88 open?' % realm)
        elif what == 'realm unknown':
            message = ('The controller knows no KDC for realm %s: add the realm to krb5.conf [realms] (or point '
                       'KRB5_CONFIG at a file that has it).' % realm)
        else:
            message = 'Kerberos authentication of %s failed: %s.' % (self.user, sentence.rstrip('.'))
        if what in ('account locked or disabled', 'password expired'):
            message = 'Kerberos authentication of %s failed: %s (%s).' % (self.user, sentence.rstrip('.'), what)
        return WinRMError(message, kind)

    def _host_clock_offset(self):
        """The host's clock against ours from the Date header of an unauthenticated request, or None."""
        try:
            answer = requests.post(self.endpoint, data=b'', timeout=min(self.read_timeout, 10),
                                   verify=(self.ca_trust_path or True) if self.server_cert_validation == 'validate'
                                   else False)
            stamp = email.utils.parsedate_to_datetime(answer.headers['Date']).timestamp()
        except Exception:  # pylint: disable=broad-exception-caught
            return None
        return stamp - time.time()

    def _describe_kerberos_refusal(self, doing):
        service = 'HTTP/%s' % (self.kerberos_hostname_override or self.host)
        host_offset = self._host_clock_offset() if self.kdc_offset is not None else None
        if host_offset is not None and abs(host_offset - self.kdc_offset) > KERBEROS_MAX_SKEW:
            return WinRMError(
                'Clock skew: %s refused the Kerberos ticket for %s because its clock is %d seconds off the KDC\'s '
                '(realm %s), beyond Kerberos\' 5 minutes. Correct the host\'s time (w32tm /resync; a VM takes it from '
                'its ESXi host, so fix the ESXi host\'s NTP first) and run again.'
                % (self.endpoint, service, round(host_offset - self.kdc_offset), self.user.rpartition('@')[2]),
                CLOCK_SKEW)
        return WinRMError(
            'Authentication failed: %s refused the Kerberos ticket of %s for %s while %s (check that %s is the host\'s '
            'service principal (setspn -L), that winrm_kerberos_hostname_override names the host when it is reached by '
            'address, and that the clocks agree).' % (self.endpoint, self.user, service, doing, service), AUTHENTICATION)

    def _shell(self):
        if self._shell_id is None:
            if self._protocol is None:
                self._protocol = self._new_protocol()
            try:
                # pywinrm resolved the proxy environment (HTTPS_PROXY, NO_PROXY) for this endpoint while
                # building the session; requests would scan the whole environment again on every request.
                self._protocol.transport.build_session().trust_env = False
                self._shell_id = self._protocol.open_shell(codepage=SHELL_CODEPAGE)
            except Exception as error:  # pylint: disable=broad-exception-caught
                raise self.describe(error, 'opening a shell') from None
        return self._shell_id

    def close(self):
        """Delete the shell (which ends its commands too) and forget the session; never raises."""
        if self._shell_id is not None and self._protocol is not None:
            try:
                self._protocol.close_shell(self._shell_id)
            except Exception:  # pylint: disable=broad-exception-caught
                pass  # The shell dies with the host's WinRM service anyway (idle timeout, restart).
        self._shell_id = None
        self._protocol = None
        self._release_credential_cache()

    def reset(self):
        """Drop the shell and the session without talking to the host (after a restart)."""
        self._shell_id = None
        self._protocol = None
        self._release_credential_cache()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- commands ---------------------------------------------------------------------------
    def run(self, command_line):
        """Run one cmd.exe command line in the shell; returns a ``CommandResult``.

        The command's streams are read until it is Done. No terminate Signal is sent for a
        command that finished: its process is gone, and deleting the shell releases what is
        left, so the Signal would only cost a round trip. A command that fails mid-way is
        signalled so the shell stays usable.
        """
        shell_id = self._shell()
        protocol = self._protocol
        try:
            command_id = protocol.run_command(shell_id, command_line)
        except Exception as error:  # pylint: disable=broad-exception-caught
            raise self.describe(error, 'starting a command') from None
        self.commands_run += 1
        stdout, stderr = [], []
        deadline = self.clock() + self.command_timeout
        try:
            while True:
                try:
                    out, err, rc, done = protocol.get_command_output_raw(shell_id, command_id)
                except winrm_exceptions.WinRMOperationTimeoutError:
                    # w:TimedOut on a Receive means "no output yet" ([MS-WSMV] 3.1.4.14): ask again, up to the
                    # task's own timeout.
                    if self.clock() >= deadline:
                        raise WinRMError(
                            'Command timeout: the command on %s was still running after %s seconds (the task\'s '
                            'timeout); it was stopped.' % (self.endpoint, self.command_timeout), TIMEOUT) from None
                    continue
                stdout.append(out)
                stderr.append(err)
                if done:
                    break
        except Exception as error:  # pylint: disable=broad-exception-caught
            try:
                protocol.cleanup_command(shell_id, command_id)
            except Exception:  # pylint: disable=broad-exception-caught
                pass  # The original error is the one worth reporting.
            raise self.describe(error, 'reading the output of a command') from None
        return CommandResult(rc, _decode(b''.join(stdout)), _decode(b''.join(stderr)))

    def run_powershell(self, script):
        """Run a PowerShell script with ``-EncodedCommand`` (PowerShell 2.0 compatible).

        The stderr text comes back decoded from CLIXML.
        """
        command_line = 'powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand %s' % (
            encode_powershell(script))
        result = self.run(command_line)
        result.stderr = decode_clixml(result.stderr)
        return result

    # -- errors -----------------------------------------------------------------------------
    def _scrub(self, text):
        text = str(text)
        if self._password:
            text = text.replace(self._password, '********')
        return text

    def describe(self, error, doing='connecting'):
        """Turn a pywinrm or requests exception into a ``WinRMError`` with a distinct message."""
        where = self.endpoint
        if isinstance(error, WinRMError):
            return error
        if HAS_PYWINRM:
            if isinstance(error, requests.exceptions.SSLError):
                text = str(error)
                if 'CERTIFICATE_VERIFY_FAILED' in text or 'certificate verify failed' in text:
                    return WinRMError(
                        'Certificate not trusted: the WinRM certificate of %s could not be validated (%s). Give the CA '
                        'that signed it with winrm_ca_trust_path (ansible_winrm_ca_trust_path), or set '
                        'winrm_server_cert_validation to ignore for a host you trust.' % (where, _ssl_reason(text)),
                        CERTIFICATE)
                return WinRMError('TLS handshake with %s failed while %s: %s' % (where, doing, self._scrub(_ssl_reason(text))),
                                  CERTIFICATE)
            if isinstance(error, requests.exceptions.ReadTimeout):
                return WinRMError(
                    'WinRM read timeout: %s did not answer within %s seconds while %s (winrm_read_timeout).'
                    % (where, self.read_timeout, doing), TIMEOUT)
            if isinstance(error, requests.exceptions.ConnectionError):
                return WinRMError(
                    'Host unreachable: cannot connect to WinRM at %s (is the host up, is WinRM listening on port %s '
                    'with %s, does a firewall block it?).' % (where, self.port, self.scheme.upper()), UNREACHABLE)
            if isinstance(error, winrm_exceptions.InvalidCredentialsError) and self.transport == 'kerberos':
                return self._describe_kerberos_refusal(doing)
            if isinstance(error, requests.exceptions.RequestException) and type(error).__name__ == 'KerberosExchangeError':
                text = self._scrub(error)
                if 'Cannot contact any KDC' in text:
                    return WinRMError('KDC unreachable: no KDC of realm %s answered while asking a ticket for %s (is the '
                                      'domain controller up and its port 88 open?).'
                                      % (self.user.rpartition('@')[2], where), UNREACHABLE)
                if 'Ticket expired' in text:
                    return WinRMError('Kerberos ticket expired: the ticket of %s in the controller\'s credential cache '
                                      '(KRB5CCNAME=%s) has run out. Run kinit %s again, or give winrm_password '
                                      '(ansible_password) so that the task gets a fresh one.'
                                      % (self.user, os.environ.get('KRB5CCNAME', 'the default'), self.user),
                                      AUTHENTICATION)
                if 'not found in Kerberos database' in text:
                    return WinRMError('Kerberos: the KDC knows no service principal HTTP/%s (register it with setspn, or '
                                      'set winrm_kerberos_hostname_override to the host\'s name).'
                                      % (self.kerberos_hostname_override or self.host), CONFIGURATION)
                reasons = re.findall(r"\('([^']*)', -?\d+\)", text)
                return WinRMError('Kerberos failed for %s while %s: %s.' % (where, doing, '; '.join(reasons) or text),
                                  AUTHENTICATION)
            if isinstance(error, PermissionError) and 'NTLM' in str(error):
                return WinRMError(
                    'Authentication failed: %s does not accept NTLM (the host allows Kerberos only): use winrm_transport '
                    'kerberos with winrm_user as user@REALM.' % where, AUTHENTICATION)
            if isinstance(error, winrm_exceptions.InvalidCredentialsError):
                return WinRMError(
                    'Authentication failed: %s rejected the credentials of %s with the %s transport (check the user '
                    'name, the password and that the transport is enabled on the host).'
                    % (where, self.user or 'the certificate', self.transport), AUTHENTICATION)
            if isinstance(error, winrm_exceptions.WinRMOperationTimeoutError):
                return WinRMError(
                    'WinRM operation timeout: %s did not finish the command within %s seconds '
                    '(winrm_operation_timeout) while %s.' % (where, self.operation_timeout, doing), TIMEOUT)
            if isinstance(error, winrm_exceptions.WSManFaultError):
                if error.wsman_fault_code == WSMAN_ACCESS_DENIED or 'AccessDenied' in str(error.fault_subcode or ''):
                    return WinRMError(
                        'Access denied: %s refused %s for %s; the account needs to be a local administrator '
                        '(or be allowed to use WinRM).' % (where, doing, self.user), ACCESS_DENIED)
                if error.wsman_fault_code == WSMAN_OPERATION_TIMEOUT:
                    return WinRMError(
                        'WinRM operation timeout: %s did not finish within %s seconds while %s.'
                        % (where, self.operation_timeout, doing), TIMEOUT)
                return WinRMError('WinRM fault from %s while %s: %s (code %s).'
                                  % (where, doing, self._scrub(error.reason), error.wsman_fault_code), PROTOCOL)
            if isinstance(error, winrm_exceptions.WinRMTransportError):
                return WinRMError('WinRM at %s answered HTTP %s while %s.' % (where, error.code, doing), PROTOCOL)
            if isinstance(error, winrm_exceptions.WinRMError):
                text = self._scrub(error)
                if 'not installed' in text:
                    return WinRMError('The %s transport needs a Python library the controller lacks: %s.'
                                      % (self.transport, text), CONFIGURATION)
                return WinRMError('WinRM error from %s while %s: %s' % (where, doing, text), PROTOCOL)
        return WinRMError('Unexpected %s from %s while %s: %s'
                          % (type(error).__name__, where, doing, self._scrub(error)), PROTOCOL)


def _decode(data):
    return data.decode(SHELL_ENCODING, errors='replace')


def _bracket(host):
    return '[%s]' % host if ':' in host and not host.startswith('[') else host


def _ssl_reason(text):
    match = re.search(r'certificate verify failed: ([^(\')"]+)', text)
    if match:
        return 'certificate verify failed: %s' % match.group(1).strip()
    match = re.search(r'\[SSL[^\]]*\][^(\')"]*', text)
    return match.group(0).strip() if match else text
