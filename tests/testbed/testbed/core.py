# Private to this repository's tests, demo and benchmarks.
"""The launcher: runs each plug-in's servers, records their process ids, writes the inventory.

A plug-in is a module in ``testbed.plugins`` that defines ``PLUGIN``, an instance of a
``Plugin`` subclass. The launcher gives it a ``Context`` with which it spawns processes
(logged to the state folder, in their own session so that stopping one stops its
children) and waits for them to answer. What ``start`` returns is the plug-in's part of
the inventory: group and host variables and global variables, merged into
``<state>/inventory.yml`` and ``<state>/vars.yml``.
"""

import importlib
import json
import os
import pkgutil
import signal
import socket
import subprocess
import sys
import time

import yaml

TESTBED_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_STATE_DIR = os.path.join(TESTBED_ROOT, '.state')


class TestbedError(Exception):
    """A problem a person can act on: the message says what and how."""

    __test__ = False  # not a pytest test class, whatever its name says


class Plugin:
    """One kind of simulated server. Subclasses set ``name`` and override the hooks."""

    name = None
    description = ''
    # Defaults for the options ``--set NAME.KEY=VALUE`` can change.
    options = {}
    # Plug-ins that must be up before this one (for example a resolver that needs zones).
    after = ()

    def build(self, ctx):
        """Compile or check what ``start`` needs; raise TestbedError when something is missing."""

    def start(self, ctx):
        """Start the servers with ``ctx.spawn`` and return the inventory part (see ``merge_inventory``)."""
        raise NotImplementedError

    def stop(self, ctx, record):
        """Extra clean-up after the processes in ``record`` were stopped."""


class Context:
    """What a plug-in gets from the launcher: its options, its state folder, process helpers."""

    def __init__(self, plugin, state_dir, options):
        self.plugin = plugin
        self.state_dir = state_dir
        self.options = options
        self.processes = []
        self.work_dir = os.path.join(state_dir, plugin.name)
        os.makedirs(self.work_dir, exist_ok=True)

    def spawn(self, label, argv, env=None, cwd=None):
        """Start ``argv`` in the background, its output in ``<state>/<plugin>/<label>.log``."""
        log_path = os.path.join(self.work_dir, label + '.log')
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(log_path, 'ab') as log:
            process = subprocess.Popen(  # pylint: disable=consider-using-with
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=full_env, cwd=cwd, start_new_session=True)
        self.processes.append({'label': label, 'pid': process.pid, 'argv': list(argv), 'log': log_path})
        return process

    def log_tail(self, label, lines=20):
        path = os.path.join(self.work_dir, label + '.log')
        try:
            with open(path, 'r', encoding='utf-8', errors='replace') as handle:
                return ''.join(handle.readlines()[-lines:])
        except OSError:
            return ''

    def wait_until(self, check, what, timeout=30.0, label=None):
        """Call ``check()`` until it returns true; fail naming ``what`` and the log when it never does."""
        deadline = time.monotonic() + timeout
        pause = 0.05
        while True:
            for record in self.processes:
                if not pid_alive(record['pid']):
                    raise TestbedError('%s exited while starting (%s); its log says:\n%s' % (
                        record['label'], what, self.log_tail(record['label'])))
            try:
                if check():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                tail = self.log_tail(label) if label else ''
                raise TestbedError('%s did not answer within %.0f s.%s' % (
                    what, timeout, ('\nLog:\n' + tail) if tail else ''))
            time.sleep(pause)
            pause = min(pause * 1.5, 0.5)

    def wait_tcp(self, host, port, timeout=30.0, label=None):
        def connects():
            with socket.create_connection((host, port), timeout=1):
                return True
        self.wait_until(connects, '%s:%s' % (host, port), timeout=timeout, label=label)


def pid_alive(pid):
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open('/proc/%d/stat' % pid, 'r', encoding='ascii') as handle:
            return handle.read().split(') ', 1)[1][0] != 'Z'
    except (OSError, IndexError):
        return True


def pid_matches(record):
    """True when the process with the recorded id is still the one we started (ids get reused)."""
    try:
        with open('/proc/%d/cmdline' % record['pid'], 'rb') as handle:
            argv = handle.read().split(b'\0')
    except OSError:
        return False
    return bool(argv) and os.path.basename(argv[0].decode(errors='replace')) == os.path.basename(record['argv'][0])


def stop_process(record, grace=5.0):
    """Stop one recorded process and its session: SIGTERM, then SIGKILL after ``grace`` seconds."""
    pid = record['pid']
    if not pid_alive(pid) or not pid_matches(record):
        return False
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return True
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.05)
    return not pid_alive(pid)


def discover_plugins():
    """Every ``PLUGIN`` defined by a module of ``testbed.plugins``, by name."""
    package = importlib.import_module('testbed.plugins')
    plugins = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module('testbed.plugins.' + info.name)
        plugin = getattr(module, 'PLUGIN', None)
        if plugin is not None:
            plugins[plugin.name] = plugin
    return plugins


def merge_inventory(parts):
    """Merge plug-in inventory parts into one YAML inventory and one variables mapping.

    A part is ``{'vars': {...}, 'groups': {group: {'hosts': {host: {...}}, 'vars': {...}}}}``.
    """
    inventory = {'all': {'children': {}, 'vars': {}}}
    global_vars = {}
    for part in parts:
        global_vars.update(part.get('vars', {}))
        for group, content in part.get('groups', {}).items():
            target = inventory['all']['children'].setdefault(group, {'hosts': {}, 'vars': {}})
            target['hosts'].update(content.get('hosts', {}))
            target['vars'].update(content.get('vars', {}))
    inventory['all']['vars'].update(global_vars)
    return inventory, global_vars


