//! EKS: clusters, node groups, add-ons, Fargate profiles and their updates, as typed operations
//! on [`State`](crate::state::State), with every rule of the IPv6 design as a check that names its
//! [`Rule`] id. Node groups launch real instances through the EC2 operations, so every node has a
//! dual-stack primary ENI. Problems the reference lets fail later are computed, not stored, as
//! health issues ([`health`]).

pub mod addons;
pub mod catalog;
pub mod clusters;
pub mod error;
pub mod fargate;
pub mod health;
pub mod model;
pub mod nodegroups;
pub mod roles;
pub mod tags;
pub mod tokens;

pub use error::{EksError, Rule};

use rand::RngCore;

use crate::region::Env;
use crate::state::State;
use crate::table::Table;

/// Which EKS resource a name is for (for messages).
#[derive(Debug, Clone, Copy)]
pub enum NameKind {
    /// A cluster name.
    Cluster,
    /// A node group name.
    Nodegroup,
    /// A Fargate profile name.
    FargateProfile,
}

/// Check a cluster (1..100), node group or Fargate profile (1..63) name: a letter or digit,
/// then letters, digits, `-` and `_`.
pub fn check_name(kind: NameKind, member: &'static str, name: &str) -> Result<(), EksError> {
    let max = match kind {
        NameKind::Cluster => 100,
        NameKind::Nodegroup | NameKind::FargateProfile => 63,
    };
    let ok = !name.is_empty()
        && name.len() <= max
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(EksError::invalid(
            member,
            name,
            format!(
                "A name is 1 to {max} characters: a letter or digit first, then letters, digits, '-' or '_'."
            ),
        ))
    }
}

/// Check that `arn` names an IAM role (`arn:aws:iam::ACCOUNT:role/NAME`); returns the role name.
pub fn role_name(member: &'static str, arn: &str) -> Result<String, EksError> {
    let bad = || {
        EksError::invalid(
            member,
            arn,
            "Give a role ARN such as arn:aws:iam::123456789012:role/my-role.",
        )
    };
    let rest = arn.strip_prefix("arn:aws:iam::").ok_or_else(bad)?;
    let (account, path) = rest.split_once(':').ok_or_else(bad)?;
    let role_path = path.strip_prefix("role/").ok_or_else(bad)?;
    let name = role_path.rsplit('/').next().unwrap_or_default();
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) || name.is_empty() {
        return Err(bad());
    }
    Ok(name.to_string())
}

/// `arn:aws:eks:REGION:ACCOUNT:<resource>`.
pub fn arn(env: &Env, resource: &str) -> String {
    format!(
        "arn:aws:eks:{}:{}:{resource}",
        env.config.name, env.config.account_id
    )
}

/// A random UUID (version 4 shape).
pub fn uuid(rng: &mut dyn RngCore) -> String {
    crate::ids::request_id(rng)
}

/// Standard base64 (for the certificate authority data).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The key of a row that belongs to a cluster (`cluster/name`).
pub fn child_key(cluster: &str, name: &str) -> String {
    format!("{cluster}/{name}")
}

/// A row that belongs to a cluster (node group, add-on, Fargate profile), keyed `CLUSTER/NAME`
/// in its table: what the lookup and the List call of every such kind share.
pub trait ClusterChild: Clone {
    /// The EKS List call that pages through these rows (tokens of one list are refused by another).
    const LIST: &'static str;
    /// Its name, unique in its cluster.
    fn name(&self) -> &str;
    /// The kind's own "not found" error for `name` in `cluster`.
    fn not_found(cluster: &str, name: &str) -> EksError;
}

