#!/usr/bin/env bash
# The test command of the README: install the system packages the tests need where this user can,
# set up .venv, then lint, format check, types and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# rsyslog and its TLS module (rsyslog-gnutls) for the syslog tests, which talk to a private
# rsyslogd on loopback; prometheus (server and promtool) for the dashboard and alert tests, which
# start their own server on a free port. Installed as root with apt-get; elsewhere those tests
# skip, naming the package.
installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
missing=()
for package in rsyslog rsyslog-gnutls prometheus; do installed "$package" || missing+=("$package"); done
apt_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if [ ${#missing[@]} -gt 0 ]; then
  if ! apt_install "${missing[@]}"; then
    echo "tests/run.sh: could not install ${missing[*]} (needs root, apt-get and its mirror): the" \
      "tests that need them will skip (with CI set, fail); install with: sudo apt-get install ${missing[*]}" >&2
  elif [[ " ${missing[*]} " == *" prometheus "* ]] && /etc/init.d/prometheus status >/dev/null 2>&1; then
    # Without systemd the package starts its own server on :9090; the tests start theirs on free
    # ports, so stop the one just installed (a server that was here before is the machine's).
    /etc/init.d/prometheus stop >/dev/null
  fi
fi

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[test]'
.venv/bin/ruff check plugins tests
.venv/bin/ruff format --check plugins tests
.venv/bin/mypy --strict plugins
.venv/bin/python -m pytest "$@"
