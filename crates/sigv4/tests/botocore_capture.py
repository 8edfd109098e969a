# Captures requests exactly as botocore (the AWS CLI's library) signs them, at a fixed time,
# for crates/sigv4/tests/botocore.rs. Usage: python3 -c "$(cat this)" ec2|eks|presign [token].
# Prints: method, path, query, "Name<TAB>value" headers (Host as urllib3 would send it), a blank
# line, then the body in hex.
import datetime, sys
from unittest import mock
import botocore.session, botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

FIXED = datetime.datetime(2023, 11, 14, 22, 13, 20)

class Captured(Exception):
    pass

def emit(method, url, headers, body):
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    host = parts.hostname + (f":{parts.port}" if parts.port and parts.port not in (80, 443) else "")
    print(method)
    print(parts.path)
    print(parts.query)
    print(f"Host\t{host}")
    for k, v in headers.items():
        if isinstance(v, bytes):
            v = v.decode()
        print(f"{k}\t{v}")
    print()
    if body is None:
        body = b""
    if isinstance(body, str):
        body = body.encode()
    print(body.hex())

def capture(request, **kwargs):
    emit(request.method, request.url, request.headers, request.body)
    raise Captured()

def client(service):
    s = botocore.session.get_session()
    c = s.create_client(service, region_name="us-west-2", endpoint_url="http://127.0.0.1:8080",
                        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                        aws_session_token=(TOKEN or None))
    c.meta.events.register("before-send", capture)
    return c

case = sys.argv[1]
TOKEN = sys.argv[2] if len(sys.argv) > 2 else ""
with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
    try:
        if case == "ec2":
            client("ec2").describe_network_interfaces(
                Filters=[{"Name": "attachment.instance-id", "Values": ["i-0123456789abcdef0"]}],
                NetworkInterfaceIds=["eni-0a1b2c3d4e5f67890"])
        elif case == "eks":
            client("eks").list_nodegroups(clusterName="my cluster~1", maxResults=10, nextToken="a/b+c")
        elif case == "presign":
            creds = Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
            req = AWSRequest(method="GET", url="http://127.0.0.1:8080/clusters?maxResults=5")
            botocore.auth.SigV4QueryAuth(creds, "eks", "us-west-2", expires=900).add_auth(req)
            p = req.prepare()
            emit(p.method, p.url, p.headers, p.body)
    except Captured:
        pass
