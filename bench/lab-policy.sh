#!/usr/bin/env bash
# Benchmark (not a test) of route-table and security-group convergence in the reconciling lab,
# needs root. On a 2-node lab, ROUNDS rounds (default 10, at most 50) of each change kind, made
# with boto3 against the lab's region (so the AWS CLI's own start-up is not counted):
#   route: DeleteRoute ::/0 → a pod's IPv6 connect to the internet host gets ENETUNREACH;
#          CreateRoute ::/0 → EIGW → it connects again;
#   sg:    RevokeSecurityGroupEgress IPv6 ::/0 → the connect is dropped (no answer);
#          AuthorizeSecurityGroupEgress → it connects again.
# Time = from the API call to the first probe that sees the new outcome. The probe opens a
# non-blocking connect from the pod's namespace every 20 ms (in this process: setns around
# socket()); each attempt tells the state at its start: a connect counts as "works" only within
# 0.9 s (its first SYN, before the retransmit at 1 s, which may already see the change); an ICMP
# error counts until 1.5 s (the error of the first SYN arrives while connect() holds the socket
# and is dropped, TcpExtLockDroppedIcmps; the retransmit's error is the one seen, and a first SYN
# that did not connect means the route was already gone); no answer by 1.5 s is a drop.
# Peer in the same run (the floor): the same dataplane change made directly, `ip route replace`
# in the VPC router / `nft -f` of the very ruleset the reconciler wrote, probed the same way.
# Also printed: the reconciler's own converge time (its log) for the same rounds, and for
# ROUNDS changes that touch nothing it enforces (CreateTags on the VPC): the idle cost.
# BUILD=debug uses the debug binaries (no release build).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "the lab builds network namespaces and needs root: sudo bash bench/lab-policy.sh" >&2
  exit 1
fi
build="${BUILD:-release}"
if [ "$build" = release ]; then
  cargo build --release -q -p sixfold -p cni
fi
bin="$(pwd)/${CARGO_TARGET_DIR:-target}/$build/sixfold"
py="$(pwd)/.venv/bin/python3"
[ -x "$py" ] || py=python3
rounds="${ROUNDS:-10}"
if [ "$rounds" -lt 1 ] || [ "$rounds" -gt 50 ]; then
  echo "ROUNDS must be 1..50" >&2
  exit 1
fi
name="bp$$"; name="${name:0:12}"
cleanup() { "$bin" down --name "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "== route and security-group convergence: $rounds rounds each ($build build, load $(cut -d' ' -f1 /proc/loadavg))"
"$bin" up --name "$name" --nodes 2 --pods-per-node 1 --services 0 --fargate-pods 0 >/dev/null
LAB="$name" ROUNDS="$rounds" timeout 1200 "$py" - <<'PY'
import ctypes, errno, json, os, re, select, socket, statistics, subprocess, time
import boto3, botocore.config

lab, rounds = os.environ["LAB"], int(os.environ["ROUNDS"])
state_dir = f"/run/sixfold-lab/{lab}"
with open(f"{state_dir}/lab.json") as f:
    s = json.load(f)
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = s["region"]["credentials"]
ec2 = boto3.session.Session(profile_name="sixfold", region_name="us-east-1").client(
    "ec2", endpoint_url=s["region"]["endpoint"],
    config=botocore.config.Config(retries={"max_attempts": 1}))
rt, eigw = s["vpc"]["route_table"], s["vpc"]["egress_only_gateway"]
pod, node = s["pods"][0], s["nodes"][0]
assert pod["node"] == node["name"], (pod, node)
target = (s["internet_ipv6"], 80)
eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[node["eni"]])["NetworkInterfaces"][0]
sg = eni["Groups"][0]["GroupId"]
router = f"sfl-{lab}-vpc"
v6_all = [{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}]

# --- the probe ---------------------------------------------------------------------------
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
root_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
pod_ns = os.open(f"/run/netns/{pod['netns']}", os.O_RDONLY)
INTERVAL, WINDOW_OK, WINDOW, LIMIT = 0.02, 0.9, 1.5, 20.0

def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")

def pod_socket():
    setns(pod_ns)
    try:
        return socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    finally:
        setns(root_ns)

def until(t0, want):
    """Seconds from t0 to the start of the first attempt whose outcome is `want`
    ('ok', 'silent' or an errno name)."""
    pending, nxt = [], time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if now - t0 > LIMIT:
                seen = [p[2] for p in pending]
                raise SystemExit(f"no {want} within {LIMIT} s of the call (last: {seen[:5]})")
            if now >= nxt:
                sock = pod_socket()
                sock.setblocking(False)
                e = sock.connect_ex(target)
                out = None if e in (0, errno.EINPROGRESS) else errno.errorcode.get(e, str(e))
                pending.append([now, sock, out])
                nxt = now + INTERVAL
            poll = select.poll()
            by_fd = {}
            for p in pending:
                if p[2] is None:
                    poll.register(p[1].fileno(), select.POLLOUT | select.POLLERR)
                    by_fd[p[1].fileno()] = p
            for fd, _ in poll.poll(5):
                p = by_fd[fd]
                age = time.monotonic() - p[0]
                e = p[1].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if e == 0:
                    p[2] = "ok" if age <= WINDOW_OK else "late"
                elif age <= WINDOW:
                    p[2] = errno.errorcode.get(e, str(e))
            now = time.monotonic()
            for p in pending:
                if p[2] is None and now - p[0] > WINDOW:
                    p[2] = "silent"
            while pending and pending[0][2] is not None:
                start, sock, out = pending.pop(0)
                sock.close()
                if out == want:
                    return start - t0
    finally:
        for p in pending:
            p[1].close()

