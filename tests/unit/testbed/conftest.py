# Private to this repository's tests: make the testbed launcher (tests/testbed/testbed) importable.
from __future__ import annotations

import os
import sys

TESTBED_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', 'testbed'))
if TESTBED_DIR not in sys.path:
    sys.path.insert(0, TESTBED_DIR)
