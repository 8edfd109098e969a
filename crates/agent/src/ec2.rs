//! The real [`PrefixSource`]: the node's primary ENI as EC2 describes it (through `ec2_client`).
//! Start-up only; no EC2 call ever happens on the pod path.
//!
//! `DescribeNetworkInterfaces` (filter `attachment.instance-id`) → the ENI with device index 0 →
//! [`choose_prefix`] among its /80s → if it has none, `AssignIpv6Addresses` with
//! `Ipv6PrefixCount=1`. The node IPv4 is that ENI's primary private IPv4.

use std::path::PathBuf;

use ec2_client::{Ec2Client, Filter, credentials};
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

    /// Credentials: the `--credentials-file` profile if a file is given; otherwise the
    /// environment (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`), else the profile of the
    /// default credentials file. Endpoint: `--ec2-endpoint`, else the region's public one.
    pub fn from_config(config: &AgentConfig) -> Result<Self, PrefixError> {
        let creds = match &config.credentials_file {
            Some(path) => credentials::from_profile(path, &config.profile)?,
            None => match credentials::from_env()? {
                Some(c) => c,
                None => {
                    let path: PathBuf = credentials::default_credentials_path();
                    credentials::from_profile(&path, &config.profile)?
                }
            },
        };
        let client = Ec2Client::new(&config.region, config.ec2_endpoint.as_deref(), creds)
            .map_err(|e| PrefixError::Client(Box::new(e)))?;
        Ok(Self::new(client, config.instance_id.clone()))
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
