#!/usr/bin/env bash
# The agent under a burst, printed (never asserted): 250 concurrent ADDs on the agent socket
# (then 250 DELs of them), 4 rounds, latency per request as a CNI plugin sees it on the socket:
# from just before its connect to its whole answer read (the plugin's own process start is not
# counted; bench/cni.sh measures the whole chain). The client is `crates/agent/examples/burst.rs`
# (one thread on epoll, so it adds microseconds, not a wake-up per request).
#
# Same run, same machine, same binary, alternating:
#   group commit      the agent as shipped (--max-batch default): the requests that arrive while a
#                     batch commits form the next batch, one fsync each
#   fsync per request the same agent with --max-batch 1: every request its own transaction and
#                     fsync (what a store without group commit does)
# The agent is the real one (socket, event loop, committer, redb store with fsync on this disk,
# metrics) with a fixed prefix and no kernel changes (`sixfold-agent-testd`), so no root is needed.
# Goal (issue 15): ADD p99 < 20 ms in a release build. Prints each run, the medians over runs,
# the ratio fsync-per-request / group commit, and the load average before and after.
#
# Usage: bench/agent-burst.sh [RUNS] [N]   (default 5 runs of 250; release build in $CARGO_TARGET_DIR,
# or BIN=DIR: prebuilt DIR/sixfold-agent-testd and DIR/examples/burst). PEER_ARGS overrides the
# peer's flags (default --max-batch 1), e.g. PEER_ARGS="--max-batch 256" to compare batch bounds.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
N=${2:-250}
TARGET=${CARGO_TARGET_DIR:-target}
if [ -z "${BIN:-}" ]; then
    echo "building release sixfold-agent-testd and the burst client in $TARGET ..." >&2
    cargo build --release -q -p agent --bin sixfold-agent-testd --example burst
    BIN=$(cd "$TARGET/release" && pwd)
fi

BIN="$BIN" RUNS="$RUNS" N="$N" PEER_ARGS="${PEER_ARGS:---max-batch 1}" timeout 1800 python3 - <<'PY'
import json, os, shutil, statistics, subprocess, tempfile

BIN, RUNS, N = os.environ["BIN"], int(os.environ["RUNS"]), int(os.environ["N"])
PEER_ARGS = os.environ.get("PEER_ARGS", "--max-batch 1").split()
PEERS = [("group commit", []), ("fsync per request" if PEER_ARGS == ["--max-batch", "1"] else " ".join(PEER_ARGS), PEER_ARGS)]

def load():
    return open("/proc/loadavg").read().split()[0]

def one(extra, tag):
    """Start a fresh agent, burst it, stop it; the client's JSON."""
    d = tempfile.mkdtemp(prefix="agent-burst-")
    agent = subprocess.Popen(
        [f"{BIN}/sixfold-agent-testd", "--prefix", "2001:db8:0:1:abcd::/80", "--node-ipv4", "10.0.1.7",
         "--instance-id", "i-burst", "--data-dir", f"{d}/data", "--socket", f"{d}/agent.sock",
         "--cni-conf-dir", f"{d}/net.d", "--metrics-addr", "127.0.0.1:0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = agent.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"sixfold-agent-testd did not start: {line!r}")
        p = subprocess.run([f"{BIN}/examples/burst", "--socket", f"{d}/agent.sock", "--n", str(N),
                            "--rounds", "4", "--tag", tag], capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise RuntimeError(f"burst client failed: {p.stderr}")
        return json.loads(p.stdout)
    finally:
        agent.kill(); agent.wait()
        shutil.rmtree(d, ignore_errors=True)

load_before = load()
res = {name: [] for name, _ in PEERS}
for r in range(RUNS):
    order = PEERS if r % 2 == 0 else PEERS[::-1]
    for name, extra in order:
        out = one(extra, f"r{r}")
        res[name].append(out)
        a, d = out["add"], out["del"]
        print(f"run {r + 1}/{RUNS} {name:<18} ADD p50 {a['p50_ms']:6.2f} p90 {a['p90_ms']:6.2f} p99 {a['p99_ms']:6.2f} "
              f"max {a['max_ms']:6.2f} | DEL p50 {d['p50_ms']:6.2f} p99 {d['p99_ms']:6.2f} ms  (load {load()})", flush=True)
load_after = load()

med = lambda name, op, k: statistics.median(o[op][k] for o in res[name])
print(f"\nagent burst, {N} concurrent requests x 4 rounds, medians of {RUNS} runs (ms); load average {load_before} -> {load_after} on {os.cpu_count()} cores")
print(f"  {'':<20}{'ADD p50':>9}{'p90':>8}{'p99':>8}{'max':>8}   {'DEL p50':>9}{'p90':>8}{'p99':>8}{'max':>8}")
for name, _ in PEERS:
    row = "".join(f"{med(name, 'add', k):>{w}.2f}" for k, w in [("p50_ms", 9), ("p90_ms", 8), ("p99_ms", 8), ("max_ms", 8)])
    row += "   " + "".join(f"{med(name, 'del', k):>{w}.2f}" for k, w in [("p50_ms", 9), ("p90_ms", 8), ("p99_ms", 8), ("max_ms", 8)])
    print(f"  {name:<20}{row}")
g, f = PEERS[0][0], PEERS[1][0]
for op in ("add", "del"):
    print(f"ratio {op.upper()} {f} / {g}: p50 {med(f, op, 'p50_ms') / med(g, op, 'p50_ms'):.1f}x, "
          f"p99 {med(f, op, 'p99_ms') / med(g, op, 'p99_ms'):.1f}x")
p99 = med(g, "add", "p99_ms")
worst = max(o["add"]["p99_ms"] for o in res[g])
print(f"goal ADD p99 < 20 ms (group commit, median of runs): {p99:.2f} ms: {'met' if p99 < 20 else 'NOT met'} "
      f"(worst run {worst:.2f} ms: {'met' if worst < 20 else 'NOT met'})")
PY
