# -*- coding: utf-8 -*-
# Copyright (c) fleetfix.remediate contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This file is private to the fleetfix.remediate collection: its API may change without notice.
"""The one HTTP(S) client of the collection (Autodiscover endpoints).

``HttpsClient.request`` connects to a given address (resolved by the caller through the
collection's DNS client, never the system resolver), sends the host name as TLS SNI and
``Host`` header, validates the certificate chain and name against the system trust store or
a CA bundle, and returns the status, headers and (bounded) body. Every step has a timeout
and a deadline for the whole exchange. A failure leaves this file as ``HttpsError`` naming
the stage (``tcp``, ``tls``, ``http``) and a sentence a person can act on.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import http.client
import socket
import ssl
import threading
import time

MAX_BODY = 64 * 1024
MAX_WORKERS = 32

# OpenSSL's X509_V_ERR_* codes that name what is wrong with a certificate
CERT_EXPIRED = 10
CERT_NOT_YET_VALID = 9
SELF_SIGNED_LEAF = 18
SELF_SIGNED_IN_CHAIN = 19
UNKNOWN_ISSUER = 20
UNKNOWN_ISSUER_LEAF = 21
HOSTNAME_MISMATCH = 62


class HttpsError(Exception):
    """One exchange that failed: ``stage`` (tcp, tls, http), ``kind`` (a short key) and a sentence."""

    def __init__(self, stage, kind, message):
        super().__init__(message)
        self.stage = stage
        self.kind = kind


def make_context(ca_path=None):
    """A client TLS context that validates chain and name; ``ValueError`` when the bundle is unusable."""
    try:
        context = ssl.create_default_context(cafile=ca_path or None)
    except FileNotFoundError:
        raise ValueError(f'The CA bundle {ca_path} does not exist.') from None
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f'The CA bundle {ca_path} cannot be read as PEM certificates ({error}).') from None
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def describe_certificate_error(error, host):
    """``(kind, sentence)`` for a failed certificate verification."""
    code = getattr(error, 'verify_code', None)
    if code == CERT_EXPIRED:
        return 'expired', 'the certificate has expired'
    if code == CERT_NOT_YET_VALID:
        return 'not_yet_valid', 'the certificate is not valid yet (check its start date and the controller\'s clock)'
    if code == HOSTNAME_MISMATCH:
        return 'name_mismatch', f'the certificate is not issued for {host}'
    if code in (SELF_SIGNED_LEAF, SELF_SIGNED_IN_CHAIN, UNKNOWN_ISSUER, UNKNOWN_ISSUER_LEAF):
        return 'untrusted', ('the certificate chain does not lead to a trusted CA (self-signed, an unknown issuer or '
                             'a missing intermediate certificate)')
    message = getattr(error, 'verify_message', None) or str(error)
    return 'invalid', f'the certificate is not accepted ({message})'


class _Watchdog:
    """Shuts a socket down once ``seconds`` have passed, unless cancelled first."""

    def __init__(self, sock, seconds):
        self.sock = sock
        self.fired = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self):
        with self._lock:
            self.fired = True
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self):
        self._timer.cancel()


class _Connection(http.client.HTTPConnection):
    """http.client on a socket this file connected (and wrapped) itself."""

    def __init__(self, sock, timeout):
        super().__init__('unused', timeout=timeout)
        self.sock = sock

    def connect(self):
        raise http.client.HTTPException('the connection is already closed')

    def close(self):
        # the socket stays open until its caller closes it: the body is read after the response
        # (with Connection: close) would otherwise have closed it
        self.sock = None


class HttpsClient:
    """Exchanges with HTTP(S) endpoints at given addresses, each bounded by ``timeout`` seconds."""

    def __init__(self, ca_path=None, timeout=10.0, max_workers=MAX_WORKERS, clock=time.monotonic):
        self.ca_path = ca_path
        self.context = make_context(ca_path)
        self.timeout = timeout
        self.max_workers = max_workers
        self.clock = clock
        self._executor = None
        self.request_count = 0

    def request(self, method, host, address, port, path, tls=True, body=None, headers=None):
        """One request; returns ``dict(status, reason, headers, body)``; raises ``HttpsError``."""
        deadline = self.clock() + self.timeout
        where = f'[{address}]:{port}' if ':' in address else f'{address}:{port}'
        self.request_count += 1
        try:
            sock = socket.create_connection((address, port), timeout=self.timeout)
        except ConnectionRefusedError:
            raise HttpsError('tcp', 'refused', f'nothing listens on {where} (connection refused)') from None
        except (socket.timeout, TimeoutError):
            raise HttpsError('tcp', 'timeout', f'{where} does not answer (no TCP connection within {self.timeout:g} s)') from None
        except OSError as error:
            raise HttpsError('tcp', 'unreachable', f'cannot connect to {where} ({error.strerror or error})') from None
        # each read has a timeout, but a server trickling bytes could stretch the exchange past it:
        # at the deadline the connection is shut down, which ends any read still waiting
        watchdog = _Watchdog(sock, self.timeout)
        try:
            if tls:
                sock = watchdog.sock = self._handshake(sock, host, where, deadline)
            return self._exchange(sock, method, host, port, path, tls, body, headers or {}, where, deadline)
        except HttpsError as error:
            if watchdog.fired:
                raise HttpsError(error.stage, 'timeout', f'{where} did not finish the exchange within '
                                                         f'{self.timeout:g} s') from None
            raise
        finally:
            watchdog.cancel()
            sock.close()

    def _remaining(self, deadline, where, what):
        remaining = deadline - self.clock()
        if remaining <= 0:
            raise HttpsError('http', 'timeout', f'{where} did not finish {what} within {self.timeout:g} s')
        return remaining

    def _handshake(self, sock, host, where, deadline):
        sock.settimeout(self._remaining(deadline, where, 'the TLS handshake'))
        try:
            return self.context.wrap_socket(sock, server_hostname=host)
        except ssl.SSLCertVerificationError as error:
            kind, sentence = describe_certificate_error(error, host)
            raise HttpsError('tls', kind, f'{sentence} ({where})') from None
        except (socket.timeout, TimeoutError):
            raise HttpsError('tls', 'timeout', f'{where} accepts TCP but does not complete a TLS handshake within '
                                               f'{self.timeout:g} s') from None
        except ssl.SSLError as error:
            detail = error.reason or error.strerror or str(error)
            raise HttpsError('tls', 'handshake', f'{where} does not speak TLS as expected ({detail})') from None
        except OSError as error:
            raise HttpsError('tls', 'handshake', f'{where} closed the connection during the TLS handshake '
                                                 f'({error.strerror or error})') from None

    def _exchange(self, sock, method, host, port, path, tls, body, headers, where, deadline):
        default_port = 443 if tls else 80
        connection = _Connection(sock, self.timeout)
        try:
            sock.settimeout(self._remaining(deadline, where, 'the request'))
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            connection.putheader('Host', host if port == default_port else f'{host}:{port}')
            for name, value in headers.items():
                connection.putheader(name, value)
            if body is not None:
                connection.putheader('Content-Length', str(len(body)))
            connection.putheader('Connection', 'close')
            connection.endheaders(body)
            response = connection.getresponse()
            chunks = []
            size = 0
            while size < MAX_BODY:
                sock.settimeout(self._remaining(deadline, where, 'its answer'))
                chunk = response.read(min(8192, MAX_BODY - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            return dict(status=response.status, reason=response.reason, headers=response.getheaders(),
                        body=b''.join(chunks))
        except HttpsError:
            raise
        except (socket.timeout, TimeoutError):
            raise HttpsError('http', 'timeout', f'{where} did not answer the HTTP request within {self.timeout:g} s') from None
        except http.client.HTTPException as error:
            detail = error.__class__.__name__ + (f': {str(error)[:80]}' if str(error) else '')
            raise HttpsError('http', 'not_http', f'{where} did not answer with HTTP ({detail})') from None
        except ssl.SSLError as error:
            raise HttpsError('http', 'tls', f'{where} broke the TLS session ({error.reason or error})') from None
        except ValueError as error:
            raise HttpsError('http', 'bad_request', f'the request to {where} cannot be sent ({error})') from None
        except OSError as error:
            raise HttpsError('http', 'reset', f'{where} closed the connection ({error.strerror or error})') from None

    async def arequest(self, *args, **kwargs):
        """``request`` in a worker thread, so that many endpoints are asked at the same time."""
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=self.max_workers,
                                                                   thread_name_prefix='fleetfix-https')
        return await loop.run_in_executor(self._executor, lambda: self.request(*args, **kwargs))

    def close(self):
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
