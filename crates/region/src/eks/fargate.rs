//! Fargate profiles, and Fargate units: one per Fargate pod, with its own network interface in a
//! profile subnet carrying its own IPv4 and (in an IPv6 cluster) IPv6 address from the subnet.

use super::error::{EksError, Rule};
use super::model::*;
use super::{ClusterChild, NameKind, arn, check_name, child_key, role_name, uuid};
use crate::ec2::model::NetworkInterface;
use crate::ec2::net;
use crate::ids::{self, Kind};
use crate::region::Env;
use crate::state::State;

/// CreateFargateProfile as the wire layer parsed it.
#[derive(Debug, Clone, Default)]
pub struct CreateFargateProfile {
    /// The cluster's name.
    pub cluster: String,
    /// The profile's name (unique in the cluster).
    pub name: String,
    /// `podExecutionRoleArn`.
    pub pod_execution_role_arn: String,
    /// `subnets` (default the cluster's subnets).
    pub subnets: Option<Vec<String>>,
    /// `selectors` (one to five).
    pub selectors: Vec<FargateSelector>,
    /// Tags.
    pub tags: Tags,
}

impl ClusterChild for FargateProfile {
    const LIST: &'static str = "ListFargateProfiles";
    fn name(&self) -> &str {
        &self.name
    }
    fn not_found(cluster: &str, name: &str) -> EksError {
        EksError::FargateProfileNotFound {
            cluster: cluster.to_string(),
            profile: name.to_string(),
        }
    }
}

impl State {
    fn fargate_profile(&self, cluster: &str, name: &str) -> Result<&FargateProfile, EksError> {
        self.child(&self.fargate_profiles, cluster, name)
    }

    /// CreateFargateProfile: checks the subnets (IPv6 for an IPv6 cluster) and selectors, then stores the profile.
    pub fn create_fargate_profile(
        &mut self,
        env: &mut Env,
        req: CreateFargateProfile,
    ) -> Result<FargateProfile, EksError> {
        let cluster = self.cluster(&req.cluster)?.clone();
        check_name(NameKind::FargateProfile, "fargateProfileName", &req.name)?;
        let key = child_key(&cluster.name, &req.name);
        if self.fargate_profiles.contains(&key) {
            return Err(EksError::FargateProfileExists {
                cluster: cluster.name,
                profile: req.name,
            });
        }
        role_name("podExecutionRoleArn", &req.pod_execution_role_arn)?;
        if req.selectors.is_empty() || req.selectors.len() > 5 {
            return Err(EksError::invalid(
                "selectors",
                req.selectors.len().to_string(),
                "Give 1 to 5 selectors, each with a namespace.",
            ));
        }
        if let Some(s) = req.selectors.iter().find(|s| s.namespace.is_empty()) {
            return Err(EksError::invalid(
                "selectors.namespace",
                s.namespace.clone(),
                "Every selector names a namespace.",
            ));
        }
        let ids = req
            .subnets
            .clone()
            .unwrap_or_else(|| cluster.subnet_ids.clone());
        let (subnets, _) = self.eks_subnets("subnets", &ids, Some(&cluster.vpc_id))?;
        if cluster.ip_family == IpFamily::Ipv6 {
            if let Some(s) = subnets.iter().find(|s| s.ipv6.is_none()) {
                return Err(EksError::rule(
                    Rule::FargateSubnetIpv6,
                    s.id.clone(),
                    format!(
                        "Fargate subnet {} has no IPv6 CIDR block; Fargate pods of IPv6 cluster {} take their IPv6 address from the subnet.",
                        s.id, cluster.name
                    ),
                    format!(
                        "give subnets with an IPv6 /64, or add one: `aws ec2 associate-subnet-cidr-block --subnet-id {} --ipv6-cidr-block <a /64>`.",
                        s.id
                    ),
                ));
            }
            self.check_ipv6_subnets(&subnets, "Fargate subnet")?;
        }
        let id = uuid(env.rng);
        let p = FargateProfile {
            name: req.name.clone(),
            cluster: cluster.name.clone(),
            arn: arn(
                env,
                &format!("fargateprofile/{}/{}/{id}", cluster.name, req.name),
            ),
            created_at: env.now,
            pod_execution_role_arn: req.pod_execution_role_arn,
            subnets: ids,
            selectors: req.selectors,
            tags: req.tags,
        };
        self.fargate_profiles.insert(key, p.clone());
        Ok(p)
    }

