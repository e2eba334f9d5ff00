#!/usr/bin/env python
# Private to this repository's benchmarks.
"""Federation DNS at scale: fleetfix.remediate.federation_dns beside community.dns.wait_for_txt.

Starts its own DNS testbeds one after the other (launcher part ``dns``, own --state-dir,
``bench_domains`` zones ``fedNNNN.fleetfix.test``, each with one proof on ns1 and ns2):

- ``clean`` and ``rrl_loss``: every zone also lists ns3 (``dns.bench_lame=on``), an internal
  server that serves one zone in ten and answers REFUSED for the other 900, as in the issue;
  ``clean`` with NSD's rate limiting off and no loss, ``rrl_loss`` with NSD's defaults (rate
  limiting on: ns3's REFUSED answers share one bucket, so ns3 truncates and drops) and ns2
  behind a path that drops 5 % of the datagrams each way. Same zones, same verdicts.
- ``clean_no_lame``: ns1 and ns2 only, rate limiting off, no loss: the records on which
  community.dns.wait_for_txt can run (it fails at the first REFUSED answer).

In each it measures:

- our check in-process (``_federation.run`` on the real servers: zone walk, every nameserver,
  SOA serials), the figure the goal is about;
- the whole ``ansible-playbook`` run of one ``fleetfix.remediate.federation_dns`` task;
- community.dns.wait_for_txt (ansible 12.3.0 peer venv, ``tools/peer-venv.sh``) on the same
  records, as it is used: one task with the list of records, ``server`` = the testbed's resolver.
  It walks NS label by label from the TLD (the testbed serves ``test.`` like a real TLD), asks
  every authoritative nameserver it finds, resolves nameserver names through the system resolver
  and asks servers on port 53 only, so it can run only when the testbed listens on port 53 (root)
  and the system resolver knows the test zones: the peer run gets a private mount namespace
  (``unshare -m``) in which /etc/resolv.conf names the testbed's resolver. Without that it is
  also run once (one record) to show how it fails.

    .venv/bin/python bench/bench_federation_dns.py [--domains 1000] [--port 53] [--skip-peer] [--repeat N]
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import yaml

from _common import ROOT, launcher, stage_collection, write_results


OUR_PLAYBOOK = '''
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - fleetfix.remediate.federation_dns:
        domains: %s
        resolvers: [%s]
'''

# community.dns.wait_for_txt as it is used: one task with the list of records.
PEER_PLAYBOOK = '''
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - community.dns.wait_for_txt:
        records: %s
        server: [%s]
        timeout: %d
        query_timeout: 3
      register: peer
    # what it checked: per record, the nameservers it asked (it finds them itself)
    - ansible.builtin.debug:
        msg: "BENCH {{ {'completed': peer.completed, 'records': peer.records | length,
                       'nameserver_checks': peer.records | map(attribute='values') | map('length') | sum,
                       'nameservers': peer.records | map(attribute='values') | map('list') | flatten | unique | sort}
                      | to_json }}"
'''


def run_playbook(ansible_playbook, playbook, workdir, collections_path, wrapper=(), extra_env=None):
    path = os.path.join(workdir, 'play.yml')
    with open(path, 'w') as handle:
        handle.write(playbook)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_LOCALHOST_WARNING='false',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1', **(extra_env or {}))
    started = time.monotonic()
    process = subprocess.run(list(wrapper) + [ansible_playbook, path], env=env, capture_output=True, text=True, cwd=workdir,
                             check=False)
    elapsed = time.monotonic() - started
    failed = process.returncode != 0
    message = ''
    if failed:
        # the task's own message when the failed result is printed, else the error lines
        found = re.search(r'"msg": "((?:[^"\\]|\\.)*)"', process.stdout)
        lines = [line for line in (process.stdout + process.stderr).splitlines() if '"msg"' in line or 'ERROR' in line]
        message = found.group(1)[:400] if found else ' '.join(lines)[-400:]
    # ansible.posix.profile_tasks (when enabled) ends with one line per task: "NAME ---- 12.34s"
    task_times = {match.group(1): float(match.group(2)) for match in
                  re.finditer(r'^(\S+) -+ (\d+\.\d+)s$', process.stdout, re.MULTILINE)}
    summary = [line.split('BENCH ', 1)[1].rstrip('"') for line in process.stdout.splitlines() if 'BENCH {' in line]
    return elapsed, dict(failed=failed, msg=message, summary=json.loads(summary[-1].replace('\\"', '"')) if summary else None,
                         task_times=task_times)


def verdicts(result):
    """What the check concluded, counted: the same in every variant of one testbed layout."""
    counts = dict(domains=len(result['domains']), lame_on={}, found_on={}, missing_on={}, unreachable={}, errors=0,
                  tcp_only=0, delegation_problems=0)
    for entry in result['domains']:
        for key in ('found_on', 'missing_on', 'unreachable'):
            for label in entry[key]:
                counts[key][label] = counts[key].get(label, 0) + 1
        for label in entry['lame']:
            counts['lame_on'][label] = counts['lame_on'].get(label, 0) + 1
        counts['errors'] += len(entry['errors'])
        counts['tcp_only'] += len(entry['tcp_only'])
        delegation = entry.get('delegation') or {}
        counts['delegation_problems'] += bool(delegation.get('not_in_parent') or delegation.get('not_in_zone')
                                              or delegation.get('glue_mismatch'))
    return counts


def ratelimit_blocks(state_dir):
    """NSD's own word that it rate-limited: its ``ratelimit block`` log lines, per server."""
    blocks = {}
    for path in glob.glob(os.path.join(state_dir, 'dns', '*.log')):
        with open(path, errors='replace') as handle:
            count = sum(1 for line in handle if 'ratelimit block' in line)
        if count:
            blocks[os.path.basename(path)[:-len('.log')]] = count
    return blocks


