"""Authorization with boto3: temporary credentials (as the metadata service hands them out)
whose role allows ec2:Describe* only.

Args: key, secret, token, instance_id, eni. Prints the instance described, and the error codes
of AssignIpv6Addresses on the ENI and of EKS ListClusters.
"""
import os

import boto3

from lib import ARGS, attempt, config, emit

session = boto3.session.Session(
    aws_access_key_id=ARGS["key"],
    aws_secret_access_key=ARGS["secret"],
    aws_session_token=ARGS["token"],
    region_name=os.environ.get("AWS_REGION", "us-east-1"),
)
ep = os.environ["SIXFOLD_ENDPOINT"]
ec2 = session.client("ec2", endpoint_url=ep, config=config())
eks = session.client("eks", endpoint_url=ep, config=config())
d = ec2.describe_instances(InstanceIds=[ARGS["instance_id"]])
assign = attempt(ec2.assign_ipv6_addresses, NetworkInterfaceId=ARGS["eni"], Ipv6PrefixCount=1)
listed = attempt(eks.list_clusters)
emit({
    "described": d["Reservations"][0]["Instances"][0]["InstanceId"],
    "assign_error": assign.get("error"),
    "assign_message": assign.get("message"),
    "eks_error": listed.get("error"),
})
