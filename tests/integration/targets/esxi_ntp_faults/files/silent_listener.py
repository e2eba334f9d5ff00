#!/usr/bin/env python
# Private to this repository's tests: a TCP listener that accepts connections and never answers.
"""Usage: silent_listener.py PORT SECONDS (it exits by itself after SECONDS)."""

import socket
import sys
import time


def main():
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', port))
    server.listen(16)
    server.settimeout(0.2)
    print('listening', flush=True)
    accepted = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            accepted.append(server.accept()[0])
        except socket.timeout:
            continue
    for connection in accepted:
        connection.close()
    server.close()


if __name__ == '__main__':
    main()
