#!/usr/bin/env bash
# Moot's one test command: formatting, lints, Rust tests, the web client's type check, and the
# browser end-to-end tests (real Chromium and Firefox ESR, fake camera and microphone) in a private network
# namespace. Installs what is missing on a fresh Debian machine (rust, cargo, node and npm must
# be there), and is quick when everything already is.
#
#   ./scripts/test.sh           everything, failing fast
#   ./scripts/test.sh e2e       only the browser tests (builds the server first)
#   ./scripts/test.sh rust      only fmt, clippy, cargo test
#
# Environment: E2E_FILES="tests/e2e/x.test.mjs ..." to run some browser tests only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
WHAT=${1:-all}
case "$WHAT" in all | e2e | rust) ;; *)
  echo "usage: $0 [all|e2e|rust]" >&2
  exit 2
  ;;
esac

START=$SECONDS
if [ -t 1 ]; then BOLD=$'\033[1m' RED=$'\033[1;31m' OFF=$'\033[0m'; else BOLD='' RED='' OFF=''; fi
section() {
  printf '\n%s==== %s  (%ss)%s\n' "$BOLD" "$*" "$((SECONDS - START))" "$OFF"
}
fail() {
  printf '\n%sFAILED: %s (after %ss)%s\n' "$RED" "$*" "$((SECONDS - START))" "$OFF" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    fail "need root (or sudo) to run: $*"
  fi
}

# ---------------------------------------------------------------------------------------------
section "Setup: system packages"
missing=()
command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || missing+=(chromium)
# Firefox ESR for tests/e2e/e2ee-firefox.test.mjs (driven by puppeteer-core).
command -v firefox-esr >/dev/null || [ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v ip >/dev/null || [ -x /usr/sbin/ip ] || missing+=(iproute2)
# A real TURN relay for tests/e2e/turn-relay.test.mjs (started by the test, never as a service).
command -v turnserver >/dev/null || [ -x /usr/bin/turnserver ] || missing+=(coturn)
# nft drops all UDP inside the test namespace for tests/e2e/ice-tcp.test.mjs.
command -v nft >/dev/null || [ -x /usr/sbin/nft ] || missing+=(nftables)
# Let's Encrypt's test CA for tests/e2e/acme.test.mjs (pebble + pebble-challtestsrv, started by
# the test), and openssl to make the certificate of Pebble's own API there.
command -v pebble >/dev/null || [ -x /usr/bin/pebble ] || missing+=(pebble)
command -v openssl >/dev/null || missing+=(openssl)
if [ "$WHAT" != rust ] && [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  # The first install on a fresh machine can fail once with a dpkg "cannot access archive"
  # error; a second try goes through.
  if ! as_root apt-get install -y -q "${missing[@]}"; then
    echo "apt-get install failed once; retrying"
    sleep 2
    as_root apt-get install -y -q "${missing[@]}" || fail "apt-get install ${missing[*]}"
  fi
else
  echo "chromium, firefox-esr, ffmpeg, iproute2, coturn, nftables, pebble, openssl: present (or not needed)"
fi
PATH=$PATH:/usr/sbin:/sbin

# ---------------------------------------------------------------------------------------------
section "Setup: npm packages (tests/e2e)"
(
  cd tests/e2e
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 # we drive Debian's Chromium, never a downloaded one
  if [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] ||
    { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
    if [ -f package-lock.json ]; then
      npm ci --no-audit --no-fund
    else
      npm install --no-audit --no-fund
    fi
  else
    echo "node_modules up to date"
  fi
)

if [ "$WHAT" = all ] || [ "$WHAT" = rust ]; then
  # -------------------------------------------------------------------------------------------
  section "cargo fmt --check"
  cargo fmt --all -- --check || fail "cargo fmt: run 'cargo fmt --all'"

  section "cargo clippy (-D warnings)"
  cargo clippy --workspace --all-targets -- -D warnings || fail "cargo clippy"

  section "cargo test"
  cargo test --workspace || fail "cargo test"
fi

if [ "$WHAT" = rust ]; then
  section "Done: all passed"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
section "cargo build (moot binary)"
cargo build -p moot-server --bin moot || fail "cargo build -p moot-server --bin moot"

if [ "$WHAT" = all ]; then
  section "Type check of the web client (tsc --noEmit -p web/jsconfig.json)"
  if [ -f web/jsconfig.json ]; then
    tests/e2e/node_modules/.bin/tsc --noEmit -p web/jsconfig.json || fail "tsc on web/"
  else
    echo "WARNING: web/jsconfig.json does not exist yet: type check skipped" >&2
  fi

  if [ -d web/tests ]; then
    section "Web client unit tests (node --test web/tests/)"
    node --test --test-reporter=spec web/tests/ || fail "web client unit tests"
  fi
fi

# ---------------------------------------------------------------------------------------------
section "Browser end-to-end tests (Chromium, Firefox ESR, private network namespace)"
# Test media is made before entering the namespace (ffmpeg needs nothing from outside, but a
# failure here is clearer on its own).
node -e "import('./tests/e2e/lib/media.mjs').then(m => console.log('test media:', m.ensureMedia()))" ||
  fail "generating test media with ffmpeg"

FILES=${E2E_FILES:-$(echo tests/e2e/*.test.mjs)}
# shellcheck disable=SC2016 # $FILES is expanded inside the namespace's shell
# --test-force-exit: a test that timed out must not leave the run hanging on open handles.
INNER='ip link set lo up && exec node --test --test-concurrency=1 --test-force-exit --test-reporter=spec $FILES'
if [ "$(id -u)" = 0 ]; then
  NS=(unshare -n --)
else
  NS=(unshare -r -n --) # an unprivileged user namespace maps us to root inside it
fi
# A bound on the whole run (it takes about a minute), so a hang cannot eat CI's time.
FILES=$FILES timeout --kill-after=30 ${E2E_TIMEOUT:-900} "${NS[@]}" bash -c "$INNER" ||
  fail "browser end-to-end tests (failure output above; screenshots in tests/e2e/results/)"

section "Done: all passed"
