#!/usr/bin/env bash
# Load balancer benchmark, printed (never asserted): HTTP requests/s and p99 latency through the
# lab's network load balancer (`sixfold lab-lb`, a userspace TCP forwarder in its namespace) to 6
# pods, against straight to one pod's IPv6, with the same client (wrk) in the same run:
#
#   inet → NLB public IPv4 → 6 pods   the path of an IPv4 internet client (wrk in the internet
#                                     host's namespace, carried to the IPv6 pods)
#   inet → NLB IPv6 → 6 pods          the same load balancer over IPv6
#   node1 → NLB IPv6 → 6 pods         the same load balancer from inside the VPC
#   node1 → pod IPv6 (one pod)        the peer: no load balancer
#
# The ratio is taken between the two node1 rows: the internet host cannot reach a pod's IPv6
# directly (the egress-only gateway refuses unsolicited inbound connections, as on AWS), so the
# direct peer is measured from node1, and the load balancer from both.
#
# Usage (root): bench/lb.sh [DURATION] [CONNECTIONS]   (default 10s, 32; release build unless
# BUILD=debug). Everything lives in a lab of its own (`sixfold up --name lbb<pid>`), removed at
# the end; the root namespace is never touched. Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-10s}
CONN=${2:-32}
[ "$(id -u)" = 0 ] || { echo "bench/lb.sh: run as root (it creates network namespaces)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench/lb.sh: wrk is needed (apt-get install wrk)" >&2; exit 1; }
TARGET=${CARGO_TARGET_DIR:-target}
if [ "${BUILD:-release}" = debug ]; then
    cargo build -q -p sixfold -p cni --bins
    BIN="$TARGET/debug"
else
    echo "building release binaries (sixfold, sixfold-cni, sixfold-egress-cni) in $TARGET ..." >&2
    cargo build --release -q -p sixfold -p cni --bins
    BIN="$TARGET/release"
fi
SF="$BIN/sixfold"
NAME="lbb$(( $$ % 100000 ))"
trap 'timeout 120 "$SF" down --name "$NAME" >/dev/null 2>&1 || true' EXIT
echo "building lab $NAME (3 nodes × 4 pods, 2 services of 6 pods) ..." >&2
timeout 300 "$SF" up --name "$NAME" --nodes 3 --pods-per-node 4 --fargate-pods 0 --services 2 >/dev/null
# web2 through its own internet-facing NLB whose targets are the pods' HTTP port.
timeout 120 "$SF" service expose web2 --type LoadBalancer --port 80 --target-port 80 --name "$NAME" >&2
STATUS=$(timeout 60 "$SF" status --output json --name "$NAME")
read -r PUB V6 POD TARGETS HEALTHY < <(python3 -c '
import json, sys
s = json.load(sys.stdin)
lb = next(l for l in s["load_balancers"] if l["service"] == "web2")
svc = next(v for v in s["services"] if v["name"] == "web2")
pod = next(p for p in s["pods"] if p["name"] == svc["backends"][0])
t = lb["targets"]
print(lb["public_ipv4"], lb["ipv6"], pod["ipv6"], len(t), sum(x["state"] == "healthy" for x in t))
' <<<"$STATUS")
[ "$TARGETS" = 6 ] && [ "$HEALTHY" = 6 ] || { echo "bench/lb.sh: expected 6 healthy targets, got $HEALTHY of $TARGETS" >&2; exit 1; }

# wrk in namespace $1 against $2: "requests/s p99_ms"
run() {
    local out rps p99
    out=$(timeout 120 ip netns exec "$1" wrk -t2 -c"$CONN" -d"$DUR" --latency "$2")
    if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "$out" >&2; fi
    rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}')
    echo "$rps $p99"
}
INET="sfl-$NAME-inet"
NODE="sfl-$NAME-node1"
read -r R1 P1 < <(run "$INET" "http://$PUB:80/")
read -r R2 P2 < <(run "$INET" "http://[$V6]:80/")
read -r R3 P3 < <(run "$NODE" "http://[$V6]:80/")
read -r R4 P4 < <(run "$NODE" "http://[$POD]:80/")
echo
echo "HTTP through the lab's NLB to 6 pods vs straight to one pod (wrk -t2 -c$CONN -d$DUR, ${BUILD:-release} build, load $(cut -d' ' -f1 /proc/loadavg))"
python3 - "$R1" "$P1" "$R2" "$P2" "$R3" "$P3" "$R4" "$P4" <<'PY'
import sys
r1, p1, r2, p2, r3, p3, r4, p4 = map(float, sys.argv[1:])
rows = [("PATH", "REQUESTS/S", "P99 MS"),
        ("inet → NLB public IPv4 → 6 pods", f"{r1:,.0f}", f"{p1:.2f}"),
        ("inet → NLB IPv6 → 6 pods", f"{r2:,.0f}", f"{p2:.2f}"),
        ("node1 → NLB IPv6 → 6 pods", f"{r3:,.0f}", f"{p3:.2f}"),
        ("node1 → pod IPv6 (no LB)", f"{r4:,.0f}", f"{p4:.2f}")]
for a, b, c in rows:
    print(f"{a:<34} {b:>12} {c:>8}")
print(f"ratio (node1, same client): NLB / direct = {r3 / r4:.2f}x requests/s, {p3 / p4:.2f}x p99")
print(f"ratio (internet IPv4 via NLB / node1 direct): {r1 / r4:.2f}x requests/s, {p1 / p4:.2f}x p99")
PY
