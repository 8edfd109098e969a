#!/usr/bin/env bash
# Benchmark of `sixfold map` at scale, printed (never asserted): a synthetic plan of 1,000 nodes ×
# 110 pods (the EKS max-pods of an m5.large-class node), rendered by the map crate and loaded in
# real headless Chromium, against the peer measured in the same run the same way: the map of a
# lab-sized plan (2 nodes × 2 pods).
#
#   render   time of the Rust model + renderer (Plan -> HTML), release build
#   page     in-page time from navigation start to the end of the page's script, after a forced
#            style + layout of the whole DOM (data-ready, read from --dump-dom). Target < 2000 ms.
#   shot     wall time of `chromium --screenshot` (start-up, load, layout, paint), hyperfine
#
# Usage: bench/map.sh [NODES] [PODS] [RUNS]   (defaults 1000 110 5)
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-1000}
PODS=${2:-110}
RUNS=${3:-5}
command -v chromium >/dev/null || { echo "bench/map.sh: chromium is needed (apt-get install chromium)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench/map.sh: hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
TARGET=${CARGO_TARGET_DIR:-target}
echo "building the synthetic-plan writer (release) ..." >&2
cargo build --release -q -p map --example synthetic
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$TARGET/release/examples/synthetic" "$NODES" "$PODS" "$tmp/big.html"
"$TARGET/release/examples/synthetic" 2 2 "$tmp/small.html"
chrome() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$tmp/profile" --window-size=1366,768 "$@" 2>/dev/null
}
page_ms() { # the page's own data-ready (ms), median of RUNS loads
  for _ in $(seq "$RUNS"); do
    chrome --dump-dom "file://$1" | grep -o 'data-ready="[0-9]*"' | head -1 | grep -o '[0-9]*'
  done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
big=$(page_ms "$tmp/big.html")
small=$(page_ms "$tmp/small.html")
echo
echo "page (parse + script + style + layout, median of $RUNS):"
printf '  %-28s %6s ms\n' "$NODES nodes × $PODS pods" "$big" "2 nodes × 2 pods (peer)" "$small"
awk -v b="$big" -v s="$small" 'BEGIN { printf "  ratio %.1fx the lab-sized page; target < 2000 ms: %s\n", b / (s ? s : 1), (b < 2000 ? "met" : "MISSED") }'
echo
echo "screenshot wall time (start-up + load + layout + paint):"
hyperfine --style basic --runs "$RUNS" --warmup 1 \
  -n "$NODES nodes × $PODS pods" "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir=$tmp/profile --window-size=1366,768 --screenshot=$tmp/big.png file://$tmp/big.html" \
  -n "2 nodes × 2 pods (peer)" "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --user-data-dir=$tmp/profile --window-size=1366,768 --screenshot=$tmp/small.png file://$tmp/small.html" 2>&1 | grep -v '^$'
