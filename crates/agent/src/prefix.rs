//! Where the node's /80 comes from: the [`PrefixSource`] trait, a fixed source for tests and
//! for prefixes known in advance, and the EC2 source (see [`crate::ec2`]).
//!
//! The rule (the reference agent's): the prefix is acquired once, at agent start. The prefix
//! already recorded in the agent's state wins if the primary ENI still has it; otherwise an /80
//! the primary ENI already has is reused; only if it has none is one assigned
//! (`AssignIpv6Addresses` with `Ipv6PrefixCount=1`). The prefix is never released.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::Ipv6Net;
use serde::{Deserialize, Serialize};

/// The node's addressing facts, as recorded in the store and shown by `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeFacts {
    /// The delegated /80 pods get their addresses from.
    pub prefix: Ipv6Net,
    /// The primary ENI's primary private IPv4: the SNAT source of pod IPv4 egress.
    pub node_ipv4: Ipv4Addr,
    /// The primary ENI's first IPv6 address, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_ipv6: Option<Ipv6Addr>,
    /// The primary ENI's id (`eni-…`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni_id: Option<String>,
}

/// Failures of acquiring the prefix. Each names the instance or ENI and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum PrefixError {
    #[error("{op} for instance {instance_id} failed: {source}")]
    Ec2 {
        op: &'static str,
        instance_id: String,
        #[source]
        source: Box<ec2_client::Ec2Error>,
    },
    #[error("cannot build the EC2 client: {0}")]
    Client(#[source] Box<ec2_client::Ec2Error>),
    #[error("cannot load AWS credentials for the agent: {0}")]
    Credentials(#[from] ec2_client::CredentialsError),
    #[error(
        "instance {instance_id} has no primary network interface (device index 0) in \
         DescribeNetworkInterfaces; check --instance-id and that the instance is running"
    )]
    NoPrimaryEni { instance_id: String },
    #[error(
        "primary network interface {eni_id} of instance {instance_id} has no private IPv4 address"
    )]
    NoIpv4 { instance_id: String, eni_id: String },
    #[error(
        "the agent state records prefix {recorded} but primary network interface {eni_id} now has \
         {found}; this data dir belongs to another node or the prefix was removed: move the data \
         dir away to start afresh"
    )]
    RecordedPrefixGone {
        recorded: Ipv6Net,
        eni_id: String,
        found: String,
    },
    #[error(
        "AssignIpv6Addresses on {eni_id} answered no /80 prefix (got {got:?}); the subnet needs an \
         IPv6 CIDR with room for a /80 and the role needs ec2:AssignIpv6Addresses"
    )]
    NothingAssigned { eni_id: String, got: Vec<String> },
    #[error("cannot learn the node from the instance metadata service: {0}")]
    Imds(#[from] ec2_client::ImdsError),
    #[error("{0}")]
    Other(String),
}

impl PrefixError {
    /// Whether trying again later may succeed.
    pub fn retryable(&self) -> bool {
        matches!(self, PrefixError::Ec2 { source, .. } if source.is_retryable())
    }

    /// The refusal the agent waits out (retrying by itself) rather than failing on: EC2
    /// refused the call (`UnauthorizedOperation`, the role lacks the IPv6 policy) or no
    /// credentials could be had (STS refused the web identity, IMDS has no role yet). Fixed by
    /// IAM changes, which take effect without restarting the agent.
    pub fn denial(&self) -> Option<Denial> {
        let PrefixError::Ec2 { op, source, .. } = self else {
            return None;
        };
        match source.as_ref() {
            ec2_client::Ec2Error::Api { code, message, .. }
                if matches!(
                    code.as_str(),
                    "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException"
                ) =>
            {
                Some(Denial {
                    action: (*op).to_owned(),
                    code: code.clone(),
                    message: message.clone(),
                    fix: "attach the IPv6 CNI policy (ec2:AssignIpv6Addresses, \
                          ec2:DescribeNetworkInterfaces, ec2:DescribeInstances, ...) to the \
                          role; the agent retries by itself and needs no restart"
                        .to_owned(),
                })
            }
            ec2_client::Ec2Error::Credentials { source, .. } => Some(Denial {
                action: (*op).to_owned(),
                code: "NoCredentials".to_owned(),
                message: source.to_string(),
                fix: "fix the credentials named above (trust policy of the role, the projected \
                      token, or the instance profile); the agent retries by itself"
                    .to_owned(),
            }),
            _ => None,
        }
    }
}

