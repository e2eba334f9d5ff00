# Private to this repository's tests, demo and benchmarks.
"""A nameserver's network path, in user space (this kernel has no netem): listens on one
loopback address and forwards DNS to a real server behind it.

- ``--loss SHARE`` drops that share of the UDP datagrams in each direction (queries and
  answers), from a seeded random sequence, like a lossy link; TCP is passed through intact.
- ``--no-udp`` leaves the UDP port closed (nothing bound: the kernel answers port unreachable),
  as a firewall that blocks UDP 53 while TCP 53 is open; TCP is passed through.

    python dnsproxy.py --listen 127.0.0.9 --port 5353 --backend 127.0.0.3 --backend-port 5353 --loss 0.3
"""

import argparse
import asyncio
import random
import signal


class UdpPath(asyncio.DatagramProtocol):
    def __init__(self, backend, loss, rng):
        self.backend = backend
        self.loss = loss
        self.rng = rng
        self.transport = None
        self.upstreams = {}

    def connection_made(self, transport):
        self.transport = transport

    def lost(self):
        return self.loss > 0 and self.rng.random() < self.loss

    def datagram_received(self, data, addr):
        if self.lost():
            return
        upstream = self.upstreams.get(addr)
        if upstream is None or upstream.transport is None:
            upstream = self.upstreams[addr] = Upstream(self, addr)
            asyncio.ensure_future(asyncio.get_running_loop().create_datagram_endpoint(
                lambda: upstream, remote_addr=self.backend))
            upstream.queue.append(data)
            return
        upstream.transport.sendto(data)


class Upstream(asyncio.DatagramProtocol):
    """One socket towards the backend per client address, so answers find their way back."""

    def __init__(self, path, client):
        self.path = path
        self.client = client
        self.transport = None
        self.queue = []

    def connection_made(self, transport):
        self.transport = transport
        for data in self.queue:
            transport.sendto(data)
        self.queue = []

    def datagram_received(self, data, addr):
        if not self.path.lost():
            self.path.transport.sendto(data, self.client)

    def error_received(self, exc):
        pass


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--listen', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--backend', required=True)
    parser.add_argument('--backend-port', type=int, required=True)
    parser.add_argument('--loss', type=float, default=0.0)
    parser.add_argument('--no-udp', action='store_true')
    parser.add_argument('--seed', type=int, default=13)
    args = parser.parse_args()
    backend = (args.backend, args.backend_port)
    loop = asyncio.get_running_loop()

    async def relay(reader, writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*backend)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(relay, args.listen, args.port)
    if not args.no_udp:
        await loop.create_datagram_endpoint(lambda: UdpPath(backend, args.loss, random.Random(args.seed)),
                                            local_addr=(args.listen, args.port))
    stop = loop.create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set_result, None)
    async with server:
        await stop


if __name__ == '__main__':
    asyncio.run(main())
