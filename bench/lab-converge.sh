#!/usr/bin/env bash
# Benchmark (not a test) of the reconciling lab, needs root:
#  1. scale-up convergence: from the UpdateNodegroupConfig call (boto3, so the AWS CLI's own
#     start-up is not counted) to the first answer of the new node's pod, probed from a pod of
#     another node; and scale-down: from the call to the removed node's namespace being gone.
#     ROUNDS rounds (default 5) of +1 / -1 on a 2-node lab; median and p90 against the 2 s goal.
#  2. `sixfold up --nodes 10 --pods-per-node 110` (EKS's max pods for an m5.large) wall time and
#     per-pod cost, against `--nodes 3 --pods-per-node 10` in the same run.
#     Both must prove every path (the matrix's verdict and any failed row are printed; a run
#     that is not proven prints no figures and fails). Every lab is removed on exit (trap).
# BUILD=debug uses the debug binaries (no release build); SKIP_BIG=1 skips part 2,
# SKIP_CONVERGE=1 part 1; UP_TIMEOUT bounds each `up` of part 2 (default 900 s); NO_BUILD=1
# uses the release binaries as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "the lab builds network namespaces and needs root: sudo bash bench/lab-converge.sh" >&2
  exit 1
fi
build="${BUILD:-release}"
if [ "$build" = release ] && [ "${NO_BUILD:-0}" != 1 ]; then
  cargo build --release -q -p sixfold -p cni
