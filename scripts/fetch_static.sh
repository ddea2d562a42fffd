#!/usr/bin/env bash
# The dashboard's third-party browser libraries, from the npm registry at the exact versions of
# package.json / package-lock.json, copied into static/ui/vendor/ (not committed). `./dev` runs this.
#
#   scripts/fetch_static.sh          # npm ci (lockfile only, no install scripts), then copy the dist files
#
# Needs node and npm (Debian/Ubuntu: apt-get install nodejs npm).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
vendor="$root/static/ui/vendor"
cd "$root"

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch_static: npm is not installed (apt-get install nodejs npm)" >&2
  exit 1
fi

npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

mkdir -p "$vendor"
for file in uPlot.iife.min.js uPlot.min.css; do
  install -m 0644 "node_modules/uplot/dist/$file" "$vendor/$file"
done
install -m 0644 node_modules/uplot/LICENSE "$vendor/uPlot.LICENSE"
version="$(node -p 'require("./node_modules/uplot/package.json").version')"
echo "fetch_static: uPlot $version in static/ui/vendor/"
