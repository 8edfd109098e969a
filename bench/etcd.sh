#!/usr/bin/env bash
# Benchmark (printed, never asserted): mixed read/write EC2 requests/s (CreateVpc + 4 DescribeVpcs,
# THREADS boto3 clients) against, in the same run on this machine:
#   1. one `sixfold serve` on the embedded store (redb);
#   2. one replica on a 3-member etcd cluster (Debian's etcd on loopback);
#   3. three replicas on that cluster, the clients spread round-robin over them;
# then the create storm of crates/sixfold/tests/etcd.rs (3 replicas, kill -9 of a replica and an
# etcd member) with its duplicate counts.
# Usage: bench/etcd.sh [SECONDS] [THREADS]   (defaults 10 s per run, 4 client threads)
# Needs etcd (etcd-server), the .venv of scripts/install-deps --tests (boto3), bc.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
threads=${2:-4}
PY=.venv/bin/python3
[ -x "$PY" ] || { echo "need .venv with boto3 (scripts/install-deps --tests)" >&2; exit 1; }
command -v etcd >/dev/null || { echo "need etcd (apt-get install etcd-server)" >&2; exit 1; }
# SIXFOLD_BIN=path runs another build (e.g. target/debug/sixfold) instead of a release build.
if [ -z "${SIXFOLD_BIN:-}" ]; then cargo build --release -q --bin sixfold; fi
BIN=${SIXFOLD_BIN:-./target/release/sixfold}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

serve() { # serve NAME ARGS... -> prints the endpoint
  local name=$1; shift
  $BIN serve --data-dir "$tmp/$name" --listen 127.0.0.1:0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pids+=($!)
  for _ in $(seq 200); do grep -q "listening on" "$tmp/$name.out" 2>/dev/null && break; sleep 0.1; done
  grep -o 'http://127.0.0.1:[0-9]*' "$tmp/$name.out" | head -1
}

# A 3-member etcd cluster on loopback.
declare -a cp pp
for i in 0 1 2; do cp[$i]=$(free_port); pp[$i]=$(free_port); done
ic="m0=http://127.0.0.1:${pp[0]},m1=http://127.0.0.1:${pp[1]},m2=http://127.0.0.1:${pp[2]}"
for i in 0 1 2; do
  etcd --name m$i --data-dir "$tmp/etcd$i" --listen-client-urls http://127.0.0.1:${cp[$i]} \
    --advertise-client-urls http://127.0.0.1:${cp[$i]} --listen-peer-urls http://127.0.0.1:${pp[$i]} \
    --initial-advertise-peer-urls http://127.0.0.1:${pp[$i]} --initial-cluster "$ic" \
    --initial-cluster-state new --initial-cluster-token bench-$$ --max-txn-ops 1024 >"$tmp/etcd$i.log" 2>&1 &
  pids+=($!)
done
eps="http://127.0.0.1:${cp[0]},http://127.0.0.1:${cp[1]},http://127.0.0.1:${cp[2]}"
for _ in $(seq 100); do $PY -c "import urllib.request;urllib.request.urlopen('http://127.0.0.1:${cp[0]}/health')" 2>/dev/null && break; sleep 0.2; done

load() { $PY bench/etcd-load.py "$1" "$secs" "$threads" 4 "${@:2}"; }
e1=$(serve embedded)
read -r r_emb f_emb < <(load "$tmp/embedded/credentials" "$e1")
a=$(serve r1 --etcd-endpoints "$eps" --etcd-max-txn-ops 1024)
read -r r_one f_one < <(load "$tmp/r1/credentials" "$a")
b=$(serve r2 --etcd-endpoints "$eps" --etcd-max-txn-ops 1024)
c=$(serve r3 --etcd-endpoints "$eps" --etcd-max-txn-ops 1024)
read -r r_three f_three < <(load "$tmp/r1/credentials" "$a" "$b" "$c")
echo "mixed load ($threads clients, CreateVpc + 4 DescribeVpcs, ${secs} s each), requests/s (failed calls):"
printf '  %-34s %8s (%s)\n' "1 replica, embedded store" "$r_emb" "$f_emb"
printf '  %-34s %8s (%s)   %.2fx embedded\n' "1 replica on 3-member etcd" "$r_one" "$f_one" "$(echo "$r_one / $r_emb" | bc -l)"
printf '  %-34s %8s (%s)   %.2fx embedded\n' "3 replicas on 3-member etcd" "$r_three" "$f_three" "$(echo "$r_three / $r_emb" | bc -l)"
echo "create storm (crates/sixfold/tests/etcd.rs):"
cargo nextest run -p sixfold --test etcd --no-capture 2>&1 | grep -o 'storm: .*' || echo "  the storm test failed"
