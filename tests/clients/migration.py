"""The migration of an existing IPv4 VPC to dual stack, with boto3, its paginators and waiters.

Prints the observations the three-client test compares (the same keys as migration.mjs and the
AWS CLI steps in crates/sixfold/tests/three_clients.rs).
"""
import ipaddress

from lib import attempt, client, emit

ec2 = client("ec2")
out = {}

# An IPv4-only VPC with an IPv4-only subnet and a security group, as before the migration.
vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]
vpc_id = vpc["VpcId"]
ec2.get_waiter("vpc_available").wait(VpcIds=[vpc_id], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24", AvailabilityZoneId="use1-az2")["Subnet"]["SubnetId"]
sg_before = ec2.create_security_group(GroupName="before", Description="made before IPv6", VpcId=vpc_id)

# 1. The VPC gets an Amazon-provided /56.
assoc = ec2.associate_vpc_cidr_block(VpcId=vpc_id, AmazonProvidedIpv6CidrBlock=True)
out["vpc_assoc_reply_state"] = assoc["Ipv6CidrBlockAssociation"]["Ipv6CidrBlockState"]["State"]
vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
v6 = vpc["Ipv6CidrBlockAssociationSet"][0]
out["vpc_assoc_described_state"] = v6["Ipv6CidrBlockState"]["State"]
block = v6["Ipv6CidrBlock"]
out["vpc_block_prefix"] = int(block.split("/")[1])

# 2. The subnet gets a /64 of it: outside the /56 is refused, an IPAM pool is refused.
# The second /64 of the /56.
sub64 = str(list(ipaddress.ip_network(block).subnets(new_prefix=64))[1])
out["outside_refused"] = attempt(ec2.associate_subnet_cidr_block, SubnetId=subnet_id, Ipv6CidrBlock="2001:db8:ffff:ff00::/64").get("error")
out["ipam_refused"] = attempt(ec2.associate_subnet_cidr_block, SubnetId=subnet_id, Ipv6IpamPoolId="ipam-pool-0123456789abcdef0").get("error")
sassoc = ec2.associate_subnet_cidr_block(SubnetId=subnet_id, Ipv6CidrBlock=sub64)
out["subnet_assoc_reply_state"] = sassoc["Ipv6CidrBlockAssociation"]["Ipv6CidrBlockState"]["State"]
sub = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
out["subnet_assoc_described_state"] = sub["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlockState"]["State"]
out["subnet_zone_id"] = sub["AvailabilityZoneId"]
out["subnet_zone"] = sub["AvailabilityZone"]
out["subnet_ipv6_native"] = sub["Ipv6Native"]
ec2.modify_subnet_attribute(SubnetId=subnet_id, AssignIpv6AddressOnCreation={"Value": True})

# 3. A group made after the migration allows all IPv6 out; the older one does not.
sg_after = ec2.create_security_group(GroupName="after", Description="made after IPv6", VpcId=vpc_id)
groups = {g["GroupName"]: g for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]}
def v6_egress(g):
    return any(r.get("CidrIpv6") == "::/0" for p in g["IpPermissionsEgress"] for r in p.get("Ipv6Ranges", []))
out["sg_before_v6_egress"] = v6_egress(groups["before"])
out["sg_after_v6_egress"] = v6_egress(groups["after"])
out["sg_arn_ok"] = groups["after"]["SecurityGroupArn"].endswith("security-group/" + sg_after["GroupId"])

# 4. An instance gets an IPv6 address; while it lives the blocks cannot go.
run = ec2.run_instances(ImageId="ami-0123456789abcdef0", InstanceType="m5.large", MinCount=1, MaxCount=1, SubnetId=subnet_id)
iid = run["Instances"][0]["InstanceId"]
ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1, "MaxAttempts": 5})
inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
out["instance_has_ipv6"] = inst.get("Ipv6Address", "") != ""
sassoc_id = sassoc["Ipv6CidrBlockAssociation"]["AssociationId"]
out["subnet_block_in_use"] = attempt(ec2.disassociate_subnet_cidr_block, AssociationId=sassoc_id).get("error")
out["vpc_block_in_use"] = attempt(ec2.disassociate_vpc_cidr_block, AssociationId=v6["AssociationId"]).get("error")
primary = vpc["CidrBlockAssociationSet"][0]["AssociationId"]
out["primary_v4_refused"] = attempt(ec2.disassociate_vpc_cidr_block, AssociationId=primary).get("error")

# 5. Back out: terminate, then the subnet block, then the VPC block.
ec2.terminate_instances(InstanceIds=[iid])
d = ec2.disassociate_subnet_cidr_block(AssociationId=sassoc_id)
out["subnet_disassoc_reply_state"] = d["Ipv6CidrBlockAssociation"]["Ipv6CidrBlockState"]["State"]
sub = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
out["subnet_disassoc_described_state"] = sub["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlockState"]["State"]
out["subnet_auto_assign_after"] = sub["AssignIpv6AddressOnCreation"]
d = ec2.disassociate_vpc_cidr_block(AssociationId=v6["AssociationId"])
out["vpc_disassoc_reply_state"] = d["Ipv6CidrBlockAssociation"]["Ipv6CidrBlockState"]["State"]
out["bogus_zone_id"] = attempt(ec2.create_subnet, VpcId=vpc_id, CidrBlock="10.20.9.0/24", AvailabilityZoneId="bogus-az9").get("error")
emit(out)
