#!/usr/bin/env python
# Private to this repository's benchmarks.
"""Federation DNS at scale: fleetfix.remediate.federation_dns beside community.dns.wait_for_txt.

Starts its own DNS testbed (launcher part ``dns``, own --state-dir, ``bench_domains`` zones
``fedNNNN.fleetfix.test``, each with one proof on ns1 and ns2), then measures:

- our check in-process (``_federation.run`` on the real servers: zone walk, every nameserver,
  SOA serials), the figure the goal is about;
- the whole ``ansible-playbook`` run of one ``fleetfix.remediate.federation_dns`` task;
- community.dns.wait_for_txt (ansible 12.3.0 peer venv, ``tools/peer-venv.sh``) on the same
  records. It resolves nameserver names through the system resolver and asks servers on port 53
  only, so it can run only when the testbed listens on port 53 (root) and the system resolver
  knows the test zones: the peer run gets a private mount namespace (``unshare -m``) in which
  /etc/resolv.conf names the testbed's resolver. Without that it is also run once to show how
  it fails.

    .venv/bin/python bench/bench_federation_dns.py [--domains 1000] [--port 53] [--skip-peer]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')


def launcher(state_dir, *args):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'tests', 'testbed'))
    subprocess.run([PYTHON, '-m', 'testbed'] + list(args) + ['--state-dir', state_dir], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def stage_collection(workdir):
    subprocess.run(['make', '-s', 'stage', 'STAGE_ROOT=%s' % workdir], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return workdir


def run_playbook(ansible_playbook, playbook, workdir, collections_path, wrapper=()):
    path = os.path.join(workdir, 'play.yml')
    with open(path, 'w') as handle:
        handle.write(playbook)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1')
    started = time.monotonic()
    process = subprocess.run(list(wrapper) + [ansible_playbook, path], env=env, capture_output=True, text=True, cwd=workdir,
                             check=False)
    elapsed = time.monotonic() - started
    failed = process.returncode != 0
    message = ''
    if failed:
        lines = [line for line in (process.stdout + process.stderr).splitlines() if '"msg"' in line or 'ERROR' in line]
        message = ' '.join(lines)[-400:]
    return elapsed, dict(failed=failed, msg=message)


def ours_in_process(collection_root, domains, resolver, nameserver_port):
    sys.path.insert(0, collection_root)
    from ansible_collections.fleetfix.remediate.plugins.module_utils import _dns, _federation  # pylint: disable=import-outside-toplevel
    client = _dns.DnsClient(resolvers=[resolver], timeout=3, retries=2, max_concurrency=64, nameserver_port=nameserver_port)
    started = time.monotonic()
    result = _federation.run(client, domains, [], nameserver_port=nameserver_port)
    elapsed = time.monotonic() - started
    checked = sum(len(entry['found_on']) + len(entry['missing_on']) for entry in result['domains'])
    return elapsed, result, checked, client.query_count


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--domains', type=int, default=1000)
    parser.add_argument('--port', type=int, default=53 if os.geteuid() == 0 else 5390,
                        help='testbed port (53 needs root and is the only port community.dns can use)')
    parser.add_argument('--skip-peer', action='store_true')
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix='bench-federation-dns-')
    state_dir = os.path.join(workdir, 'state')
    figures = dict(domains=args.domains, port=args.port)
    launcher(state_dir, 'up', '--only', 'dns', '--set', 'dns.bench_domains=%d' % args.domains,
             '--set', 'dns.port=%d' % args.port)
    try:
        with open(os.path.join(state_dir, 'vars.yml')) as handle:
            testbed = yaml.safe_load(handle)
        domains = testbed['testbed_dns_bench_domains']
        resolver = testbed['testbed_dns_resolvers'][0]
        resolver_ip = resolver.split(':')[0]
        collections = stage_collection(os.path.join(workdir, 'collections'))
        collection_root = os.path.join(collections)

        elapsed, result, checked, queries = ours_in_process(collection_root, domains, resolver, args.port)
        figures['ours_check_s'] = round(elapsed, 2)
        figures['ours_check_ok'] = result['ok']
        figures['ours_nameserver_checks'] = checked
        figures['ours_queries'] = queries
        print('ours, in-process check: %.2f s, ok=%s, %d domain x nameserver checks, %d queries'
              % (elapsed, result['ok'], checked, queries))

        playbook = '''
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - fleetfix.remediate.federation_dns:
        domains: %s
        resolvers: [%s]
''' % (json.dumps(domains), json.dumps(resolver))
        elapsed, result = run_playbook(os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), playbook, workdir, collections)
        figures['ours_playbook_s'] = round(elapsed, 2)
        figures['ours_playbook_ok'] = not result['failed']
        note = '' if figures['ours_playbook_ok'] else str(result.get('msg'))[:500]
        print('ours, ansible-playbook: %.2f s, ok=%s %s' % (elapsed, figures['ours_playbook_ok'], note))

        if not args.skip_peer:
            peer = subprocess.run([os.path.join(ROOT, 'tools', 'peer-venv.sh')], capture_output=True, text=True,
                                  check=True).stdout.strip().splitlines()[-1]
            peer_playbook = os.path.join(peer, 'bin', 'ansible-playbook')
            records = [dict(name=entry['name'], values=entry['proofs'], mode='subset') for entry in domains]
            template = '''
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - community.dns.wait_for_txt:
        records: %s
        server: [%s]
        timeout: %d
        query_timeout: 3
'''
            # as a user would run it: the system resolver knows nothing of the test zones
            elapsed, result = run_playbook(peer_playbook, template % (json.dumps(records[:1]), json.dumps(resolver_ip), 20),
                                           workdir, os.path.join(peer, 'lib'))
            figures['peer_plain_ok'] = not result.get('failed')
            figures['peer_plain_msg'] = str(result.get('msg', ''))[:300]
            print('community.dns.wait_for_txt, system resolver unchanged (1 domain): %.2f s, failed=%s: %s'
                  % (elapsed, bool(result.get('failed')), figures['peer_plain_msg']))
            if args.port != 53:
                print('community.dns.wait_for_txt cannot ask servers on port %d; rerun as root for port 53' % args.port)
            else:
                resolv = os.path.join(workdir, 'resolv.conf')
                with open(resolv, 'w') as handle:
                    handle.write('nameserver %s\n' % resolver_ip)
                wrapper = ['unshare', '-m', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv]
                elapsed, result = run_playbook(peer_playbook, template % (json.dumps(records), json.dumps(resolver_ip), 600),
                                               workdir, os.path.join(peer, 'lib'), wrapper=wrapper)
                figures['peer_s'] = round(elapsed, 2)
                figures['peer_ok'] = not result['failed']
                print('community.dns.wait_for_txt, resolv.conf pointed at the testbed: %.2f s, all found=%s %s'
                      % (elapsed, figures['peer_ok'], '' if figures['peer_ok'] else str(result.get('msg', ''))[:300]))
    finally:
        launcher(state_dir, 'down', '--only', 'dns')
    os.makedirs(os.path.join(HERE, '.results'), exist_ok=True)
    with open(os.path.join(HERE, '.results', 'federation_dns.json'), 'w') as handle:
        json.dump(figures, handle, indent=2)
    print(json.dumps(figures, indent=2))


if __name__ == '__main__':
    main()
