#!/usr/bin/env bash
# Pod start-up benchmark, printed (never asserted): the sixfold chain (sixfold-cni +
# sixfold-egress-cni from the conflist a REAL `sixfold agent` wrote, the agent getting its /80
# from a REAL `sixfold serve`) against, in the same run and on the same machine:
#   - the netlink floor ($SIXFOLD_SHARED/bench/netlink-floor.py): the chain's own kernel work for
#     both interfaces, issued by two `ip -batch` runs;
#   - Debian's ptp + host-local doing the IPv6 equivalent, DAD on and DAD off
#     ($SIXFOLD_SHARED/bench/peer-ptp.py).
#
#   add/del  CNI ADD / DEL wall time of the whole chain
#   ready    ADD start -> first ping from the pod to its gateway answered
#   steps    per-step breakdown of the chain (SIXFOLD_CNI_TRACE): plugin start (spawn -> main),
#            each netlink request, sysctls, namespace threads, the agent round trip, the
#            delegated host-local exec, nftables, exit; medians per pod
#   burst    250 concurrent ADDs (then DELs) on the agent socket: p50 / p90 / p99 / max per
#            request, connect -> answer read (crates/agent/examples/burst.rs; bench/agent-burst.sh
#            runs it against the same agent with one fsync per request, the same-run peer)
#   agent    add+del latency on the agent socket with 0 and with 1000 live pods (must be flat)
#
# The bench process joins the node's network namespace and spawns the plugins directly, as a
# runtime on the node does; peer-ptp.py spawns ptp through `ip netns exec`, whose own cost is
# measured here too and shown next to the ptp ratios.
# Goals (issue 15), same run: chain ADD <= 1.8x the floor, DEL <= 1.1x the floor; burst p99 < 20 ms.
#
# Usage (root): bench/cni.sh [ITERATIONS]   (default 20; release builds in $CARGO_TARGET_DIR, or
# BIN=DIR: prebuilt DIR/sixfold, DIR/sixfold-cni, DIR/sixfold-egress-cni, DIR/examples/burst)
# ($SIXFOLD_SHARED defaults to ../shared.)
# Needs: the AWS CLI on PATH (./.venv/bin is added), iproute2, iputils-ping, nftables,
# containernetworking-plugins. Everything lives in namespaces it creates and removes; the root
# namespace is never touched. The region listens on 127.0.0.1 of the bench's own node namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
SHARED=${SIXFOLD_SHARED:-../shared}
[ "$(id -u)" = 0 ] || { echo "bench/cni.sh: run as root (it creates network namespaces)" >&2; exit 1; }
[ -f "$SHARED/bench/peer-ptp.py" ] || { echo "bench/cni.sh: $SHARED/bench/peer-ptp.py not found; set SIXFOLD_SHARED" >&2; exit 1; }
[ -x .venv/bin/aws ] && export PATH="$PWD/.venv/bin:$PATH"
command -v aws >/dev/null || { echo "bench/cni.sh: the AWS CLI is needed (scripts/install-deps --tests)" >&2; exit 1; }
TARGET=${CARGO_TARGET_DIR:-target}
if [ -z "${BIN:-}" ]; then
    echo "building release binaries (sixfold, sixfold-cni, sixfold-egress-cni, the burst client) in $TARGET ..." >&2
    cargo build --release -q -p sixfold -p cni --bins
    cargo build --release -q -p agent --example burst
    BIN=$(cd "$TARGET/release" && pwd)
fi

SF_JSON=$(mktemp); trap 'rm -f "$SF_JSON"' EXIT
BIN="$BIN" N="$N" OUT="$SF_JSON" timeout 900 python3 - <<'PY'
import ctypes, json, os, re, socket, statistics, subprocess, sys, tempfile, time, uuid

BIN, N, OUT = os.environ["BIN"], int(os.environ["N"]), os.environ["OUT"]
NODE = "bench-sf-" + uuid.uuid4().hex[:6]
CNI_PATH = f"{BIN}:/usr/lib/cni"