fi
bin="$(pwd)/${CARGO_TARGET_DIR:-target}/$build/sixfold"
py="$(pwd)/.venv/bin/python3"
[ -x "$py" ] || py=python3
rounds="${ROUNDS:-5}"
name="bc$$"; name="${name:0:12}"
labs=("$name")
cleanup() { for l in "${labs[@]}"; do "$bin" down --name "$l" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

if [ "${SKIP_CONVERGE:-0}" != 1 ]; then
echo "== 1. convergence: $rounds rounds of scale 2 → 3 → 2 ($build build, load $(cut -d' ' -f1 /proc/loadavg))"
timeout 600 "$bin" up --name "$name" --nodes 2 --pods-per-node 1 --services 1 --fargate-pods 0 >/dev/null
SIXFOLD="$bin" LAB="$name" ROUNDS="$rounds" timeout 900 "$py" - <<'PY'
import json, os, statistics, subprocess, time
import boto3, botocore.config

lab, sixfold, rounds = os.environ["LAB"], os.environ["SIXFOLD"], int(os.environ["ROUNDS"])
state_file = f"/run/sixfold-lab/{lab}/lab.json"
def state():
    with open(state_file) as f:
        return json.load(f)
s = state()
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = s["region"]["credentials"]
eks = boto3.session.Session(profile_name="sixfold", region_name="us-east-1").client(
    "eks", endpoint_url=s["region"]["endpoint"],
    config=botocore.config.Config(retries={"max_attempts": 1}))
cluster, ng = s["cluster"]["name"], s["cluster"]["nodegroup"]
source = s["pods"][0]

def scale(n):
    t0 = time.monotonic()
    eks.update_nodegroup_config(clusterName=cluster, nodegroupName=ng,
                                scalingConfig={"desiredSize": n})
    return t0

def answered(pod):
    r = subprocess.run(["ip", "netns", "exec", source["netns"], sixfold, "lab-probe",
                        "--connect", f"[{pod['ipv6']}]:8080", "--timeout-ms", "300"],
                       capture_output=True, text=True, timeout=10)
    return r.returncode == 0 and r.stdout.startswith(pod["name"] + " saw ")

up, down = [], []
for r in range(rounds):
    before = {n["name"] for n in state()["nodes"]}
    t0 = scale(len(before) + 1)
    deadline = t0 + 60
    while True:
        if time.monotonic() > deadline:
            raise SystemExit(f"round {r}: no new node's pod answered within 60 s")
        st = state()
        new = [p for p in st["pods"] if p["node"] not in before and not p["fargate"]]
        if new and answered(new[0]):
            up.append(time.monotonic() - t0)
            break
        time.sleep(0.01)
    three = st["nodes"]
    t0 = scale(len(before))
    deadline = t0 + 60
    while True:
        if time.monotonic() > deadline:
            raise SystemExit(f"round {r}: a node was not removed within 60 s")
        st = state()
        kept = {n["name"] for n in st["nodes"]}
        gone = [n for n in three if n["name"] not in kept]
        if len(kept) == len(before) and gone and not any(
                os.path.exists(f"/run/netns/{n['netns']}") for n in gone):
            down.append(time.monotonic() - t0)
            break
        time.sleep(0.01)
    print(f"  round {r + 1}: scale-up → new pod answers {up[-1] * 1000:7.0f} ms   "
          f"scale-down → node gone {down[-1] * 1000:6.0f} ms", flush=True)

def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
for what, v in [("scale-up: call → new node's pod answers", up),
                ("scale-down: call → node's namespace gone", down)]:
    med, p90 = statistics.median(v), pct(v, 0.9)
    print(f"  {what}: median {med * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms "
          f"= {med / 2:.2f}× / {p90 / 2:.2f}× the 2 s goal")
PY
"$bin" down --name "$name" >/dev/null
fi

if [ "${SKIP_BIG:-0}" = 1 ]; then exit 0; fi
# Part 2. Every lab is named (and in `labs`, so the EXIT trap downs it) before its `up` starts;
# `up` runs under `timeout`; no subshell holds a lab the trap would not know.
# The kernel's IPv6 neighbour table is one for the whole machine (all namespaces), capped at
# net.ipv6.neigh.default.gc_thresh3 dynamic entries: its count and overflows are printed.
nd_stat() {  # entries and table_fulls (summed over CPUs) of the IPv6 neighbour table
  local e="" f=0 cols
  while read -r -a cols; do
    [[ ${cols[0]} =~ ^[0-9a-f]+$ ]] || continue
    e="${e:-$((16#${cols[0]}))}"
    f=$((f + 16#${cols[12]}))
  done </proc/net/stat/ndisc_cache
  echo "$e $f"
}
echo "== 2. sixfold up: 3 × 10 pods against 10 × 110 pods ($build build; neighbour table cap" \
  "gc_thresh3 = $(cat /proc/sys/net/ipv6/neigh/default/gc_thresh3))"
results=()
big() {  # nodes pods_per_node
  local l="${name:0:9}n$1" out
  labs+=("$l")
  out="$(mktemp /tmp/"$l".XXXXXX.out)"
  read -r _ fulls0 < <(nd_stat)
  local load0 s e rc=0
  load0=$(cut -d' ' -f1 /proc/loadavg)
  s=$(date +%s.%N)
  timeout "${UP_TIMEOUT:-900}" "$bin" up --name "$l" --nodes "$1" --pods-per-node "$2" \
    --fargate-pods 0 --services 2 >"$out" 2>&1 || rc=$?
  e=$(date +%s.%N)
  read -r entries fulls1 < <(nd_stat)
  # The matrix's verdict line, and every failed row.
  local verdict
  verdict=$(grep -E "paths proven" "$out" | tail -1 || true)
  echo "  up --nodes $1 --pods-per-node $2: exit $rc, load $load0; $verdict"
  grep -E "  FAIL  " "$out" | sed 's/^/    /' || true
  echo "    IPv6 neighbour table after up: $entries entries (permanent ones included, every lab of the machine), $((fulls1 - fulls0)) overflows during up"
  if [ "$rc" != 0 ] || ! grep -q "paths proven$" <<<"$verdict"; then
    echo "  not proven: the figures of this run do not count; last lines of up:"
    tail -20 "$out" | sed 's/^/    /'
    rm -f "$out"
    exit 1
  fi
  rm -f "$out"
  "$bin" down --name "$l" >/dev/null
  results+=("$(awk -v s="$s" -v e="$e" -v n="$1" -v p="$2" 'BEGIN { printf "%.3f %d", e - s, n * p }')")
}
big 3 10
big 10 110
read -r t_small n_small <<<"${results[0]}"
read -r t_big n_big <<<"${results[1]}"
awk -v ts="$t_small" -v ns="$n_small" -v tb="$t_big" -v nb="$n_big" 'BEGIN {
  printf "  up 3 × 10:   %7.2f s for %4d pods = %6.1f ms per pod\n", ts, ns, 1000 * ts / ns
  printf "  up 10 × 110: %7.2f s for %4d pods = %6.1f ms per pod\n", tb, nb, 1000 * tb / nb
  printf "  per-pod cost 10 × 110 / 3 × 10: %.2f×   wall time: %.1f×\n", (tb / nb) / (ts / ns), tb / ts
}'
