//! The real [`PrefixSource`]: the node's primary ENI as EC2 describes it (through `ec2_client`).
//! Start-up only; no EC2 call ever happens on the pod path.
//!
//! `DescribeNetworkInterfaces` (filter `attachment.instance-id`) → the ENI with device index 0 →
//! [`choose_prefix`] among its /80s → if it has none, `AssignIpv6Addresses` with
//! `Ipv6PrefixCount=1`. The node IPv4 is that ENI's primary private IPv4.

use std::sync::Arc;

use ec2_client::provider::Source;
use ec2_client::{CredentialsProvider, Ec2Client, Filter, ImdsClient, credentials};
use tracing::info;

use crate::config::AgentConfig;
use crate::prefix::{NodeFacts, PrefixError, PrefixSource, choose_prefix};

/// Finds (or assigns) the /80 of an instance's primary ENI.
#[derive(Debug)]
pub struct Ec2PrefixSource {
    client: Ec2Client,
    instance_id: String,
}

impl Ec2PrefixSource {
    /// A source for `instance_id` over `client`.
    pub fn new(client: Ec2Client, instance_id: impl Into<String>) -> Self {
        Self {
            client,
            instance_id: instance_id.into(),
        }
    }

    /// The node and its credentials, as on a real node:
    ///
    /// - instance id and region: `--instance-id` / `--region` when given, else IMDSv2 (and a
    ///   region still unknown is `us-east-1`);
    /// - credentials: the `--credentials-file` profile if a file is given, else the chain
    ///   (environment → web identity → shared file with `--profile` → instance profile), whose
    ///   temporary credentials are refreshed before they expire;
    /// - endpoints: `--ec2-endpoint`, else the region's public one; STS (web identity):
    ///   `--sts-endpoint`, else `--ec2-endpoint`, else `AWS_ENDPOINT_URL`, else public.
    pub fn from_config(config: &AgentConfig) -> Result<Self, PrefixError> {
        let (instance_id, meta) = match &config.instance_id {
            Some(id) => (id.clone(), None),
            None => {
                let imds = ImdsClient::from_env()?;
                let m = imds.node()?;
                info!(
                    instance = %m.instance_id, instance_type = %m.instance_type,
                    region = %m.region, eni = %m.interface_id, subnet = %m.subnet_id,
                    vpc = %m.vpc_id, ipv4 = %m.local_ipv4, imds = %imds.endpoint(),
                    "learned the node from instance metadata"
                );
                (m.instance_id.clone(), Some(m))
            }
        };
        let region = config
            .region
            .clone()
            .or_else(|| meta.as_ref().map(|m| m.region.clone()))
            .unwrap_or_else(|| "us-east-1".to_owned());
        let provider = match &config.credentials_file {
            Some(path) => CredentialsProvider::new(Source::Static {
                credentials: credentials::from_profile(path, &config.profile)?,
                origin: format!("profile [{}] of {}", config.profile, path.display()),
            }),
            None => {
                let profile = config.profile.clone();
                let var = move |name: &str| match name {
                    "AWS_PROFILE" => Some(profile.clone()),
                    _ => std::env::var(name).ok(),
                };
                let sts = config
                    .sts_endpoint
                    .as_deref()
                    .or(config.ec2_endpoint.as_deref());
                CredentialsProvider::chain_with(var, &region, sts, ImdsClient::from_env)?
            }
        };
        info!(credentials = %provider.describe(), region = %region, "AWS credentials");
        let client =
            Ec2Client::with_provider(&region, config.ec2_endpoint.as_deref(), Arc::new(provider))
                .map_err(|e| PrefixError::Client(Box::new(e)))?;
        Ok(Self::new(client, instance_id))
    }

    fn ec2(&self, op: &'static str) -> impl FnOnce(ec2_client::Ec2Error) -> PrefixError + '_ {
        move |source| PrefixError::Ec2 {
            op,
            instance_id: self.instance_id.clone(),
            source: Box::new(source),
        }
    }
}

impl PrefixSource for Ec2PrefixSource {
    fn identity(&self) -> Option<String> {
        let p = self.client.credentials();
        Some(match p.role() {
            Some(role) => format!("role {role} ({})", p.describe()),
            None => p.describe(),
        })
    }

    fn acquire(&self, recorded: Option<&NodeFacts>) -> Result<NodeFacts, PrefixError> {
        let enis = self
            .client
            .describe_network_interfaces(&[Filter::attachment_instance_id(
                self.instance_id.clone(),
            )])
            .map_err(self.ec2("DescribeNetworkInterfaces"))?;
        let eni =
            enis.into_iter()
                .find(|e| e.is_primary())
                .ok_or_else(|| PrefixError::NoPrimaryEni {
                    instance_id: self.instance_id.clone(),
                })?;
        let eni_id = eni.network_interface_id.clone();
        let node_ipv4 = eni.private_ipv4.ok_or_else(|| PrefixError::NoIpv4 {
            instance_id: self.instance_id.clone(),
            eni_id: eni_id.clone(),
        })?;
        let prefix = match choose_prefix(recorded, &eni_id, &eni.ipv6_prefixes)? {
            Some(p) => {
                info!(prefix = %p, eni = %eni_id, "reusing the primary ENI's /80");
                p
            }
            None => {
                let got = self
                    .client
                    .assign_ipv6_prefix(&eni_id, 1)
                    .map_err(self.ec2("AssignIpv6Addresses"))?;
                let p = got
                    .prefixes
                    .iter()
                    .copied()
                    .find(|p| p.prefix_len() == 80)
                    .ok_or_else(|| PrefixError::NothingAssigned {
                        eni_id: eni_id.clone(),
                        got: got.prefixes.iter().map(|p| p.to_string()).collect(),
                    })?;
                info!(prefix = %p, eni = %eni_id, "assigned a new /80 to the primary ENI");
                p
            }
        };
        Ok(NodeFacts {
            prefix,
            node_ipv4,
            node_ipv6: eni.ipv6_addresses.first().copied(),
            eni_id: Some(eni_id),
        })
    }
}
