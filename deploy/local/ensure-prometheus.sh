#!/usr/bin/env bash
# Make sure `prometheus` and `promtool` are on PATH (Debian's `prometheus` package).
#
# Idempotent: does nothing when both are there. `make lint` runs it (promtool checks the alert
# rules) and so does the monitoring integration test (a real Prometheus on loopback). Other
# people may be running apt at the same time on a shared machine: wait for the dpkg lock rather
# than failing. The package's own service is stopped and disabled: tests start their own
# Prometheus on a free loopback port, and nothing should hold :9090 behind their back.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have prometheus && have promtool; then
  exit 0
fi
have apt-get || { echo "ensure-prometheus: prometheus/promtool missing and no apt-get; install Prometheus 2.x" >&2; exit 1; }
sudo=""
if [[ "$(id -u)" != 0 ]]; then
  have sudo || { echo "ensure-prometheus: installing prometheus needs root (apt-get install prometheus)" >&2; exit 1; }
  sudo="sudo"
fi

log_file="${TMPDIR:-/tmp}/apt-install-prometheus.$$.log"
apt_get() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
echo "ensure-prometheus: installing Debian's prometheus package (promtool) with apt-get" >&2
# policy-rc.d 101: the package must not start its daemon during the install (no systemd here,
# or a systemd we do not want a :9090 service on); removed again whatever happens.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy" && own_policy=1
fi
cleanup() { if [[ "$own_policy" == 1 ]]; then $sudo rm -f "$policy"; fi; }
trap cleanup EXIT
if ! { apt_get update -qq && apt_get install -y -qq --no-install-recommends prometheus; } >"$log_file" 2>&1 </dev/null; then
  tail -n 30 "$log_file" >&2
  echo "ensure-prometheus: apt-get install prometheus failed (full output: $log_file)" >&2
  exit 1
fi
if [[ -d /run/systemd/system ]] && have systemctl; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
elif have service; then
  $sudo service prometheus stop >/dev/null 2>&1 || true
fi
have prometheus && have promtool || { echo "ensure-prometheus: the package did not provide prometheus and promtool" >&2; exit 1; }
echo "ensure-prometheus: $(promtool --version 2>&1 | head -1)" >&2
