# Private to this repository's tests, demo and benchmarks.
"""The WS-Management server: HTTPS and HTTP per simulated host, Basic and NTLM, message encryption.

One process serves every host of a Fleet: one HTTPS and one HTTP port each (closed while the
host restarts or is switched down, so clients see "connection refused"), and a control API
(README.md). The shell actions follow MS-WSMV as pywinrm 0.5.0 speaks it.
"""

import base64
import datetime
import http.server
import json
import os
import selectors
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import spnego
import spnego.exceptions

from winrm_peer.cmd import Env, run_line, visible_text
from winrm_peer.model import utcnow

NS = {
    's': 'http://www.w3.org/2003/05/soap-envelope',
    'a': 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
    'w': 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
    'rsp': 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell',
    'p': 'http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd',
    'x': 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
}
ACTION_CREATE = 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Create'
ACTION_DELETE = 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete'
ACTION_COMMAND = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command'
ACTION_RECEIVE = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive'
ACTION_SIGNAL = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal'
CMD_RESOURCE = 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd'
ENCRYPTED_PROTOCOL = 'application/HTTP-SPNEGO-session-encrypted'
BOUNDARY = b'--Encrypted Boundary'
ENVELOPE_OPEN = (
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">')
ANONYMOUS = 'http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous'
TIMEOUT_MESSAGE = 'The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  '
OEM_CODE_PAGE = 'cp437'
# pyspnego reads NTLM_USER_FILE from the environment at the final NTLM step; hosts whose
# password changed have their own file, so that step runs under this lock.
NTLM_ENV_LOCK = threading.Lock()
SPNEGO_OID = bytes.fromhex('06062b0601050502')  # 1.3.6.1.5.5.2, DER


class WsmanFault(Exception):
    def __init__(self, code, subcode, wsman_code, message, status=500):
        super().__init__(message)
        self.code = code
        self.subcode = subcode
        self.wsman_code = wsman_code
        self.message = message
        self.status = status


def header(action, relates_to, extra=''):
    return ('<s:Header><a:Action>%s</a:Action><a:MessageID>uuid:%s</a:MessageID><a:To>%s</a:To>'
            '<a:RelatesTo>%s</a:RelatesTo>%s</s:Header>') % (
        action, str(uuid.uuid4()).upper(), ANONYMOUS, relates_to, extra)


# The namespaces a fault envelope declares, as Windows Server 2022 sends it
# (../shared/recordings/winrm/wsman_timed_out_fault.json).
FAULT_ENVELOPE_OPEN = (
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:e="http://schemas.xmlsoap.org/ws/2004/08/eventing" '
    'xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">')


def fault_envelope(fault, relates_to, machine):
    return (FAULT_ENVELOPE_OPEN + header('http://schemas.dmtf.org/wbem/wsman/1/wsman/fault', relates_to)
            + '<s:Body><s:Fault><s:Code><s:Value>s:%s</s:Value><s:Subcode><s:Value>w:%s</s:Value></s:Subcode>'
              '</s:Code><s:Reason><s:Text xml:lang="en-US">%s</s:Text></s:Reason><s:Detail>'
              '<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="%d" '
              'Machine="%s"><f:Message>%s</f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>'
            ) % (fault.code, fault.subcode, escape(fault.message), fault.wsman_code, machine, escape(fault.message))


def escape(text):
    return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


class Command:
    def __init__(self, command_id, result, done_at):
        self.id = command_id
        self.result = result
        self.done_at = done_at


class Shell:
    def __init__(self, shell_id):
        self.id = shell_id
        self.commands = {}


def parse_duration(text, default):
    """xs:duration PT60.000S -> seconds."""
    if not text:
        return default
    try:
        return float(text.strip().upper().lstrip('PT').rstrip('S'))
    except ValueError:
        return default


class WsmanService:
    """The WS-Management actions for one host."""

    def __init__(self, peer, host):
        self.peer = peer
        self.host = host

    def handle(self, body, user, endpoint):
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise WsmanFault('Sender', 'SchemaValidationError', 2150858817,
                             'The SOAP XML in the message does not match the corresponding XML schema definition. '
                             'Change the XML and retry.', 400) from None
        head = root.find('s:Header', NS)
        action = (head.findtext('a:Action', '', NS) or '').strip()
        message_id = (head.findtext('a:MessageID', '', NS) or '').strip()
        self.relates_to = message_id
        resource = (head.findtext('w:ResourceURI', '', NS) or '').strip()
        shell_id = None
        for selector in head.iterfind('w:SelectorSet/w:Selector', NS):
            if selector.get('Name') == 'ShellId':
                shell_id = (selector.text or '').strip()
        timeout = parse_duration(head.findtext('w:OperationTimeout', '', NS), 60.0)
        body_node = root.find('s:Body', NS)
        if resource != CMD_RESOURCE:
            raise WsmanFault('Sender', 'DestinationUnreachable', 2150858770,
                             'The WS-Management service cannot process the request because the resource URI is not '
                             'supported by this emulation.')
        if action == ACTION_CREATE:
            if self.host.faults.get('shell_access_denied'):
                raise WsmanFault('Sender', 'AccessDenied', 5, 'Access is denied. ')
            return self.create(endpoint, message_id)
        shell = self.host.shells.get(shell_id or '')
        if shell is None:
            raise WsmanFault('Sender', 'InvalidSelectors', 2150858843,
                             'The request for the Windows Remote Shell with ShellId %s failed because the shell was '
                             'not found on the server. Possible causes are: the specified ShellId is incorrect or the '
                             'shell no longer exists on the server. Provide the correct ShellId or create a new shell '
                             'and try again. ' % shell_id)
        if action == ACTION_COMMAND:
            return self.command(shell, body_node, user, message_id)
        if action == ACTION_RECEIVE:
            return self.receive(shell, body_node, timeout, message_id)
        if action == ACTION_SIGNAL:
            return self.signal(shell, body_node, message_id)
        if action == ACTION_DELETE:
            with self.host.lock:
                self.host.shells.pop(shell.id, None)
            return ENVELOPE_OPEN + header('http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse',
                                          message_id) + '<s:Body></s:Body></s:Envelope>'
        raise WsmanFault('Sender', 'ActionNotSupported', 2150858783,
                         'The WS-Management service cannot process the request because the action is not supported.')

    def create(self, endpoint, message_id):
        shell_id = str(uuid.uuid4()).upper()
        with self.host.lock:
            self.host.shells[shell_id] = Shell(shell_id)
        created = utcnow().strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z'
        return (ENVELOPE_OPEN + header('http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse', message_id)
                + '<s:Body><x:ResourceCreated><a:Address>%s</a:Address><a:ReferenceParameters>'
                  '<w:ResourceURI>%s</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">%s</w:Selector>'
                  '</w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>'
                  '<rsp:Shell xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
                  '<rsp:ShellId>%s</rsp:ShellId><rsp:ResourceUri>%s</rsp:ResourceUri>'
                  '<rsp:Owner>%s</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>'
                  '<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut><rsp:InputStreams>stdin</rsp:InputStreams>'
                  '<rsp:OutputStreams>stdout stderr</rsp:OutputStreams><rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>'
                  '<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity><rsp:CreationTime>%s</rsp:CreationTime>'
                  '</rsp:Shell></s:Body></s:Envelope>') % (
            escape(endpoint), CMD_RESOURCE, shell_id, shell_id, CMD_RESOURCE, escape(self.peer.user_display), created)

    def command(self, shell, body_node, user, message_id):
        line_node = body_node.find('rsp:CommandLine', NS)
        command = (line_node.findtext('rsp:Command', '', NS) or '').strip() if line_node is not None else ''
        arguments = [node.text or '' for node in line_node.iterfind('rsp:Arguments', NS)] if line_node is not None else []
        line = ' '.join([command] + arguments)
        env = Env(self.host, self.peer.fleet, self.peer.user_display)
        result = run_line(line, env)
        slow = float(self.host.faults.get('slow_seconds') or 0)
        match = (self.host.faults.get('slow_match') or '').lower()
        if match and match not in visible_text(line).lower():
            slow = 0.0
        done_at = float('inf') if result.hangs else time.monotonic() + slow
        command_id = str(uuid.uuid4()).upper()
        with self.host.lock:
            shell.commands[command_id] = Command(command_id, result, done_at)
        self.peer.log('%s: %s -> %d' % (self.host.name, line[:200], result.code))
        return (ENVELOPE_OPEN + header('http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse',
                                       message_id)
                + '<s:Body><rsp:CommandResponse><rsp:CommandId>%s</rsp:CommandId></rsp:CommandResponse>'
                  '</s:Body></s:Envelope>') % command_id

    def receive(self, shell, body_node, timeout, message_id):
        receive = body_node.find('rsp:Receive/rsp:DesiredStream', NS)
        command_id = receive.get('CommandId') if receive is not None else None
        command = shell.commands.get(command_id or '')
        if command is None:
            raise WsmanFault('Sender', 'InvalidParameter', 2150858882,
                             'The Windows Remote Shell received a request to perform an operation on a command '
                             'identifier that does not exist. Either the command has completed execution or the client '
                             'specified an invalid command identifier. Check the command identifier and try again.')
        remaining = command.done_at - time.monotonic()
        if remaining > 0:
            # Windows holds the Receive until output comes or OperationTimeout passes, then faults w:TimedOut.
            time.sleep(min(remaining, timeout))
            if command.done_at - time.monotonic() > 0:
                raise WsmanFault('Receiver', 'TimedOut', 2150858793, TIMEOUT_MESSAGE)
        streams = ''
        for name, text in (('stdout', command.result.stdout), ('stderr', command.result.stderr)):
            data = text.encode(OEM_CODE_PAGE, errors='replace')
            if data:
                streams += '<rsp:Stream Name="%s" CommandId="%s">%s</rsp:Stream>' % (
                    name, command.id, base64.b64encode(data).decode())
            streams += '<rsp:Stream Name="%s" CommandId="%s" End="true"></rsp:Stream>' % (name, command.id)
        return (ENVELOPE_OPEN + header('http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse',
                                       message_id)
                + '<s:Body><rsp:ReceiveResponse>%s<rsp:CommandState CommandId="%s" '
                  'State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done">'
                  '<rsp:ExitCode>%d</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse></s:Body></s:Envelope>'
                ) % (streams, command.id, command.result.code & 0xFFFFFFFF)

    def signal(self, shell, body_node, message_id):
        signal = body_node.find('rsp:Signal', NS)
        command_id = signal.get('CommandId') if signal is not None else None
        with self.host.lock:
            shell.commands.pop(command_id or '', None)
        return (ENVELOPE_OPEN + header('http://schemas.microsoft.com/wbem/wsman/1/windows/shell/SignalResponse',
                                       message_id)
                + '<s:Body><rsp:SignalResponse/></s:Body></s:Envelope>')


class WinrmHandler(http.server.BaseHTTPRequestHandler):
    """One client connection to one host (NTLM authenticates the connection, not the request)."""

    protocol_version = 'HTTP/1.1'
    server_version = 'Microsoft-HTTPAPI/2.0'
    sys_version = ''
    # Buffered: the status line, headers and body leave in one write when the request is
    # handled (http.server flushes wfile then), as HTTP.sys sends them. Unbuffered, the body
    # would follow the headers in a second small segment and wait for the client's delayed
    # ACK (Nagle): 40 ms per request on loopback that no Windows host adds.
    wbufsize = -1

    def __init__(self, request, client_address, listener):
        self.listener = listener
        self.peer = listener.peer
        self.host = listener.host
        self.ntlm = None
        self.ntlm_scheme = None
        self.authenticated_user = None
        self.reply_headers = []
        super().__init__(request, client_address, listener)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def version_string(self):
        return self.server_version

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.count()
        self.send_plain(405, b'')

    def count(self):
        with self.host.lock:
            self.host.requests += 1
        self.peer.count(self.host.name)

    def send_plain(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def challenge(self, token=None):
        if token is not None:
            headers = [('WWW-Authenticate', '%s %s' % (self.ntlm_scheme, base64.b64encode(token).decode()))]
        else:
            headers = [('WWW-Authenticate', 'Negotiate'), ('WWW-Authenticate', 'Basic realm="WSMAN"')]
        self.send_plain(401, b'', headers)

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.count()
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        if not self.host.answering():
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if self.path.split('?')[0].lower() != '/wsman':
            self.send_plain(404, b'')
            return
        authorization = self.headers.get('Authorization', '')
        scheme, _sep, token = authorization.partition(' ')
        scheme_lower = scheme.lower()
        if scheme_lower == 'basic':
            self.authenticated_user = self.check_basic(token.strip())
            if self.authenticated_user is None:
                self.challenge()
                return
        elif scheme_lower in ('ntlm', 'negotiate', 'kerberos'):
            done = self.auth_step(scheme, token.strip())
            if not done:
                return
        elif self.authenticated_user is None:
            self.challenge()
            return
        elif self.ntlm is None:
            # Basic is per request: a request without credentials is not authenticated.
            self.challenge()
            return
        encrypted = 'multipart/encrypted' in (self.headers.get('Content-Type') or '').lower()
        if encrypted:
            if self.ntlm is None:
                self.send_plain(400, b'')
                return
            try:
                body = self.decrypt(body)
            except (ValueError, spnego.exceptions.SpnegoError):
                self.send_plain(400, b'')
                return
        if not body:
            # pywinrm's setup_encryption: an empty, authenticated POST.
            extra, self.reply_headers = self.reply_headers, []
            self.send_plain(200, b'', extra)
            return
        endpoint = '%s://127.0.0.1:%d/wsman' % (self.listener.scheme, self.listener.port)
        service = WsmanService(self.peer, self.host)
        try:
            status, answer = 200, service.handle(body, self.authenticated_user, endpoint)
        except WsmanFault as fault:
            status, answer = fault.status, fault_envelope(fault, getattr(service, 'relates_to', ''),
                                                          self.host.fqdn)
        data = answer.encode('utf-8')
        extra, self.reply_headers = self.reply_headers, []
        if encrypted:
            self.send_plain(status, self.encrypt(data), [(
                'Content-Type', 'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"' % ENCRYPTED_PROTOCOL)] + extra)
        else:
            self.send_plain(status, data, [('Content-Type', 'application/soap+xml;charset=UTF-8')] + extra)

    def check_basic(self, token):
        try:
            user, _sep, password = base64.b64decode(token).decode('utf-8').partition(':')
        except ValueError:
            return None
        if self.host.auth == 'kerberos':
            return None  # Basic is off where only Kerberos is allowed.
        if self.peer.user_matches(user) and password == self.peer.password_for(self.host):
            return user
        return None

    def auth_step(self, scheme, token):
        """One leg of NTLM or Kerberos (Negotiate); True when the request is authenticated and should be served."""
        try:
            data = base64.b64decode(token)
        except ValueError:
            self.challenge()
            return False
        if data[:8] == b'NTLMSSP\0':
            if self.host.auth == 'kerberos':
                # "Restrict NTLM: incoming NTLM traffic: deny all": NTLM is refused, Kerberos is offered.
                self.peer.log('%s: NTLM refused (Kerberos only)' % self.host.name)
                self.ntlm = None
                self.authenticated_user = None
                self.send_plain(401, b'', [('WWW-Authenticate', 'Negotiate'), ('WWW-Authenticate', 'Kerberos')])
                return False
            return self.ntlm_step(scheme, data)
        return self.kerberos_step(data)

    def kerberos_step(self, data):
        """A Kerberos AP-REQ (raw or inside SPNEGO), accepted with the host's HTTP/<fqdn> key from the keytab."""
        if not self.peer.kerberos:
            self.ntlm = None
            self.challenge()
            return False
        try:
            # pykerberos sends a bare Kerberos GSS token, SSPI/pyspnego clients SPNEGO around it.
            protocol = 'negotiate' if SPNEGO_OID in data[:24] else 'kerberos'
            context = spnego.server(hostname=self.host.fqdn, service='HTTP', protocol=protocol)
            answer = context.step(data)
            principal = context.client_principal or ''
            if not context.complete or not self.peer.user_matches(principal):
                raise spnego.exceptions.SpnegoError(message='unknown user %r' % principal)
        except Exception as error:  # pylint: disable=broad-exception-caught
            # A ticket this host cannot accept (clock skew, another SPN, a bad token): 401 as HTTP.sys sends it;
            # pyspnego raises SpnegoError, or AttributeError when the GSS accept failed at its first step.
            self.peer.log('%s: Kerberos refused: %s' % (self.host.name, error))
            self.ntlm = None
            self.authenticated_user = None
            self.challenge()
            return False
        self.ntlm = context
        self.ntlm_scheme = 'Negotiate'
        self.authenticated_user = principal
        # The AP-REP (mutual authentication) rides on the response that serves the request.
        self.reply_headers = [('WWW-Authenticate', 'Negotiate %s' % base64.b64encode(answer).decode())] if answer else []
        return True

    def ntlm_step(self, scheme, data):
        """One NTLM leg; True when the request is authenticated and should be served."""
        # message type is at offset 8 of an NTLM message
        message_type = struct.unpack('<I', data[8:12])[0] if len(data) >= 12 and data[:8] == b'NTLMSSP\0' else 0
        try:
            if message_type == 1:
                with NTLM_ENV_LOCK:
                    os.environ['NTLM_USER_FILE'] = self.peer.ntlm_user_file(self.host)
                    self.ntlm = spnego.server(protocol='ntlm')
                self.ntlm_scheme = scheme
                self.authenticated_user = None
                self.challenge(self.ntlm.step(data))
                return False
            if message_type == 3 and self.ntlm is not None:
                with NTLM_ENV_LOCK:
                    os.environ['NTLM_USER_FILE'] = self.peer.ntlm_user_file(self.host)
                    self.ntlm.step(data)
                principal = self.ntlm.client_principal or ''
                if not self.ntlm.complete or not self.peer.user_matches(principal):
                    raise spnego.exceptions.SpnegoError(message='unknown user')
                self.authenticated_user = principal
                return True
        except (spnego.exceptions.SpnegoError, ValueError, struct.error):
            pass
        self.ntlm = None
        self.authenticated_user = None
        self.challenge()
        return False

    def decrypt(self, body):
        parts = [part for part in body.split(BOUNDARY + b'\r\n') if part]
        message = b''
        for index in range(0, len(parts) - 1, 2):
            head = parts[index].strip()
            payload = parts[index + 1]
            expected = int(head.split(b'Length=')[1])
            if payload.endswith(BOUNDARY + b'--\r\n'):
                payload = payload[:-len(BOUNDARY + b'--\r\n')]
            payload = payload.replace(b'\tContent-Type: application/octet-stream\r\n', b'', 1)
            signature_length = struct.unpack('<i', payload[:4])[0]
            signature = payload[4:4 + signature_length]
            plain = self.ntlm.unwrap_winrm(signature, payload[4 + signature_length:])
            if len(plain) != expected:
                raise ValueError('length mismatch')
            message += plain
        return message

    def encrypt(self, data):
        wrapped = self.ntlm.wrap_winrm(data)
        stream = struct.pack('<i', len(wrapped.header)) + wrapped.header + wrapped.data
        return (BOUNDARY + b'\r\n\tContent-Type: ' + ENCRYPTED_PROTOCOL.encode() + b'\r\n'
                b'\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=' + str(len(data)).encode()
                + b'\r\n' + BOUNDARY + b'\r\n\tContent-Type: application/octet-stream\r\n' + stream
                + BOUNDARY + b'--\r\n')


class Listener:
    """One listening port of one host; closed while the host does not answer."""

    def __init__(self, peer, host, scheme, port):
        self.peer = peer
        self.host = host
        self.scheme = scheme
        self.port = port
        self.sock = None

    def open(self):
        if self.sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(('127.0.0.1', self.port))
        sock.listen(64)
        sock.setblocking(False)
        self.sock = sock

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def serve_connection(self, conn, address):
        try:
            conn.setblocking(True)
            conn.settimeout(300)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == 'https':
                conn = self.peer.tls_context.wrap_socket(conn, server_side=True)
            WinrmHandler(conn, address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass


class Peer:
    """Every host's listeners, one accept loop, the statistics and the control API."""

    def __init__(self, fleet, ports, user, password, state_dir, verbose=False, kerberos=None):
        self.fleet = fleet
        # Kerberos is accepted when the hosts' service keys are there (KRB5_KTNAME, written by the launcher).
        self.kerberos = bool(os.environ.get('KRB5_KTNAME')) if kerberos is None else kerberos
        self.ports = ports  # name -> (https_port, http_port)
        self.domain = fleet.domain
        self.user = user
        self.user_display = '%s\\%s' % (fleet.domain, user)
        self.password = password
        self.state_dir = state_dir
        self.verbose = verbose
        self.stats_lock = threading.Lock()
        self.stats = {}
        self.listeners = {}
        self.selector = selectors.DefaultSelector()
        self.selector_lock = threading.Lock()
        self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls_context.load_cert_chain(os.path.join(state_dir, 'server.pem'), os.path.join(state_dir, 'server.key'))
        self.user_files = {}
        for name, (https_port, http_port) in ports.items():
            host = fleet.hosts[name]
            self.listeners[name] = [Listener(self, host, 'https', https_port), Listener(self, host, 'http', http_port)]
            host.listeners_changed = self.sync_listeners
        self.running = True

    def log(self, text):
        if self.verbose:
            print(datetime.datetime.now().isoformat(), text, flush=True)

    def count(self, name):
        with self.stats_lock:
            self.stats[name] = self.stats.get(name, 0) + 1

    def user_matches(self, principal):
        domain, sep, user = principal.rpartition('\\')
        if not sep:
            user, _at, realm = principal.partition('@')
            domain = realm.split('.')[0] if realm else self.domain
        return user.lower() == self.user.lower() and domain.lower() in (self.domain.lower(), '', '.')

    def password_for(self, host):
        if host.faults.get('wrong_password'):
            return self.password + '-rotated'
        return self.password

    def ntlm_user_file(self, host):
        password = self.password_for(host)
        path = self.user_files.get(password)
        if path is None:
            path = os.path.join(self.state_dir, 'ntlm-users-%d' % len(self.user_files))
            with open(path, 'w', encoding='utf-8') as handle:
                handle.write('%s:%s:%s\n' % (self.domain, self.user, password))
            os.chmod(path, 0o600)
            self.user_files[password] = path
        return path

    def sync_listeners(self, host):
        """Open or close a host's ports to match whether it answers (called under the host's lock)."""
        wanted = host.up and not host.faults['down']
        with self.selector_lock:
            for listener in self.listeners.get(host.name, ()):
                if wanted and listener.sock is None:
                    try:
                        listener.open()
                    except OSError as error:
                        print('cannot listen on %d: %s' % (listener.port, error), flush=True)
                        continue
                    self.selector.register(listener.sock, selectors.EVENT_READ, listener)
                elif not wanted and listener.sock is not None:
                    self.selector.unregister(listener.sock)
                    listener.close()

    def start(self):
        for host in self.fleet.hosts.values():
            if host.name in self.listeners:
                with host.lock:
                    self.sync_listeners(host)
        threading.Thread(target=self.accept_loop, daemon=True).start()
        threading.Thread(target=self.tick_loop, daemon=True).start()

    def accept_loop(self):
        while self.running:
            with self.selector_lock:
                ready = self.selector.select(timeout=0.05) if self.selector.get_map() else []
            if not ready:
                time.sleep(0.005)
                continue
            for key, _events in ready:
                listener = key.data
                try:
                    conn, address = listener.sock.accept()
                except (OSError, AttributeError):
                    continue
                threading.Thread(target=listener.serve_connection, args=(conn, address), daemon=True).start()

    def tick_loop(self):
        """Restarts happen on time even when nobody asks the host."""
        while self.running:
            self.fleet.tick()
            time.sleep(0.2)


class ControlHandler(http.server.BaseHTTPRequestHandler):
    """GET/POST JSON control API (README.md)."""

    peer = None

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def reply(self, status, content):
        data = (json.dumps(content, indent=1, sort_keys=True) + '\n').encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_json(self):
        length = int(self.headers.get('Content-Length') or 0)
        if not length:
            return {}
        return json.loads(self.rfile.read(length))

    def do_GET(self):  # noqa: N802
        fleet = self.peer.fleet
        parts = [urllib.parse.unquote(part) for part in self.path.split('?')[0].split('/') if part]
        if parts == ['hosts']:
            return self.reply(200, [self.host_view(name) for name in self.peer.ports])
        if len(parts) == 2 and parts[0] == 'hosts' and parts[1] in self.peer.ports:
            return self.reply(200, self.host_view(parts[1]))
        if parts == ['gpos']:
            return self.reply(200, [gpo.describe() for gpo in fleet.gpos.values()])
        if len(parts) == 2 and parts[0] == 'gpos' and fleet.find_gpo(parts[1]):
            return self.reply(200, fleet.find_gpo(parts[1]).describe())
        if parts == ['stats']:
            with self.peer.stats_lock:
                per_host = dict(self.peer.stats)
            return self.reply(200, {'hosts': per_host, 'total': sum(per_host.values())})
        return self.reply(404, {'error': 'no such resource: %s' % self.path})

    def host_view(self, name):
        view = self.peer.fleet.hosts[name].describe()
        https_port, http_port = self.peer.ports[name]
        view.update({'https_port': https_port, 'http_port': http_port})
        return view

    def do_POST(self):  # noqa: N802
        fleet = self.peer.fleet
        parts = [urllib.parse.unquote(part) for part in self.path.split('?')[0].split('/') if part]
        try:
            content = self.read_json()
        except ValueError:
            return self.reply(400, {'error': 'the body is not JSON'})
        if parts == ['reset']:
            fleet.reset()
            with self.peer.stats_lock:
                self.peer.stats.clear()
            return self.reply(200, {'reset': True})
        if parts == ['stats', 'reset']:
            with self.peer.stats_lock:
                self.peer.stats.clear()
            for host in fleet.hosts.values():
                with host.lock:
                    host.requests = 0
            return self.reply(200, {'reset': True})
        if len(parts) == 2 and parts[0] == 'hosts' and parts[1] in self.peer.ports:
            try:
                fleet.hosts[parts[1]].update(content)
            except ValueError as error:
                return self.reply(400, {'error': str(error)})
            return self.reply(200, self.host_view(parts[1]))
        if len(parts) == 2 and parts[0] == 'gpos':
            gpo = fleet.find_gpo(parts[1])
            if gpo is None:
                return self.reply(404, {'error': 'no GPO named %s' % parts[1]})
            with fleet.lock:
                if 'values' in content:
                    gpo.values = {}
                    for item in content['values']:
                        key = item['key'].replace('HKLM\\', 'HKEY_LOCAL_MACHINE\\', 1)
                        gpo.values[(key.lower(), item['value_name'].lower())] = (
                            key, item['value_name'], item.get('type', 'DWord'), item['value'])
            return self.reply(200, gpo.describe())
        return self.reply(404, {'error': 'no such resource: %s' % self.path})


def start_control(peer, port):
    handler = type('BoundControlHandler', (ControlHandler,), {'peer': peer})
    server = http.server.ThreadingHTTPServer(('127.0.0.1', port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
