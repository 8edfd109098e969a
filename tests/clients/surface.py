"""The EC2 surface real tools touch first, with boto3: paginators (MaxResults bounds, opaque
tokens), waiters, ClientToken idempotency, network interfaces, VPC attributes, IPv6-only
subnets and the fields AWS always returns. Prints the observations surface.mjs prints too."""
import ipaddress

from lib import attempt, client, emit

ec2 = client("ec2")
out = {}
err = lambda fn, **kw: attempt(fn, **kw).get("error")

vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]
vpc_id = vpc["VpcId"]
block = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
nets = list(ipaddress.ip_network(block).subnets(new_prefix=64))
subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.30.1.0/24", Ipv6CidrBlock=str(nets[1]))["Subnet"]["SubnetId"]
for i in range(11):
    ec2.create_vpc(CidrBlock=f"10.{40 + i}.0.0/16")

# Pagination: paginators walk every page; bounds and tokens are checked.
pages = list(ec2.get_paginator("describe_vpcs").paginate(PaginationConfig={"PageSize": 5}))
out["vpc_pages"] = len(pages)
out["vpcs_paged"] = sum(len(p["Vpcs"]) for p in pages)
out["vpc_ids_unique"] = len({v["VpcId"] for p in pages for v in p["Vpcs"]}) == out["vpcs_paged"]
out["max_results_3"] = err(client("ec2", validate=False).describe_vpcs, MaxResults=3)
out["route_tables_max_101"] = err(ec2.describe_route_tables, MaxResults=101)
first = ec2.describe_vpcs(MaxResults=5)
out["garbled_token"] = err(ec2.describe_vpcs, MaxResults=5, NextToken=first["NextToken"][:-2] + "00")
out["token_of_another_action"] = err(ec2.describe_subnets, MaxResults=5, NextToken=first["NextToken"])
run = ec2.run_instances(ImageId="ami-0123456789abcdef0", InstanceType="m5.large", MinCount=6, MaxCount=6, SubnetId=subnet_id)
iids = [i["InstanceId"] for i in run["Instances"]]
ec2.get_waiter("instance_running").wait(InstanceIds=iids, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
pages = list(ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5}))
out["instance_pages"] = len(pages)
out["instances_paged"] = sum(len(i["Instances"]) for p in pages for i in p["Reservations"])
out["ids_with_max_results"] = err(ec2.describe_instances, InstanceIds=iids[:1], MaxResults=5)
pages = list(ec2.get_paginator("describe_network_interfaces").paginate(PaginationConfig={"PageSize": 5}))
out["eni_pages"] = len(pages)
out["enis_paged"] = sum(len(p["NetworkInterfaces"]) for p in pages)

# Idempotency.
a = ec2.run_instances(ImageId="ami-0123456789abcdef0", InstanceType="m5.large", MinCount=1, MaxCount=1, SubnetId=subnet_id, ClientToken="launch-1")
b = ec2.run_instances(ImageId="ami-0123456789abcdef0", InstanceType="m5.large", MinCount=1, MaxCount=1, SubnetId=subnet_id, ClientToken="launch-1")
out["replay_same_instance"] = a["Instances"][0]["InstanceId"] == b["Instances"][0]["InstanceId"]
out["replay_other_request"] = err(ec2.run_instances, ImageId="ami-0123456789abcdef0", InstanceType="m5.xlarge", MinCount=1, MaxCount=1, SubnetId=subnet_id, ClientToken="launch-1")
n = len(ec2.describe_instances(Filters=[{"Name": "subnet-id", "Values": [subnet_id]}])["Reservations"])
out["reservations_after_replay"] = n