/// Why the prefix cannot be had now, as the agent reports it (log, `/v1/status`, CNI message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    /// The EC2 action refused (`AssignIpv6Addresses`, `DescribeNetworkInterfaces`).
    pub action: String,
    /// The error code (`UnauthorizedOperation`, or `NoCredentials`).
    pub code: String,
    /// The service's message.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// Finds (or obtains) the node's /80. Called once at start, never on the pod path.
pub trait PrefixSource: Send + Sync {
    /// `recorded` is what the agent's state holds from an earlier run, if anything.
    fn acquire(&self, recorded: Option<&NodeFacts>) -> Result<NodeFacts, PrefixError>;

    /// Who the source acts as (role and where its credentials come from), for reports.
    fn identity(&self) -> Option<String> {
        None
    }
}

/// A prefix known in advance (tests, or a node whose /80 is configured by other means).
#[derive(Debug, Clone)]
pub struct StaticPrefix(pub NodeFacts);

impl PrefixSource for StaticPrefix {
    fn acquire(&self, _recorded: Option<&NodeFacts>) -> Result<NodeFacts, PrefixError> {
        Ok(self.0.clone())
    }
}

/// The choice among the primary ENI's prefixes (pure, shared by every EC2-backed source).
/// `Ok(Some)` = use this one, `Ok(None)` = assign a new one.
pub fn choose_prefix(
    recorded: Option<&NodeFacts>,
    eni_id: &str,
    on_eni: &[Ipv6Net],
) -> Result<Option<Ipv6Net>, PrefixError> {
    let slash80: Vec<Ipv6Net> = on_eni
        .iter()
        .copied()
        .filter(|p| p.prefix_len() == 80)
        .collect();
    if let Some(rec) = recorded {
        if slash80.contains(&rec.prefix) {
            return Ok(Some(rec.prefix));
        }
        if !slash80.is_empty() {
            return Err(PrefixError::RecordedPrefixGone {
                recorded: rec.prefix,
                eni_id: eni_id.to_owned(),
                found: slash80
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        // The ENI has no /80 at all (e.g. a fresh ENI with an old data dir): not ours to guess.
        return Err(PrefixError::RecordedPrefixGone {
            recorded: rec.prefix,
            eni_id: eni_id.to_owned(),
            found: "no /80".into(),
        });
    }
    Ok(slash80.first().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(p: &str) -> NodeFacts {
        NodeFacts {
            prefix: p.parse().unwrap(),
            node_ipv4: Ipv4Addr::new(10, 0, 0, 1),
            node_ipv6: None,
            eni_id: None,
        }
    }

    #[test]
    fn recorded_prefix_wins_when_the_eni_still_has_it() {
        let on = [
            "2001:db8::/80".parse().unwrap(),
            "2001:db8:0:0:1::/80".parse().unwrap(),
        ];
        let rec = facts("2001:db8:0:0:1::/80");
        assert_eq!(
            choose_prefix(Some(&rec), "eni-1", &on).unwrap(),
            Some(on[1])
        );
    }

    #[test]
    fn first_existing_slash80_is_reused_and_none_means_assign() {
        let on = [
            "2001:db8::/64".parse().unwrap(),
            "2001:db8:0:0:2::/80".parse().unwrap(),
        ];
        assert_eq!(choose_prefix(None, "eni-1", &on).unwrap(), Some(on[1]));
        assert_eq!(choose_prefix(None, "eni-1", &[]).unwrap(), None);
    }

    #[test]
    fn recorded_prefix_missing_from_the_eni_is_an_error() {
        let rec = facts("2001:db8:0:0:1::/80");
        let on = ["2001:db8:0:0:2::/80".parse().unwrap()];
        let err = choose_prefix(Some(&rec), "eni-1", &on).unwrap_err();
        assert!(err.to_string().contains("2001:db8:0:0:2::/80"), "{err}");
        assert!(choose_prefix(Some(&rec), "eni-1", &[]).is_err());
    }
}
