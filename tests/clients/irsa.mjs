// IRSA with the AWS SDK for JavaScript v3: exchange a cluster's service-account token for
// temporary credentials (AssumeRoleWithWebIdentity, unsigned), then call EC2 and STS with them.
// Args: role_arn, token. Same output as irsa.py.
import { EC2Client, DescribeVpcsCommand } from "@aws-sdk/client-ec2";
import {
  STSClient,
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
} from "@aws-sdk/client-sts";
import { ARGS, attempt, client, emit } from "./lib.mjs";

const sts = client(STSClient);
const got = await sts.send(
  new AssumeRoleWithWebIdentityCommand({
    RoleArn: ARGS.role_arn,
    RoleSessionName: "js-node",
    WebIdentityToken: ARGS.token,
  }),
);
const c = got.Credentials;
const creds = {
  accessKeyId: c.AccessKeyId,
  secretAccessKey: c.SecretAccessKey,
  sessionToken: c.SessionToken,
};
const opts = {
  endpoint: process.env.SIXFOLD_ENDPOINT,
  region: process.env.AWS_REGION || "us-east-1",
  maxAttempts: 1,
  credentials: creds,
};
const who = await new STSClient(opts).send(new GetCallerIdentityCommand({}));
const vpcs = (await new EC2Client(opts).send(new DescribeVpcsCommand({}))).Vpcs;
const [head, body, sig] = ARGS.token.split(".");
const tampered = await attempt(
  sts.send(
    new AssumeRoleWithWebIdentityCommand({
      RoleArn: ARGS.role_arn,
      RoleSessionName: "js-node",
      WebIdentityToken: [head, body, sig.slice(0, -4) + (sig.endsWith("AAAA") ? "BBBB" : "AAAA")].join("."),
    }),
  ),
);
emit({
  access_key_id: c.AccessKeyId,
  subject: got.SubjectFromWebIdentityToken,
  assumed_role_arn: got.AssumedRoleUser.Arn,
  audience: got.Audience,
  caller_arn: who.Arn,
  account: who.Account,
  vpcs: vpcs.length,
  tampered: { error: tampered.error, message: tampered.message },
});