def ours_in_process(collection_root, domains, resolver, nameserver_port):
    sys.path.insert(0, collection_root)
    from ansible_collections.fleetfix.remediate.plugins.module_utils import _dns, _federation  # pylint: disable=import-outside-toplevel
    client = _dns.DnsClient(resolvers=[resolver], timeout=3, retries=2, max_concurrency=64, nameserver_port=nameserver_port)
    started = time.monotonic()
    result = _federation.run(client, domains, [], nameserver_port=nameserver_port)
    elapsed = time.monotonic() - started
    checked = sum(len(entry['found_on']) + len(entry['missing_on']) for entry in result['domains'])
    # what the servers did to us: truncations, unanswered datagrams, TCP queries, window halvings
    totals = {}
    for state in client.servers.values():
        for key, value in state.counts.items():
            totals[key] = totals.get(key, 0) + value
    totals['tcp_only_servers'] = sum(1 for state in client.servers.values() if state.tcp_only)
    per_server = {'%s:%d' % server: dict(state.counts) for server, state in client.servers.items()}
    return elapsed, result, checked, client.query_count, totals, per_server


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--domains', type=int, default=1000)
    parser.add_argument('--port', type=int, default=53 if os.geteuid() == 0 else 5390,
                        help='testbed port (53 needs root and is the only port community.dns can use)')
    parser.add_argument('--skip-peer', action='store_true')
    parser.add_argument('--repeat', type=int, default=1, help='run each way this many times (interleaved); all runs are kept')
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix='bench-federation-dns-')
    figures = dict(domains=args.domains, port=args.port)
    collections = stage_collection(os.path.join(workdir, 'collections'))
    peer = None
    if not args.skip_peer:
        peer = subprocess.run([os.path.join(ROOT, 'tools', 'peer-venv.sh')], capture_output=True, text=True,
                              check=True).stdout.strip().splitlines()[-1]
    # The clean testbed (NSD's response-rate limiting off), then NSD's defaults (rate limiting on)
    # with ns2 behind a path that drops 5 % of the datagrams each way.
    variants = (('clean', ['--set', 'dns.rrl=off', '--set', 'dns.bench_lame=on']),
                ('rrl_loss', ['--set', 'dns.loss=0.05', '--set', 'dns.bench_lame=on']),
                ('clean_no_lame', ['--set', 'dns.rrl=off']))
    for variant, options in variants:
        state_dir = os.path.join(workdir, 'state-' + variant)
        launcher(state_dir, 'up', '--only', 'dns', '--set', 'dns.bench_domains=%d' % args.domains,
                 '--set', 'dns.port=%d' % args.port, *options)
        try:
            measure(variant, state_dir, collections, peer, args, workdir, figures.setdefault(variant, {}))
            figures[variant]['nsd_ratelimit_blocks'] = ratelimit_blocks(state_dir)
        finally:
            launcher(state_dir, 'down', '--only', 'dns')
    for variant, _options in variants:
        runs = figures[variant]
        for key in [key for key in runs if key.endswith('_runs_s')]:
            values = [value for value in runs[key] if value is not None]
            runs[key.replace('_runs_s', '_best_s')] = min(values) if values else None
    if figures['clean'].get('ours_check_best_s') and figures['rrl_loss'].get('ours_check_best_s'):
        figures['rrl_loss_over_clean_check'] = round(figures['rrl_loss']['ours_check_best_s'] /
                                                     figures['clean']['ours_check_best_s'], 2)
    if figures['clean'].get('ours_task_best_s') and figures['rrl_loss'].get('ours_task_best_s'):
        figures['rrl_loss_over_clean_task'] = round(figures['rrl_loss']['ours_task_best_s'] /
                                                    figures['clean']['ours_task_best_s'], 2)
    figures['same_verdicts_clean_rrl_loss'] = figures['clean'].get('verdicts') == figures['rrl_loss'].get('verdicts')
    write_results('federation_dns', figures)
    print(json.dumps(figures, indent=2))


