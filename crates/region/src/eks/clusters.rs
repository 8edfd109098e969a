//! Clusters: create (the IP family and service CIDR rules), describe, list, delete, and
//! UpdateClusterConfig (which can never change the IP family).

use std::collections::{BTreeSet, HashSet};

use addressing::{CidrError, Ipv4Cidr, Ipv4ServiceCidr, ServiceCidr, ServiceCidr108};

use super::catalog::{self, DEFAULT_KUBERNETES_VERSION, KUBERNETES_VERSIONS, MIN_IPV6_KUBERNETES};
use super::error::{EksError, Rule};
use super::model::*;
use super::{NameKind, arn, base64, check_name, paginate, role_name, uuid};
use crate::ec2::model::Subnet;
use crate::region::Env;
use crate::state::State;

/// Most clusters one ListClusters page returns.
pub const LIST_LIMIT: u32 = 100;

/// Log types to turn on and to turn off.
pub type LoggingChange = (BTreeSet<String>, BTreeSet<String>);

/// `resourcesVpcConfig` as the wire layer parsed it; members not given are `None`.
#[derive(Debug, Clone, Default)]
pub struct VpcConfig {
    /// `subnetIds`.
    pub subnet_ids: Option<Vec<String>>,
    /// `securityGroupIds`.
    pub security_group_ids: Option<Vec<String>>,
    /// `endpointPublicAccess` (default on at creation).
    pub endpoint_public_access: Option<bool>,
    /// `endpointPrivateAccess` (default off at creation).
    pub endpoint_private_access: Option<bool>,
    /// `publicAccessCidrs` (default `0.0.0.0/0`).
    pub public_access_cidrs: Option<Vec<String>>,
}

/// `kubernetesNetworkConfig` as the wire layer parsed it.
#[derive(Debug, Clone, Default)]
pub struct NetworkConfig {
    /// `ipFamily` (default `ipv4`).
    pub ip_family: Option<IpFamily>,
    /// `serviceIpv4Cidr`: for an IPv4 cluster only; the region picks one when absent.
    pub service_ipv4_cidr: Option<String>,
    /// Never accepted: the region chooses it ([`Rule::ServiceCidrGenerated`]).
    pub service_ipv6_cidr: Option<String>,
}

/// CreateCluster as the wire layer parsed it: members not given take EKS's defaults.
#[derive(Debug, Clone, Default)]
pub struct CreateCluster {
    /// `name`, unique in the region.
    pub name: String,
    /// `version` (default [`super::catalog::DEFAULT_KUBERNETES_VERSION`]).
    pub version: Option<String>,
    /// `roleArn`: the role the control plane acts as.
    pub role_arn: String,
    /// `resourcesVpcConfig`.
    pub vpc: VpcConfig,
    /// `kubernetesNetworkConfig`.
    pub network: NetworkConfig,
    /// `outpostConfig` was given (a local cluster on AWS Outposts).
    pub outpost: bool,
    /// Log types to enable.
    pub logging: Option<LoggingChange>,
    /// Tags.
    pub tags: Tags,
    /// `clientRequestToken`, for an idempotent replay.
    pub client_request_token: Option<String>,
}

/// UpdateClusterConfig as the wire layer parsed it: only the parts given change.
#[derive(Debug, Clone, Default)]
pub struct UpdateClusterConfig {
    /// The cluster's name.
    pub name: String,
    /// New `resourcesVpcConfig` members.
    pub vpc: Option<VpcConfig>,
    /// `kubernetesNetworkConfig`: refused when it would change the IP family.
    pub network: Option<NetworkConfig>,
    /// (types to enable, types to disable).
    pub logging: Option<LoggingChange>,
}

fn to_cidr(n: ipnet::Ipv4Net) -> Option<Ipv4Cidr> {
    Ipv4Cidr::try_from(n.trunc()).ok()
}

