#!/usr/bin/env python3
"""Benchmark: DescribeVpcs latency of a running `sixfold serve` while the requests that used to
take the region down (issue 8) are sent to it. A second client measures DescribeVpcs on its own
kept-alive connection, first alone (the peer), then while killer clients loop: a 60,000-star
filter, a backtracking filter against a 60-character tag, AssignIpv6Addresses with
Ipv6PrefixCount=4294967295 and 16000, Ipv6AddressCount=4294967295, 10,000 create-time tags, a
900,000-character tag value, and 200 slow-header connections. Prints p50/p99 of both phases, the
ratio, and what each killer was answered.

Usage: region-killers.py SIXFOLD_BINARY [SECONDS]   (run by bench/region-killers.sh)"""
import http.client, os, re, socket, subprocess, sys, tempfile, threading, time, urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

binary = sys.argv[1]
secs = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
tmp = tempfile.mkdtemp()
server = subprocess.Popen(
    [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", f"{tmp}/region"],
    stdout=subprocess.PIPE, stderr=open(f"{tmp}/serve.err", "w"), text=True)
try:
    endpoint = None
    deadline = time.time() + 20
    while time.time() < deadline and endpoint is None:
        line = server.stdout.readline()
        m = re.search(r"listening on (http://[0-9.:]+)", line)
        if m:
            endpoint = m.group(1)
    assert endpoint, "sixfold serve did not start"
    host, port = endpoint[len("http://"):].split(":")
    port = int(port)
    text = open(f"{tmp}/region/credentials").read()
    ak = re.search(r"aws_access_key_id\s*=\s*(\S+)", text).group(1)
    sk = re.search(r"aws_secret_access_key\s*=\s*(\S+)", text).group(1)

    def signed(body):
        """(body bytes, headers) of a signed EC2 Query POST (valid for the 5-minute window)."""
        if isinstance(body, dict) or isinstance(body, list):
            body = urllib.parse.urlencode(body)
        req = AWSRequest(method="POST", url=endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
        SigV4Auth(Credentials(ak, sk), "ec2", "us-east-1").add_auth(req)
        return body.encode(), dict(req.headers.items())

    def send(conn, req):
        body, headers = req
        conn.request("POST", "/", body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read().decode()

    def call(params):
        conn = http.client.HTTPConnection(host, port, timeout=120)
        try:
            return send(conn, signed(dict(Version="2016-11-15", **params)))
        finally:
            conn.close()

    # A VPC with a 60-character tag, a subnet and an instance whose ENI the killers target.
    st, x = call({"Action": "CreateVpc", "CidrBlock": "10.0.0.0/16", "AmazonProvidedIpv6CidrBlock": "true",
                  "TagSpecification.1.ResourceType": "vpc", "TagSpecification.1.Tag.1.Key": "Name",
                  "TagSpecification.1.Tag.1.Value": "a" * 60})
    vpc = re.search(r"<vpcId>(.*?)</vpcId>", x).group(1)
    v6 = re.search(r"<ipv6CidrBlock>(.*?)/56</ipv6CidrBlock>", x).group(1)
    st, x = call({"Action": "CreateSubnet", "VpcId": vpc, "CidrBlock": "10.0.1.0/24", "Ipv6CidrBlock": v6 + "/64"})
    subnet = re.search(r"<subnetId>(.*?)</subnetId>", x).group(1)
    st, x = call({"Action": "RunInstances", "ImageId": "ami-0123456789abcdef0", "InstanceType": "m5.large",
                  "MinCount": "1", "MaxCount": "1", "SubnetId": subnet})
    eni = re.search(r"<networkInterfaceId>(.*?)</networkInterfaceId>", x).group(1)

    def vpc_filter(name, value):
        return {"Action": "DescribeVpcs", "Filter.1.Name": name, "Filter.1.Value.1": value}

    tags = [("Action", "CreateVpc"), ("Version", "2016-11-15"), ("CidrBlock", "10.1.0.0/16"),
            ("TagSpecification.1.ResourceType", "vpc")]
    for i in range(1, 10001):
        tags += [(f"TagSpecification.1.Tag.{i}.Key", f"k{i}"), (f"TagSpecification.1.Tag.{i}.Value", "v")]
    killers = {
        "60,000-star filter": vpc_filter("vpc-id", "*" * 60000),
        "backtracking filter *a x14 *b": vpc_filter("tag:Name", "*a" * 14 + "*b"),
        "Ipv6PrefixCount=4294967295": {"Action": "AssignIpv6Addresses", "NetworkInterfaceId": eni, "Ipv6PrefixCount": "4294967295"},
        "Ipv6PrefixCount=16000": {"Action": "AssignIpv6Addresses", "NetworkInterfaceId": eni, "Ipv6PrefixCount": "16000"},
        "Ipv6AddressCount=4294967295": {"Action": "AssignIpv6Addresses", "NetworkInterfaceId": eni, "Ipv6AddressCount": "4294967295"},
        "10,000 create-time tags": tags,
        "900,000-char tag value": {"Action": "CreateVpc", "CidrBlock": "10.2.0.0/16", "TagSpecification.1.ResourceType": "vpc",
                                   "TagSpecification.1.Tag.1.Key": "Name", "TagSpecification.1.Tag.1.Value": "x" * 900000},
    }
    prepared = {}
    for name, params in killers.items():
        if isinstance(params, dict):
            params = dict(Version="2016-11-15", **params)
        prepared[name] = signed(params)

    describe = signed({"Action": "DescribeVpcs", "Version": "2016-11-15"})

    def measure(seconds):
        conn = http.client.HTTPConnection(host, port, timeout=60)
        lat = []
        end = time.time() + seconds
        while time.time() < end:
            t = time.perf_counter()
            st, _ = send(conn, describe)
            lat.append((time.perf_counter() - t) * 1000)
            assert st == 200, st
        conn.close()
        lat.sort()
        return lat

    def pct(lat, p):
        return lat[min(len(lat) - 1, int(len(lat) * p / 100))]

    stop = threading.Event()
    answers = {}

    def killer(name):
        conn = http.client.HTTPConnection(host, port, timeout=120)
        n, worst = 0, 0.0
        while not stop.is_set():
            t = time.perf_counter()
            try:
                st, body = send(conn, prepared[name])
            except (OSError, http.client.HTTPException) as e:
                st, body = f"error {e}", ""
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=120)
            worst = max(worst, (time.perf_counter() - t) * 1000)
            n += 1
            code = re.search(r"<Code>(.*?)</Code>", body)
            answers[name] = (st, code.group(1) if code else "", n, worst)
        conn.close()

    slow_socks = []

    def slowloris():
        # 200 connections that each send a partial header, reopened as the region closes them.
        while not stop.is_set():
            while len(slow_socks) < 200 and not stop.is_set():
                try:
                    s = socket.create_connection((host, port), timeout=2)
                    s.sendall(b"POST / HTTP/1.1\r\nHost: region\r\nX-Slow: ")
                    slow_socks.append(s)
                except OSError:
                    break
            time.sleep(0.5)
            for s in list(slow_socks):
                try:
                    s.setblocking(False)
                    if s.recv(1024) == b"":
                        raise OSError("closed")
                except BlockingIOError:
                    continue
                except OSError:
                    slow_socks.remove(s)
                    answers["slow-header connections closed"] = (
                        "closed", "", answers.get("slow-header connections closed", (0, 0, 0, 0))[2] + 1, 0)
                    s.close()

    measure(1.0)  # warm up
    alone = measure(secs)
    threads = [threading.Thread(target=killer, args=(n,)) for n in prepared]
    threads.append(threading.Thread(target=slowloris))
    for t in threads:
        t.start()
    time.sleep(1.0)
    attacked = measure(secs)
    stop.set()
    for t in threads:
        t.join(timeout=150)
    for s in slow_socks:
        s.close()

    print(f"DescribeVpcs latency on a kept-alive connection, {secs:.0f} s per phase (release build, same run)")
    print(f"{'phase':<34} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'alone (peer)':<34} {len(alone):>9} {pct(alone, 50):>8.2f} {pct(alone, 99):>8.2f}")
    print(f"{'with every killer looping':<34} {len(attacked):>9} {pct(attacked, 50):>8.2f} {pct(attacked, 99):>8.2f}")
    print(f"p99 ratio attacked/alone: {pct(attacked, 99) / pct(alone, 99):.1f}x   (target: p99 < 50 ms)")
    print()
    print(f"{'killer':<34} {'answer':<38} {'sent':>6} {'slowest ms':>10}")
    for name, (st, code, n, worst) in sorted(answers.items()):
        print(f"{name:<34} {str(st) + ' ' + code:<38} {n:>6} {worst:>10.1f}")
finally:
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
