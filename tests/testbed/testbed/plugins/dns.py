# Private to this repository's tests, demo and benchmarks.
"""The DNS testbed: NSD authoritative servers (parent, ns1, ns2) and Unbound resolvers.

Zones come from tests/testbed/dns/zones.yml through ``testbed.dnsctl``, which also changes
records and stops or starts a server while the testbed runs. Options, variables, cases and
control commands are described in tests/testbed/dns/README.md.
"""

import os
import shutil
import socket

from testbed import dnsctl
from testbed.core import Plugin, TestbedError, stop_process


def check_options(options):
    if not 1 <= options['port'] <= 65535:
        raise TestbedError('dns.port must be a UDP port (1-65535), not %s.' % options['port'])
    if not 0 <= options['bench_domains'] <= 9999:
        raise TestbedError('dns.bench_domains must be between 0 and 9999, not %s.' % options['bench_domains'])
    if not 0 <= float(options['loss']) < 1:
        raise TestbedError('dns.loss must be a share of datagrams from 0 to below 1 (0.05 = 5 %%), not %s.' % options['loss'])
    if options['rrl'] not in ('on', 'off'):
        raise TestbedError('dns.rrl must be on (NSD\'s default response-rate limiting) or off, not %s.' % options['rrl'])
    if options.get('bench_lame', 'off') not in ('on', 'off'):
        raise TestbedError('dns.bench_lame must be on (every bench zone also lists ns3, which answers REFUSED for '
                           'most of them) or off, not %s.' % options['bench_lame'])
    stopped = stopped_servers(options)
    unknown = sorted(set(stopped) - set(dnsctl.ADDRESSES))
    if unknown:
        raise TestbedError('dns.stopped names unknown servers %s; it takes a comma list of %s.' % (
            ', '.join(unknown), ', '.join(dnsctl.ADDRESSES)))


def stopped_servers(options):
    return [item.strip() for item in str(options.get('stopped') or '').split(',') if item.strip()]


def endpoint(server, port):
    # ns2path (the lossy path in front of ns2) listens on ns2's own address
    return '%s:%d' % (dnsctl.ADDRESSES.get(server, dnsctl.ADDRESSES['ns2']), port)


def inventory_part(description, model):
    """The launcher variables: testbed_dns_* and the role-ready federation_dns_* / esxi_time_*."""
    port = model['port']
    servers = model['servers']

    def proofs(values):
        return [dnsctl.expand(str(value)) for value in values]

    cases = {}
    for case, spec in description['cases'].items():
        cases[case] = {'domain': spec['domain'], 'proofs': proofs(spec.get('proofs', [])),
                       'expectation': spec['expectation']}
    stale_zone = [zone for zone in servers['ns1']['zones']
                  if servers['ns1']['zones'][zone]['serial'] != servers['ns2']['zones'][zone]['serial']]
    proofs_by_domain = {spec['domain']: cases[name]['proofs'] for name, spec in description['cases'].items()}
    demo_domains = []
    for name in description['demo']['federated_domains']:
        values = proofs_by_domain.get(name) or [dnsctl.proof_value('%s:0' % name)]
        demo_domains.append({'name': name, 'proofs': values})
    resolvers = [endpoint('resolver', port)]
    return {
        'vars': {
            'testbed_dns_port': port,
            'testbed_dns_tld': model['tld'],
            'testbed_dns_resolvers': resolvers,
            'testbed_dns_internal_resolvers': [endpoint('internal', port)],
            'testbed_dns_servers': {name: endpoint(name, port) for name in dnsctl.ADDRESSES},
            'testbed_dns_nameservers': {'ns1': 'ns1.%s' % model['tld'], 'ns2': 'ns2.%s' % model['tld']},
            'testbed_dns_stale_zones': stale_zone,
            'testbed_dns_cases': cases,
            'testbed_dns_ad_domain': description['ad_domain'],
            'testbed_dns_pdc_emulators': list(description['pdc_emulators']),
            'testbed_dns_bench_domains': [{'name': name, 'proofs': [dnsctl.proof_value('%s:0' % name)]}
                                          for name in model['bench_domains']],
            'federation_dns_resolvers': resolvers,
            'federation_dns_internal_resolvers': [endpoint('internal', port)],
            'federation_dns_domains': demo_domains,
            'federation_dns_autodiscover_domains': list(description['demo']['autodiscover_domains']),
            'esxi_time_ad_domain': description['ad_domain'],
            'esxi_time_dns_resolvers': resolvers,
        },
    }


def port_free(address, port):
    """True when nothing listens on ``address:port`` (UDP)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.bind((address, port))
        return True
    except OSError:
        return False
    finally:
        probe.close()


class DnsPlugin(Plugin):
    name = 'dns'
    description = ('DNS: NSD parent/ns1/ns2/ns3 (lame), Unbound external/internal resolvers, a TCP-only and a lossy '
                   'path to ns1, on 127.0.0.2-9')
    options = {
        'port': 5353,
        'bench_domains': 0,
        'stopped': '',
        'loss': 0.0,
        'rrl': 'on',
        'bench_lame': 'off',
    }

    def build(self, ctx):
        check_options(ctx.options)
        for program in ('/usr/sbin/nsd', '/usr/sbin/unbound'):
            if not os.access(program, os.X_OK):
                raise TestbedError('dns: %s is missing; install the Debian packages nsd and unbound '
                                   '(`make setup`).' % program)
        try:
            import dns.message  # noqa: F401 pylint: disable=unused-import,import-outside-toplevel
        except ImportError as error:
            raise TestbedError('dns: the testbed needs dnspython (%s); run `make setup`.' % error) from None

    def start(self, ctx):
        options = ctx.options
        check_options(options)
        port = options['port']
        busy = [endpoint(name, port) for name in dnsctl.ADDRESSES
                if not port_free(dnsctl.ADDRESSES[name], port)]
        if busy:
            raise TestbedError('dns: something already listens on %s; stop it (or `python -m testbed down '
                               '--only dns`) or choose another port with --set dns.port=N.' % ', '.join(busy))
        description = dnsctl.load_description()
        model = dnsctl.build_model(description, port=port, bench_domains=options['bench_domains'],
                                   loss=float(options['loss']), rrl=options['rrl'] == 'on',
                                   bench_lame=options['bench_lame'] == 'on')
        for server in dnsctl.ADDRESSES:
            shutil.rmtree(os.path.join(ctx.work_dir, server), ignore_errors=True)
        dnsctl.save_model(model, ctx.work_dir)
        stopped = stopped_servers(options)
        started = []
        for server in dnsctl.servers_of(model):
            argv = dnsctl.write_server(model, server, ctx.work_dir)
            if server not in stopped:
                ctx.spawn(server, argv)
                started.append(server)
        timeout = 20 + options['bench_domains'] / 50.0
        for server in started:
            ctx.wait_until(lambda server=server: dnsctl.answers(server, port),
                           '%s (%s)' % (server, endpoint(server, port)), timeout=timeout, label=server)
        return inventory_part(description, model)

    def stop(self, ctx, record):
        # dnsctl start/stop/reset replace processes; stop any the record missed (found by
        # pidfile and verified by its configuration path, so only servers of this state folder).
        for proc in dnsctl.leftover_processes(ctx.work_dir):
            stop_process(proc)


PLUGIN = DnsPlugin()
