// Smoke: the AWS SDK for JavaScript v3 parses the region's DescribeVpcs reply.
import { EC2Client, CreateVpcCommand, DescribeVpcsCommand } from "@aws-sdk/client-ec2";
import { client, emit } from "./lib.mjs";

const ec2 = client(EC2Client);
const made = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.7.0.0/16" }));
const out = await ec2.send(new DescribeVpcsCommand({}));
emit({ created: made.Vpc.VpcId, vpcs: out.Vpcs });