def sh(*a, check=True, **kw):
    return subprocess.run(a, check=check, capture_output=True, text=True, timeout=60, **kw)

def stat(xs):
    xs = sorted(x * 1000 for x in xs)
    return {"median_ms": round(statistics.median(xs), 3), "p90_ms": round(xs[int(0.9 * (len(xs) - 1))], 3),
            "p99_ms": round(xs[min(len(xs) - 1, int(0.99 * len(xs)))], 3)}

TRACE = None  # set once the temp dir exists
def enter_netns(path):
    """Join a network namespace for the rest of this (single-threaded) process."""
    fd = os.open(path, os.O_RDONLY)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
        raise OSError(ctypes.get_errno(), f"setns {path}")
    os.close(fd)

procs, pods, tmp = [], [], tempfile.mkdtemp(prefix="bench-sf-")
def aws(endpoint, *args):
    env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=f"{tmp}/region/credentials", AWS_CONFIG_FILE="/dev/null",
               AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
    p = subprocess.run(["aws", "--profile", "sixfold", "--region", "us-east-1",
                        "--endpoint-url", endpoint, "--output", "json", *args],
                       env=env, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"aws {args}: {p.stderr}")
    return json.loads(p.stdout) if p.stdout.strip() else None

def agent_call(sock, req):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(10)
    s.connect(sock); s.sendall((json.dumps(req) + "\n").encode())
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk: break
        buf += chunk
    s.close()
    return json.loads(buf)

def plugin(cmd, name, cid, netns, stdin, runs=None):
    """One plugin run, spawned directly in the node namespace (this process lives there). With
    `runs`, the run's trace (SIXFOLD_CNI_TRACE) and its spawn/reap times are appended to it."""
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": CNI_PATH, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if runs is not None:
        env["SIXFOLD_CNI_TRACE"] = TRACE
        open(TRACE, "w").close()
    data = json.dumps(stdin)
    t_spawn = time.perf_counter()
    p = subprocess.run([os.path.join(BIN, name)], input=data, env=env, capture_output=True, text=True, timeout=60)
    t_done = time.perf_counter()
    if p.returncode != 0:
        raise RuntimeError(f"{name} {cmd} failed: {p.stdout} {p.stderr}")
    if runs is not None:
        rec = json.loads(open(TRACE).read().strip().splitlines()[-1])
        runs.append(dict(rec, plugin=name, t_spawn=t_spawn, t_done=t_done))
    return json.loads(p.stdout) if p.stdout.strip() else None

def breakdown(chains):
    """Per-step medians over pods. `chains`: per pod, the plugin runs of one chain command."""
    rows = {}  # label -> list of per-pod totals (ms)
    order = []
    def add(pod_rows, label, ms):
        if label not in pod_rows:
            pod_rows[label] = [0.0, 0]
        pod_rows[label][0] += ms; pod_rows[label][1] += 1
    for runs in chains:
        pr = {}
        for r in runs:
            short = r["plugin"].replace("sixfold-", "")
            add(pr, f"{short}: spawn -> main (exec, loader)", (r["t_start"] - r["t_spawn"]) * 1000)
            top = 0.0
            for label, depth, ms in r["steps"]:
                label = re.sub(r"\b(eni|egr)[0-9a-f]{11}\b", r"\1<hash>", label)
                add(pr, f"{short}: {'  ' * depth}{label}", ms)
                if depth == 0:
                    top += ms
            add(pr, f"{short}: other in-process (parsing, JSON, glue)", (r["t_end"] - r["t_start"]) * 1000 - top)
            add(pr, f"{short}: exit -> reaped", (r["t_done"] - r["t_end"]) * 1000)
        for label, (ms, n) in pr.items():
            if label not in rows:
                rows[label] = []; order.append(label)
            rows[label].append((ms, n))
    out = []
    for label in order:
        vals = rows[label] + [(0.0, 0)] * (len(chains) - len(rows[label]))
        out.append([label, statistics.median(n for _, n in vals), statistics.median(ms for ms, _ in vals)])
    return out

