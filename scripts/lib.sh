# Shared by scripts/demo and scripts/test: install what is missing, say what is happening.
# shellcheck shell=bash

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else return 1
  fi
}

APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  if [ -z "$APT_UPDATED" ]; then
    as_root apt-get update -qq >/dev/null || return 1
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_uv() {
  export PATH="$HOME/.local/bin:$PATH"
  if command -v uv >/dev/null 2>&1; then return; fi
  command -v python3 >/dev/null 2>&1 || die "python3 is needed (3.11 or newer)"
  say "installing uv"
  python3 -m pip install --quiet --user uv 2>/dev/null \
    || python3 -m pip install --quiet uv 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages --user uv \
    || die "could not install uv with pip"
  hash -r
  command -v uv >/dev/null 2>&1 || die "uv was installed but is not on PATH (looked in ~/.local/bin)"
}

ensure_python_packages() {
  say "installing Python packages (uv sync)"
  uv sync --frozen --quiet
}

ensure_npm_packages() {
  command -v npm >/dev/null 2>&1 || die "Node.js and npm are needed for the UI's front-end packages"
  local stamp="node_modules/.depotgrid-lock"
  if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp" \
     && [ -d src/depotgrid/manage/web/static/vendor ] && [ -d src/depotgrid/sim/web/static/vendor ]; then
    return
  fi
  say "installing front-end packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  cp package-lock.json "$stamp"
}

ensure_mosquitto() {
  if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then return; fi
  [ -n "${DEPOTGRID_TEST_MQTT_URL:-}" ] && return
  say "installing Debian's mosquitto (MQTT broker for the gateway packet tests)"
  apt_install mosquitto || die "could not install mosquitto (apt-get install mosquitto)"
}

ensure_chromium() {
  if command -v chromium >/dev/null 2>&1; then return; fi
  say "installing Debian's Chromium for the UI tests"
  apt_install chromium || die "could not install chromium (apt-get install chromium)"
}