    /// DescribeFargateProfile: the profile, or `FargateProfileNotFound`.
    pub fn describe_fargate_profile(
        &self,
        cluster: &str,
        name: &str,
    ) -> Result<FargateProfile, EksError> {
        self.fargate_profile(cluster, name).cloned()
    }

    /// ListFargateProfiles: one page of the cluster's profile names and the token of the next page.
    pub fn list_fargate_profiles(
        &self,
        cluster: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), EksError> {
        self.list_children(&self.fargate_profiles, cluster, max_results, next_token)
    }

    /// DeleteFargateProfile: its units and their interfaces go too (reported `DELETING`).
    pub fn delete_fargate_profile(
        &mut self,
        cluster: &str,
        name: &str,
    ) -> Result<FargateProfile, EksError> {
        let p = self.fargate_profile(cluster, name)?.clone();
        let units: Vec<FargateUnit> = self
            .fargate_units
            .values()
            .filter(|u| u.cluster == cluster && u.profile == name)
            .cloned()
            .collect();
        for u in units {
            self.network_interfaces.remove(&u.eni_id);
            self.fargate_units.remove(&u.id);
        }
        self.fargate_profiles.remove(&child_key(cluster, name));
        Ok(p)
    }

    /// Place a Fargate pod: the first profile whose selector matches `namespace` and `labels`
    /// gets a new unit with its own interface, IPv4 and (if the subnet has one) IPv6 address.
    pub fn place_fargate_pod(
        &mut self,
        env: &mut Env,
        cluster: &str,
        namespace: &str,
        pod: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Result<FargateUnit, EksError> {
        let c = self.cluster(cluster)?.clone();
        let prefix = format!("{cluster}/");
        let profile = self
            .fargate_profiles
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, p)| p)
            .find(|p| p.selectors.iter().any(|s| s.namespace == namespace && s.labels.iter().all(|(k, v)| labels.get(k) == Some(v))))
            .cloned()
            .ok_or_else(|| EksError::InvalidRequest {
                message: format!("No Fargate profile of cluster {cluster} selects namespace {namespace} with labels {labels:?}; create one with `aws eks create-fargate-profile`."),
            })?;
        let existing = self
            .fargate_units
            .values()
            .filter(|u| u.cluster == cluster)
            .count();
        let subnet_id = &profile.subnets[existing % profile.subnets.len().max(1)];
        let subnet =
            self.subnets
                .get(subnet_id)
                .cloned()
                .ok_or_else(|| EksError::InvalidRequest {
                    message: format!(
                        "Subnet {subnet_id} of Fargate profile {} no longer exists.",
                        profile.name
                    ),
                })?;
        let block = subnet.cidr_block.ok_or_else(|| EksError::InvalidRequest {
            message: format!(
                "Subnet {subnet_id} of Fargate profile {} is IPv6-only; Fargate units need a dual-stack subnet.",
                profile.name
            ),
        })?;
        let ipv4 = net::pick_ipv4(block, &self.used_ipv4(subnet_id)).ok_or_else(|| {
            EksError::InvalidRequest {
                message: format!("Subnet {subnet_id} has no free IPv4 address for a Fargate unit."),
            }
        })?;
        let ipv6 = match (&subnet.ipv6, c.ip_family) {
            (Some(a), _) => {
                let (used, prefixes) = self.used_ipv6(subnet_id);
                Some(
                    net::pick_ipv6(a.cidr, &used, &prefixes, env.rng).ok_or_else(|| {
                        EksError::InvalidRequest {
                            message: format!(
                                "Subnet {subnet_id} has no free IPv6 address for a Fargate unit."
                            ),
                        }
                    })?,
                )
            }
            (None, IpFamily::Ipv6) => {
                return Err(EksError::rule(
                    Rule::FargateSubnetIpv6,
                    subnet_id.clone(),
                    format!("Fargate subnet {subnet_id} has no IPv6 CIDR block."),
                    "give the profile subnets with an IPv6 /64.",
                ));
            }
            (None, IpFamily::Ipv4) => None,
        };
        let eni = NetworkInterface {
            id: ids::generate(Kind::NetworkInterface, env.rng),
            subnet_id: subnet_id.clone(),
            vpc_id: subnet.vpc_id.clone(),
            availability_zone: subnet.availability_zone.clone(),
            mac_address: net::mac(env.rng),
            private_ipv4: ipv4,
            ipv6_addresses: ipv6.into_iter().collect(),
            ipv6_prefixes: vec![],
            attachment: None,
            security_groups: vec![c.cluster_security_group_id.clone()],
            description: format!("fargate pod {namespace}/{pod} of cluster {cluster}"),
            tags: Default::default(),
            source_dest_check: true,
            interface_type: "interface".into(),
        };
        let unit = FargateUnit {
            id: uuid(env.rng),
            cluster: cluster.to_string(),
            profile: profile.name.clone(),
            namespace: namespace.to_string(),
            pod: pod.to_string(),
            subnet_id: subnet_id.clone(),
            eni_id: eni.id.clone(),
            ipv4,
            ipv6,
        };
        self.network_interfaces.insert(eni.id.clone(), eni);
        self.fargate_units.insert(unit.id.clone(), unit.clone());
        Ok(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::clusters::tests::ipv6_request;
    use crate::eks::testing::World;

    fn req(subnet: &str) -> CreateFargateProfile {
        CreateFargateProfile {
            cluster: "c".into(),
            name: "fp".into(),
            pod_execution_role_arn: "arn:aws:iam::123456789012:role/pod".into(),
            subnets: Some(vec![subnet.into()]),
            selectors: vec![FargateSelector {
                namespace: "default".into(),
                labels: Default::default(),
            }],
            tags: Default::default(),
        }
    }

    #[test]
    fn fargate_subnets_need_ipv6_and_units_get_both_families() {
        let mut w = World::new();
        let (_, dual) = w.vpc(true);
        w.with(|s, env| s.create_cluster(env, ipv6_request("c", &dual)))
            .unwrap();
        // An IPv4-only subnet in the same VPC.
        let vpc = w.state.subnets.get(&dual).unwrap().vpc_id.clone();
        let v4 = w
            .with(|s, env| {
                s.create_subnet(
                    env,
                    crate::ec2::vpc::CreateSubnet::new(
                        crate::ids::VpcId::parse(&vpc).unwrap(),
                        crate::ec2::subnets::SubnetBlocks::Ipv4("10.0.2.0/24".parse().unwrap()),
                    ),
                )
            })
            .unwrap()
            .id;
        let e = w
            .with(|s, env| s.create_fargate_profile(env, req(&v4)))
            .unwrap_err();
        assert_eq!(e.rule_id(), Some(Rule::FargateSubnetIpv6));
        assert!(e.to_string().contains(&v4));
        w.with(|s, env| s.create_fargate_profile(env, req(&dual)))
            .unwrap();
        let u = w
            .with(|s, env| s.place_fargate_pod(env, "c", "default", "web-1", &Default::default()))
            .unwrap();
        let subnet = w.state.subnets.get(&dual).unwrap().clone();
        assert!(subnet.ipv6.unwrap().cidr.contains(&u.ipv6.unwrap()));
        assert!(subnet.cidr_block.unwrap().contains(&u.ipv4));
        let u2 = w
            .with(|s, env| s.place_fargate_pod(env, "c", "default", "web-2", &Default::default()))
            .unwrap();
        assert_ne!(u.ipv4, u2.ipv4);
        assert_ne!(u.ipv6, u2.ipv6);
        assert!(
            w.with(|s, env| s.place_fargate_pod(env, "c", "other", "x", &Default::default()))
                .is_err()
        );
        w.state.delete_fargate_profile("c", "fp").unwrap();
        assert!(w.state.fargate_units.is_empty() && w.state.network_interfaces.is_empty());
    }
}
