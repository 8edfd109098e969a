// The EC2 surface real tools touch first, with the AWS SDK for JavaScript v3: paginators,
// waiters, ClientToken idempotency, network interfaces, VPC attributes, IPv6-only subnets and the
// fields AWS always returns. Prints the observations surface.py prints too.
import * as E from "@aws-sdk/client-ec2";
import { attempt, client, emit } from "./lib.mjs";

const ec2 = client(E.EC2Client);
const send = (c) => ec2.send(c);
const err = async (c) => (await attempt(send(c))).error;
const out = {};
const all = async (it) => {
  const pages = [];
  for await (const p of it) pages.push(p);
  return pages;
};
function nth64(block, n) {
  const [addr] = block.split("/");
  const [head, tail = ""] = addr.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const parts = [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  let v = parts.reduce((acc, p) => (acc << 16n) | BigInt(parseInt(p || "0", 16)), 0n);
  v += BigInt(n) << 64n;
  const hex = [];
  for (let i = 7; i >= 0; i--) hex.push(((v >> BigInt(16 * i)) & 0xffffn).toString(16));
  return hex.join(":") + "/64";
}

const vpcId = (await send(new E.CreateVpcCommand({ CidrBlock: "10.30.0.0/16", AmazonProvidedIpv6CidrBlock: true }))).Vpc.VpcId;
const block = (await send(new E.DescribeVpcsCommand({ VpcIds: [vpcId] }))).Vpcs[0].Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock;
const subnetId = (
  await send(new E.CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.30.1.0/24", Ipv6CidrBlock: nth64(block, 1) }))
).Subnet.SubnetId;
for (let i = 0; i < 11; i++) await send(new E.CreateVpcCommand({ CidrBlock: `10.${40 + i}.0.0/16` }));

let pages = await all(E.paginateDescribeVpcs({ client: ec2, pageSize: 5 }, {}));
out.vpc_pages = pages.length;
out.vpcs_paged = pages.reduce((n, p) => n + p.Vpcs.length, 0);
out.vpc_ids_unique = new Set(pages.flatMap((p) => p.Vpcs.map((v) => v.VpcId))).size === out.vpcs_paged;
out.max_results_3 = await err(new E.DescribeVpcsCommand({ MaxResults: 3 }));
out.route_tables_max_101 = await err(new E.DescribeRouteTablesCommand({ MaxResults: 101 }));
const first = await send(new E.DescribeVpcsCommand({ MaxResults: 5 }));
out.garbled_token = await err(new E.DescribeVpcsCommand({ MaxResults: 5, NextToken: first.NextToken.slice(0, -2) + "00" }));
out.token_of_another_action = await err(new E.DescribeSubnetsCommand({ MaxResults: 5, NextToken: first.NextToken }));
const run = await send(
  new E.RunInstancesCommand({ ImageId: "ami-0123456789abcdef0", InstanceType: "m5.large", MinCount: 6, MaxCount: 6, SubnetId: subnetId }),
);
const iids = run.Instances.map((i) => i.InstanceId);
await E.waitUntilInstanceRunning({ client: ec2, maxWaitTime: 10, minDelay: 1 }, { InstanceIds: iids });
pages = await all(E.paginateDescribeInstances({ client: ec2, pageSize: 5 }, {}));
out.instance_pages = pages.length;
out.instances_paged = pages.reduce((n, p) => n + p.Reservations.reduce((m, r) => m + r.Instances.length, 0), 0);
out.ids_with_max_results = await err(new E.DescribeInstancesCommand({ InstanceIds: iids.slice(0, 1), MaxResults: 5 }));
pages = await all(E.paginateDescribeNetworkInterfaces({ client: ec2, pageSize: 5 }, {}));
out.eni_pages = pages.length;
out.enis_paged = pages.reduce((n, p) => n + p.NetworkInterfaces.length, 0);

const launch = (type) =>
  new E.RunInstancesCommand({
    ImageId: "ami-0123456789abcdef0", InstanceType: type, MinCount: 1, MaxCount: 1, SubnetId: subnetId, ClientToken: "launch-1",
  });
const a = await send(launch("m5.large"));
const b = await send(launch("m5.large"));
out.replay_same_instance = a.Instances[0].InstanceId === b.Instances[0].InstanceId;
out.replay_other_request = await err(launch("m5.xlarge"));
out.reservations_after_replay = (
  await send(new E.DescribeInstancesCommand({ Filters: [{ Name: "subnet-id", Values: [subnetId] }] }))
).Reservations.length;

const sg = (await send(new E.CreateSecurityGroupCommand({ GroupName: "pods", Description: "pods", VpcId: vpcId }))).GroupId;
const mk = () => new E.CreateNetworkInterfaceCommand({ SubnetId: subnetId, Description: "trunk", Groups: [sg], ClientToken: "eni-1" });
const eni = (await send(mk())).NetworkInterface;
const again = (await send(mk())).NetworkInterface;
out.eni_replay_same = eni.NetworkInterfaceId === again.NetworkInterfaceId;
out.eni_status_new = eni.Status;
out.eni_has_ipv6 = (eni.Ipv6Addresses || []).length === 0;
const eid = eni.NetworkInterfaceId;
const att = (await send(new E.AttachNetworkInterfaceCommand({ NetworkInterfaceId: eid, InstanceId: iids[0], DeviceIndex: 1 }))).AttachmentId;
const mine = (
  await send(new E.DescribeNetworkInterfacesCommand({ Filters: [{ Name: "attachment.instance-id", Values: [iids[0]] }] }))
).NetworkInterfaces;
out.enis_of_instance = mine.length;
out.delete_attached = await err(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eid }));
out.detach_primary = await err(
  new E.DetachNetworkInterfaceCommand({ AttachmentId: mine.find((e) => e.Attachment.DeviceIndex === 0).Attachment.AttachmentId }),
);
const defaultSg = (
  await send(
    new E.DescribeSecurityGroupsCommand({
      Filters: [
        { Name: "vpc-id", Values: [vpcId] },
        { Name: "group-name", Values: ["default"] },
      ],
    }),
  )
).SecurityGroups[0].GroupId;
await send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eid, Groups: [sg, defaultSg] }));
await send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eid, SourceDestCheck: { Value: false } }));
await send(new E.ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: eid, Description: { Value: "trunk 2" } }));
const e = (await send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eid] }))).NetworkInterfaces[0];
out.eni_groups = e.Groups.length;
out.eni_source_dest_check = e.SourceDestCheck;
out.eni_description = e.Description;
out.eni_status_attached = e.Status;
await send(new E.DetachNetworkInterfaceCommand({ AttachmentId: att }));
out.eni_status_detached = (await send(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eid] }))).NetworkInterfaces[0].Status;
await send(new E.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eid }));
out.eni_gone = await err(new E.DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [eid] }));

