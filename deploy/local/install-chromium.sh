#!/usr/bin/env bash
# Debian's chromium for the review app's browser tests (Playwright drives it through
# executable_path; Playwright never downloads a browser of its own). Idempotent: does nothing
# when chromium is already installed. Prints the executable's path on its last line.
#
# Several people may run apt on one machine at once: DPkg::Lock::Timeout makes apt wait for
# the dpkg lock (up to 10 minutes) instead of failing.
set -euo pipefail

find_chromium() {
  local name
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  return 1
}

if path="$(find_chromium)"; then
  printf '%s\n' "$path"
  exit 0
fi

command -v apt-get >/dev/null 2>&1 || { echo "chromium is missing and apt-get is not available: install Debian's chromium" >&2; exit 1; }
sudo=""
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "installing chromium needs root (apt-get install chromium)" >&2; exit 1; }
  sudo="sudo"
fi
log="${TMPDIR:-/tmp}/apt-install-chromium.$$.log"
echo "[chromium] installing Debian's chromium with apt-get (log: $log)" >&2
apt=(apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
if ! { $sudo "${apt[@]}" update -qq \
       && $sudo env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends chromium fonts-dejavu-core; } \
     >"$log" 2>&1 </dev/null; then
  tail -n 30 "$log" >&2
  echo "apt-get install chromium failed (full output: $log)" >&2
  exit 1
fi
path="$(find_chromium)" || { echo "apt-get install chromium did not provide a chromium executable" >&2; exit 1; }
printf '%s\n' "$path"