impl State {
    /// The child `name` of `cluster` in `table`: `ClusterNotFound` when the cluster is missing,
    /// the kind's own not-found error when the row is.
    pub(crate) fn child<'a, T: ClusterChild>(
        &self,
        table: &'a Table<T>,
        cluster: &str,
        name: &str,
    ) -> Result<&'a T, EksError> {
        self.cluster(cluster)?;
        table
            .get(&child_key(cluster, name))
            .ok_or_else(|| T::not_found(cluster, name))
    }

    /// One page of the names of `cluster`'s children in `table` and the token of the next page
    /// (`ClusterNotFound` when the cluster is missing).
    pub(crate) fn list_children<T: ClusterChild>(
        &self,
        table: &Table<T>,
        cluster: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), EksError> {
        self.cluster(cluster)?;
        let prefix = format!("{cluster}/");
        let names = table
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.name().to_string())
            .collect();
        paginate(T::LIST, names, max_results, next_token, LIST_MAX_RESULTS)
    }
}

/// The largest `maxResults` of every EKS List call (botocore: 1 to 100).
pub const LIST_MAX_RESULTS: u32 = 100;

/// Page through sorted `items` of the List call `list`. A token is opaque to clients: a keyed
/// digest (of the list and the position) followed by the hex of the first item of the next page;
/// one that does not verify, or that belongs to another list, is refused naming it.
pub fn paginate(
    list: &str,
    items: Vec<String>,
    max_results: Option<u32>,
    token: Option<&str>,
    limit: u32,
) -> Result<(Vec<String>, Option<String>), EksError> {
    let max = max_results.unwrap_or(limit);
    if max == 0 || max > limit {
        return Err(EksError::invalid(
            "maxResults",
            max.to_string(),
            format!("Use 1 to {limit}."),
        ));
    }
    let start = match token {
        None => 0,
        Some(t) => {
            let first = open_token(list, t).ok_or_else(|| {
                EksError::invalid(
                    "nextToken",
                    t.chars().take(200).collect::<String>(),
                    format!("It is not a nextToken of {list}; pass the nextToken of the previous page unchanged."),
                )
            })?;
            items.partition_point(|i| *i < first)
        }
    };
    let page: Vec<String> = items
        .iter()
        .skip(start)
        .take(max as usize)
        .cloned()
        .collect();
    let next = items.get(start + page.len()).map(|n| seal_token(list, n));
    Ok((page, next))
}