def entry(conflist, p, prev=None):
    c = dict(p, cniVersion=conflist["cniVersion"], name=conflist["name"])
    if prev is not None: c["prevResult"] = prev
    return c

try:
    sh("ip", "netns", "add", NODE)
    sh("ip", "-n", NODE, "link", "set", "lo", "up")
    # What `ip netns exec` adds to every spawn (peer-ptp.py pays it once per ADD and per DEL).
    netns_exec = []
    for _ in range(N):
        t = time.perf_counter(); sh("ip", "netns", "exec", NODE, "/bin/true"); netns_exec.append(time.perf_counter() - t)
        t = time.perf_counter(); sh("/bin/true"); netns_exec[-1] -= time.perf_counter() - t
    enter_netns(f"/run/netns/{NODE}")
    TRACE = f"{tmp}/trace.jsonl"
    # The region, on the node namespace's own loopback.
    serve = subprocess.Popen([f"{BIN}/sixfold", "serve", "--listen", "127.0.0.1:0",
                              "--data-dir", f"{tmp}/region"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True, env=dict(os.environ, SIXFOLD_LOG="warn"))
    procs.append(serve)
    endpoint, deadline = None, time.time() + 30
    while endpoint is None and time.time() < deadline:
        m = re.search(r"listening on (http://\S+)", serve.stdout.readline())
        if m: endpoint = m.group(1)
    if endpoint is None: raise RuntimeError("sixfold serve did not start")
    vpc = aws(endpoint, "ec2", "create-vpc", "--cidr-block", "10.0.0.0/16", "--amazon-provided-ipv6-cidr-block")["Vpc"]
    v56 = vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    import ipaddress
    net56 = ipaddress.ip_network(v56)
    sub64 = ipaddress.ip_network((int(net56.network_address) | (1 << 64), 64))
    sub = aws(endpoint, "ec2", "create-subnet", "--vpc-id", vpc["VpcId"], "--cidr-block", "10.0.1.0/24",
              "--ipv6-cidr-block", str(sub64), "--availability-zone", "us-east-1a")["Subnet"]
    aws(endpoint, "ec2", "modify-subnet-attribute", "--subnet-id", sub["SubnetId"], "--assign-ipv6-address-on-creation")
    inst = aws(endpoint, "ec2", "run-instances", "--image-id", "ami-0123456789abcdef0", "--instance-type", "m5.large",
               "--subnet-id", sub["SubnetId"], "--count", "1")["Instances"][0]
    sock, confdir = f"{tmp}/agent.sock", f"{tmp}/net.d"
    agent = subprocess.Popen([f"{BIN}/sixfold", "agent", "--instance-id", inst["InstanceId"],
                              "--ec2-endpoint", endpoint, "--credentials-file", f"{tmp}/region/credentials",
                              "--profile", "sixfold", "--data-dir", f"{tmp}/agent", "--socket", sock,
                              "--cni-conf-dir", confdir, "--metrics-addr", "127.0.0.1:0"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, SIXFOLD_LOG="warn"))
    procs.append(agent)
    deadline = time.time() + 30
    while True:
        try:
            if agent_call(sock, {"op": "status"}).get("result") == "status": break
        except OSError:
            pass
        if time.time() > deadline or agent.poll() is not None: raise RuntimeError("sixfold agent did not start")
        time.sleep(0.02)
    conflist = json.load(open(f"{confdir}/10-sixfold.conflist"))

    add, ready, dele, add_runs, del_runs = [], [], [], [], []
    for i in range(N + 2):  # the first two warm the page cache and are dropped
        pod = f"{NODE}-p{i}"; sh("ip", "netns", "add", pod); pods.append(pod)
        cid, netns = uuid.uuid4().hex, f"/run/netns/{pod}"
        runs_a, runs_d = [], []
        t0 = time.perf_counter()
        prev = None
        for p in conflist["plugins"]:
            prev = plugin("ADD", p["type"], cid, netns, entry(conflist, p, prev), runs_a)
        t_add = time.perf_counter() - t0
        deadline, t_ready = t0 + 10, float("nan")
        while time.perf_counter() < deadline:
            r = subprocess.run(["ip", "netns", "exec", pod, "ping", "-6", "-c", "1", "-W", "1", "-i", "0.01", "fe80::1%eth0"],
                               capture_output=True)
            if r.returncode == 0:
                t_ready = time.perf_counter() - t0; break
            time.sleep(0.005)
        t1 = time.perf_counter()
        for p in reversed(conflist["plugins"]):
            plugin("DEL", p["type"], cid, netns, entry(conflist, p), runs_d)
        t_del = time.perf_counter() - t1
        sh("ip", "netns", "del", pod); pods.remove(pod)
        if i >= 2:
            add.append(t_add); ready.append(t_ready); dele.append(t_del)
            add_runs.append(runs_a); del_runs.append(runs_d)

    # Agent allocation cost at 0 and at 1000 live pods.
    def key(c): return {"network": "bench", "container_id": c, "ifname": "eth0"}
    def cost(tag, n=300):
        a, d = [], []
        for j in range(n):
            t = time.perf_counter(); r = agent_call(sock, dict(op="add", **key(f"{tag}-{j}"))); a.append(time.perf_counter() - t)
            assert r["result"] == "added", r
            t = time.perf_counter(); r = agent_call(sock, dict(op="del", **key(f"{tag}-{j}"))); d.append(time.perf_counter() - t)
            assert r["result"] == "deleted", r
        return stat(a), stat(d)
    a0, d0 = cost("empty")
    for j in range(1000):
        r = agent_call(sock, dict(op="add", **key(f"live-{j}")))
        assert r["result"] == "added", r
    live = agent_call(sock, {"op": "status"})["status"]["allocated"]
    a1k, d1k = cost("full")
    # 250 concurrent ADDs, then 250 concurrent DELs of them; four rounds (bench/agent-burst.sh's
    # client: per request, connect -> answer read; the same-run peer is in bench/agent-burst.sh).
    p = subprocess.run([f"{BIN}/examples/burst", "--socket", sock, "--n", "250", "--rounds", "4", "--tag", "b"],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"burst client failed: {p.stderr}")
    bursts = json.loads(p.stdout)
    out = {"n": N, "add": stat(add), "ready": stat(ready), "del": stat(dele),
           "netns_exec": stat(netns_exec),
           "steps_add": breakdown(add_runs), "steps_del": breakdown(del_runs),
           "burst": bursts,
           "agent": {"add_0": a0, "del_0": d0, "add_1000": a1k, "del_1000": d1k, "live": live}}
    json.dump(out, open(OUT, "w"))
finally:
    for p in pods: sh("ip", "netns", "del", p, check=False)
    for p in procs:
        p.kill(); p.wait()
    sh("ip", "netns", "del", NODE, check=False)
    subprocess.run(["rm", "-rf", tmp])
PY

echo "measuring the peers (same run) ..." >&2
PTP_ON=$(timeout 900 python3 "$SHARED/bench/peer-ptp.py" --iterations "$N" --dad on --json)
PTP_OFF=$(timeout 900 python3 "$SHARED/bench/peer-ptp.py" --iterations "$N" --dad off --json)
FLOOR=$(timeout 900 python3 "$SHARED/bench/netlink-floor.py" --iterations "$N")

SF="$(cat "$SF_JSON")" PTP_ON="$PTP_ON" PTP_OFF="$PTP_OFF" FLOOR="$FLOOR" python3 - <<'PY'
import json, os, re
sf, on, off = json.loads(os.environ["SF"]), json.loads(os.environ["PTP_ON"]), json.loads(os.environ["PTP_OFF"])
floor = os.environ["FLOOR"]
fa = float(re.search(r"add median ([\d.]+) ms", floor).group(1))
fd = float(re.search(r"del median ([\d.]+) ms", floor).group(1))
m = lambda r, k: r[k]["median_ms"]
x = sf["netns_exec"]["median_ms"]
print(f"pod start-up, medians of {sf['n']} pods (ms)            add      ready       del   add+del")
for name, r in [("sixfold chain (real agent)", sf), ("ptp+host-local, dad on", on), ("ptp+host-local, dad off", off)]:
    print(f"  {name:<38}{m(r,'add'):>8.1f} {m(r,'ready'):>10.1f} {m(r,'del'):>9.1f} {m(r,'add')+m(r,'del'):>9.1f}")
print(f"  {'netlink floor (2x ip -batch)':<38}{fa:>8.1f} {'':>10} {fd:>9.1f} {fa+fd:>9.1f}")
print(f"  (`ip netns exec` costs {x:.1f} ms per spawn; ptp's add and del include one each, the chain's plugins are spawned directly)")
for title, key in [("ADD", "steps_add"), ("DEL", "steps_del")]:
    print(f"where the chain's {title} time goes (median per pod, ms; indented = inside the line above, [beside] = on a thread alongside):")
    for label, n, ms in sf[key]:
        cnt = f"{n:g}x" if n != 1 else ""
        print(f"  {label:<66}{cnt:>5} {ms:>8.3f}")
ra, rd = m(sf, "add") / fa, m(sf, "del") / fd
print(f"ratio ADD sixfold/netlink floor = {ra:.2f}  (goal <= 1.8: {'met' if ra <= 1.8 else 'NOT met'})")
print(f"ratio DEL sixfold/netlink floor = {rd:.2f}  (goal <= 1.1: {'met' if rd <= 1.1 else 'NOT met'})")
for dad, r in [("on", on), ("off", off)]:
    rr = m(sf, "ready") / m(r, "ready")
    ad = (m(sf, "add") + m(sf, "del")) / (m(r, "add") + m(r, "del"))
    ad_same = (m(sf, "add") + m(sf, "del")) / (m(r, "add") + m(r, "del") - 2 * x)
    print(f"ratio vs ptp dad {dad:<3}: ready {rr:.4f} (1/{1/rr:.0f}), add {m(sf,'add')/m(r,'add'):.2f}, del {m(sf,'del')/m(r,'del'):.2f}, "
          f"add+del {ad:.3f} ({ad_same:.3f} with ptp's `ip netns exec` taken out)")
b = sf["burst"]
q = lambda r: f"p50 {r['p50_ms']:.2f} p90 {r['p90_ms']:.2f} p99 {r['p99_ms']:.2f} max {r['max_ms']:.2f} ms"
print(f"agent burst, 250 concurrent requests x 4 rounds ({b['add']['n']} ADDs, {b['del']['n']} DELs), connect -> answer: ADD {q(b['add'])}; "
      f"DEL {q(b['del'])}  (goal ADD p99 < 20 ms: {'met' if b['add']['p99_ms'] < 20 else 'NOT met'}; "
      f"group commit vs one fsync per request: bench/agent-burst.sh)")
a = sf["agent"]
print(f"agent socket, medians (ms): add {a['add_0']['median_ms']:.3f} / del {a['del_0']['median_ms']:.3f} at 0 live pods; "
      f"add {a['add_1000']['median_ms']:.3f} / del {a['del_1000']['median_ms']:.3f} at {a['live']} live pods")
print(f"ratio agent add+del at 1000 / at 0 live pods = "
      f"{(a['add_1000']['median_ms']+a['del_1000']['median_ms'])/(a['add_0']['median_ms']+a['del_0']['median_ms']):.2f} (flat is ~1)")
PY
