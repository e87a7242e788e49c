#!/usr/bin/env bash
# Builds the real peer binaries the integration tests run against (etcd, kube-apiserver, CoreDNS)
# from their Go modules, once, and caches them by version:
#   ${CLUSTERSET_DNS_CACHE:-$HOME/.cache/clusterset-dns}/bin/<tool>-<version>
# A rerun with everything cached only checks the files and exits in well under a second.
#
# Usage: test/peers/build.sh [--print] [etcd] [kube-apiserver] [coredns]
#   no tool named  build all three
#   --print        after building, print "<tool>=<path>" lines (used by test/harness/binaries.ts)
#
# Environment: GO (default: go on PATH, else /usr/local/go/bin/go), CLUSTERSET_DNS_CACHE,
#   CLUSTERSET_BUILD_JOBS (go build -p, default 2), CLUSTERSET_BUILD_NICE (default 10).
# Needs: Go >= 1.26 and the Go module proxy. Nothing else is downloaded.
set -euo pipefail

ETCD_VERSION=v3.6.16
KUBE_VERSION=v1.36.3
COREDNS_VERSION=v1.15.0

CACHE_DIR="${CLUSTERSET_DNS_CACHE:-$HOME/.cache/clusterset-dns}"
BIN_DIR="$CACHE_DIR/bin"
BUILD_DIR="$CACHE_DIR/build"
JOBS="${CLUSTERSET_BUILD_JOBS:-2}"
NICE="${CLUSTERSET_BUILD_NICE:-10}"

export GOTOOLCHAIN=local
export GOFLAGS=-mod=mod
export CGO_ENABLED=0

log() { printf '[peers/build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
set -E
trap 'log "error: command failed (exit $?) at line $LINENO: $BASH_COMMAND"' ERR

PRINT=0
TOOLS=()
for arg in "$@"; do
  case "$arg" in
    --print) PRINT=1 ;;
    etcd|kube-apiserver|coredns) TOOLS+=("$arg") ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (expected --print, etcd, kube-apiserver, coredns)" ;;
  esac
done
[ ${#TOOLS[@]} -gt 0 ] || TOOLS=(etcd kube-apiserver coredns)

bin_path() {
  case "$1" in
    etcd) echo "$BIN_DIR/etcd-$ETCD_VERSION" ;;
    kube-apiserver) echo "$BIN_DIR/kube-apiserver-$KUBE_VERSION" ;;
    coredns) echo "$BIN_DIR/coredns-$COREDNS_VERSION" ;;
  esac
}

find_go() {
  if [ -n "${GO:-}" ]; then echo "$GO"; return; fi
  if command -v go >/dev/null 2>&1; then command -v go; return; fi
  if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return; fi
  die "Go toolchain not found: install Go >= 1.26 or set GO=/path/to/go"
}

# gobuild <outfile> <package> [ldflags]: niced, bounded parallelism, static, stripped.
gobuild() {
  local out="$1" pkg="$2" ldflags="${3:-}"
  nice -n "$NICE" "$GOBIN" build -p "$JOBS" -trimpath -ldflags "-s -w $ldflags" -o "$out" "$pkg"
}

# new_module <dir> <module path>: a fresh wrapper module.
new_module() {
  rm -rf "$1" && mkdir -p "$1"
  (cd "$1" && "$GOBIN" mod init "$2" >/dev/null 2>&1)
}

build_etcd() {
  local dir="$BUILD_DIR/etcd-$ETCD_VERSION" out="$1"
  new_module "$dir" clusterset-dns.test/peers/etcd
  cd "$dir"
  log "etcd $ETCD_VERSION: resolving go.etcd.io/etcd/server/v3 (module proxy)"
  "$GOBIN" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  log "etcd $ETCD_VERSION: compiling"
  gobuild "$out" go.etcd.io/etcd/server/v3
}

# resolve_version <module> <query>: prints the version the module proxy resolves the query to.
resolve_version() {
  local json ver
  json="$("$GOBIN" mod download -json "$1@$2" 2>/dev/null)" || return 1
  ver="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Version": "\(.*\)",$/\1/p')"
  [ -n "$ver" ] || return 1
  printf '%s\n' "$ver"
}