def measure(variant, state_dir, collections, peer, args, workdir, figures):
    """Every way, ``--repeat`` times interleaved, on one running testbed; figures into ``figures``."""
    with open(os.path.join(state_dir, 'vars.yml')) as handle:
        testbed = yaml.safe_load(handle)
    domains = testbed['testbed_dns_bench_domains']
    resolver = testbed['testbed_dns_resolvers'][0]
    resolver_ip = resolver.split(':')[0]
    peer_playbook = records = wrapper = None
    our_collections, our_env = collections, {}
    if peer:
        peer_playbook = os.path.join(peer, 'bin', 'ansible-playbook')
        records = [dict(name=entry['name'], values=entry['proofs'], mode='subset') for entry in domains]
        # the task's own time for our playbook too: ansible.posix.profile_tasks from the peer's
        # collections (same ansible-core 2.19); fleetfix.remediate still comes from the stage
        our_collections = os.pathsep.join([collections] + glob.glob(os.path.join(peer, 'lib', 'python3*', 'site-packages')))
        our_env = dict(ANSIBLE_CALLBACKS_ENABLED='ansible.posix.profile_tasks')
        if variant == 'clean_no_lame':
            # as a user would run it: the system resolver knows nothing of the test zones
            elapsed, result = run_playbook(peer_playbook, PEER_PLAYBOOK % (json.dumps(records[:1]), json.dumps(resolver_ip), 20),
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

    playbook = OUR_PLAYBOOK % (json.dumps(domains), json.dumps(resolver))
    # The machine is shared: each way is run --repeat times, interleaved, and every run is kept.
    lame = variant != 'clean_no_lame'
    for round_number in range(args.repeat):
        figures.setdefault('load_average_1min', []).append(round(os.getloadavg()[0], 1))
        elapsed, result, checked, queries, totals, per_server = ours_in_process(collections, domains, resolver, args.port)
        figures.setdefault('ours_check_runs_s', []).append(round(elapsed, 2))
        figures['ours_check_ok'] = figures.get('ours_check_ok', True) and result['ok']
        figures['ours_nameserver_checks'] = checked
        figures.setdefault('ours_queries', []).append(queries)
        figures.setdefault('ours_server_counts', []).append(totals)
        figures.setdefault('ours_per_server_counts', []).append(per_server)
        counted = verdicts(result)
        if figures.setdefault('verdicts', counted) != counted:
            figures.setdefault('verdicts_differ', []).append(counted)
        if not result['ok'] and not lame:
            figures['ours_check_msg'] = result['msg'][:500]
        print('%s: ours, in-process check: %.2f s, ok=%s, %d domain x nameserver checks, %d queries, %s, verdicts %s'
              % (variant, elapsed, result['ok'], checked, queries, totals, json.dumps(counted)))

        elapsed, result = run_playbook(os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), playbook, workdir, our_collections,
                                       extra_env=our_env)
        figures.setdefault('ours_playbook_runs_s', []).append(round(elapsed, 2))
        figures.setdefault('ours_task_runs_s', []).append(result['task_times'].get('fleetfix.remediate.federation_dns'))
        # with the lame ns3 the task fails (as it should): the verdicts are compared in-process
        figures['ours_playbook_ok'] = figures.get('ours_playbook_ok', True) and not result['failed']
        note = '' if not result['failed'] else str(result.get('msg'))[:200]
        print('%s: ours, ansible-playbook: %.2f s (the task: %s s), ok=%s %s'
              % (variant, elapsed, figures['ours_task_runs_s'][-1], not result['failed'], note))

        if wrapper and lame and round_number == 0:
            # it stops at the first REFUSED answer (ns3, lame): it cannot check these records at all
            elapsed, result = run_playbook(peer_playbook, PEER_PLAYBOOK % (json.dumps(records), json.dumps(resolver_ip), 60),
                                           workdir, os.path.join(peer, 'lib'), wrapper=wrapper,
                                           extra_env=dict(ANSIBLE_CALLBACKS_ENABLED='ansible.posix.profile_tasks'))
            figures['peer_on_lame'] = dict(seconds=round(elapsed, 2), failed=result['failed'], msg=str(result.get('msg', ''))[:300])
            print('%s: community.dns.wait_for_txt with the lame ns3: %.2f s, failed=%s %s'
                  % (variant, elapsed, result['failed'], figures['peer_on_lame']['msg']))
        elif wrapper and not lame:
            elapsed, result = run_playbook(peer_playbook, PEER_PLAYBOOK % (json.dumps(records), json.dumps(resolver_ip), 600),
                                           workdir, os.path.join(peer, 'lib'), wrapper=wrapper,
                                           extra_env=dict(ANSIBLE_CALLBACKS_ENABLED='ansible.posix.profile_tasks'))
            figures.setdefault('peer_runs_s', []).append(round(elapsed, 2))
            figures.setdefault('peer_task_runs_s', []).append(result['task_times'].get('community.dns.wait_for_txt'))
            figures['peer_ok'] = figures.get('peer_ok', True) and not result['failed']
            figures['peer_checked'] = result['summary']
            note = '' if not result['failed'] else str(result.get('msg', ''))[:300]
            print('%s: community.dns.wait_for_txt, resolv.conf pointed at the testbed: %.2f s (the task: %s s), all found=%s, '
                  'checked %s %s' % (variant, elapsed, figures['peer_task_runs_s'][-1], not result['failed'], result['summary'], note))


if __name__ == '__main__':
    main()
