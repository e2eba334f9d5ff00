# Private to this repository's benchmarks.
"""What every benchmark under bench/ shares: where things are, the testbed launcher, staging, the results file."""

import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')


def launcher(state_dir, *args):
    """``python -m testbed <args>`` on the benchmark's own state folder (tests/testbed)."""
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, 'tests', 'testbed'))
    subprocess.run([PYTHON, '-m', 'testbed'] + list(args) + ['--state-dir', state_dir], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def stage_collection(target):
    """The collection staged under ``target`` (``make stage``); returns ``target``."""
    subprocess.run(['make', '-s', 'stage', 'STAGE_ROOT=%s' % target], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return target


def write_results(name, figures):
    """The figures as JSON in bench/.results/<name>.json."""
    results = os.path.join(HERE, '.results')
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, '%s.json' % name), 'w', encoding='utf-8') as handle:
        json.dump(figures, handle, indent=2)