# Network interfaces.
sg = ec2.create_security_group(GroupName="pods", Description="pods", VpcId=vpc_id)["GroupId"]
eni = ec2.create_network_interface(SubnetId=subnet_id, Description="trunk", Groups=[sg], ClientToken="eni-1")["NetworkInterface"]
again = ec2.create_network_interface(SubnetId=subnet_id, Description="trunk", Groups=[sg], ClientToken="eni-1")["NetworkInterface"]
out["eni_replay_same"] = eni["NetworkInterfaceId"] == again["NetworkInterfaceId"]
out["eni_status_new"] = eni["Status"]
out["eni_has_ipv6"] = len(eni.get("Ipv6Addresses", [])) == 0
eid = eni["NetworkInterfaceId"]
att = ec2.attach_network_interface(NetworkInterfaceId=eid, InstanceId=iids[0], DeviceIndex=1)["AttachmentId"]
mine = ec2.describe_network_interfaces(Filters=[{"Name": "attachment.instance-id", "Values": [iids[0]]}])["NetworkInterfaces"]
out["enis_of_instance"] = len(mine)
out["delete_attached"] = err(ec2.delete_network_interface, NetworkInterfaceId=eid)
out["detach_primary"] = err(ec2.detach_network_interface, AttachmentId=[e for e in mine if e["Attachment"]["DeviceIndex"] == 0][0]["Attachment"]["AttachmentId"])
ec2.modify_network_interface_attribute(NetworkInterfaceId=eid, Groups=[sg, vpc and ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]])
ec2.modify_network_interface_attribute(NetworkInterfaceId=eid, SourceDestCheck={"Value": False})
ec2.modify_network_interface_attribute(NetworkInterfaceId=eid, Description={"Value": "trunk 2"})
e = ec2.describe_network_interfaces(NetworkInterfaceIds=[eid])["NetworkInterfaces"][0]
out["eni_groups"] = len(e["Groups"])
out["eni_source_dest_check"] = e["SourceDestCheck"]
out["eni_description"] = e["Description"]
out["eni_status_attached"] = e["Status"]
ec2.detach_network_interface(AttachmentId=att)
out["eni_status_detached"] = ec2.describe_network_interfaces(NetworkInterfaceIds=[eid])["NetworkInterfaces"][0]["Status"]
ec2.delete_network_interface(NetworkInterfaceId=eid)
out["eni_gone"] = err(ec2.describe_network_interfaces, NetworkInterfaceIds=[eid])

# VPC attributes.
out["dns_support"] = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")["EnableDnsSupport"]["Value"]
out["dns_hostnames_before"] = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
out["dns_hostnames_after"] = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]
out["nau_metrics"] = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableNetworkAddressUsageMetrics")["EnableNetworkAddressUsageMetrics"]["Value"]

# IPv6-only subnets.
v6only = ec2.create_subnet(VpcId=vpc_id, Ipv6Native=True, Ipv6CidrBlock=str(nets[2]))["Subnet"]
out["v6only_cidr"] = v6only.get("CidrBlock")
out["v6only_native"] = v6only["Ipv6Native"]
out["v6only_auto_assign"] = v6only["AssignIpv6AddressOnCreation"]
out["v6only_hostname_type"] = v6only["PrivateDnsNameOptionsOnLaunch"]["HostnameType"]
out["v6only_with_v4"] = err(ec2.create_subnet, VpcId=vpc_id, Ipv6Native=True, CidrBlock="10.30.3.0/24", Ipv6CidrBlock=str(nets[3]))
out["v6only_without_v6"] = err(ec2.create_subnet, VpcId=vpc_id, Ipv6Native=True)

# Fidelity.
igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
out["detach_unattached_igw"] = err(ec2.detach_internet_gateway, InternetGatewayId=igw, VpcId=vpc_id)
default_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]["GroupId"]
rules = list(ec2.get_paginator("describe_security_group_rules").paginate(Filters=[{"Name": "group-id", "Values": [default_sg]}], PaginationConfig={"PageSize": 5}))
out["default_sg_rules"] = sorted(("egress" if r["IsEgress"] else "ingress") + ":" + (r.get("CidrIpv4") or r.get("CidrIpv6") or "group") for p in rules for r in p["SecurityGroupRules"])
zones = ec2.describe_availability_zones()["AvailabilityZones"]
out["zones"] = [(z["ZoneName"], z["ZoneId"], z["GroupName"], z["NetworkBorderGroup"], z["OptInStatus"]) for z in zones]
t = ec2.describe_instance_types(InstanceTypes=["m5.large"])["InstanceTypes"][0]
out["m5_large"] = [t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"], t["ProcessorInfo"]["SupportedArchitectures"]]
sub = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
out["subnet_fields"] = [sub["MapCustomerOwnedIpOnLaunch"], sub["PrivateDnsNameOptionsOnLaunch"]["HostnameType"]]
emit(out)
