// The seed's workflow with the AWS SDK for JavaScript v3 (its waiters): same steps and output
// as workflow.py. Args: name, ipv6_policy.
import {
  EC2Client, CreateVpcCommand, AssociateVpcCidrBlockCommand, DescribeVpcsCommand,
  CreateSubnetCommand, AssociateSubnetCidrBlockCommand, DescribeSubnetsCommand,
  ModifySubnetAttributeCommand, CreateInternetGatewayCommand,
  AttachInternetGatewayCommand, DescribeRouteTablesCommand, CreateRouteCommand,
  DescribeInstancesCommand, DescribeNetworkInterfacesCommand, waitUntilVpcAvailable,
  waitUntilInstanceRunning,
} from "@aws-sdk/client-ec2";
import {
  EKSClient, CreateClusterCommand, DescribeClusterCommand, CreateAddonCommand,
  CreateNodegroupCommand, DeleteNodegroupCommand, DeleteAddonCommand, DeleteClusterCommand,
  ListClustersCommand, waitUntilClusterActive, waitUntilAddonActive, waitUntilNodegroupActive,
  waitUntilNodegroupDeleted, waitUntilClusterDeleted,
} from "@aws-sdk/client-eks";
import {
  IAMClient, CreateRoleCommand, AttachRolePolicyCommand, CreatePolicyCommand,
  ListAttachedRolePoliciesCommand,
} from "@aws-sdk/client-iam";
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { ARGS, attempt, client, emit } from "./lib.mjs";

const n = ARGS.name;
const ec2 = client(EC2Client), eks = client(EKSClient), iam = client(IAMClient), sts = client(STSClient);
const w = (c) => ({ client: c, maxWaitTime: 60, minDelay: 1, maxDelay: 1 });
const account = (await sts.send(new GetCallerIdentityCommand({}))).Account;

const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }))).Vpc.VpcId;
await waitUntilVpcAvailable(w(ec2), { VpcIds: [vpc] });
// The existing IPv4 subnet, migrated below.
const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: "10.0.1.0/24" }))).Subnet.SubnetId;
await ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpc, AmazonProvidedIpv6CidrBlock: true }));
let block = null;
for (let i = 0; i < 30 && !block; i++) {
  const sets = (await ec2.send(new DescribeVpcsCommand({ VpcIds: [vpc] }))).Vpcs[0].Ipv6CidrBlockAssociationSet || [];
  const done = sets.filter((a) => a.Ipv6CidrBlockState.State === "associated");
  if (done.length) block = done[0].Ipv6CidrBlock;
  else await new Promise((r) => setTimeout(r, 500));
}
// The first /64 of the /56: the /56's network address with /64.
const sub64 = block.replace("/56", "/64");
await ec2.send(new AssociateSubnetCidrBlockCommand({ SubnetId: subnet, Ipv6CidrBlock: sub64 }));
let subnetBlock = null;
for (let i = 0; i < 30 && !subnetBlock; i++) {
  const sets = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnet] }))).Subnets[0].Ipv6CidrBlockAssociationSet || [];
  const done = sets.filter((a) => a.Ipv6CidrBlockState.State === "associated");
  if (done.length) subnetBlock = done[0].Ipv6CidrBlock;
  else await new Promise((r) => setTimeout(r, 500));
}
await ec2.send(new ModifySubnetAttributeCommand({ SubnetId: subnet, AssignIpv6AddressOnCreation: { Value: true } }));
const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway.InternetGatewayId;
await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc }));
const rtb = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: "vpc-id", Values: [vpc] }] }))).RouteTables[0].RouteTableId;
await ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationIpv6CidrBlock: "::/0", GatewayId: igw }));

async function role(name, service, policies) {
  const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: service }, Action: "sts:AssumeRole" }] };
  const arn = (await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) }))).Role.Arn;
  for (const p of policies) await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: `arn:aws:iam::aws:policy/${p}` }));
  return arn;
}
const clusterRole = await role(`${n}-cluster`, "eks.amazonaws.com", ["AmazonEKSClusterPolicy"]);
const nodeRole = await role(`${n}-node`, "ec2.amazonaws.com", ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly", "AmazonEKS_CNI_Policy"]);
const cniRole = await role(`${n}-cni`, "ec2.amazonaws.com", ["AmazonEKS_CNI_Policy"]);

await eks.send(new CreateClusterCommand({ name: n, roleArn: clusterRole, resourcesVpcConfig: { subnetIds: [subnet] }, kubernetesNetworkConfig: { ipFamily: "ipv6" } }));
await waitUntilClusterActive(w(eks), { name: n });
const c = (await eks.send(new DescribeClusterCommand({ name: n }))).cluster;
const denied = await attempt(eks.send(new CreateAddonCommand({ clusterName: n, addonName: "vpc-cni", serviceAccountRoleArn: cniRole })));
const pol = (await iam.send(new CreatePolicyCommand({ PolicyName: `${n}-ipv6`, PolicyDocument: ARGS.ipv6_policy }))).Policy.Arn;
await iam.send(new AttachRolePolicyCommand({ RoleName: `${n}-cni`, PolicyArn: pol }));
await eks.send(new CreateAddonCommand({ clusterName: n, addonName: "vpc-cni", serviceAccountRoleArn: cniRole }));
await waitUntilAddonActive(w(eks), { clusterName: n, addonName: "vpc-cni" });
await eks.send(new CreateNodegroupCommand({ clusterName: n, nodegroupName: "ng", subnets: [subnet], nodeRole, scalingConfig: { minSize: 1, maxSize: 3, desiredSize: 2 } }));
await waitUntilNodegroupActive(w(eks), { clusterName: n, nodegroupName: "ng" });
const res = (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: "tag:eks:cluster-name", Values: [n] }] }))).Reservations;
const instances = res.flatMap((r) => r.Instances);
const ids = instances.map((i) => i.InstanceId);
await waitUntilInstanceRunning(w(ec2), { InstanceIds: ids });
const enis = (await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: "attachment.instance-id", Values: ids }] }))).NetworkInterfaces;
const attached = (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: `${n}-node` }))).AttachedPolicies.map((p) => p.PolicyName);
await eks.send(new DeleteNodegroupCommand({ clusterName: n, nodegroupName: "ng" }));
await waitUntilNodegroupDeleted(w(eks), { clusterName: n, nodegroupName: "ng" });
await eks.send(new DeleteAddonCommand({ clusterName: n, addonName: "vpc-cni" }));
await eks.send(new DeleteClusterCommand({ name: n }));
await waitUntilClusterDeleted(w(eks), { name: n });
emit({
  account,
  vpc_ipv6_block: block.endsWith("/56"),
  subnet_ipv6_block: subnetBlock === sub64,
  ip_family: c.kubernetesNetworkConfig.ipFamily,
  service_cidr_108: c.kubernetesNetworkConfig.serviceIpv6Cidr.endsWith("::/108"),
  health_issues: c.health.issues.map((i) => i.message.slice(1).split("]")[0]).sort(),
  cni_denied: denied.error,
  cni_denied_names_action: (denied.message || "").includes("ec2:AssignIpv6Addresses"),
  nodes: ids.length,
  nodes_running: instances.every((i) => i.State.Name === "running"),
  eni_ipv6: enis.every((e) => (e.Ipv6Addresses || []).length >= 1),
  node_policies: attached.sort(),
  clusters_left: (await eks.send(new ListClustersCommand({}))).clusters,
});
