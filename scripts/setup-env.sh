# Sourced by scripts/serve, scripts/test and scripts/bench: makes .venv with the pinned packages.
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

# Usage: setup_azure (after setup_python requirements.txt). Azure OpenAI with Microsoft
# Entra ID needs azure-identity: installed only when AZURE_OPENAI_ENDPOINT is set, in the
# environment or in .env (which the app reads).
setup_azure() {
  if [ -n "${AZURE_OPENAI_ENDPOINT:-}" ] || grep -Eqs '^[[:space:]]*AZURE_OPENAI_ENDPOINT=[^[:space:]#]' .env; then
    setup_python requirements-azure.txt
  fi
}

# Usage: setup_node. Installs package-lock.json's pins (only when the lock changes), then
# copies the page's browser libraries into static/vendor/ (git-ignored, served by WhiteNoise).
setup_node() {
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
    else
      echo "error: npm not found; install Node.js 20+ and retry" >&2
      exit 1
    fi
  fi
  local lock vendor
  lock="$(sha256sum package-lock.json | cut -d' ' -f1)"
  if [ "$(cat node_modules/.installed-lock 2>/dev/null)" != "$lock" ]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock" > node_modules/.installed-lock
  fi
  # The vendor copy also depends on this script (which files it takes).
  vendor="$(cat package-lock.json scripts/setup-env.sh | sha256sum | cut -d' ' -f1)"
  if [ "$(cat static/vendor/.installed-lock 2>/dev/null)" != "$vendor" ]; then
    build_vendor "$vendor"
  fi
}

# Build static/vendor/ beside it, then swap it in with one rename, so a server or test
# running meanwhile never sees a half-copied directory.
build_vendor() {
  local build=node_modules/.vendor-build m=node_modules
  rm -rf "$build" && mkdir -p "$build/highlight"
  cp "$m/marked/lib/marked.esm.js" "$m/marked/lib/marked.esm.js.map" "$build/"
  # Renamed to .js: the module MIME type then does not depend on Python knowing .mjs.
  cp "$m/dompurify/dist/purify.es.mjs" "$build/purify.es.js"
  cp "$m/dompurify/dist/purify.es.mjs.map" "$build/"
  # highlight.js's own browser build: one minified ES module with its "common" languages.
  local hljs="$m/@highlightjs/cdn-assets"
  cp "$hljs/es/highlight.min.js" "$hljs/styles/github.min.css" "$hljs/styles/github-dark.min.css" \
    "$build/highlight/"
  local pkg
  for pkg in marked dompurify; do
    cp "$m/$pkg/LICENSE" "$build/LICENSE.$pkg"
  done
  cp "$hljs/LICENSE" "$build/LICENSE.highlight.js"
  echo "$1" > "$build/.installed-lock"
  rm -rf static/vendor.old
  if [ -d static/vendor ]; then mv static/vendor static/vendor.old; fi
  mv "$build" static/vendor
  rm -rf static/vendor.old
}

# Usage: install_tokenizers (after setup_python and setup_node). Rebuilds tiktoken's
# o200k_base and cl100k_base files from the js-tiktoken package into instance/tokenizers/
# (git-ignored) and keeps each only when its sha256 is the one tiktoken checks for it
# (streamchat/budgets/encodings.py); the app never downloads them. A no-op when they are there.
install_tokenizers() {
  .venv/bin/python -c 'from streamchat.budgets.encodings import main; main()'
}

# Usage: precompress_static (after setup_python and setup_node). Writes the brotli and
# gzip copy of static/ that the app serves (instance/static/<version>/, git-ignored), so
# no worker has to make it at start-up; a no-op when this version's copy exists.
precompress_static() {
  .venv/bin/python -m streamchat.web.static_files
}
