#!/bin/sh
# Re-vendor hls.js from the npm registry.
# Usage: web/vendor/update.sh [VERSION]   (default: the version pinned below)
# After running, update the version in web/vendor/README.md and re-run the
# browser test (tests/browser/live_play.mjs).
set -eu
VERSION="${1:-1.7.4}"
HERE="$(cd "$(dirname "$0")" && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
npm pack --silent "hls.js@$VERSION" >/dev/null
tar -xzf "hls.js-$VERSION.tgz"
mkdir -p "$HERE/hls.js"
cp package/dist/hls.min.js "$HERE/hls.js/hls.min.js"
cp package/LICENSE "$HERE/hls.js/LICENSE"
echo "$VERSION" > "$HERE/hls.js/VERSION"
( cd "$HERE/hls.js" && sha256sum hls.min.js LICENSE > SHA256SUMS )
echo "hls.js $VERSION vendored into $HERE/hls.js"
