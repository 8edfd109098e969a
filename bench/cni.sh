#!/usr/bin/env bash
# Pod start-up benchmark, printed (never asserted): the sixfold chain (sixfold-cni +
# sixfold-egress-cni from the conflist a REAL `sixfold agent` wrote, the agent getting its /80
# from a REAL `sixfold serve`) against Debian's ptp + host-local doing the IPv6 equivalent, in
# the same run, on the same machine, measured the same way (python, `ip netns exec`, ping):
#
#   ready    ADD start -> first ping from the pod to its gateway answered
#   add/del  CNI ADD / DEL wall time of the whole chain
#   agent    add+del latency on the agent socket with 0 and with 1000 live pods (must be flat)
#
# Peers: $SIXFOLD_SHARED/bench/peer-ptp.py (--dad on and off) and netlink-floor.py
# ($SIXFOLD_SHARED defaults to ../shared). Goals: ready <= 1/20 of ptp's (dad on),
# ADD+DEL <= 0.5x ptp's (dad on).
#
# Usage (root): bench/cni.sh [ITERATIONS]   (default 20; release builds in $CARGO_TARGET_DIR)
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
echo "building release binaries (sixfold, sixfold-cni, sixfold-egress-cni) in $TARGET ..." >&2
cargo build --release -q -p sixfold -p cni --bins
BIN=$(cd "$TARGET/release" && pwd)

SF_JSON=$(mktemp); trap 'rm -f "$SF_JSON"' EXIT
BIN="$BIN" N="$N" OUT="$SF_JSON" timeout 900 python3 - <<'PY'
import json, os, re, socket, statistics, subprocess, sys, tempfile, time, uuid

BIN, N, OUT = os.environ["BIN"], int(os.environ["N"]), os.environ["OUT"]
NODE = "bench-sf-" + uuid.uuid4().hex[:6]
CNI_PATH = f"{BIN}:/usr/lib/cni"

def sh(*a, check=True, **kw):
    return subprocess.run(a, check=check, capture_output=True, text=True, timeout=60, **kw)

def stat(xs):
    xs = sorted(x * 1000 for x in xs)
    return {"median_ms": round(statistics.median(xs), 3), "p90_ms": round(xs[int(0.9 * (len(xs) - 1))], 3)}

procs, pods, tmp = [], [], tempfile.mkdtemp(prefix="bench-sf-")
def aws(endpoint, *args):
    env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=f"{tmp}/region/credentials", AWS_CONFIG_FILE="/dev/null",
               AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
    p = subprocess.run(["ip", "netns", "exec", NODE, "aws", "--profile", "sixfold", "--region", "us-east-1",
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

def plugin(cmd, name, cid, netns, stdin):
    env = {"CNI_COMMAND": cmd, "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
           "CNI_PATH": CNI_PATH, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    p = subprocess.run(["ip", "netns", "exec", NODE, os.path.join(BIN, name)], input=json.dumps(stdin),
                       env=env, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"{name} {cmd} failed: {p.stdout} {p.stderr}")
    return json.loads(p.stdout) if p.stdout.strip() else None

def entry(conflist, p, prev=None):
    c = dict(p, cniVersion=conflist["cniVersion"], name=conflist["name"])
    if prev is not None: c["prevResult"] = prev
    return c

try:
    sh("ip", "netns", "add", NODE)
    sh("ip", "-n", NODE, "link", "set", "lo", "up")
    # The region, on the node namespace's own loopback.
    serve = subprocess.Popen(["ip", "netns", "exec", NODE, f"{BIN}/sixfold", "serve", "--listen", "127.0.0.1:0",
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
    agent = subprocess.Popen(["ip", "netns", "exec", NODE, f"{BIN}/sixfold", "agent", "--instance-id", inst["InstanceId"],
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

    add, ready, dele = [], [], []
    for i in range(N + 2):  # the first two warm the page cache and are dropped
        pod = f"{NODE}-p{i}"; sh("ip", "netns", "add", pod); pods.append(pod)
        cid, netns = uuid.uuid4().hex, f"/run/netns/{pod}"
        t0 = time.perf_counter()
        prev = None
        for p in conflist["plugins"]:
            prev = plugin("ADD", p["type"], cid, netns, entry(conflist, p, prev))
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
            plugin("DEL", p["type"], cid, netns, entry(conflist, p))
        t_del = time.perf_counter() - t1
        sh("ip", "netns", "del", pod); pods.remove(pod)
        if i >= 2:
            add.append(t_add); ready.append(t_ready); dele.append(t_del)

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
    out = {"n": N, "add": stat(add), "ready": stat(ready), "del": stat(dele),
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
fa = re.search(r"add median ([\d.]+) ms", floor); fd = re.search(r"del median ([\d.]+) ms", floor)
m = lambda r, k: r[k]["median_ms"]
print(f"pod start-up, medians of {sf['n']} pods (ms)            add      ready       del   add+del")
for name, r in [("sixfold chain (real agent)", sf), ("ptp+host-local, dad on", on), ("ptp+host-local, dad off", off)]:
    print(f"  {name:<38}{m(r,'add'):>8.1f} {m(r,'ready'):>10.1f} {m(r,'del'):>9.1f} {m(r,'add')+m(r,'del'):>9.1f}")
if fa and fd:
    print(f"  {'netlink floor (ip -batch)':<38}{float(fa.group(1)):>8.1f} {'':>10} {float(fd.group(1)):>9.1f} {float(fa.group(1))+float(fd.group(1)):>9.1f}")
ready_on = m(sf, "ready") / m(on, "ready"); ad_on = (m(sf, "add") + m(sf, "del")) / (m(on, "add") + m(on, "del"))
ready_off = m(sf, "ready") / m(off, "ready"); ad_off = (m(sf, "add") + m(sf, "del")) / (m(off, "add") + m(off, "del"))
print(f"ratio ready   sixfold/ptp(dad on)  = {ready_on:.4f}  (1/{1/ready_on:.0f}; goal <= 1/20: {'met' if ready_on <= 0.05 else 'NOT met'})")
print(f"ratio add+del sixfold/ptp(dad on)  = {ad_on:.3f}  (goal <= 0.5: {'met' if ad_on <= 0.5 else 'NOT met'})")
print(f"ratio ready   sixfold/ptp(dad off) = {ready_off:.3f}")
print(f"ratio add+del sixfold/ptp(dad off) = {ad_off:.3f}")
if fa and fd:
    print(f"ratio add+del sixfold/netlink floor = {(m(sf,'add')+m(sf,'del'))/(float(fa.group(1))+float(fd.group(1))):.2f}")
a = sf["agent"]
print(f"agent socket, medians (ms): add {a['add_0']['median_ms']:.3f} / del {a['del_0']['median_ms']:.3f} at 0 live pods; "
      f"add {a['add_1000']['median_ms']:.3f} / del {a['del_1000']['median_ms']:.3f} at {a['live']} live pods")
print(f"ratio agent add+del at 1000 / at 0 live pods = "
      f"{(a['add_1000']['median_ms']+a['del_1000']['median_ms'])/(a['add_0']['median_ms']+a['del_0']['median_ms']):.2f} (flat is ~1)")
PY
