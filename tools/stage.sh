#!/usr/bin/env bash
# Private to this repository's build. Copy the collection (the files git tracks, plus new
# files it does not ignore) to DEST/ansible_collections/fleetfix/remediate, where
# ansible-test wants it. Nothing ignored (virtual environments, test output, testbed state)
# is copied, so sanity sees exactly what would be committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: stage.sh DEST}
target="$dest/ansible_collections/fleetfix/remediate"
mkdir -p "$target"
cd "$root"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -co --exclude-standard -z | while IFS= read -r -d '' file; do
    [ -e "$file" ] && printf '%s\0' "$file"
  done > "$dest/.files"
  rsync -a --from0 --files-from="$dest/.files" ./ "$target/"
  # Files deleted from the work tree must leave the copy too.
  # (not the copy's own .git: in a git worktree the root's .git is a file, so nothing there matches)
  ( cd "$target" && find . -path ./.git -prune -o -type f -not -path './tests/output/*' -printf '%P\0' ) | while IFS= read -r -d '' file; do
    [ -e "$root/$file" ] || rm -f "$target/$file"
  done
else
  rsync -a --delete --exclude .venv --exclude build --exclude tests/output --exclude tests/testbed/.state ./ "$target/"
fi
# ansible-test lists a collection's files with git when it sits in a work tree. The copy lies
# inside this repository's ignored build/ folder, so give it a repository of its own: its
# files are then untracked-but-not-ignored, which ansible-test includes.
[ -d "$target/.git" ] || git init -q "$target"
echo "$target"
