# Private to this repository's tests, demo and benchmarks.
"""python -m testbed up|down|status|build [--only NAME,...] [--set NAME.OPTION=VALUE]."""

import argparse
import os
import sys

from testbed.core import Launcher, TestbedError, discover_plugins, parse_sets


def main(argv=None):
    plugins = discover_plugins()
    parser = argparse.ArgumentParser(
        prog='python -m testbed',
        description='Simulated vCenter, WinRM and DNS servers on loopback for the fleetfix.remediate '
                    'tests, demo and benchmarks. Parts: %s.' % ', '.join(
                        '%s (%s)' % (name, plugin.description) for name, plugin in sorted(plugins.items())))
    parser.add_argument('command', choices=('up', 'down', 'status', 'build', 'inventory'),
                        help='up: start (idempotent); down: stop by process id; status: what runs; '
                             'build: compile what up needs; inventory: print the inventory path')
    parser.add_argument('--only', default='', help='comma-separated parts (default: all)')
    parser.add_argument('--set', action='append', default=[], metavar='PART.OPTION=VALUE',
                        help='change a part option, e.g. vcsim.hosts=200 (repeatable)')
    parser.add_argument('--state-dir', default=None,
                        help='where pids, logs and inventory.yml go (default: $FLEETFIX_TESTBED_STATE '
                             'or tests/testbed/.state)')
    args = parser.parse_args(argv)
    names = [name for name in args.only.split(',') if name]
    try:
        launcher = Launcher(args.state_dir, plugins)
        settings = parse_sets(args.set, plugins)
        if args.command == 'up':
            launcher.up(names, settings)
            print('inventory: %s' % os.path.join(launcher.state_dir, 'inventory.yml'))
        elif args.command == 'down':
            launcher.down(names)
        elif args.command == 'build':
            launcher.build(names, settings)
        elif args.command == 'inventory':
            print(os.path.join(launcher.state_dir, 'inventory.yml'))
        else:
            for name, state, description in launcher.status():
                print('%-8s %-6s %s' % (name, state, description))
    except TestbedError as error:
        print('testbed: %s' % error, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