build_kube_apiserver() {
  local dir="$BUILD_DIR/kube-apiserver-$KUBE_VERSION" out="$1"
  local minor="${KUBE_VERSION#v1.}"; minor="${minor%%.*}"
  new_module "$dir" clusterset-dns.test/peers/kube-apiserver
  cd "$dir"
  log "kube-apiserver $KUBE_VERSION: downloading k8s.io/kubernetes go.mod"
  local gomod
  gomod="$("$GOBIN" mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$KUBE_VERSION"
  # k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/client-go, ...) at v0.0.0 and
  # replaces them with ./staging/... paths, which only work inside its own repository. Point each
  # required one at the version published for this release. The canonical query is the release tag
  # (<module>@kubernetes-1.X.Y); module mirrors that serve only semantic versions refuse it, so fall
  # back to the matching published version v0.X.Y and check that it exists.
  local staging
  staging="$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) v0\.0\.0\([[:space:]].*\)\{0,1\}$#\1#p' "$gomod" | sort -u)"
  [ -n "$staging" ] || die "no v0.0.0 staging requirements found in $gomod"
  "$GOBIN" mod edit -require="k8s.io/kubernetes@$KUBE_VERSION"
  local mod ver n=0 semver="v0.${KUBE_VERSION#v1.}"
  for mod in $staging; do
    ver="$(resolve_version "$mod" "kubernetes-${KUBE_VERSION#v}")" || ver="$(resolve_version "$mod" "$semver")" ||
      die "could not resolve $mod for Kubernetes $KUBE_VERSION (tried kubernetes-${KUBE_VERSION#v} and $semver)"
    "$GOBIN" mod edit -replace="$mod@v0.0.0=$mod@$ver"
    n=$((n + 1))
  done
  log "kube-apiserver $KUBE_VERSION: replaced $n staging modules with their published versions"
  log "kube-apiserver $KUBE_VERSION: compiling (the long one: expect 10-25 min on 2 cores)"
  local date
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  gobuild "$out" k8s.io/kubernetes/cmd/kube-apiserver "$ld"
}

build_coredns() {
  local dir="$BUILD_DIR/coredns-$COREDNS_VERSION" out="$1"
  new_module "$dir" clusterset-dns.test/peers/coredns
  cd "$dir"
  cat > main.go <<'GO'
// A slim CoreDNS: coremain plus only the plugins the tests use.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/file"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
	_ "github.com/coredns/coredns/plugin/whoami"
)

// The plugins above, in the order of CoreDNS's plugin.cfg (the order in which a query passes them).
var directives = []string{
	"reload",
	"bind",
	"ready",
	"health",
	"prometheus",
	"errors",
	"log",
	"cache",
	"hosts",
	"kubernetes",
	"file",
	"loop",
	"forward",
	"whoami",
}

func init() {
	dnsserver.Directives = directives
}

func main() {
	coremain.Run()
}
GO
  log "coredns $COREDNS_VERSION: resolving github.com/coredns/coredns (module proxy)"
  "$GOBIN" get "github.com/coredns/coredns@$COREDNS_VERSION"
  "$GOBIN" mod tidy
  log "coredns $COREDNS_VERSION: compiling"
  gobuild "$out" .
}

build_one() {
  local tool="$1" final tmp start
  final="$(bin_path "$tool")"
  if [ -x "$final" ]; then
    log "$tool: cached $final"
    return
  fi
  start=$(date +%s)
  tmp="$final.tmp.$$"
  case "$tool" in
    etcd) (build_etcd "$tmp") ;;
    kube-apiserver) (build_kube_apiserver "$tmp") ;;
    coredns) (build_coredns "$tmp") ;;
  esac
  mv -f "$tmp" "$final"
  log "$tool: built $final in $(( $(date +%s) - start ))s"
}

GOBIN="$(find_go)"
mkdir -p "$BIN_DIR" "$BUILD_DIR"

need=0
for t in "${TOOLS[@]}"; do [ -x "$(bin_path "$t")" ] || need=1; done
if [ "$need" = 1 ]; then
  "$GOBIN" version >&2
  # One build at a time per cache (vitest globalSetup and .ci/run may race).
  exec 9>"$CACHE_DIR/build.lock"
  if ! flock -n 9; then
    log "another build holds $CACHE_DIR/build.lock; waiting"
    flock 9
  fi
  for t in "${TOOLS[@]}"; do build_one "$t"; done
fi

if [ "$PRINT" = 1 ]; then
  for t in "${TOOLS[@]}"; do echo "$t=$(bin_path "$t")"; done
fi
