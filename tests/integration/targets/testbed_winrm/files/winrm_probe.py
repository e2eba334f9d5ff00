#!/usr/bin/env python
# Private to this repository's tests: drive the WinRM peer with plain pywinrm.
"""Usage: winrm_probe.py OPERATIONS_JSON (password in $WINRM_PASSWORD).

Each operation is a dict; the answer, on stdout, is one JSON result per operation:
  {"op": "cmd", "port": P, "command": "...", "scheme": "https", "transport": "ntlm",
   "encryption": "auto", "ca": PATH or null (null: the system trust store), "password": optional override}
      -> {"code", "stdout", "stderr", "encrypted"} or {"error": ExceptionClass, "message"}
  {"op": "ps", ...same..., "script": "..."} -> run_ps: stderr decoded from CLIXML
  {"op": "receive_timeout", "port": P, "ca": PATH, "operation_timeout": 1, "command": "hostname", "wait": true}
      -> the exception class a raw Receive raises, then the output after waiting
  {"op": "restart", "port": P, "ca": PATH, "timeout": 60}
      -> {"went_down": bool, "seconds_down", "boot_before", "boot_after"}
"""

import json
import os
import sys
import time

import winrm
from winrm.exceptions import WinRMError, WinRMOperationTimeoutError

USER = os.environ.get('WINRM_USER', 'FLEETFIX\\administrator')


def session(operation, **extra):
    options = {
        'auth': (USER, operation.get('password', os.environ['WINRM_PASSWORD'])),
        'transport': operation.get('transport', 'ntlm'),
        'message_encryption': operation.get('encryption', 'auto'),
    }
    if operation.get('scheme', 'https') == 'https':
        options['server_cert_validation'] = 'validate'
        if operation.get('ca'):
            options['ca_trust_path'] = operation['ca']
    options.update(extra)
    url = '%s://127.0.0.1:%d/wsman' % (operation.get('scheme', 'https'), operation['port'])
    return winrm.Session(url, **options)


def failure(error):
    return {'error': type(error).__name__, 'message': str(error)[:300]}


def run(operation):
    kind = operation['op']
    if kind in ('cmd', 'ps'):
        try:
            client = session(operation)
            if kind == 'cmd':
                result = client.run_cmd(operation['command'])
            else:
                result = client.run_ps(operation['script'])
        except (WinRMError, OSError, ValueError) as error:
            return failure(error)
        except Exception as error:  # requests' exceptions, whatever their base  pylint: disable=broad-except
            return failure(error)
        return {'code': result.status_code, 'stdout': result.std_out.decode('cp437'),
                'stderr': result.std_err.decode('cp437'),
                'encrypted': client.protocol.transport.encryption is not None}
    if kind == 'receive_timeout':
        client = session(operation, operation_timeout_sec=operation.get('operation_timeout', 1),
                         read_timeout_sec=operation.get('operation_timeout', 1) + 5)
        protocol = client.protocol
        shell = protocol.open_shell()
        command = protocol.run_command(shell, operation.get('command', 'hostname'))
        answer = {}
        try:
            protocol._raw_get_command_output(shell, command)  # pylint: disable=protected-access
            answer['first_receive'] = 'answered'
        except (WinRMError, WinRMOperationTimeoutError) as error:
            answer['first_receive'] = type(error).__name__
        if operation.get('wait', True):
            stdout, _stderr, code = protocol.get_command_output(shell, command)
            answer.update({'stdout': stdout.decode('cp437'), 'code': code})
        protocol.cleanup_command(shell, command)
        protocol.close_shell(shell)
        return answer
    if kind == 'restart':
        def boot_time():
            return session(operation).run_cmd('wmic os get LastBootUpTime /value < NUL').std_out.decode().strip()
        before = boot_time()
        session(operation).run_cmd('shutdown /r /t 0 /c "testbed_winrm restart"')
        went_down, down_since, after = False, None, before
        deadline = time.monotonic() + operation.get('timeout', 60)
        while time.monotonic() < deadline:
            try:
                after = boot_time()
                if went_down:
                    break
            except Exception:  # pylint: disable=broad-except
                if not went_down:
                    went_down, down_since = True, time.monotonic()
            time.sleep(0.3)
        return {'went_down': went_down, 'seconds_down': round(time.monotonic() - (down_since or time.monotonic()), 1),
                'boot_before': before, 'boot_after': after}
    return {'error': 'UnknownOperation', 'message': kind}


def main():
    operations = json.loads(sys.argv[1])
    # ansible-core 2.16 templates numbers inside the operations' JSON as strings ("15991", "8.0")
    for operation in operations:
        for key, kind in (('port', int), ('timeout', float)):
            if key in operation:
                operation[key] = kind(operation[key])
    print(json.dumps([run(operation) for operation in operations]))


if __name__ == '__main__':
    main()
