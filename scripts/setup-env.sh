# Sourced by scripts/serve and scripts/test: makes .venv with the pinned packages.
# Usage: setup_python requirements.txt|requirements-dev.txt
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"

setup_python() {
  local requirements="$1"
  if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then
      # Debian's python3 ships without venv; install it when we may.
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        rm -rf .venv && "$PYTHON" -m venv .venv
      else
        echo "error: '$PYTHON -m venv' failed; install python3-venv (Debian) and retry" >&2
        exit 1
      fi
    fi
  fi
  # Reinstall only when the pinned lists change, so repeat runs start at once.
  local stamp=".venv/.installed-$(basename "$requirements")"
  local digest
  digest="$(cat requirements*.txt | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
    echo "$digest" > "$stamp"
  fi
}
