"""IRSA with boto3: exchange a cluster's service-account token for temporary credentials
(AssumeRoleWithWebIdentity, unsigned), then call EC2 and STS with them.

Args: role_arn, token. Prints the STS answer's fields, the caller identity seen with the new
credentials, the VPC count, and the error of a tampered token.
"""
import os

import boto3

from lib import ARGS, attempt, client, config, emit

sts = client("sts")
got = sts.assume_role_with_web_identity(
    RoleArn=ARGS["role_arn"], RoleSessionName="boto3-node", WebIdentityToken=ARGS["token"]
)
c = got["Credentials"]
session = boto3.session.Session(
    aws_access_key_id=c["AccessKeyId"],
    aws_secret_access_key=c["SecretAccessKey"],
    aws_session_token=c["SessionToken"],
    region_name=os.environ.get("AWS_REGION", "us-east-1"),
)
ep = os.environ["SIXFOLD_ENDPOINT"]
who = session.client("sts", endpoint_url=ep, config=config()).get_caller_identity()
vpcs = session.client("ec2", endpoint_url=ep, config=config()).describe_vpcs()["Vpcs"]
head, body, sig = ARGS["token"].split(".")
tampered = attempt(
    sts.assume_role_with_web_identity,
    RoleArn=ARGS["role_arn"],
    RoleSessionName="boto3-node",
    WebIdentityToken=".".join([head, body, sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")]),
)
emit({
    "access_key_id": c["AccessKeyId"],
    "subject": got["SubjectFromWebIdentityToken"],
    "assumed_role_arn": got["AssumedRoleUser"]["Arn"],
    "audience": got["Audience"],
    "caller_arn": who["Arn"],
    "account": who["Account"],
    "vpcs": len(vpcs),
    "tampered": tampered,
})