/// The IPv4 service CIDR of an IPv4 cluster: the given one if it obeys the rules, else EKS's
/// default for the VPC.
pub fn ipv4_service_cidr(
    given: Option<&str>,
    vpc_cidrs: &[Ipv4Cidr],
) -> Result<Ipv4ServiceCidr, EksError> {
    let Some(s) = given else {
        return Ok(addressing::ipv4::default_service_cidr(vpc_cidrs));
    };
    let member = "kubernetesNetworkConfig.serviceIpv4Cidr";
    let cidr: Ipv4Cidr = s
        .parse()
        .map_err(|e: CidrError| EksError::invalid(member, s, e.to_string()))?;
    let svc = Ipv4ServiceCidr::new(cidr).map_err(|e| match e {
        CidrError::PrefixLength { suggestion, .. } => EksError::rule(
            Rule::Ipv4ServiceCidrLength,
            s,
            format!("The service IPv4 CIDR {s} is a /{}; it must be a /12 to a /24.", cidr.prefix_len()),
            format!("use for example {suggestion}, or leave serviceIpv4Cidr out for the default."),
        ),
        CidrError::NotPrivateIpv4 { .. } => EksError::rule(
            Rule::Ipv4ServiceCidrPrivate,
            s,
            format!("The service IPv4 CIDR {s} is not inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16."),
            "choose a block inside one of those ranges, e.g. 10.100.0.0/16.",
        ),
        other => EksError::invalid(member, s, other.to_string()),
    })?;
    if let Some(v) = vpc_cidrs.iter().find(|v| v.overlaps(&cidr)) {
        return Err(EksError::rule(
            Rule::Ipv4ServiceCidrOverlap,
            s,
            format!("The service IPv4 CIDR {s} overlaps the VPC's {v}."),
            format!(
                "choose a block outside the VPC, e.g. {}.",
                addressing::ipv4::default_service_cidr(vpc_cidrs)
            ),
        ));
    }
    Ok(svc)
}

impl State {
    pub(crate) fn cluster(&self, name: &str) -> Result<&Cluster, EksError> {
        self.clusters
            .get(name)
            .ok_or_else(|| EksError::ClusterNotFound {
                name: name.to_string(),
            })
    }

