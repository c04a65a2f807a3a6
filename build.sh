#!/usr/bin/env bash
# build.sh: the release builder. Static binaries (CGO_ENABLED=0, -trimpath) for every target,
# version from git (or $VERSION), and SHA-256 sums, into ./dist/release/.
#
#   ./build.sh             all targets
#   VERSION=v0.1.0 ./build.sh
set -euo pipefail
cd "$(dirname "$0")"

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
OUT=dist/release
TARGETS=("linux amd64 ''" "linux arm64 ''" "linux arm 7" "linux arm 6")
LDFLAGS="-s -w -buildid= -X github.com/ness-network/ness-sms/internal/version.Version=${VERSION}"

mapfile -t CMDS < <(go list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' ./... | grep '/cmd/')
[ "${#CMDS[@]}" -gt 0 ] || { echo "build.sh: no main packages found" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT"
for t in "${TARGETS[@]}"; do
	eval "set -- $t"
	os=$1 arch=$2 arm=$3
	name="${os}_${arch}${arm:+v$arm}"
	echo "build.sh: $VERSION $name" >&2
	for c in "${CMDS[@]}"; do
		bin=$(basename "$c")
		CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=$arm \
			go build -trimpath -ldflags "$LDFLAGS" -o "$OUT/${bin}_${VERSION}_${name}" "$c"
	done
done
(cd "$OUT" && sha256sum -- * > SHA256SUMS)
echo "build.sh: wrote $OUT/ and $OUT/SHA256SUMS" >&2
