# Sourced by scripts/dev and scripts/test: make .venv from requirements-dev.lock (every
# package at an exact version, each file checked against its hash) plus the project itself,
# rebuilding it only when a lock or pyproject.toml changed. Needs nothing but Python 3.11+.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-}"
if [ -z "$py" ]; then
  # 3.11 first: the locks are compiled for it (README, Dependencies).
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      py="$candidate"; break
    fi
  done
fi
[ -n "$py" ] || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
stamp="$(cat pyproject.toml requirements.lock requirements-dev.lock | sha256sum | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.deps-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "==> installing the locked dependencies into a fresh .venv"
  # Fresh, not upgraded in place: a package dropped from the lock must not linger and
  # hide that something still needs it.
  "$py" -m venv --clear .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q --require-hashes -r requirements-dev.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  if ! problems="$(.venv/bin/python -m pip check)"; then
    echo "$problems" >&2
    echo "requirements-dev.lock does not satisfy pyproject.toml: refresh the locks" \
         "(README, Dependencies)" >&2
    exit 1
  fi
  echo "$stamp" > .venv/.deps-stamp
fi
export PATH="$root/.venv/bin:$PATH"
