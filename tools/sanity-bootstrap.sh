#!/usr/bin/env bash
# Private to this repository's build. ansible-test sanity downloads pip's bootstrap script
# into its cache; where that host cannot be reached, put the offline stand-in there instead.
# A machine that already has the cached script (or internet) is left as it is.
set -euo pipefail
python=${1:-python3}
version=$("$python" - <<'PY'
import inspect, re
from ansible_test._internal import python_requirements
source = inspect.getsource(python_requirements.get_venv_packages)
print(re.search(r"pip='([0-9.]+)'", source).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
if [ -s "$cache" ]; then
  echo "sanity: pip ${version} bootstrap script already cached at $cache"
  exit 0
fi
url="https://ci-files.testing.ansible.com/ansible-test/get-pip-${version}.py"
mkdir -p "$(dirname "$cache")"
if "$python" - "$url" "$cache.download" <<'PY' 2>/dev/null
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as answer, open(sys.argv[2], 'wb') as out:
    out.write(answer.read())
PY
then
  mv "$cache.download" "$cache"
  echo "sanity: downloaded pip ${version} bootstrap script"
else
  rm -f "$cache.download"
  cp "$(dirname "$0")/get_pip_offline.py" "$cache"
  echo "sanity: pip bootstrap host unreachable; using the offline stand-in at $cache"
fi
