#!/usr/bin/env bash
# Benchmark: how long `sixfold serve` takes from spawn to "listening" on a healthy store holding
# N VPCs (each with its main route table and default security group), against the same binary
# starting on a new, empty data dir in the same run. Start-up checks the store (header, open,
# table) and loads every row, so this shows what those checks cost as the store grows.
# Prints the median of R starts of each and the ratio.
# Usage: bench/region-start.sh [VPCS] [RUNS]   (defaults: 1000 VPCs, 10 starts each)
#        BUILD=debug bench/region-start.sh     (reuse the dev build instead of --release)
set -euo pipefail
cd "$(dirname "$0")/.."
vpcs=${1:-1000}
runs=${2:-10}
build=${BUILD:-release}
if [ "$build" = release ]; then
  cargo build --release -q --bin sixfold
  bin=./target/release/sixfold
else
  cargo build -q --bin sixfold
  bin=./target/debug/sixfold
fi
PY=${PYTHON:-.venv/bin/python3}
"$PY" -c 'import boto3' 2>/dev/null || { echo "need boto3: scripts/install-deps --tests (or set PYTHON)" >&2; exit 1; }
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

# start DIR: spawn serve on DIR, wait for "listening"; sets $ms and leaves $pid running
start() {
  local dir=$1 t0 t1
  : >"$tmp/out"
  t0=$(date +%s%N)
  "$bin" serve --data-dir "$dir" --listen 127.0.0.1:0 >"$tmp/out" 2>"$tmp/err" &
  pid=$!
  for _ in $(seq 4000); do
    grep -q "listening on" "$tmp/out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { echo "serve exited: $(cat "$tmp/err")" >&2; exit 1; }
    sleep 0.005
  done
  t1=$(date +%s%N)
  ms=$(((t1 - t0) / 1000000))
}
stop() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Populate the healthy store through the API.
start "$tmp/full"
ep=$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/out" | head -1)
"$PY" - "$ep" "$tmp/full/credentials" "$vpcs" <<'EOF'
import configparser, sys, boto3
ep, creds, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = configparser.ConfigParser(); c.read(creds)
ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=ep,
                   aws_access_key_id=c["sixfold"]["aws_access_key_id"],
                   aws_secret_access_key=c["sixfold"]["aws_secret_access_key"])
for i in range(n):
    ec2.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True,
                   TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": f"bench-{i}"}]}])
EOF
stop
size=$(du -k "$tmp/full/region.redb" | cut -f1)

full=(); empty=()
for i in $(seq "$runs"); do
  start "$tmp/full"; full+=("$ms"); stop
  start "$tmp/empty-$i"; empty+=("$ms"); stop
done
f=$(printf '%s\n' "${full[@]}" | median)
e=$(printf '%s\n' "${empty[@]}" | median)
echo
echo "sixfold serve, spawn -> listening, median of $runs starts ($build build, same machine, same run)"
printf '%-40s %10s\n' store ms
printf '%-40s %10s\n' "healthy, $vpcs VPCs (${size} KiB region.redb)" "$f"
printf '%-40s %10s\n' "new, empty data dir" "$e"
printf '%-40s %9.2fx\n' "ratio healthy/new" "$(echo "$f $e" | awk '{print ($2>0)?$1/$2:0}')"
