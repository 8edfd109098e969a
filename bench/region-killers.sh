#!/usr/bin/env bash
# Benchmark: a second client's DescribeVpcs p50/p99 against a running `sixfold serve` (release
# build), alone and while every former killer request of issue 8 loops against the same region
# (60,000-star filter, backtracking filter, Ipv6PrefixCount=4294967295, 10,000 tags,
# 900,000-character value, 200 slow-header connections). Target: p99 < 50 ms.
# Usage: bench/region-killers.sh [SECONDS]   (default 10 s per phase)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
PY=${PYTHON:-.venv/bin/python3}
"$PY" -c 'import botocore' 2>/dev/null || { echo "need botocore: scripts/install-deps (or PYTHON=...)" >&2; exit 1; }
cargo build --release -q --bin sixfold
timeout $((secs * 2 + 240)) "$PY" bench/region-killers.py ./target/release/sixfold "$secs"