/// FNV-1a 64 over `parts` (a digest to tell tokens apart, not a secret).
pub fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for p in parts {
        for b in p.iter().chain(std::iter::once(&0xffu8)) {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

fn seal_token(list: &str, first: &str) -> String {
    let digest = fnv64(&[b"sixfold-eks-page", list.as_bytes(), first.as_bytes()]);
    format!("{digest:016x}{}", hex(first))
}

fn open_token(list: &str, token: &str) -> Option<String> {
    if token.len() > 2048 || token.len() < 18 {
        return None;
    }
    let (digest, rest) = token.split_at(16);
    let first = unhex(rest)?;
    let want = fnv64(&[b"sixfold-eks-page", list.as_bytes(), first.as_bytes()]);
    (u64::from_str_radix(digest, 16).ok()? == want).then_some(first)
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) || s.is_empty() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
pub(crate) mod testing {
    //! A region state with a dual-stack VPC, ready for EKS tests.

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use crate::catalog::Catalog;
    use crate::ec2::vpc::{CreateSubnet, CreateVpc};
    use crate::region::{Env, RegionConfig};
    use crate::state::State;

    pub struct World {
        pub state: State,
        pub rng: StdRng,
        pub catalog: Catalog,
        pub config: RegionConfig,
        pub now: u64,
    }

    impl World {
        pub fn new() -> Self {
            Self {
                state: State::default(),
                rng: StdRng::seed_from_u64(42),
                catalog: Catalog::builtin(),
                config: RegionConfig {
                    name: "us-east-1".into(),
                    account_id: "123456789012".into(),
                },
                now: 1_700_000_000,
            }
        }

        /// Run `f` with an [`Env`] (no store: rows stay in memory).
        pub fn with<R>(&mut self, f: impl FnOnce(&mut State, &mut Env) -> R) -> R {
            let mut env = Env {
                rng: &mut self.rng,
                now: self.now,
                catalog: &self.catalog,
                config: &self.config,
            };
            let r = f(&mut self.state, &mut env);
            let _ = self.state.take_changes();
            r
        }

        /// A VPC (with an IPv6 /56 when `v6`) and a subnet; returns (vpc, subnet).
        pub fn vpc(&mut self, v6: bool) -> (String, String) {
            self.with(|s, env| {
                let vpc = s
                    .create_vpc(
                        env,
                        CreateVpc {
                            amazon_provided_ipv6: v6,
                            ..CreateVpc::new("10.0.0.0/16".parse().unwrap())
                        },
                    )
                    .unwrap();
                let v4: addressing::cidr::Ipv4Cidr = "10.0.1.0/24".parse().unwrap();
                let blocks = match vpc.ipv6_associations.first() {
                    Some(a) => crate::ec2::subnets::SubnetBlocks::DualStack(
                        v4,
                        addressing::cidr::Ipv6Cidr::new(a.cidr.network(), 64).unwrap(),
                    ),
                    None => crate::ec2::subnets::SubnetBlocks::Ipv4(v4),
                };
                let subnet = s
                    .create_subnet(
                        env,
                        CreateSubnet::new(crate::ids::VpcId::parse(&vpc.id).unwrap(), blocks),
                    )
                    .unwrap();
                (vpc.id, subnet.id)
            })
        }

        /// Turn on IPv6 auto-assignment of a subnet.
        pub fn auto_ipv6(&mut self, subnet: &str) {
            self.state
                .subnets
                .get_mut(subnet)
                .unwrap()
                .assign_ipv6_on_creation = true;
            let _ = self.state.take_changes();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_eks_pattern() {
        assert!(check_name(NameKind::Cluster, "name", "my-cluster_1").is_ok());
        assert!(check_name(NameKind::Cluster, "name", "-x").is_err());
        assert!(check_name(NameKind::Cluster, "name", "").is_err());
        assert!(check_name(NameKind::Nodegroup, "nodegroupName", &"a".repeat(64)).is_err());
        assert!(check_name(NameKind::Cluster, "name", "a b").is_err());
    }

    #[test]
    fn role_arns_are_parsed() {
        assert_eq!(
            role_name("roleArn", "arn:aws:iam::123456789012:role/eks").unwrap(),
            "eks"
        );
        assert_eq!(
            role_name("roleArn", "arn:aws:iam::123456789012:role/p/q/eks").unwrap(),
            "eks"
        );
        assert!(role_name("roleArn", "arn:aws:iam::1:role/eks").is_err());
        assert!(role_name("roleArn", "eks-role").is_err());
    }

    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn pages_cover_every_item_once() {
        let items: Vec<String> = (0..7).map(|i| format!("c{i}")).collect();
        let (p1, t1) = paginate("L", items.clone(), Some(3), None, 100).unwrap();
        let (p2, t2) = paginate("L", items.clone(), Some(3), t1.as_deref(), 100).unwrap();
        let (p3, t3) = paginate("L", items.clone(), Some(3), t2.as_deref(), 100).unwrap();
        assert_eq!([p1, p2, p3].concat(), items);
        assert_eq!(t3, None);
        assert!(paginate("L", items.clone(), Some(0), None, 100).is_err());
        assert!(paginate("L", items.clone(), Some(101), None, 100).is_err());
        assert!(paginate("L", items.clone(), None, Some("zz"), 100).is_err());
    }

    #[test]
    fn page_tokens_are_refused_when_forged_or_from_another_list() {
        let items: Vec<String> = (0..5).map(|i| format!("c{i}")).collect();
        let (_, t) = paginate("ListNodegroups", items.clone(), Some(2), None, 100).unwrap();
        let t = t.unwrap();
        assert!(!t.contains("c2"), "opaque: {t}");
        assert!(paginate("ListAddons", items.clone(), None, Some(&t), 100).is_err());
        // The hex of an item without its digest (what tokens used to be) is refused.
        assert!(paginate("ListNodegroups", items.clone(), None, Some("6332"), 100).is_err());
        let mut forged = t.clone();
        forged.replace_range(0..1, if t.starts_with('0') { "1" } else { "0" });
        assert!(paginate("ListNodegroups", items, None, Some(&forged), 100).is_err());
    }
}
