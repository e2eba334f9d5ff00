# Private to this repository's tests: the testbed launcher (up, down, status, inventory).
from __future__ import annotations

import io
import os
import socket
import sys

import pytest
import yaml

from testbed.core import Launcher, Plugin, TestbedError, merge_inventory, parse_sets, pid_alive

ECHO_SERVER = '''
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen()
while True:
    connection, _ = server.accept()
    connection.sendall(b"hello")
    connection.close()
'''


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class EchoPlugin(Plugin):
    name = 'echo'
    description = 'a TCP greeter for the launcher tests'
    options = {'port': 0, 'greeting': 'hi', 'fail': False}

    def start(self, ctx):
        port = ctx.options['port']
        ctx.spawn('server', [sys.executable, '-c', ECHO_SERVER, str(port)])
        ctx.wait_tcp('127.0.0.1', port, timeout=10, label='server')
        return {'vars': {'echo_port': port},
                'groups': {'greeters': {'hosts': {'greeter01': {'greeting': ctx.options['greeting']}}}}}


class CrashPlugin(Plugin):
    name = 'crash'
    description = 'exits at once'

    def start(self, ctx):
        ctx.spawn('server', [sys.executable, '-c', 'import sys; print("cannot bind"); sys.exit(3)'])
        ctx.wait_tcp('127.0.0.1', free_port(), timeout=10, label='server')
        return {}


@pytest.fixture
def launcher(tmp_path):
    plugins = {'echo': EchoPlugin(), 'crash': CrashPlugin()}
    instance = Launcher(str(tmp_path / 'state'), plugins, out=io.StringIO())
    yield instance
    instance.down()


def test_up_writes_inventory_and_down_stops_the_process(launcher, tmp_path):
    port = free_port()
    launcher.up(['echo'], {'echo': {'port': port, 'greeting': 'hello'}})
    with socket.create_connection(('127.0.0.1', port), timeout=5) as connection:
        assert connection.recv(5) == b'hello'
    with open(tmp_path / 'state' / 'inventory.yml', encoding='utf-8') as handle:
        inventory = yaml.safe_load(handle)
    assert inventory['all']['vars'] == {'echo_port': port}
    assert inventory['all']['children']['greeters']['hosts'] == {'greeter01': {'greeting': 'hello'}}
    pid = launcher.load_record('echo')['processes'][0]['pid']
    assert dict((row[0], row[1]) for row in launcher.status())['echo'] == 'up'

    launcher.down(['echo'])
    assert not pid_alive(pid)
    assert launcher.load_record('echo') is None
    with open(tmp_path / 'state' / 'inventory.yml', encoding='utf-8') as handle:
        assert yaml.safe_load(handle) == {'all': {'children': {}, 'vars': {}}}


def test_up_is_idempotent_and_restarts_when_options_change(launcher):
    port = free_port()
    launcher.up(['echo'], {'echo': {'port': port}})
    first_pid = launcher.load_record('echo')['processes'][0]['pid']
    launcher.up(['echo'], {'echo': {'port': port}})
    assert 'already up' in launcher.out.getvalue()
    assert launcher.load_record('echo')['processes'][0]['pid'] == first_pid

    # Without options (what setup_testbed runs) the part stays on the port it was started with.
    launcher.up(['echo'])
    assert launcher.load_record('echo')['processes'][0]['pid'] == first_pid
    assert launcher.load_record('echo')['options']['port'] == port

    launcher.up(['echo'], {'echo': {'port': port, 'greeting': 'other'}})
    assert launcher.load_record('echo')['processes'][0]['pid'] != first_pid
    assert not pid_alive(first_pid)


def test_a_server_that_exits_is_reported_with_its_log(launcher):
    with pytest.raises(TestbedError, match='(?s)exited while starting.*cannot bind'):
        launcher.up(['crash'])
    assert launcher.load_record('crash') is None


def test_unknown_part_is_named(launcher):
    with pytest.raises(TestbedError, match='Unknown testbed part.*nope.*Known: crash, echo'):
        launcher.up(['nope'])


def test_down_leaves_a_reused_pid_alone(launcher):
    port = free_port()
    launcher.up(['echo'], {'echo': {'port': port}})
    record = launcher.load_record('echo')
    record['processes'][0]['argv'][0] = '/not/the/same/program'
    # Simulate a recorded pid that now belongs to another program: down must not kill it.
    path = launcher.record_path('echo')
    import json  # pylint: disable=import-outside-toplevel
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(record, handle)
    pid = record['processes'][0]['pid']
    launcher.down(['echo'])
    assert pid_alive(pid)
    os.kill(pid, 9)


def test_parse_sets_types_values_like_the_defaults():
    plugins = {'echo': EchoPlugin()}
    assert parse_sets(['echo.port=18443', 'echo.fail=yes', 'echo.greeting=x=y'], plugins) == {
        'echo': {'port': 18443, 'fail': True, 'greeting': 'x=y'}}
    with pytest.raises(TestbedError, match="has no option 'size'"):
        parse_sets(['echo.size=1'], plugins)
    with pytest.raises(TestbedError, match='PLUGIN.OPTION=VALUE'):
        parse_sets(['port=1'], plugins)


def test_merge_inventory_combines_groups_and_vars():
    inventory, global_vars = merge_inventory([
        {'vars': {'a': 1}, 'groups': {'g': {'hosts': {'h1': {'x': 1}}}}},
        {'vars': {'b': 2}, 'groups': {'g': {'hosts': {'h2': {}}, 'vars': {'y': 2}}}},
    ])
    assert global_vars == {'a': 1, 'b': 2}
    assert inventory['all']['children']['g'] == {'hosts': {'h1': {'x': 1}, 'h2': {}}, 'vars': {'y': 2}}
