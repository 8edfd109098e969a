// Authorization with the AWS SDK for JavaScript v3: temporary credentials (as the metadata
// service hands them out) whose role allows ec2:Describe* only.
// Args: key, secret, token, instance_id, eni. Same output as authz.py.
import {
  EC2Client,
  DescribeInstancesCommand,
  AssignIpv6AddressesCommand,
} from "@aws-sdk/client-ec2";
import { EKSClient, ListClustersCommand } from "@aws-sdk/client-eks";
import { ARGS, attempt, emit } from "./lib.mjs";

const opts = {
  endpoint: process.env.SIXFOLD_ENDPOINT,
  region: process.env.AWS_REGION || "us-east-1",
  maxAttempts: 1,
  credentials: {
    accessKeyId: ARGS.key,
    secretAccessKey: ARGS.secret,
    sessionToken: ARGS.token,
  },
};
const ec2 = new EC2Client(opts);
const d = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [ARGS.instance_id] }));
const assign = await attempt(
  ec2.send(new AssignIpv6AddressesCommand({ NetworkInterfaceId: ARGS.eni, Ipv6PrefixCount: 1 })),
);
const listed = await attempt(new EKSClient(opts).send(new ListClustersCommand({})));
emit({
  described: d.Reservations[0].Instances[0].InstanceId,
  assign_error: assign.error,
  assign_message: assign.message,
  eks_error: listed.error,
});