def parse_sets(values, plugins):
    """``['vcsim.hosts=200']`` -> ``{'vcsim': {'hosts': 200}}``, typed like the plug-in's default."""
    settings = {}
    for item in values or ():
        key, sep, raw = item.partition('=')
        name, dot, option = key.partition('.')
        if not sep or not dot or name not in plugins:
            raise TestbedError('--set takes PLUGIN.OPTION=VALUE with PLUGIN one of %s, not %r.' % (
                ', '.join(sorted(plugins)), item))
        defaults = plugins[name].options
        if option not in defaults:
            raise TestbedError('%s has no option %r; it has: %s.' % (name, option, ', '.join(sorted(defaults)) or 'none'))
        default = defaults[option]
        if isinstance(default, bool):
            value = raw.lower() in ('1', 'true', 'yes', 'on')
        elif isinstance(default, int):
            value = int(raw)
        elif isinstance(default, float):
            value = float(raw)
        else:
            value = raw
        settings.setdefault(name, {})[option] = value
    return settings


class Launcher:
    """Starts and stops plug-ins and keeps ``<state>/<name>.json`` and the inventory in step."""

    def __init__(self, state_dir=None, plugins=None, out=None):
        self.state_dir = os.path.abspath(state_dir or os.environ.get('FLEETFIX_TESTBED_STATE') or DEFAULT_STATE_DIR)
        self.plugins = plugins if plugins is not None else discover_plugins()
        self.out = out or sys.stdout

    def say(self, text):
        self.out.write(text + '\n')
        self.out.flush()

    def select(self, names):
        if not names:
            return list(self.plugins)
        unknown = [name for name in names if name not in self.plugins]
        if unknown:
            raise TestbedError('Unknown testbed part(s): %s. Known: %s.' % (
                ', '.join(unknown), ', '.join(sorted(self.plugins))))
        return names

    def ordered(self, names):
        ordered, seen = [], set()

        def visit(name):
            if name in seen:
                return
            seen.add(name)
            for dependency in self.plugins[name].after:
                if dependency in self.plugins:
                    visit(dependency)
            ordered.append(name)
        for name in names:
            visit(name)
        return ordered

    def record_path(self, name):
        return os.path.join(self.state_dir, name + '.json')

    def load_record(self, name):
        try:
            with open(self.record_path(name), 'r', encoding='utf-8') as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def is_up(self, name):
        record = self.load_record(name)
        return bool(record) and all(pid_alive(proc['pid']) and pid_matches(proc) for proc in record['processes'])

    def build(self, names=None, settings=None):
        for name in self.ordered(self.select(names)):
            plugin = self.plugins[name]
            self.say('building %s' % name)
            plugin.build(self.context(plugin, settings))

    def context(self, plugin, settings):
        options = dict(plugin.options)
        options.update((settings or {}).get(plugin.name, {}))
        return Context(plugin, self.state_dir, options)

    def up(self, names=None, settings=None):
        os.makedirs(self.state_dir, exist_ok=True)
        for name in self.ordered(self.select(names)):
            plugin = self.plugins[name]
            record = self.load_record(name)
            given = (settings or {}).get(name, {})
            recorded = (record or {}).get('options') or {}
            # A running part is kept unless an option given now differs: an `up` without --set
            # (what setup_testbed runs) must not move a part started on its own ports to the defaults.
            if self.is_up(name) and all(recorded.get(option) == value for option, value in given.items()):
                self.say('%-8s already up' % name)
                continue
            if record:
                self.down([name])
            ctx = self.context(plugin, settings)
            started = time.monotonic()
            try:
                plugin.build(ctx)
                part = plugin.start(ctx) or {}
            except BaseException:
                for proc in ctx.processes:
                    stop_process(proc)
                raise
            record = {'name': name, 'options': ctx.options, 'processes': ctx.processes, 'inventory': part}
            with open(self.record_path(name), 'w', encoding='utf-8') as handle:
                json.dump(record, handle, indent=2, sort_keys=True)
            self.say('%-8s up in %.1f s (%s)' % (name, time.monotonic() - started, plugin.description))
        self.write_inventory()

    def down(self, names=None):
        for name in reversed(self.ordered(self.select(names))):
            record = self.load_record(name)
            if not record:
                continue
            for proc in reversed(record['processes']):
                stop_process(proc)
            self.plugins[name].stop(self.context(self.plugins[name], {name: record.get('options', {})}), record)
            os.unlink(self.record_path(name))
            self.say('%-8s down' % name)
        self.write_inventory()

    def status(self):
        rows = []
        for name in sorted(self.plugins):
            record = self.load_record(name)
            if not record:
                state = 'down'
            elif self.is_up(name):
                state = 'up'
            else:
                state = 'broken (a process exited; run down, then up)'
            rows.append((name, state, self.plugins[name].description))
        return rows

    def write_inventory(self):
        os.makedirs(self.state_dir, exist_ok=True)
        parts = []
        for name in sorted(self.plugins):
            record = self.load_record(name)
            if record:
                parts.append(record.get('inventory') or {})
        inventory, global_vars = merge_inventory(parts)
        for file_name, content in (('inventory.yml', inventory), ('vars.yml', global_vars)):
            path = os.path.join(self.state_dir, file_name)
            with open(path + '.tmp', 'w', encoding='utf-8') as handle:
                handle.write('# Written by the fleetfix testbed launcher; regenerated on every up/down.\n')
                yaml.safe_dump(content, handle, default_flow_style=False, sort_keys=True)
            os.replace(path + '.tmp', path)
