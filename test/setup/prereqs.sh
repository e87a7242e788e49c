#!/usr/bin/env bash
# Installs what the test suite and benchmarks need outside npm: dig, dnsperf, NSD and chromium from
# Debian, openssl for the harness's certificates, and the Go-built real peers (etcd, kube-apiserver,
# CoreDNS), which test/peers/build.sh caches under ~/.cache/clusterset-dns so reruns take seconds.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
command -v nsd >/dev/null 2>&1 || [ -x /usr/sbin/nsd ] || need+=(nsd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# `ip netns` for the reachability test's data paths (test/helpers/netns.ts).
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || need+=(iproute2)
# Headless Debian chromium for the status-page test (test/e2e/status-page.test.ts).
command -v chromium >/dev/null 2>&1 || need+=(chromium)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "prereqs: missing ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "prereqs: installing ${need[*]} from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's nsd package starts a system service on port 53; the tests run their own instances.
  if command -v systemctl >/dev/null 2>&1; then systemctl disable --now nsd >/dev/null 2>&1 || true; fi
  pkill -x nsd >/dev/null 2>&1 || true
fi

if [ -f test/peers/build.sh ]; then
  bash test/peers/build.sh
fi