    /// The subnets `ids`, all in one VPC (`vpc`, if given); returns them and the VPC id.
    pub(crate) fn eks_subnets(
        &self,
        member: &'static str,
        ids: &[String],
        vpc: Option<&str>,
    ) -> Result<(Vec<Subnet>, String), EksError> {
        if ids.is_empty() {
            return Err(EksError::invalid(
                member,
                "[]",
                "Give at least one subnet id.",
            ));
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for id in ids {
            if !seen.insert(id) {
                return Err(EksError::invalid(
                    member,
                    id.clone(),
                    "A subnet is listed twice.",
                ));
            }
            let s = self.subnets.get(id).ok_or_else(|| {
                EksError::invalid(
                    member,
                    id.clone(),
                    "The subnet does not exist; see `aws ec2 describe-subnets`.",
                )
            })?;
            out.push(s.clone());
        }
        let vpc_id = vpc
            .map(str::to_string)
            .unwrap_or_else(|| out[0].vpc_id.clone());
        if let Some(s) = out.iter().find(|s| s.vpc_id != vpc_id) {
            return Err(EksError::invalid(
                member,
                s.id.clone(),
                format!(
                    "Subnet {} is in {}, not in the cluster's VPC {vpc_id}.",
                    s.id, s.vpc_id
                ),
            ));
        }
        Ok((out, vpc_id))
    }

    fn check_security_groups(&self, ids: &[String], vpc_id: &str) -> Result<(), EksError> {
        for g in ids {
            let sg = self.security_groups.get(g).ok_or_else(|| {
                EksError::invalid(
                    "resourcesVpcConfig.securityGroupIds",
                    g.clone(),
                    "The security group does not exist; see `aws ec2 describe-security-groups`.",
                )
            })?;
            if sg.vpc_id != vpc_id {
                return Err(EksError::invalid(
                    "resourcesVpcConfig.securityGroupIds",
                    g.clone(),
                    format!(
                        "Security group {g} is in {}, not in the cluster's VPC {vpc_id}.",
                        sg.vpc_id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The IPv6 rules every subnet of an IPv6 cluster obeys.
    pub(crate) fn check_ipv6_subnets(
        &self,
        subnets: &[Subnet],
        what: &str,
    ) -> Result<(), EksError> {
        for s in subnets {
            if s.ipv6_native || s.cidr_block.is_none() {
                return Err(EksError::rule(
                    Rule::SubnetDualStack,
                    s.id.clone(),
                    format!(
                        "{what} {} is IPv6-only (Ipv6Native); an IPv6 cluster's nodes are dual-stack, so its subnets need an IPv4 block too.",
                        s.id
                    ),
                    "choose dual-stack subnets (`aws ec2 create-subnet --cidr-block <IPv4> --ipv6-cidr-block <a /64 of the VPC>`).",
                ));
            }
            if s.ipv6.is_none() {
                return Err(EksError::rule(
                    Rule::SubnetDualStack,
                    s.id.clone(),
                    format!(
                        "{what} {} has no IPv6 CIDR block; an IPv6 cluster needs dual-stack subnets (IPv4 {} and an IPv6 /64).",
                        s.id,
                        s.cidr_block.map(|c| c.to_string()).unwrap_or_default()
                    ),
                    format!(
                        "`aws ec2 associate-subnet-cidr-block --subnet-id {} --ipv6-cidr-block <a /64 of the VPC's /56>` (the VPC needs an IPv6 block first), or choose dual-stack subnets.",
                        s.id
                    ),
                ));
            }
            if let Some(o) = &s.outpost_arn {
                return Err(EksError::rule(
                    Rule::NoOutposts,
                    s.id.clone(),
                    format!(
                        "{what} {} is on AWS Outpost {o}; IPv6 clusters do not run on Outposts.",
                        s.id
                    ),
                    "use subnets in the region's availability zones.",
                ));
            }
        }
        Ok(())
    }

    /// CreateCluster. Returns the cluster; the caller reports it as `CREATING`.
    pub fn create_cluster(
        &mut self,
        env: &mut Env,
        req: CreateCluster,
    ) -> Result<Cluster, EksError> {
        check_name(NameKind::Cluster, "name", &req.name)?;
        if let Some(c) = self.clusters.get(&req.name) {
            if req.client_request_token.is_some()
                && c.client_request_token == req.client_request_token
            {
                return Ok(c.clone());
            }
            return Err(EksError::ClusterExists { name: req.name });
        }
        let version = req
            .version
            .clone()
            .unwrap_or_else(|| DEFAULT_KUBERNETES_VERSION.to_string());
        if !KUBERNETES_VERSIONS.contains(&version.as_str()) {
            return Err(EksError::invalid(
                "version",
                version,
                format!(
                    "Supported Kubernetes versions: {}.",
                    KUBERNETES_VERSIONS.join(", ")
                ),
            ));
        }
        role_name("roleArn", &req.role_arn)?;
        let subnet_ids = req.vpc.subnet_ids.clone().unwrap_or_default();
        let (subnets, vpc_id) =
            self.eks_subnets("resourcesVpcConfig.subnetIds", &subnet_ids, None)?;
        let sgs = req.vpc.security_group_ids.clone().unwrap_or_default();
        self.check_security_groups(&sgs, &vpc_id)?;
        let vpc = self.vpcs.get(&vpc_id).cloned().ok_or_else(|| {
            EksError::invalid(
                "resourcesVpcConfig.subnetIds",
                vpc_id.clone(),
                "The subnets' VPC does not exist.",
            )
        })?;
        let family = req.network.ip_family.unwrap_or(IpFamily::Ipv4);
        if let Some(v6) = &req.network.service_ipv6_cidr {
            return Err(EksError::rule(
                Rule::ServiceCidrGenerated,
                v6.clone(),
                format!(
                    "serviceIpv6Cidr {v6} was given, but the IPv6 service CIDR is chosen by the region (a random unique-local /108), never by the user."
                ),
                "leave serviceIpv6Cidr out and read the generated one with `aws eks describe-cluster --query cluster.kubernetesNetworkConfig.serviceIpv6Cidr`.",
            ));
        }
        let service_cidr = match family {
            IpFamily::Ipv6 => {
                ServiceCidr::V6(self.ipv6_service_cidr(env, &req, &version, &subnets)?)
            }
            IpFamily::Ipv4 => {
                let vpc_cidrs: Vec<Ipv4Cidr> = vpc.ipv4_cidrs().filter_map(to_cidr).collect();
                ServiceCidr::V4(ipv4_service_cidr(
                    req.network.service_ipv4_cidr.as_deref(),
                    &vpc_cidrs,
                )?)
            }
        };
        let id = uuid(env.rng);
        let host: String = id.replace('-', "").to_uppercase();
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\nsixfold cluster {} CA (placeholder: the lab's API server presents its own)\n-----END CERTIFICATE-----\n",
            req.name
        );
        let cluster = Cluster {
            name: req.name.clone(),
            arn: arn(env, &format!("cluster/{}", req.name)),
            id,
            created_at: env.now,
            version,
            platform_version: "eks.1".into(),
            role_arn: req.role_arn,
            vpc_id,
            subnet_ids,
            security_group_ids: sgs,
            cluster_security_group_id: vpc.default_security_group.clone(),
            endpoint_public_access: req.vpc.endpoint_public_access.unwrap_or(true),
            endpoint_private_access: req.vpc.endpoint_private_access.unwrap_or(false),
            public_access_cidrs: req
                .vpc
                .public_access_cidrs
                .unwrap_or_else(|| vec!["0.0.0.0/0".into()]),
            ip_family: family,
            service_cidr,
            endpoint: format!("https://{host}.gr7.{}.eks.amazonaws.com", env.config.name),
            certificate_authority: base64(pem.as_bytes()),
            oidc_issuer: format!(
                "https://oidc.eks.{}.amazonaws.com/id/{host}",
                env.config.name
            ),
            logging: req.logging.map(|(on, _)| on).unwrap_or_default(),
            tags: req.tags,
            client_request_token: req.client_request_token,
        };
        self.clusters.insert(cluster.name.clone(), cluster.clone());
        Ok(cluster)
    }

    /// The rules only an IPv6 cluster has (Kubernetes 1.21 or later, single-stack, no Outposts,
    /// IPv6 subnets), then its service CIDR: a random unique-local /108 no other cluster has.
    fn ipv6_service_cidr(
        &self,
        env: &mut Env,
        req: &CreateCluster,
        version: &str,
        subnets: &[Subnet],
    ) -> Result<ServiceCidr108, EksError> {
        let k = catalog::kubernetes_version(version);
        if k.is_none_or(|k| k < MIN_IPV6_KUBERNETES) {
            return Err(EksError::rule(
                Rule::Ipv6KubernetesVersion,
                version.to_string(),
                format!(
                    "Kubernetes {version} cannot run an IPv6 cluster; IPv6 needs 1.21 or later."
                ),
                format!(
                    "create the cluster with --kubernetes-version {DEFAULT_KUBERNETES_VERSION} (any of 1.21 to {}).",
                    KUBERNETES_VERSIONS
                        .last()
                        .copied()
                        .unwrap_or(DEFAULT_KUBERNETES_VERSION)
                ),
            ));
        }
        if let Some(v4) = &req.network.service_ipv4_cidr {
            return Err(EksError::rule(
                Rule::NoDualStack,
                v4.clone(),
                format!(
                    "serviceIpv4Cidr {v4} was given for an ipv6 cluster; clusters are single-stack: services of an IPv6 cluster get IPv6 addresses only."
                ),
                "leave serviceIpv4Cidr out (the IPv6 /108 is generated), or create an ipv4 cluster.",
            ));
        }
        if req.outpost {
            return Err(EksError::rule(
                Rule::NoOutposts,
                "outpostConfig",
                "outpostConfig was given for an ipv6 cluster; IPv6 clusters do not run on AWS Outposts.",
                "leave outpostConfig out, or create an ipv4 cluster.",
            ));
        }
        self.check_ipv6_subnets(subnets, "Subnet")?;
        let existing: BTreeSet<ServiceCidr108> = self
            .clusters
            .values()
            .filter_map(|c| match c.service_cidr {
                ServiceCidr::V6(v) => Some(v),
                ServiceCidr::V4(_) => None,
            })
            .collect();
        let v6 = addressing::ula::generate(env.rng, &existing).map_err(|e| {
            EksError::InvalidRequest {
                message: e.to_string(),
            }
        })?;
        Ok(v6)
    }

    /// DescribeCluster: the cluster, or `ClusterNotFound`.
    pub fn describe_cluster(&self, name: &str) -> Result<Cluster, EksError> {
        self.cluster(name).cloned()
    }

    /// ListClusters: names in order, paged.
    pub fn list_clusters(
        &self,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), EksError> {
        let names: Vec<String> = self.clusters.iter().map(|(k, _)| k.clone()).collect();
        paginate("ListClusters", names, max_results, next_token, LIST_LIMIT)
    }

    /// DeleteCluster: refused while node groups or Fargate profiles exist; add-ons and updates go
    /// with the cluster. Returns the cluster as it was (reported `DELETING`).
    pub fn delete_cluster(&mut self, name: &str) -> Result<Cluster, EksError> {
        let c = self.cluster(name)?.clone();
        let prefix = format!("{name}/");
        let ngs: Vec<String> = self
            .nodegroups
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.name.clone())
            .collect();
        let fps: Vec<String> = self
            .fargate_profiles
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.name.clone())
            .collect();
        if !ngs.is_empty() || !fps.is_empty() {
            let mut what = Vec::new();
            if !ngs.is_empty() {
                what.push(format!("node groups {}", ngs.join(", ")));
            }
            if !fps.is_empty() {
                what.push(format!("Fargate profiles {}", fps.join(", ")));
            }
            return Err(EksError::ClusterHasResources {
                cluster: name.to_string(),
                what: what.join(" and "),
            });
        }
        let addons: Vec<String> = self
            .addons
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in addons {
            self.addons.remove(&k);
        }
        let updates: Vec<String> = self
            .updates
            .iter()
            .filter(|(_, u)| u.cluster == name)
            .map(|(k, _)| k.clone())
            .collect();
        for k in updates {
            self.updates.remove(&k);
        }
        self.forget_tokens(name);
        self.clusters.remove(name);
        Ok(c)
    }

    /// Record an update (done at once: reported `InProgress` by the call, `Successful` later).
    pub(crate) fn record_update(
        &mut self,
        env: &mut Env,
        cluster: &str,
        nodegroup: Option<String>,
        addon: Option<String>,
        kind: &str,
        params: Vec<(String, String)>,
    ) -> Update {
        let u = Update {
            id: uuid(env.rng),
            cluster: cluster.to_string(),
            nodegroup,
            addon,
            kind: kind.to_string(),
            params,
            created_at: env.now,
        };
        self.updates.insert(u.id.clone(), u.clone());
        u
    }

    /// UpdateClusterConfig. The IP family and the service CIDR never change.
    pub fn update_cluster_config(
        &mut self,
        env: &mut Env,
        req: UpdateClusterConfig,
    ) -> Result<Update, EksError> {
        let c = self.cluster(&req.name)?.clone();
        if req.vpc.is_none() && req.network.is_none() && req.logging.is_none() {
            return Err(EksError::InvalidParameter {
                member: "resourcesVpcConfig, logging or kubernetesNetworkConfig".into(),
                value: "(none)".into(),
                fix: "Give at least one setting to update.".into(),
            });
        }
        let mut params = Vec::new();
        let mut kind = "ConfigUpdate";
        if let Some(n) = &req.network {
            if let Some(f) = n.ip_family.filter(|f| *f != c.ip_family) {
                return Err(EksError::rule(
                    Rule::IpFamilyImmutable,
                    f.as_str(),
                    format!(
                        "Cluster {} was created with ipFamily {}; the IP family is chosen at creation and never changes (requested {}).",
                        c.name,
                        c.ip_family.as_str(),
                        f.as_str()
                    ),
                    format!(
                        "create a new cluster with --kubernetes-network-config ipFamily={} and move the workloads to it.",
                        f.as_str()
                    ),
                ));
            }
            if let Some(v6) = &n.service_ipv6_cidr {
                return Err(EksError::rule(
                    Rule::ServiceCidrGenerated,
                    v6.clone(),
                    format!(
                        "serviceIpv6Cidr {v6} was given; the IPv6 service CIDR is chosen by the region at creation and never changes."
                    ),
                    "leave serviceIpv6Cidr out.",
                ));
            }
            if let Some(v4) = &n.service_ipv4_cidr {
                if c.ip_family == IpFamily::Ipv6 {
                    return Err(EksError::rule(
                        Rule::NoDualStack,
                        v4.clone(),
                        format!(
                            "serviceIpv4Cidr {v4} was given for ipv6 cluster {}; clusters are single-stack and the family never changes.",
                            c.name
                        ),
                        "leave serviceIpv4Cidr out.",
                    ));
                }
                if *v4 != c.service_cidr.to_string() {
                    return Err(EksError::invalid(
                        "kubernetesNetworkConfig.serviceIpv4Cidr",
                        v4.clone(),
                        format!(
                            "The service CIDR of cluster {} is {} and cannot change after creation.",
                            c.name, c.service_cidr
                        ),
                    ));
                }
            }
            params.push((
                "KubernetesNetworkConfig".to_string(),
                c.ip_family.as_str().to_string(),
            ));
        }
        let mut next = c.clone();
        if let Some(v) = &req.vpc {
            kind = "VpcConfigUpdate";
            if let Some(ids) = &v.subnet_ids {
                let (subnets, _) =
                    self.eks_subnets("resourcesVpcConfig.subnetIds", ids, Some(&c.vpc_id))?;
                if c.ip_family == IpFamily::Ipv6 {
                    self.check_ipv6_subnets(&subnets, "Subnet")?;
                }
                next.subnet_ids = ids.clone();
                params.push((
                    "Subnets".into(),
                    serde_json::to_string(ids).unwrap_or_default(),
                ));
            }
            if let Some(ids) = &v.security_group_ids {
                self.check_security_groups(ids, &c.vpc_id)?;
                next.security_group_ids = ids.clone();
                params.push((
                    "SecurityGroups".into(),
                    serde_json::to_string(ids).unwrap_or_default(),
                ));
            }
            if let Some(b) = v.endpoint_public_access {
                next.endpoint_public_access = b;
                params.push(("EndpointPublicAccess".into(), b.to_string()));
            }
            if let Some(b) = v.endpoint_private_access {
                next.endpoint_private_access = b;
                params.push(("EndpointPrivateAccess".into(), b.to_string()));
            }
            if let Some(p) = &v.public_access_cidrs {
                next.public_access_cidrs = p.clone();
                params.push((
                    "PublicAccessCidrs".into(),
                    serde_json::to_string(p).unwrap_or_default(),
                ));
            }
        }
        if let Some((on, off)) = &req.logging {
            kind = "LoggingUpdate";
            next.logging.extend(on.iter().cloned());
            next.logging.retain(|t| !off.contains(t));
            params.push((
                "ClusterLogging".into(),
                serde_json::to_string(&next.logging).unwrap_or_default(),
            ));
        }
        self.clusters.insert(next.name.clone(), next);
        Ok(self.record_update(env, &c.name, None, None, kind, params))
    }

    /// DescribeUpdate: the update `id` of the cluster (or of its node group or add-on, when named), or `UpdateNotFound`.
    pub fn describe_update(
        &self,
        cluster: &str,
        id: &str,
        nodegroup: Option<&str>,
        addon: Option<&str>,
    ) -> Result<Update, EksError> {
        self.cluster(cluster)?;
        self.updates
            .get(id)
            .filter(|u| {
                u.cluster == cluster
                    && u.nodegroup.as_deref() == nodegroup
                    && u.addon.as_deref() == addon
            })
            .cloned()
            .ok_or_else(|| EksError::UpdateNotFound {
                cluster: cluster.to_string(),
                id: id.to_string(),
            })
    }

    /// ListUpdates: one page of the update ids of the cluster (or of its node group or add-on) and the token of the next page.
    pub fn list_updates(
        &self,
        cluster: &str,
        nodegroup: Option<&str>,
        addon: Option<&str>,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), EksError> {
        self.cluster(cluster)?;
        let ids: Vec<String> = self
            .updates
            .values()
            .filter(|u| {
                u.cluster == cluster
                    && u.nodegroup.as_deref() == nodegroup
                    && u.addon.as_deref() == addon
            })
            .map(|u| u.id.clone())
            .collect();
        paginate("ListUpdates", ids, max_results, next_token, 100)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::eks::testing::World;

    pub fn ipv6_request(name: &str, subnet: &str) -> CreateCluster {
        CreateCluster {
            name: name.into(),
            role_arn: "arn:aws:iam::123456789012:role/eks".into(),
            vpc: VpcConfig {
                subnet_ids: Some(vec![subnet.into()]),
                ..Default::default()
            },
            network: NetworkConfig {
                ip_family: Some(IpFamily::Ipv6),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn rule_of(r: Result<Cluster, EksError>) -> Rule {
        r.unwrap_err().rule_id().expect("a rule violation")
    }

    #[test]
    fn ipv6_cluster_gets_a_generated_unique_local_108() {
        let mut w = World::new();
        let (_, subnet) = w.vpc(true);
        let c = w
            .with(|s, env| s.create_cluster(env, ipv6_request("a", &subnet)))
            .unwrap();
        assert_eq!(c.ip_family, IpFamily::Ipv6);
        let cidr = c.service_cidr.to_string();
        assert!(cidr.starts_with("fd") && cidr.ends_with("::/108"), "{cidr}");
        assert_eq!(c.arn, "arn:aws:eks:us-east-1:123456789012:cluster/a");
    }

    #[test]
    fn many_ipv6_clusters_get_distinct_cidrs() {
        let mut w = World::new();
        let (_, subnet) = w.vpc(true);
        let mut seen = BTreeSet::new();
        for i in 0..200 {
            let c = w
                .with(|s, env| s.create_cluster(env, ipv6_request(&format!("c{i}"), &subnet)))
                .unwrap();
            assert!(seen.insert(c.service_cidr.to_string()));
        }
    }

    #[test]
    fn ipv6_needs_kubernetes_1_21() {
        let mut w = World::new();
        let (_, subnet) = w.vpc(true);
        let mut r = ipv6_request("a", &subnet);
        r.version = Some("1.20".into());
        assert_eq!(
            rule_of(w.with(|s, env| s.create_cluster(env, r.clone()))),
            Rule::Ipv6KubernetesVersion
        );
        r.version = Some("1.21".into());
        assert!(w.with(|s, env| s.create_cluster(env, r)).is_ok());
    }

    #[test]
    fn ipv6_rejects_an_ipv4_service_cidr_and_a_user_chosen_ipv6_one() {
        let mut w = World::new();
        let (_, subnet) = w.vpc(true);
        let mut r = ipv6_request("a", &subnet);
        r.network.service_ipv4_cidr = Some("10.100.0.0/16".into());
        assert_eq!(
            rule_of(w.with(|s, env| s.create_cluster(env, r))),
            Rule::NoDualStack
        );
        let mut r = ipv6_request("a", &subnet);
        r.network.service_ipv6_cidr = Some("fd00::/108".into());
        assert_eq!(
            rule_of(w.with(|s, env| s.create_cluster(env, r))),
            Rule::ServiceCidrGenerated
        );
        assert!(
            w.state.clusters.is_empty(),
            "a rejected create changes nothing"
        );
    }

    #[test]
    fn ipv6_needs_dual_stack_subnets_and_no_outposts() {
        let mut w = World::new();
        let (_, v4only) = w.vpc(false);
        let e = w
            .with(|s, env| s.create_cluster(env, ipv6_request("a", &v4only)))
            .unwrap_err();
        assert_eq!(e.rule_id(), Some(Rule::SubnetDualStack));
        assert!(e.to_string().contains(&v4only), "{e}");
        let (_, dual) = w.vpc(true);
        w.state.subnets.get_mut(&dual).unwrap().outpost_arn =
            Some("arn:aws:outposts:us-east-1:123456789012:outpost/op-1".into());
        assert_eq!(
            rule_of(w.with(|s, env| s.create_cluster(env, ipv6_request("a", &dual)))),
            Rule::NoOutposts
        );
        w.state.subnets.get_mut(&dual).unwrap().outpost_arn = None;
        let mut r = ipv6_request("a", &dual);
        r.outpost = true;
        assert_eq!(
            rule_of(w.with(|s, env| s.create_cluster(env, r))),
            Rule::NoOutposts
        );
        // An IPv4 cluster is fine on an IPv4-only subnet.
        let mut r = ipv6_request("b", &v4only);
        r.network.ip_family = None;
        let c = w.with(|s, env| s.create_cluster(env, r)).unwrap();
        assert_eq!(c.ip_family, IpFamily::Ipv4);
    }

    #[test]
    fn ipv4_service_cidr_rules_and_default() {
        let mut w = World::new();
        let (_, subnet) = w.vpc(false);
        let mk = |cidr: Option<&str>| {
            let mut r = ipv6_request("a", &subnet);
            r.network = NetworkConfig {
                service_ipv4_cidr: cidr.map(str::to_string),
                ..Default::default()
            };
            r
        };
        assert_eq!(
            rule_of(w.with(|s, env| s.create_cluster(env, mk(Some("8.8.0.0/16"))))),
            Rule::Ipv4ServiceCidrPrivate
        );
        assert_eq!(
            rule_of(w.with(|s, env| s.create_cluster(env, mk(Some("10.100.0.0/25"))))),
            Rule::Ipv4ServiceCidrLength
        );
        assert_eq!(
            rule_of(w.with(|s, env| s.create_cluster(env, mk(Some("10.0.0.0/16"))))),
            Rule::Ipv4ServiceCidrOverlap
        );
        let c = w.with(|s, env| s.create_cluster(env, mk(None))).unwrap();
        assert_eq!(
            c.service_cidr.to_string(),
            "172.20.0.0/16",
            "a 10/8 VPC gets 172.20.0.0/16"
        );
        w.state.clusters.remove("a");
        let c = w
            .with(|s, env| s.create_cluster(env, mk(Some("192.168.0.0/16"))))
            .unwrap();
        assert_eq!(c.service_cidr.to_string(), "192.168.0.0/16");
    }

    #[test]
    fn ip_family_never_changes() {
        let mut w = World::new();
        let (_, subnet) = w.vpc(true);
        let mut r = ipv6_request("a", &subnet);
        r.network.ip_family = Some(IpFamily::Ipv4);
        w.with(|s, env| s.create_cluster(env, r)).unwrap();
        let upd = |f| UpdateClusterConfig {
            name: "a".into(),
            network: Some(NetworkConfig {
                ip_family: Some(f),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = w
            .with(|s, env| s.update_cluster_config(env, upd(IpFamily::Ipv6)))
            .unwrap_err();
        assert_eq!(e.rule_id(), Some(Rule::IpFamilyImmutable));
        assert!(
            w.with(|s, env| s.update_cluster_config(env, upd(IpFamily::Ipv4)))
                .is_ok()
        );
        assert_eq!(w.state.clusters.get("a").unwrap().ip_family, IpFamily::Ipv4);
    }

    #[test]
    fn clusters_are_listed_in_pages_and_deleted() {
        let mut w = World::new();
        let (_, subnet) = w.vpc(true);
        for i in 0..5 {
            w.with(|s, env| s.create_cluster(env, ipv6_request(&format!("c{i}"), &subnet)))
                .unwrap();
        }
        let (p, t) = w.state.list_clusters(Some(2), None).unwrap();
        assert_eq!(p, ["c0", "c1"]);
        let (p, _) = w.state.list_clusters(Some(10), t.as_deref()).unwrap();
        assert_eq!(p, ["c2", "c3", "c4"]);
        w.state.delete_cluster("c0").unwrap();
        assert!(matches!(
            w.state.delete_cluster("c0"),
            Err(EksError::ClusterNotFound { .. })
        ));
    }
}