const attr = async (name) =>
  (await send(new E.DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: name })))[name[0].toUpperCase() + name.slice(1)].Value;
out.dns_support = await attr("enableDnsSupport");
out.dns_hostnames_before = await attr("enableDnsHostnames");
await send(new E.ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
out.dns_hostnames_after = await attr("enableDnsHostnames");
out.nau_metrics = await attr("enableNetworkAddressUsageMetrics");

const v6only = (await send(new E.CreateSubnetCommand({ VpcId: vpcId, Ipv6Native: true, Ipv6CidrBlock: nth64(block, 2) }))).Subnet;
out.v6only_cidr = v6only.CidrBlock ?? null;
out.v6only_native = v6only.Ipv6Native;
out.v6only_auto_assign = v6only.AssignIpv6AddressOnCreation;
out.v6only_hostname_type = v6only.PrivateDnsNameOptionsOnLaunch.HostnameType;
out.v6only_with_v4 = await err(
  new E.CreateSubnetCommand({ VpcId: vpcId, Ipv6Native: true, CidrBlock: "10.30.3.0/24", Ipv6CidrBlock: nth64(block, 3) }),
);
out.v6only_without_v6 = await err(new E.CreateSubnetCommand({ VpcId: vpcId, Ipv6Native: true }));

const igw = (await send(new E.CreateInternetGatewayCommand({}))).InternetGateway.InternetGatewayId;
out.detach_unattached_igw = await err(new E.DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
pages = await all(
  E.paginateDescribeSecurityGroupRules({ client: ec2, pageSize: 5 }, { Filters: [{ Name: "group-id", Values: [defaultSg] }] }),
);
out.default_sg_rules = pages
  .flatMap((p) => p.SecurityGroupRules)
  .map((r) => (r.IsEgress ? "egress" : "ingress") + ":" + (r.CidrIpv4 || r.CidrIpv6 || "group"))
  .sort();
const zones = (await send(new E.DescribeAvailabilityZonesCommand({}))).AvailabilityZones;
out.zones = zones.map((z) => [z.ZoneName, z.ZoneId, z.GroupName, z.NetworkBorderGroup, z.OptInStatus]);
const t = (await send(new E.DescribeInstanceTypesCommand({ InstanceTypes: ["m5.large"] }))).InstanceTypes[0];
out.m5_large = [t.VCpuInfo.DefaultVCpus, t.MemoryInfo.SizeInMiB, t.ProcessorInfo.SupportedArchitectures];
const sub = (await send(new E.DescribeSubnetsCommand({ SubnetIds: [subnetId] }))).Subnets[0];
out.subnet_fields = [sub.MapCustomerOwnedIpOnLaunch, sub.PrivateDnsNameOptionsOnLaunch.HostnameType];
emit(out);
