#!/usr/bin/env python
# Private to this repository's build. An offline stand-in for pip's get-pip.py bootstrap
# script, which ansible-test sanity downloads from a host some machines cannot reach.
"""Bootstrap pip into the running interpreter from ensurepip, then install the requested packages.

ansible-test runs ``python get-pip.py [pip options] pip==X ...`` inside a fresh virtual
environment. ``ensurepip`` gives that environment the pip bundled with Python; then pip
installs what was asked for (upgrading itself to the pinned version). ansible-test hands
pip a filtered environment without PIP_CERT, so the system CA bundle is passed explicitly
when it exists.
"""

import ensurepip
import os
import subprocess
import sys

SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'
UNSUPPORTED = ('--no-setuptools', '--no-wheel')


def main():
    ensurepip.bootstrap(upgrade=True)
    arguments = [arg for arg in sys.argv[1:] if arg not in UNSUPPORTED]
    command = [sys.executable, '-m', 'pip', 'install']
    if os.path.exists(SYSTEM_CA_BUNDLE):
        command += ['--cert', SYSTEM_CA_BUNDLE]
    return subprocess.call(command + arguments)


if __name__ == '__main__':
    sys.exit(main())
