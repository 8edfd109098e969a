#!/usr/bin/env bash
# Benchmark: EC2 API throughput of the sixfold region against moto (PyPI `moto[server]`), measured
# in the same run with the same load client (wrk replaying one SigV4-signed request) on loopback.
# Prints requests/s for DescribeNetworkInterfaces and DescribeVpcs and the ratio sixfold/moto.
# Usage: bench/region.sh [SECONDS] [INSTANCES]   (defaults: 10 s per run, 10 instances)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
instances=${2:-10}
shared=${SIXFOLD_SHARED:-../shared}
signer="$shared/bench/sigv4-headers.py"
[ -f "$signer" ] || { echo "need $signer (shared/bench beside the repo); set SIXFOLD_SHARED" >&2; exit 1; }
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
if [ ! -x .venv-bench/bin/moto_server ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q --disable-pip-version-check 'moto[server]' awscli
fi
PY=.venv-bench/bin/python3
AWS=.venv-bench/bin/aws
cargo build --release -q --bin sixfold
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# sixfold
./target/release/sixfold serve --data-dir "$tmp/region" --listen 127.0.0.1:0 >"$tmp/serve.out" 2>"$tmp/serve.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$tmp/serve.out" 2>/dev/null && break; sleep 0.1; done
six=$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/serve.out" | head -1)
eval "$(awk -F' = ' '/aws_access_key_id/{print "AK="$2} /aws_secret_access_key/{print "SK="$2}' "$tmp/region/credentials")"

# moto
mport=$(free_port)
.venv-bench/bin/moto_server -p "$mport" >"$tmp/moto.log" 2>&1 &
pids+=($!)
moto="http://127.0.0.1:$mport"
for _ in $(seq 100); do $PY -c "import urllib.request;urllib.request.urlopen('$moto/moto-api/')" 2>/dev/null && break; sleep 0.2; done

populate() { # endpoint key secret ami
  local ep=$1 ak=$2 sk=$3 ami=$4
  local A=(env AWS_ACCESS_KEY_ID="$ak" AWS_SECRET_ACCESS_KEY="$sk" AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null "$AWS" --region us-east-1 --endpoint-url "$ep" --output text)
  local vpc sub
  vpc=$("${A[@]}" ec2 create-vpc --cidr-block 10.0.0.0/16 --amazon-provided-ipv6-cidr-block --query Vpc.VpcId)
  sub=$("${A[@]}" ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.0.1.0/24 --query Subnet.SubnetId)
  "${A[@]}" ec2 run-instances --image-id "$ami" --instance-type m5.large --subnet-id "$sub" --count "$instances" --query 'Instances[0].InstanceId' >/dev/null
}
populate "$six" "$AK" "$SK" ami-0123456789abcdef0
moto_ami=$(AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y AWS_CONFIG_FILE=/dev/null "$AWS" --region us-east-1 --endpoint-url "$moto" ec2 describe-images --owners amazon --query 'Images[0].ImageId' --output text)
populate "$moto" AKIAIOSFODNN7EXAMPLE secret "$moto_ami"

run_wrk() { # name endpoint key secret body
  local name=$1 ep=$2 ak=$3 sk=$4 body=$5 lua="$tmp/$1.lua"
  {
    echo 'wrk.method = "POST"'
    echo "wrk.body = \"$body\""
    $PY "$signer" "$ep/" ec2 us-east-1 "$ak" "$sk" "$body" | while IFS= read -r h; do
      k=${h%%: *}; v=${h#*: }
      [ "$k" = "Host" ] || echo "wrk.headers[\"$k\"] = \"$v\""
    done
  } >"$lua"
  wrk -t2 -c16 -d"${secs}s" -s "$lua" "$ep/" | awk -v n="$name" '/Requests\/sec/{print n, $2} /Non-2xx/{print n" non-2xx "$NF > "/dev/stderr"}'
}

declare -A rps
for action in DescribeNetworkInterfaces DescribeVpcs; do
  body="Action=$action&Version=2016-11-15"
  rps[six-$action]=$(run_wrk "six-$action" "$six" "$AK" "$SK" "$body" | awk '{print $2}')
  rps[moto-$action]=$(run_wrk "moto-$action" "$moto" AKIAIOSFODNN7EXAMPLE secret "$body" | awk '{print $2}')
done
echo
echo "EC2 API throughput, wrk 2 threads x 16 connections, ${secs} s each, ${instances} instances (same machine, same run)"
printf '%-28s %14s %14s %10s\n' action sixfold_rps moto_rps ratio
for action in DescribeNetworkInterfaces DescribeVpcs; do
  s=${rps[six-$action]}; m=${rps[moto-$action]}
  printf '%-28s %14s %14s %9.1fx\n' "$action" "$s" "$m" "$(echo "$s $m" | awk '{print ($2>0)?$1/$2:0}')"
done
