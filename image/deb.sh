#!/usr/bin/env bash
# image/deb.sh: build the ness-agent .deb packages for custom boards (make deb calls it).
#
#   image/deb.sh [OUTDIR] [ARCH...]   default: dist, and amd64 arm64 armhf
#
# Each package holds a static ness-agent (CGO_ENABLED=0; armhf is GOARM=6, which runs on
# Raspberry Pi OS and Debian armhf alike), the systemd unit, /etc/ness/agent.env and udev rules
# (image/deb, docs/IMAGE.md "Packages for custom boards"). Environment: SOURCE_DATE_EPOCH (default:
# the last commit's time), VERSION (default: git describe). Same inputs → same bytes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
out=${1:-dist}
shift || true
case $out in /*) ;; *) out="$repo/$out" ;; esac
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(amd64 arm64 armhf)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || echo 1)}
VERSION=${VERSION:-$(git -C "$repo" describe --tags --always --dirty 2>/dev/null || echo devel)}
command -v dpkg-deb >/dev/null || { echo "deb.sh: needs dpkg-deb (Debian package dpkg)" >&2; exit 1; }

bin=$(mktemp -d "${TMPDIR:-/tmp}/ness-deb-bin.XXXXXX")
trap 'rm -rf "$bin"' EXIT
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
ldflags="-s -w -buildid= -X github.com/ness-network/ness-sms/internal/version.Version=$VERSION"
(cd "$here" && GOOS= GOARCH= go build -trimpath -o "$bin/ness-image" ./cmd/ness-image)
for arch in "${arches[@]}"; do
	case $arch in
	amd64) goenv=(GOARCH=amd64) ;;
	arm64) goenv=(GOARCH=arm64) ;;
	armhf) goenv=(GOARCH=arm GOARM=6) ;;
	*) echo "deb.sh: unknown architecture $arch (want amd64, arm64, armhf)" >&2; exit 2 ;;
	esac
	(cd "$repo" && env GOOS=linux "${goenv[@]}" go build -trimpath -ldflags "$ldflags" -o "$bin/ness-agent-$arch" ./agent/cmd/ness-agent)
	"$bin/ness-image" deb -arch "$arch" -agent "$bin/ness-agent-$arch" -out "$out" -version "$VERSION"
done
