#!/usr/bin/env python
# Private to this repository's benchmarks.
"""The compliance report at estate scale: build and write it, then open it in headless Chromium.

``.venv/bin/python bench/bench_compliance_report.py [--sizes 2000:200:1000] [--repeat 3]`` generates the
capability roles' results for N ESXi hosts, M Exchange servers and D domains (the integration target's
estate.py), runs the compliance_report role on them in one ``ansible-playbook`` run (wall seconds of the
role's tasks), and opens the HTML page at 1,280 px in headless Chromium through Selenium (the target's
browse.py): file sizes, seconds until the page is loaded and painted, DOMContentLoaded and load events.
No testbed is needed.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import PYTHON, ROOT, stage_collection, write_results  # noqa: E402

FILES = os.path.join(ROOT, 'tests', 'integration', 'targets', 'role_compliance_report', 'files')
PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_vars: {estate}
    - ansible.builtin.add_host:
        name: "{{{{ item.key }}}}"
        groups: estate_vcenters
        esxi_time_result: "{{{{ item.value.result }}}}"
        esxi_time_info_result: "{{{{ item.value.info }}}}"
      loop: "{{{{ estate_vcenters | ansible.builtin.dict2items }}}}"
    - ansible.builtin.add_host:
        name: "{{{{ item.key }}}}"
        groups: estate_exchange
        dcom_10009_result: "{{{{ item.value }}}}"
      loop: "{{{{ estate_exchange | ansible.builtin.dict2items }}}}"
    - ansible.builtin.add_host:
        name: estate-dns
        federation_dns_result: "{{{{ estate_dns }}}}"
    - ansible.builtin.set_fact:
        started: "{{{{ now(utc=true).timestamp() }}}}"
    - ansible.builtin.include_role:
        name: fleetfix.remediate.compliance_report
      vars:
        compliance_report_output_dir: {output}
        compliance_report_vcenter_hosts: "{{{{ groups['estate_vcenters'] }}}}"
        compliance_report_exchange_hosts: "{{{{ groups['estate_exchange'] }}}}"
        compliance_report_dns_hosts: [estate-dns]
    - ansible.builtin.debug:
        msg: "ROLE_SECONDS {{{{ now(utc=true).timestamp() - started | float }}}}"
'''


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--sizes', default='2000:200:1000', help='ESXi:Exchange:domains[,...]')
    parser.add_argument('--repeat', type=int, default=3, help='page openings per size')
    options = parser.parse_args()
    work = tempfile.mkdtemp(prefix='bench-report-')
    stage = stage_collection(os.path.join(work, 'stage'))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=stage, SE_AVOID_STATS='true', ANSIBLE_NOCOLOR='1')
    with open(os.path.join(work, 'inventory'), 'w') as handle:
        handle.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % PYTHON)
    rows = []
    for size in options.sizes.split(','):
        esxi, exchange, domains = size.split(':')
        estate = os.path.join(work, 'estate-%s.json' % size.replace(':', '-'))
        subprocess.run([PYTHON, os.path.join(FILES, 'estate.py'), estate, esxi, exchange, domains], check=True, stdout=subprocess.DEVNULL)
        output = os.path.join(work, 'report-%s' % size.replace(':', '-'))
        playbook = os.path.join(work, 'play.yml')
        with open(playbook, 'w') as handle:
            handle.write(PLAYBOOK.format(estate=estate, output=output))
        started = time.monotonic()
        run = subprocess.run([os.path.join(ROOT, '.venv', 'bin', 'ansible-playbook'), '-i', os.path.join(work, 'inventory'), playbook],
                             env=env, check=True, capture_output=True, text=True)
        playbook_seconds = time.monotonic() - started
        role_seconds = float(run.stdout.split('ROLE_SECONDS ')[1].split('"')[0])
        html = os.path.join(output, 'fleetfix-compliance.html')
        opened = []
        for number in range(options.repeat):
            seen = subprocess.run([PYTHON, os.path.join(FILES, 'browse.py'), html, os.path.join(work, 'shot.png'),
                                   os.path.join(work, 'profile-%d' % number), '[]'],
                                  env=env, check=True, capture_output=True, text=True)
            opened.append(json.loads(seen.stdout))
        sizes = dict((name, os.path.getsize(os.path.join(output, 'fleetfix-compliance' + suffix)))
                     for name, suffix in (('html', '.html'), ('json', '.json'), ('junit', '.junit.xml'), ('markdown', '.md')))
        rows.append({
            'esxi': int(esxi), 'exchange': int(exchange), 'domains': int(domains), 'bytes': sizes,
            'role_seconds': round(role_seconds, 2), 'playbook_seconds': round(playbook_seconds, 2),
            'rendered_seconds': statistics.median(item['seconds_to_rendered'] for item in opened),
            'dom_content_loaded_ms': statistics.median(item['dom_content_loaded_ms'] for item in opened),
            'load_ms': statistics.median(item['load_ms'] for item in opened),
            'overflow': opened[0]['overflow']['scroll'] > opened[0]['overflow']['client'],
        })
    print('| ESXi / Exchange / domains | HTML | JSON | JUnit | role (s) | page loaded and painted (s) | DOMContentLoaded (ms) | load (ms) |')
    print('|---|---:|---:|---:|---:|---:|---:|---:|')
    for row in rows:
        print('| %d / %d / %d | %.1f MB | %.1f MB | %.1f MB | %.1f | %.2f | %d | %d |' % (
            row['esxi'], row['exchange'], row['domains'], row['bytes']['html'] / 1e6, row['bytes']['json'] / 1e6,
            row['bytes']['junit'] / 1e6, row['role_seconds'], row['rendered_seconds'], row['dom_content_loaded_ms'], row['load_ms']))
    write_results('compliance_report', rows)


if __name__ == '__main__':
    main()