# --- the changes -------------------------------------------------------------------------
def run(*argv, stdin=None):
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r.stdout

def api(call, want):
    t0 = time.monotonic()
    call()
    return until(t0, want)

def floor(argv, stdin, want):
    t0 = time.monotonic()
    run(*argv, stdin=stdin)
    return until(t0, want)

route_rounds = {"DeleteRoute ::/0 → ENETUNREACH": [], "CreateRoute ::/0 → works": []}
sg_rounds = {"RevokeSecurityGroupEgress → dropped": [], "AuthorizeSecurityGroupEgress → works": []}
(k_del, k_add), (k_rev, k_auth) = route_rounds, sg_rounds
until(time.monotonic(), "ok")
log = f"{state_dir}/logs/reconciler.log"
log_from = os.path.getsize(log)
for r in range(rounds):
    route_rounds[k_del].append(api(
        lambda: ec2.delete_route(RouteTableId=rt, DestinationIpv6CidrBlock="::/0"), "ENETUNREACH"))
    route_rounds[k_add].append(api(
        lambda: ec2.create_route(RouteTableId=rt, DestinationIpv6CidrBlock="::/0",
                                 EgressOnlyInternetGatewayId=eigw), "ok"))
    sg_rounds[k_rev].append(api(
        lambda: ec2.revoke_security_group_egress(GroupId=sg, IpPermissions=v6_all), "silent"))
    if r == 0:
        time.sleep(0.5)  # the reconciler has logged its converge; the ruleset it wrote:
        revoked = run("ip", "netns", "exec", node["netns"], "nft", "list", "table", "inet", "sixfold-sg")
    sg_rounds[k_auth].append(api(
        lambda: ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=v6_all), "ok"))
    print(f"  round {r + 1}: " + "  ".join(f"{v[-1] * 1000:5.0f}"
          for v in [*route_rounds.values(), *sg_rounds.values()]) + " ms", flush=True)
time.sleep(0.5)
CONVERGED = re.compile(
    r"converged \(\d+ changes? up to revision \d+\) in (\d+) ms \(nodes \d+ ms, policy (\d+) ms")
def converges(since):
    """(total ms, policy ms) of the reconciler's converges logged after byte `since`."""
    with open(log) as f:
        f.seek(since)
        return [(int(m[1]), int(m[2])) for m in CONVERGED.finditer(f.read())]
conv = converges(log_from)
# Converges with nothing to change: a tag on the VPC is a change of the region (an event) that
# touches no route, group or interface.
idle_from = os.path.getsize(log)
for r in range(rounds):
    ec2.create_tags(Resources=[s["vpc"]["id"]], Tags=[{"Key": "bench", "Value": str(r)}])
    time.sleep(0.3)
time.sleep(0.5)
idle = converges(idle_from)
authorized = run("ip", "netns", "exec", node["netns"], "nft", "list", "table", "inet", "sixfold-sg")

# The floor: the same kernel changes made directly (the reconciler sees no region change and
# stays out; the final state is what it wrote, so its memo still holds).
table = None
for rule in json.loads(run("ip", "-j", "-n", router, "-6", "rule", "show")):
    if rule.get("iif") == node["name"] and rule.get("priority") == 1001:
        table = rule["table"]
default = [x for x in json.loads(run("ip", "-j", "-n", router, "-6", "route", "show", "table", table))
           if x["dst"] == "default"]
assert default and default[0].get("gateway"), default
gw, dev = default[0]["gateway"], default[0]["dev"]
ns_nft = ("ip", "netns", "exec", node["netns"], "nft", "-f", "-")
head = "table inet sixfold-sg\ndelete table inet sixfold-sg\n"
floor_rounds = {k: [] for k in [k_del, k_add, k_rev, k_auth]}
for r in range(rounds):
    ipr = ("ip", "-n", router, "-6", "route", "replace")
    floor_rounds[k_del].append(floor(ipr + ("unreachable", "default", "table", table), None, "ENETUNREACH"))
    floor_rounds[k_add].append(floor(ipr + ("default", "via", gw, "dev", dev, "table", table), None, "ok"))
    floor_rounds[k_rev].append(floor(ns_nft, head + revoked, "silent"))
    floor_rounds[k_auth].append(floor(ns_nft, head + authorized, "ok"))

def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
print(f"  {'change → outcome':40} {'reconciler median / p90':>24} {'floor median / p90':>20} {'ratio':>7}  (goal 2 s)")
for k, v in [*route_rounds.items(), *sg_rounds.items()]:
    f = floor_rounds[k]
    med, p90, fmed, fp90 = statistics.median(v), pct(v, 0.9), statistics.median(f), pct(f, 0.9)
    print(f"  {k:40} {med * 1000:10.0f} / {p90 * 1000:5.0f} ms {fmed * 1000:11.0f} / {fp90 * 1000:4.0f} ms "
          f"{med / fmed:6.1f}×  ({med / 2:.2f}× / {p90 / 2:.2f}× the goal)")
if conv:
    total, pol = [c[0] for c in conv], [c[1] for c in conv]
    print(f"  the reconciler's converges in these rounds: {len(conv)}, median {statistics.median(total):.0f} ms "
          f"(policy::sync {statistics.median(pol):.0f} ms), p90 {pct(total, 0.9):.0f} ms")
if idle:
    total, pol = [c[0] for c in idle], [c[1] for c in idle]
    print(f"  converges with nothing to change (CreateTags on the VPC): {len(idle)}, median "
          f"{statistics.median(total):.0f} ms (policy::sync {statistics.median(pol):.0f} ms), "
          f"p90 {pct(total, 0.9):.0f} ms")
PY
