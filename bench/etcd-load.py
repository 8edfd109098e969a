#!/usr/bin/env python3
"""Mixed read/write EC2 load for bench/etcd.sh: THREADS clients (boto3, signed like the AWS CLI)
for SECONDS, each looping CreateVpc (write) then READS x DescribeVpcs of it (read), spread
round-robin over the ENDPOINTS. Prints requests/s and the number of failed calls."""
import sys, threading, time
import boto3, botocore.config

creds_file, seconds, threads, reads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
endpoints = sys.argv[5:]
ak = sk = None
for line in open(creds_file):
    k, _, v = line.partition("=")
    if k.strip() == "aws_access_key_id": ak = v.strip()
    if k.strip() == "aws_secret_access_key": sk = v.strip()
cfg = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10)
done = [0] * threads
failed = [0] * threads
stop = time.time() + seconds

def run(i):
    clients = [boto3.session.Session().client("ec2", region_name="us-east-1", endpoint_url=e,
               aws_access_key_id=ak, aws_secret_access_key=sk, config=cfg) for e in endpoints]
    n = i
    while time.time() < stop:
        c = clients[n % len(clients)]; n += 1
        try:
            v = c.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            done[i] += 1
            for _ in range(reads):
                clients[n % len(clients)].describe_vpcs(VpcIds=[v]); n += 1
                done[i] += 1
        except Exception:
            failed[i] += 1

ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
t0 = time.time()
for t in ts: t.start()
for t in ts: t.join()
el = time.time() - t0
print(f"{sum(done)/el:.0f} {sum(failed)}")
