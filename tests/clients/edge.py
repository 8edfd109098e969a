"""The EC2 edge with boto3, its own parameter checks off (so the server's answer is what is seen):
a required parameter left out is MissingParameter naming the wire parameter, a malformed id is
Invalid<Kind>ID.Malformed naming the value, and neither changes the region. Args: none."""
from lib import attempt, client, emit

ec2 = client("ec2")
raw = client("ec2", validate=False)

vpc_id = ec2.create_vpc(CidrBlock="10.61.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.61.1.0/24")["Subnet"]["SubnetId"]
group_id = ec2.create_security_group(VpcId=vpc_id, GroupName="edge", Description="edge")["GroupId"]
eni_id = ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]


def state():
    return {
        "vpcs": ec2.describe_vpcs()["Vpcs"],
        "subnets": ec2.describe_subnets()["Subnets"],
        "route_tables": ec2.describe_route_tables()["RouteTables"],
        "groups": ec2.describe_security_groups()["SecurityGroups"],
        "enis": ec2.describe_network_interfaces()["NetworkInterfaces"],
    }


before = state()
calls = {
    # Missing required parameters (boto3 would refuse these itself with validation on).
    "delete_vpc_without_vpc_id": (raw.delete_vpc, {}),
    "create_subnet_without_vpc_id": (raw.create_subnet, {"CidrBlock": "10.61.2.0/24"}),
    "delete_subnet_without_subnet_id": (raw.delete_subnet, {}),
    "create_route_table_without_vpc_id": (raw.create_route_table, {}),
    "delete_group_without_group_id": (raw.delete_security_group, {}),
    "create_group_without_vpc_id": (raw.create_security_group, {"GroupName": "x", "Description": "x"}),
    "delete_eni_without_eni_id": (raw.delete_network_interface, {}),
    "create_eni_without_subnet_id": (raw.create_network_interface, {}),
    "assign_ipv6_without_eni_id": (raw.assign_ipv6_addresses, {"Ipv6PrefixCount": 1}),
    "assign_ipv6_without_what": (ec2.assign_ipv6_addresses, {"NetworkInterfaceId": eni_id}),
    "terminate_malformed": (ec2.terminate_instances, {"InstanceIds": ["i-0123456789abcdef0", "i-bad"]}),
    "detach_with_an_eni_id": (ec2.detach_network_interface, {"AttachmentId": eni_id}),
    # Malformed ids, each naming the value given.
    "delete_vpc_malformed": (ec2.delete_vpc, {"VpcId": "vpc-NOTHEX"}),
    "create_subnet_with_a_subnet_id_as_vpc": (ec2.create_subnet, {"VpcId": subnet_id, "CidrBlock": "10.61.3.0/24"}),
    "delete_subnet_malformed": (ec2.delete_subnet, {"SubnetId": "subnet-12"}),
    "delete_group_malformed": (ec2.delete_security_group, {"GroupId": "sg-zz"}),
    "delete_eni_malformed": (ec2.delete_network_interface, {"NetworkInterfaceId": "eni-!"}),
    "describe_vpcs_one_malformed": (ec2.describe_vpcs, {"VpcIds": [vpc_id, "vpc-0"]}),
    "attach_igw_malformed": (ec2.attach_internet_gateway, {"InternetGatewayId": "igw-x", "VpcId": vpc_id}),
    "create_route_malformed_table": (ec2.create_route, {"RouteTableId": "rtb-0000", "DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-0123456789abcdef0"}),
    "describe_enis_attachment_id": (ec2.describe_network_interfaces, {"NetworkInterfaceIds": [eni_id, "eni-attach-0123456789abcdef0"]}),
    # CIDRs that do not parse or have host bits set name the network to write.
    "create_vpc_host_bits": (ec2.create_vpc, {"CidrBlock": "10.9.0.1/16"}),
    "create_route_host_bits": (ec2.create_route, {"RouteTableId": "rtb-0123456789abcdef0", "DestinationIpv6CidrBlock": "2001:db8::1/56", "GatewayId": "igw-0123456789abcdef0"}),
    "authorize_bad_cidr": (ec2.authorize_security_group_ingress, {"GroupId": group_id, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "banana"}),
    "modify_subnet_attribute_without_attribute": (ec2.modify_subnet_attribute, {"SubnetId": subnet_id}),
}
out = {name: attempt(fn, **kw) for name, (fn, kw) in calls.items()}
out["unchanged"] = state() == before
emit(out)
