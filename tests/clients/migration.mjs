// The migration of an existing IPv4 VPC to dual stack, with the AWS SDK for JavaScript v3 (its
// paginators and waiters). Prints the same observations as migration.py.
import {
  EC2Client,
  CreateVpcCommand,
  CreateSubnetCommand,
  CreateSecurityGroupCommand,
  AssociateVpcCidrBlockCommand,
  DescribeVpcsCommand,
  AssociateSubnetCidrBlockCommand,
  DescribeSubnetsCommand,
  ModifySubnetAttributeCommand,
  DescribeSecurityGroupsCommand,
  RunInstancesCommand,
  DescribeInstancesCommand,
  DisassociateSubnetCidrBlockCommand,
  DisassociateVpcCidrBlockCommand,
  TerminateInstancesCommand,
  waitUntilVpcAvailable,
  waitUntilInstanceRunning,
} from "@aws-sdk/client-ec2";
import { attempt, client, emit } from "./lib.mjs";

const ec2 = client(EC2Client);
const send = (c) => ec2.send(c);
const err = async (c) => (await attempt(send(c))).error;
const out = {};

/** The n-th /64 of an IPv6 block, written in full (the region accepts any valid form). */
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

const vpcId = (await send(new CreateVpcCommand({ CidrBlock: "10.20.0.0/16" }))).Vpc.VpcId;
await waitUntilVpcAvailable({ client: ec2, maxWaitTime: 10, minDelay: 1 }, { VpcIds: [vpcId] });
const subnetId = (
  await send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.20.1.0/24", AvailabilityZoneId: "use1-az2" }))
).Subnet.SubnetId;
await send(new CreateSecurityGroupCommand({ GroupName: "before", Description: "made before IPv6", VpcId: vpcId }));

const assoc = await send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, AmazonProvidedIpv6CidrBlock: true }));
out.vpc_assoc_reply_state = assoc.Ipv6CidrBlockAssociation.Ipv6CidrBlockState.State;
let vpc = (await send(new DescribeVpcsCommand({ VpcIds: [vpcId] }))).Vpcs[0];
const v6 = vpc.Ipv6CidrBlockAssociationSet[0];
out.vpc_assoc_described_state = v6.Ipv6CidrBlockState.State;
const block = v6.Ipv6CidrBlock;
out.vpc_block_prefix = Number(block.split("/")[1]);

out.outside_refused = await err(
  new AssociateSubnetCidrBlockCommand({ SubnetId: subnetId, Ipv6CidrBlock: "2001:db8:ffff:ff00::/64" }),
);
out.ipam_refused = await err(
  new AssociateSubnetCidrBlockCommand({ SubnetId: subnetId, Ipv6IpamPoolId: "ipam-pool-0123456789abcdef0" }),
);
const sassoc = await send(new AssociateSubnetCidrBlockCommand({ SubnetId: subnetId, Ipv6CidrBlock: nth64(block, 1) }));
out.subnet_assoc_reply_state = sassoc.Ipv6CidrBlockAssociation.Ipv6CidrBlockState.State;
let sub = (await send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))).Subnets[0];
out.subnet_assoc_described_state = sub.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlockState.State;
out.subnet_zone_id = sub.AvailabilityZoneId;
out.subnet_zone = sub.AvailabilityZone;
out.subnet_ipv6_native = sub.Ipv6Native;
await send(new ModifySubnetAttributeCommand({ SubnetId: subnetId, AssignIpv6AddressOnCreation: { Value: true } }));

const after = await send(new CreateSecurityGroupCommand({ GroupName: "after", Description: "made after IPv6", VpcId: vpcId }));
const groups = Object.fromEntries(
  (await send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: "vpc-id", Values: [vpcId] }] }))).SecurityGroups.map(
    (g) => [g.GroupName, g],
  ),
);
const v6Egress = (g) => g.IpPermissionsEgress.some((p) => (p.Ipv6Ranges || []).some((r) => r.CidrIpv6 === "::/0"));
out.sg_before_v6_egress = v6Egress(groups.before);
out.sg_after_v6_egress = v6Egress(groups.after);
out.sg_arn_ok = groups.after.SecurityGroupArn.endsWith("security-group/" + after.GroupId);

const run = await send(
  new RunInstancesCommand({ ImageId: "ami-0123456789abcdef0", InstanceType: "m5.large", MinCount: 1, MaxCount: 1, SubnetId: subnetId }),
);
const iid = run.Instances[0].InstanceId;
await waitUntilInstanceRunning({ client: ec2, maxWaitTime: 10, minDelay: 1 }, { InstanceIds: [iid] });
const inst = (await send(new DescribeInstancesCommand({ InstanceIds: [iid] }))).Reservations[0].Instances[0];
out.instance_has_ipv6 = (inst.Ipv6Address || "") !== "";
const sassocId = sassoc.Ipv6CidrBlockAssociation.AssociationId;
out.subnet_block_in_use = await err(new DisassociateSubnetCidrBlockCommand({ AssociationId: sassocId }));
out.vpc_block_in_use = await err(new DisassociateVpcCidrBlockCommand({ AssociationId: v6.AssociationId }));
out.primary_v4_refused = await err(
  new DisassociateVpcCidrBlockCommand({ AssociationId: vpc.CidrBlockAssociationSet[0].AssociationId }),
);

await send(new TerminateInstancesCommand({ InstanceIds: [iid] }));
let d = await send(new DisassociateSubnetCidrBlockCommand({ AssociationId: sassocId }));
out.subnet_disassoc_reply_state = d.Ipv6CidrBlockAssociation.Ipv6CidrBlockState.State;
sub = (await send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))).Subnets[0];
out.subnet_disassoc_described_state = sub.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlockState.State;
out.subnet_auto_assign_after = sub.AssignIpv6AddressOnCreation;
d = await send(new DisassociateVpcCidrBlockCommand({ AssociationId: v6.AssociationId }));
out.vpc_disassoc_reply_state = d.Ipv6CidrBlockAssociation.Ipv6CidrBlockState.State;
out.bogus_zone_id = await err(
  new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: "10.20.9.0/24", AvailabilityZoneId: "bogus-az9" }),
);
emit(out);
