#!/usr/bin/env bash
# image/build.sh: build the Raspberry Pi image (make image calls it).
#
#   image/build.sh [OUT]     default OUT: dist/ness-agent-rpi-arm64.img.gz
#
# Environment:
#   SOURCE_DATE_EPOCH  every timestamp in the image (default: the last commit's time)
#   VERSION            shown on the board (default: git describe)
#   RELEASE_KEY        public release key file(s), space-separated, trusted for updates
#                      (ness-image keygen makes a pair); without one the image refuses every update
#   CA_BUNDLE          PEM CA bundle for TLS to the broker (default: /etc/ssl/certs/ca-certificates.crt
#                      when it exists; "" for none)
# Same inputs (commit, SOURCE_DATE_EPOCH, keys, CA bundle, tool versions) → same bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:-dist/ness-agent-rpi-arm64.img.gz}
case $out in /*) ;; *) out="$repo/$out" ;; esac
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 1)}
VERSION=${VERSION:-$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo devel)}
CA_BUNDLE=${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
[ -n "$CA_BUNDLE" ] && [ ! -f "$CA_BUNDLE" ] && CA_BUNDLE=""

bin=$(mktemp -d "${TMPDIR:-/tmp}/ness-image-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# Static linux/arm64 binaries; -trimpath and an empty build id keep them independent of the folder.
ldflags="-s -w -buildid= -X github.com/ness-network/ness-sms/internal/version.Version=$VERSION"
(cd "$repo" && GOOS=linux GOARCH=arm64 go build -trimpath -ldflags "$ldflags" -o "$bin/ness-agent" ./agent/cmd/ness-agent)
(cd "$here" && GOOS=linux GOARCH=arm64 go build -trimpath -ldflags "-s -w -buildid=" -o "$bin/ness-init" ./cmd/ness-init)
(cd "$here" && GOOS= GOARCH= go build -trimpath -o "$bin/ness-image" ./cmd/ness-image)

args=(build -moddir "$here" -agent "$bin/ness-agent" -init "$bin/ness-init" -out "$out" -version "$VERSION")
[ -n "$CA_BUNDLE" ] && args+=(-ca-bundle "$CA_BUNDLE")
for k in ${RELEASE_KEY:-}; do args+=(-release-key "$k"); done
"$bin/ness-image" "${args[@]}"
