"""Smoke: boto3 parses the region's DescribeVpcs reply (a VPC made first, so the set is not empty)."""
from lib import client, emit

ec2 = client("ec2")
made = ec2.create_vpc(CidrBlock="10.7.0.0/16")
emit({"created": made["Vpc"]["VpcId"], "vpcs": ec2.describe_vpcs()["Vpcs"]})
