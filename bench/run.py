#!/usr/bin/env python
# Private to this repository's benchmarks.
"""Run every benchmark under bench/ (bench_*.py), each in its own process, and print their tables.

Each benchmark script prints a Markdown table of its figures and writes the same figures as
JSON to bench/.results/<name>.json. Pass names to run only some: ``bench/run.py esxi_time``.
"""

import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    scripts = sorted(glob.glob(os.path.join(HERE, 'bench_*.py')))
    wanted = set(argv)
    if wanted:
        scripts = [path for path in scripts if os.path.basename(path)[6:-3] in wanted]
    if not scripts:
        print('bench: no benchmark matched %s' % (', '.join(sorted(wanted)) or 'bench/bench_*.py'))
        return 1
    failed = []
    for path in scripts:
        name = os.path.basename(path)[6:-3]
        print('== benchmark %s' % name, flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, path])
        print('   (%s took %.0f s, exit %d)\n' % (name, time.monotonic() - started, code), flush=True)
        if code:
            failed.append(name)
    if failed:
        print('bench: failed: %s' % ', '.join(failed))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
