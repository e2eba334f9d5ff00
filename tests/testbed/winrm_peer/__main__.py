# Private to this repository's tests, demo and benchmarks.
"""python -m winrm_peer --state DIR [options]: serve the simulated fleet until stopped.

The password is read from the environment variable WINRM_PEER_PASSWORD (never argv).
"""

import argparse
import os
import signal
import sys
import threading

from winrm_peer.certs import ensure_certificates
from winrm_peer.model import FIELD_HOSTS, Fleet, host_name
from winrm_peer.server import Peer, start_control


def main(argv=None):
    parser = argparse.ArgumentParser(prog='winrm_peer')
    parser.add_argument('--state', required=True)
    parser.add_argument('--hosts', type=int, default=4)
    parser.add_argument('--https-base-port', type=int, default=15990)
    parser.add_argument('--http-base-port', type=int, default=16990)
    parser.add_argument('--control-port', type=int, default=15980)
    parser.add_argument('--restart-seconds', type=float, default=3.0)
    parser.add_argument('--event-interval-seconds', type=float, default=5.0)
    parser.add_argument('--domain', default='FLEETFIX')
    parser.add_argument('--user', default='administrator')
    parser.add_argument('--modern-hosts', default=None,
                        help='comma-separated hosts that run Windows Server 2012 R2 (default: ex04)')
    parser.add_argument('--verbose', action='store_true')
    args = parser.parse_args(argv)
    password = os.environ.get('WINRM_PEER_PASSWORD')
    if not password:
        parser.error('set WINRM_PEER_PASSWORD')
    ensure_certificates(args.state)
    modern = None if args.modern_hosts is None else [name for name in args.modern_hosts.split(',') if name]
    fleet = Fleet(hosts=args.hosts, domain=args.domain, event_interval=args.event_interval_seconds,
                  restart_seconds=args.restart_seconds, modern_hosts=modern)
    ports = {}
    for index in range(1, args.hosts + 1):
        ports[host_name(index)] = (args.https_base_port + index - 1, args.http_base_port + index - 1)
    ports['dc01'] = (args.https_base_port + args.hosts, args.http_base_port + args.hosts)
    for offset, name in enumerate(FIELD_HOSTS, start=1):
        ports[name] = (args.https_base_port + args.hosts + offset, args.http_base_port + args.hosts + offset)
    peer = Peer(fleet, ports, args.user, password, args.state, verbose=args.verbose)
    peer.start()
    start_control(peer, args.control_port)
    print('winrm_peer: %d hosts and dc01 on 127.0.0.1, control API on port %d' % (args.hosts, args.control_port),
          flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    return 0


if __name__ == '__main__':
    sys.exit(main())
