"""The seed's workflow with boto3 (waiters and paginators): an IPv4 VPC and its subnet get IPv6
(associate-vpc-cidr-block, associate-subnet-cidr-block), IPv6 auto-assignment with a ::/0 route, IAM roles with
the AWS-managed EKS policies, the CNI role refused with only AmazonEKS_CNI_Policy then accepted
with the IPv6 policy attached, an ipv6 cluster, the vpc-cni add-on, a node group, teardown.

Args: name, ipv6_policy (document). Prints the observable results (same keys as workflow.mjs).
"""
import ipaddress
import json
import time

from lib import ARGS, attempt, client, emit

n = ARGS["name"]
ec2, eks, iam, sts = client("ec2"), client("eks"), client("iam"), client("sts")
fast = {"Delay": 1, "MaxAttempts": 30}
account = sts.get_caller_identity()["Account"]

vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
ec2.get_waiter("vpc_available").wait(VpcIds=[vpc], WaiterConfig=fast)
# The existing IPv4 subnet, migrated below.
subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
ec2.associate_vpc_cidr_block(VpcId=vpc, AmazonProvidedIpv6CidrBlock=True)
block = None
for _ in range(30):
    sets = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0].get("Ipv6CidrBlockAssociationSet", [])
    done = [a for a in sets if a["Ipv6CidrBlockState"]["State"] == "associated"]
    if done:
        block = done[0]["Ipv6CidrBlock"]
        break
    time.sleep(0.5)
sub64 = str(next(ipaddress.ip_network(block).subnets(new_prefix=64)))
ec2.associate_subnet_cidr_block(SubnetId=subnet, Ipv6CidrBlock=sub64)
subnet_block = None
for _ in range(30):
    sets = ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0].get("Ipv6CidrBlockAssociationSet", [])
    done = [a for a in sets if a["Ipv6CidrBlockState"]["State"] == "associated"]
    if done:
        subnet_block = done[0]["Ipv6CidrBlock"]
        break
    time.sleep(0.5)
ec2.modify_subnet_attribute(SubnetId=subnet, AssignIpv6AddressOnCreation={"Value": True})
igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
rtb = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]["RouteTableId"]
ec2.create_route(RouteTableId=rtb, DestinationIpv6CidrBlock="::/0", GatewayId=igw)

def role(name, service, policies):
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    for p in policies:
        iam.attach_role_policy(RoleName=name, PolicyArn=f"arn:aws:iam::aws:policy/{p}")
    return arn

cluster_role = role(f"{n}-cluster", "eks.amazonaws.com", ["AmazonEKSClusterPolicy"])
node_role = role(f"{n}-node", "ec2.amazonaws.com", ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"])
cni_role = role(f"{n}-cni", "ec2.amazonaws.com", ["AmazonEKS_CNI_Policy"])

c = eks.create_cluster(name=n, roleArn=cluster_role, resourcesVpcConfig={"subnetIds": [subnet]},
                       kubernetesNetworkConfig={"ipFamily": "ipv6"})["cluster"]
eks.get_waiter("cluster_active").wait(name=n, WaiterConfig=fast)
c = eks.describe_cluster(name=n)["cluster"]
denied = attempt(eks.create_addon, clusterName=n, addonName="vpc-cni", serviceAccountRoleArn=cni_role)
pol = iam.create_policy(PolicyName=f"{n}-ipv6", PolicyDocument=ARGS["ipv6_policy"])["Policy"]["Arn"]
iam.attach_role_policy(RoleName=f"{n}-cni", PolicyArn=pol)
eks.create_addon(clusterName=n, addonName="vpc-cni", serviceAccountRoleArn=cni_role)
eks.get_waiter("addon_active").wait(clusterName=n, addonName="vpc-cni", WaiterConfig=fast)
eks.create_nodegroup(clusterName=n, nodegroupName="ng", subnets=[subnet], nodeRole=node_role,
                     scalingConfig={"minSize": 1, "maxSize": 3, "desiredSize": 2})
eks.get_waiter("nodegroup_active").wait(clusterName=n, nodegroupName="ng", WaiterConfig=fast)
pages = ec2.get_paginator("describe_instances").paginate(
    Filters=[{"Name": "tag:eks:cluster-name", "Values": [n]}], PaginationConfig={"PageSize": 5})
instances = [i for p in pages for r in p["Reservations"] for i in r["Instances"]]
ids = [i["InstanceId"] for i in instances]
ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig=fast)
enis = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": ids}])["NetworkInterfaces"]
attached = [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=f"{n}-node")["AttachedPolicies"]]
eks.delete_nodegroup(clusterName=n, nodegroupName="ng")
eks.get_waiter("nodegroup_deleted").wait(clusterName=n, nodegroupName="ng", WaiterConfig=fast)
eks.delete_addon(clusterName=n, addonName="vpc-cni")
eks.delete_cluster(name=n)
eks.get_waiter("cluster_deleted").wait(name=n, WaiterConfig=fast)
emit({
    "account": account,
    "vpc_ipv6_block": block.endswith("/56"),
    "subnet_ipv6_block": subnet_block == sub64,
    "ip_family": c["kubernetesNetworkConfig"]["ipFamily"],
    "service_cidr_108": c["kubernetesNetworkConfig"]["serviceIpv6Cidr"].endswith("::/108"),
    "health_issues": sorted(i["message"][1:].split("]")[0] for i in c["health"]["issues"]),
    "cni_denied": denied.get("error"),
    "cni_denied_names_action": "ec2:AssignIpv6Addresses" in (denied.get("message") or ""),
    "nodes": len(ids),
    "nodes_running": all(i["State"]["Name"] == "running" for i in instances),
    "eni_ipv6": all(len(e.get("Ipv6Addresses", [])) >= 1 for e in enis),
    "node_policies": sorted(attached),
    "clusters_left": eks.list_clusters()["clusters"],
})
