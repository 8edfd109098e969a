//! `sixfold agent`: the node daemon, a thin wrapper over `agent::run`.

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  sixfold agent\n    \
(on an EC2 node: instance, region and ENI from IMDSv2; credentials from the chain:\n    \
environment, IRSA web identity, shared profile, instance profile)\n  \
sixfold agent --instance-id i-0123456789abcdef0 \\\n    \
--ec2-endpoint http://127.0.0.1:4570 --credentials-file /tmp/region/credentials --profile sixfold\n\n\
The agent reuses the /80 already delegated to the node's primary ENI, or delegates one with\n\
AssignIpv6Addresses; then it serves the CNI plugins on --socket and writes the conflist into\n\
--cni-conf-dir. Pod adds and deletes never call the cloud.")]
pub struct Args {
    #[command(flatten)]
    config: agent::AgentConfig,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    agent::run(args.config)?;
    Ok(())
}
