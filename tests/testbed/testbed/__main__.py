# Private to this repository's tests; see core.py.
"""Command line: python -m testbed up|down|status|build."""

import sys

from testbed.cli import main

sys.exit(main())
