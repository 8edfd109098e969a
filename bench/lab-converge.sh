#!/usr/bin/env bash
# Benchmark (not a test) of the reconciling lab, needs root:
#  1. scale-up convergence: from the UpdateNodegroupConfig call (boto3, so the AWS CLI's own
#     start-up is not counted) to the first answer of the new node's pod, probed from a pod of
#     another node; and scale-down: from the call to the removed node's namespace being gone.
#     ROUNDS rounds (default 5) of +1 / -1 on a 2-node lab; median and p90 against the 2 s goal.
#  2. `sixfold up --nodes 10 --pods-per-node 110` (EKS's max pods for an m5.large) wall time and
#     per-pod cost, against `--nodes 3 --pods-per-node 10` in the same run.
# BUILD=debug uses the debug binaries (no release build); SKIP_BIG=1 skips part 2.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "the lab builds network namespaces and needs root: sudo bash bench/lab-converge.sh" >&2
  exit 1
fi
build="${BUILD:-release}"
if [ "$build" = release ]; then
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

echo "== 1. convergence: $rounds rounds of scale 2 → 3 → 2 ($build build, load $(cut -d' ' -f1 /proc/loadavg))"
"$bin" up --name "$name" --nodes 2 --pods-per-node 1 --services 1 --fargate-pods 0 >/dev/null
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

if [ "${SKIP_BIG:-0}" = 1 ]; then exit 0; fi
echo "== 2. sixfold up: 3 × 10 pods against 10 × 110 pods ($build build)"
big() {  # nodes pods_per_node
  local l="${name:0:9}n$1"; labs+=("$l")
  local s e
  s=$(date +%s.%N)
  "$bin" up --name "$l" --nodes "$1" --pods-per-node "$2" --fargate-pods 0 --services 2 >/tmp/"$l".out 2>&1 \
    || { echo "up --nodes $1 --pods-per-node $2 failed:"; tail -20 /tmp/"$l".out; exit 1; }
  e=$(date +%s.%N)
  grep -q "paths proven" /tmp/"$l".out || { echo "not proven:"; tail -20 /tmp/"$l".out; exit 1; }
  "$bin" down --name "$l" >/dev/null
  rm -f /tmp/"$l".out
  awk -v s="$s" -v e="$e" -v n="$1" -v p="$2" 'BEGIN { t = e - s; printf "%.3f %d\n", t, n * p }'
}
read -r t_small n_small < <(big 3 10)
read -r t_big n_big < <(big 10 110)
awk -v ts="$t_small" -v ns="$n_small" -v tb="$t_big" -v nb="$n_big" 'BEGIN {
  printf "  up 3 × 10:   %7.2f s for %4d pods = %6.1f ms per pod\n", ts, ns, 1000 * ts / ns
  printf "  up 10 × 110: %7.2f s for %4d pods = %6.1f ms per pod\n", tb, nb, 1000 * tb / nb
  printf "  per-pod cost 10 × 110 / 3 × 10: %.2f×   wall time: %.1f×\n", (tb / nb) / (ts / ns), tb / ts
}'
