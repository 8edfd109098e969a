//! Managed node groups: their instances are launched into the region with the EC2
//! `run_instances` operation (one per node, spread over the group's subnets), so each node has
//! a dual-stack primary ENI, and terminated with `terminate_instances` when the group goes.

use std::collections::BTreeMap;

use super::catalog::{self, AMI_TYPES, DEFAULT_AMI_TYPE, DEFAULT_INSTANCE_TYPE, MIN_IPV6_CNI};
use super::error::{EksError, Rule};
use super::model::*;
use super::{ClusterChild, NameKind, arn, check_name, child_key, role_name, uuid};
use crate::catalog::Hypervisor;
use crate::ec2::instances::{MAX_RUN_COUNT, RunInstances};
use crate::ids::{self, Kind};
use crate::region::Env;
use crate::state::State;

/// CreateNodegroup, as the wire layer parsed it: members not given are `None` (or empty) and take EKS's defaults.
#[derive(Debug, Clone, Default)]
pub struct CreateNodegroup {
    /// The cluster's name.
    pub cluster: String,
    /// The node group's name (unique in the cluster).
    pub name: String,
    /// `scalingConfig.minSize` (default 1).
    pub min_size: Option<u32>,
    /// `scalingConfig.maxSize` (default the larger of 2 and the minimum).
    pub max_size: Option<u32>,
    /// `scalingConfig.desiredSize` (default 2, kept between the minimum and the maximum).
    pub desired_size: Option<u32>,
    /// Root volume size in GiB (default 20).
    pub disk_size: Option<u32>,
    /// Subnets to launch the nodes in.
    pub subnets: Vec<String>,
    /// `instanceTypes`; `None` takes the launch template's or the default type.
    pub instance_types: Option<Vec<String>>,
    /// `amiType` (default `AL2023_x86_64_STANDARD`).
    pub ami_type: Option<String>,
    /// The IAM role of the nodes.
    pub node_role: String,
    /// Kubernetes labels of the nodes.
    pub labels: BTreeMap<String, String>,
    /// Kubernetes taints of the nodes.
    pub taints: Vec<Taint>,
    /// Tags.
    pub tags: Tags,
    /// The launch template to launch from, if any.
    pub launch_template: Option<LaunchTemplateRef>,
    /// `ON_DEMAND` (default) or `SPOT`.
    pub capacity_type: Option<String>,
    /// Kubernetes version (default the cluster's).
    pub version: Option<String>,
    /// AMI release version (default derived from the version).
    pub release_version: Option<String>,
    /// SSH access settings, if any.
    pub remote_access: Option<RemoteAccess>,
}

/// UpdateNodegroupConfig: every part optional; scaling values not given keep their value.
#[derive(Debug, Clone, Default)]
pub struct UpdateNodegroupConfig {
    /// The cluster's name.
    pub cluster: String,
    /// The node group's name.
    pub name: String,
    /// New `scalingConfig.minSize`.
    pub min_size: Option<u32>,
    /// New `scalingConfig.maxSize`.
    pub max_size: Option<u32>,
    /// New `scalingConfig.desiredSize`.
    pub desired_size: Option<u32>,
    /// Labels to add or overwrite.
    pub add_labels: BTreeMap<String, String>,
    /// Label keys to remove.
    pub remove_labels: Vec<String>,
    /// Taints to add or update.
    pub add_taints: Vec<Taint>,
    /// Taints to remove.
    pub remove_taints: Vec<Taint>,
    /// New `updateConfig.maxUnavailable` (1 to 100; not together with the percentage).
    pub max_unavailable: Option<u32>,
    /// New `updateConfig.maxUnavailablePercentage` (1 to 100; not together with the count).
    pub max_unavailable_percentage: Option<u32>,
}

/// Check a scaling configuration: `0 <= min <= desired <= max`, `1 <= max <= MAX_RUN_COUNT`.
fn check_scaling(min: u32, desired: u32, max: u32) -> Result<(), EksError> {
    if max == 0 || min > desired || desired > max || max > MAX_RUN_COUNT {
        return Err(EksError::invalid(
            "scalingConfig",
            format!("minSize={min} desiredSize={desired} maxSize={max}"),
            format!("Use 0 <= minSize <= desiredSize <= maxSize, 1 <= maxSize <= {MAX_RUN_COUNT}."),
        ));
    }
    Ok(())
}

/// A fake AMI id per AMI type (the region does not boot images).
fn ami_id(ami_type: &str) -> String {
    let h = ami_type.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("ami-{h:017x}")
}

/// The AMI type of a new node group (default `AL2023_x86_64_STANDARD`): a known one, and no
/// Windows in an IPv6 cluster.
fn check_ami_type(cluster: &Cluster, ami_type: Option<&str>) -> Result<String, EksError> {
    let ami_type = ami_type.unwrap_or(DEFAULT_AMI_TYPE).to_string();
    if !AMI_TYPES.contains(&ami_type.as_str()) {
        return Err(EksError::invalid(
            "amiType",
            ami_type,
            format!("Use one of {}.", AMI_TYPES.join(", ")),
        ));
    }
    if cluster.ip_family == IpFamily::Ipv6 && catalog::is_windows(&ami_type) {
        return Err(EksError::rule(
            Rule::NoWindows,
            ami_type.clone(),
            format!(
                "amiType {ami_type} runs Windows; cluster {} is ipv6 and IPv6 clusters run no Windows pods or services.",
                cluster.name
            ),
            "use a Linux AMI type such as AL2023_x86_64_STANDARD or BOTTLEROCKET_x86_64, or run Windows nodes in an ipv4 cluster.",
        ));
    }
    Ok(ami_type)
}

/// The instance types of a new node group (the request's, else the launch template's, else the
/// default): each one the region offers, and Nitro or metal in an IPv6 cluster (prefix delegation).
fn node_instance_types(
    env: &Env,
    cluster: &Cluster,
    requested: Option<&[String]>,
    lt: Option<&LaunchTemplate>,
) -> Result<Vec<String>, EksError> {
    let types = match (requested, lt.and_then(|t| t.instance_type.clone())) {
        (Some(t), _) if !t.is_empty() => t.to_vec(),
        (_, Some(t)) => vec![t],
        _ => vec![DEFAULT_INSTANCE_TYPE.to_string()],
    };
    for t in &types {
        let it = env.catalog.get(t).ok_or_else(|| {
            EksError::invalid(
                "instanceTypes",
                t.clone(),
                "See `aws ec2 describe-instance-types` for the types this region offers.",
            )
        })?;
        if cluster.ip_family == IpFamily::Ipv6 && !it.supports_prefix_delegation() {
            return Err(EksError::rule(
                Rule::NitroOnly,
                t.clone(),
                format!(
                    "Instance type {t} runs on {}; IPv6 clusters need Nitro-based or bare-metal instances for IPv6 prefix delegation.",
                    match it.hypervisor {
                        Hypervisor::Xen => "the Xen hypervisor",
                        Hypervisor::Nitro => "Nitro",
                        Hypervisor::Unknown => "an unknown hypervisor",
                    }
                ),
                "choose a Nitro type such as m5.large, t3.medium or c6i.large.",
            ));
        }
    }
    Ok(types)
}

impl ClusterChild for Nodegroup {
    const LIST: &'static str = "ListNodegroups";
    fn name(&self) -> &str {
        &self.name
    }
    fn not_found(cluster: &str, name: &str) -> EksError {
        EksError::NodegroupNotFound {
            cluster: cluster.to_string(),
            nodegroup: name.to_string(),
        }
    }
}

impl State {
    fn nodegroup(&self, cluster: &str, name: &str) -> Result<&Nodegroup, EksError> {
        self.child(&self.nodegroups, cluster, name)
    }

    /// Nodes (live instances) of every node group of `cluster`.
    pub fn cluster_nodes(&self, cluster: &str) -> Vec<String> {
        let prefix = format!("{cluster}/");
        self.nodegroups
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .flat_map(|(_, g)| g.instances.iter())
            .filter(|i| {
                self.instances
                    .get(i)
                    .is_some_and(|x| x.state != crate::ec2::model::InstanceState::Terminated)
            })
            .cloned()
            .collect()
    }

    /// An EC2 launch template (modelled as far as the IPv6 rules need).
    pub fn create_launch_template(
        &mut self,
        env: &mut Env,
        name: &str,
        metadata_ipv6: bool,
        instance_type: Option<String>,
    ) -> Result<LaunchTemplate, EksError> {
        if name.is_empty() || self.launch_templates.values().any(|t| t.name == name) {
            return Err(EksError::invalid(
                "LaunchTemplateName",
                name,
                "Launch template names are unique and not empty.",
            ));
        }
        let id = ids::generate(Kind::Instance, env.rng).replacen("i-", "lt-", 1);
        let t = LaunchTemplate {
            id: id.clone(),
            name: name.to_string(),
            metadata_ipv6,
            instance_type,
        };
        self.launch_templates.insert(id, t.clone());
        Ok(t)
    }

    fn launch_template(&self, r: &LaunchTemplateRef) -> Result<LaunchTemplate, EksError> {
        let found = match (&r.id, &r.name) {
            (Some(id), _) => self.launch_templates.get(id).cloned(),
            (None, Some(n)) => self
                .launch_templates
                .values()
                .find(|t| &t.name == n)
                .cloned(),
            (None, None) => {
                return Err(EksError::invalid(
                    "launchTemplate",
                    "{}",
                    "Give the launch template's id or name.",
                ));
            }
        };
        found.ok_or_else(|| {
            EksError::invalid(
                "launchTemplate",
                r.id.clone().or(r.name.clone()).unwrap_or_default(),
                "The launch template does not exist.",
            )
        })
    }

    /// CreateNodegroup: validates every IPv6 rule, then launches `desiredSize` instances.
    pub fn create_nodegroup(
        &mut self,
        env: &mut Env,
        req: CreateNodegroup,
    ) -> Result<Nodegroup, EksError> {
        let cluster = self.cluster(&req.cluster)?.clone();
        check_name(NameKind::Nodegroup, "nodegroupName", &req.name)?;
        let key = child_key(&cluster.name, &req.name);
        if self.nodegroups.contains(&key) {
            return Err(EksError::NodegroupExists {
                cluster: cluster.name,
                nodegroup: req.name,
            });
        }
        role_name("nodeRole", &req.node_role)?;
        let ami_type = check_ami_type(&cluster, req.ami_type.as_deref())?;
        let lt = self.node_launch_template(&cluster, req.launch_template.as_ref())?;
        let types = node_instance_types(env, &cluster, req.instance_types.as_deref(), lt.as_ref())?;
        self.check_node_subnets(&cluster, &req.subnets)?;
        let min = req.min_size.unwrap_or(1);
        let max = req.max_size.unwrap_or(2.max(min));
        let desired = req.desired_size.unwrap_or(min.max(2).min(max));
        check_scaling(min, desired, max)?;
        self.check_node_options(&cluster, &req)?;
        let id = uuid(env.rng);
        let mut g = Nodegroup {
            name: req.name.clone(),
            cluster: cluster.name.clone(),
            arn: arn(
                env,
                &format!("nodegroup/{}/{}/{id}", cluster.name, req.name),
            ),
            created_at: env.now,
            modified_at: env.now,
            version: cluster.version.clone(),
            release_version: req
                .release_version
                .unwrap_or_else(|| format!("{}.0-20240101", cluster.version)),
            capacity_type: req.capacity_type.unwrap_or_else(|| "ON_DEMAND".into()),
            min_size: min,
            max_size: max,
            desired_size: desired,
            instance_types: types,
            subnets: req.subnets,
            ami_type,
            node_role: req.node_role,
            labels: req.labels,
            taints: req.taints,
            disk_size: req.disk_size.unwrap_or(20),
            launch_template: req.launch_template,
            remote_access: req.remote_access,
            max_unavailable: 1,
            max_unavailable_percentage: None,
            instances: Vec::new(),
            autoscaling_group: format!("eks-{}-{id}", req.name),
            tags: req.tags,
        };
        let metadata_ipv6 = lt.as_ref().is_some_and(|t| t.metadata_ipv6);
        self.launch_nodes(env, &cluster, &mut g, desired, metadata_ipv6)?;
        self.nodegroups.insert(key, g.clone());
        Ok(g)
    }

    /// The launch template a new node group names, if any; an IPv6 cluster refuses one that
    /// enables the IMDS IPv6 endpoint.
    fn node_launch_template(
        &self,
        cluster: &Cluster,
        r: Option<&LaunchTemplateRef>,
    ) -> Result<Option<LaunchTemplate>, EksError> {
        let lt = r.map(|r| self.launch_template(r)).transpose()?;
        let ipv6 = cluster.ip_family == IpFamily::Ipv6;
        if let Some(t) = lt.as_ref().filter(|t| ipv6 && t.metadata_ipv6) {
            return Err(EksError::rule(
                Rule::NoImdsIpv6,
                t.id.clone(),
                format!(
                    "Launch template {} ({}) enables the instance metadata service's IPv6 endpoint (HttpProtocolIpv6=enabled), which IPv6 clusters do not support.",
                    t.id, t.name
                ),
                "create the launch template with MetadataOptions HttpProtocolIpv6=disabled (nodes reach IMDS at 169.254.169.254).",
            ));
        }
        Ok(lt)
    }

    /// The subnets of a new node group exist in the cluster's VPC; in an IPv6 cluster they have
    /// IPv6 blocks and auto-assign IPv6, and the cluster's vpc-cni (if installed) is recent enough.
    fn check_node_subnets(&self, cluster: &Cluster, ids: &[String]) -> Result<(), EksError> {
        let (subnets, _) = self.eks_subnets("subnets", ids, Some(&cluster.vpc_id))?;
        if cluster.ip_family != IpFamily::Ipv6 {
            return Ok(());
        }
        self.check_ipv6_subnets(&subnets, "Node subnet")?;
        if let Some(s) = subnets.iter().find(|s| !s.assign_ipv6_on_creation) {
            return Err(EksError::rule(
                Rule::NodeSubnetAutoAssignIpv6,
                s.id.clone(),
                format!(
                    "Node subnet {} does not auto-assign IPv6 addresses (it is off by default); nodes of an IPv6 cluster cannot launch there.",
                    s.id
                ),
                format!(
                    "`aws ec2 modify-subnet-attribute --subnet-id {} --assign-ipv6-address-on-creation`.",
                    s.id
                ),
            ));
        }
        if let Some(a) = self.addons.get(&child_key(&cluster.name, "vpc-cni"))
            && catalog::semver(&a.version).is_some_and(|v| v < MIN_IPV6_CNI)
        {
            return Err(EksError::rule(
                Rule::CniMinVersion,
                a.version.clone(),
                format!(
                    "Cluster {} runs vpc-cni {}; nodes of an IPv6 cluster need 1.10.1 or later.",
                    cluster.name, a.version
                ),
                format!(
                    "`aws eks update-addon --cluster-name {} --addon-name vpc-cni --addon-version v1.18.3-eksbuild.1` first.",
                    cluster.name
                ),
            ));
        }
        Ok(())
    }

    /// The remaining members of a new node group: its SSH source security groups exist, its
    /// capacity type is known and its Kubernetes version (if given) is the cluster's.
    fn check_node_options(&self, cluster: &Cluster, req: &CreateNodegroup) -> Result<(), EksError> {
        if let Some(sg) = req
            .remote_access
            .iter()
            .flat_map(|r| r.source_security_groups.iter())
            .find(|g| !self.security_groups.contains(g))
        {
            return Err(EksError::invalid(
                "remoteAccess.sourceSecurityGroups",
                sg.clone(),
                "The security group does not exist; see `aws ec2 describe-security-groups`.",
            ));
        }
        if let Some(c) = req
            .capacity_type
            .as_deref()
            .filter(|c| !["ON_DEMAND", "SPOT", "CAPACITY_BLOCK"].contains(c))
        {
            return Err(EksError::invalid(
                "capacityType",
                c,
                "Use ON_DEMAND, SPOT or CAPACITY_BLOCK.",
            ));
        }
        if let Some(v) = req.version.as_ref().filter(|v| **v != cluster.version) {
            return Err(EksError::invalid(
                "version",
                v.clone(),
                format!(
                    "Node groups run the cluster's Kubernetes version {}.",
                    cluster.version
                ),
            ));
        }
        Ok(())
    }

    /// Launch `count` more nodes of group `g` (spread over its subnets), recording them in `g`.
    fn launch_nodes(
        &mut self,
        env: &mut Env,
        cluster: &Cluster,
        g: &mut Nodegroup,
        count: u32,
        metadata_ipv6: bool,
    ) -> Result<(), EksError> {
        // The node role backs the nodes' instance profile, as EKS makes one per node group.
        let profile = self
            .ensure_node_profile(env, &g.autoscaling_group, &g.node_role)
            .map_err(|e| EksError::InvalidRequest {
                message: format!(
                    "Cannot make the instance profile of node group {} for node role {}: {e}",
                    g.name, g.node_role
                ),
            })?;
        for _ in 0..count {
            let n = g.instances.len();
            let subnet = g.subnets[n % g.subnets.len().max(1)].clone();
            let mut tags = g.tags.clone();
            tags.insert("eks:cluster-name".into(), cluster.name.clone());
            tags.insert("eks:nodegroup-name".into(), g.name.clone());
            tags.insert(
                format!("kubernetes.io/cluster/{}", cluster.name),
                "owned".into(),
            );
            // The node group's subnets and the cluster's group are ids the region stored, so
            // they parse; a store that says otherwise is reported as the EC2 error it is.
            let r = crate::ids::SubnetId::parse(&subnet)
                .and_then(|subnet_id| {
                    crate::ids::SecurityGroupId::parse(&cluster.cluster_security_group_id)
                        .map(|sg| (subnet_id, sg))
                })
                .map_err(crate::ec2::Ec2Error::from)
                .and_then(|(subnet_id, sg)| {
                    self.run_instances(
                        env,
                        RunInstances {
                            instance_type: g.instance_types.first().cloned(),
                            security_group_ids: vec![sg],
                            key_name: g.remote_access.as_ref().and_then(|r| r.ec2_ssh_key.clone()),
                            metadata_ipv6,
                            instance_tags: tags,
                            iam_instance_profile: Some(crate::iam::profiles::ProfileRef::Arn(
                                profile.arn.clone(),
                            )),
                            ..RunInstances::new(&ami_id(&g.ami_type), "m5.large", 1, subnet_id)
                        },
                    )
                })
                .map_err(|source| EksError::Ec2 {
                    context: format!(
                        "launching node {} of node group {} in {subnet}",
                        n + 1,
                        g.name
                    ),
                    source,
                })?;
            g.instances.extend(r.instances.into_iter().map(|x| x.id));
        }
        Ok(())
    }

    /// DescribeNodegroup: the node group, or `NodegroupNotFound` (`ClusterNotFound` when the cluster is missing).
    pub fn describe_nodegroup(&self, cluster: &str, name: &str) -> Result<Nodegroup, EksError> {
        self.nodegroup(cluster, name).cloned()
    }

    /// ListNodegroups: one page of the cluster's node group names and the token of the next page.
    pub fn list_nodegroups(
        &self,
        cluster: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), EksError> {
        self.list_children(&self.nodegroups, cluster, max_results, next_token)
    }

    /// DeleteNodegroup: terminates the group's instances and removes it (reported `DELETING`).
    pub fn delete_nodegroup(&mut self, cluster: &str, name: &str) -> Result<Nodegroup, EksError> {
        let g = self.nodegroup(cluster, name)?.clone();
        let live: Vec<String> = g
            .instances
            .iter()
            .filter(|i| self.instances.contains(i))
            .cloned()
            .collect();
        if !live.is_empty() {
            // Stored instance ids parse; a store that says otherwise is an EC2 error.
            live.iter()
                .map(|i| crate::ids::InstanceId::parse(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(crate::ec2::Ec2Error::from)
                .and_then(|ids| self.terminate_instances(ids))
                .map_err(|source| EksError::Ec2 {
                    context: format!("terminating the nodes of node group {name}"),
                    source,
                })?;
        }
        self.nodegroups.remove(&child_key(cluster, name));
        // The instance profile EKS made for the group goes with it.
        self.instance_profiles.remove(&g.autoscaling_group);
        Ok(g)
    }

    /// Live (not terminated) instances of group `g`, oldest first.
    fn live_nodes(&self, g: &Nodegroup) -> Vec<String> {
        g.instances
            .iter()
            .filter(|i| {
                self.instances
                    .get(i)
                    .is_some_and(|x| x.state != crate::ec2::model::InstanceState::Terminated)
            })
            .cloned()
            .collect()
    }

    /// UpdateNodegroupConfig: scaling (instances are launched or terminated at once to match
    /// `desiredSize`), labels and taints added or removed, `updateConfig`. Returns a
    /// `ConfigUpdate`.
    pub fn update_nodegroup_config(
        &mut self,
        env: &mut Env,
        req: UpdateNodegroupConfig,
    ) -> Result<Update, EksError> {
        let cluster = self.cluster(&req.cluster)?.clone();
        let mut g = self.nodegroup(&req.cluster, &req.name)?.clone();
        check_config_update(&req)?;
        let mut params = Vec::new();
        let min = req.min_size.unwrap_or(g.min_size);
        let max = req.max_size.unwrap_or(g.max_size);
        let desired = req.desired_size.unwrap_or(g.desired_size);
        check_scaling(min, desired, max)?;
        for (ty, given) in [
            ("MinSize", req.min_size),
            ("MaxSize", req.max_size),
            ("DesiredSize", req.desired_size),
        ] {
            if let Some(v) = given {
                params.push((ty.to_string(), v.to_string()));
            }
        }
        self.rescale_nodes(env, &cluster, &mut g, desired as usize)?;
        g.min_size = min;
        g.max_size = max;
        g.desired_size = desired;
        edit_labels(&mut g, &req, &mut params);
        edit_taints(&mut g, &req, &mut params);
        if let Some(v) = req.max_unavailable {
            g.max_unavailable = v;
            g.max_unavailable_percentage = None;
            params.push(("MaxUnavailable".into(), v.to_string()));
        }
        if let Some(v) = req.max_unavailable_percentage {
            g.max_unavailable_percentage = Some(v);
            params.push(("MaxUnavailablePercentage".into(), v.to_string()));
        }
        g.modified_at = env.now;
        let name = g.name.clone();
        self.nodegroups.insert(child_key(&cluster.name, &name), g);
        Ok(self.record_update(env, &cluster.name, Some(name), None, "ConfigUpdate", params))
    }

    /// Launch or terminate nodes of `g` (the newest go first) until `want` are live. New nodes
    /// of an IPv6 cluster need subnets that still auto-assign IPv6.
    fn rescale_nodes(
        &mut self,
        env: &mut Env,
        cluster: &Cluster,
        g: &mut Nodegroup,
        want: usize,
    ) -> Result<(), EksError> {
        let live = self.live_nodes(g);
        if want > live.len() {
            if cluster.ip_family == IpFamily::Ipv6
                && let Some(id) = g.subnets.iter().find(|id| {
                    self.subnets
                        .get(id)
                        .is_some_and(|s| !s.assign_ipv6_on_creation)
                })
            {
                return Err(EksError::rule(
                    Rule::NodeSubnetAutoAssignIpv6,
                    id.clone(),
                    format!(
                        "Node subnet {id} of node group {} no longer auto-assigns IPv6 addresses; new nodes of an IPv6 cluster cannot launch there.",
                        g.name
                    ),
                    format!(
                        "`aws ec2 modify-subnet-attribute --subnet-id {id} --assign-ipv6-address-on-creation`."
                    ),
                ));
            }
            let metadata_ipv6 = match &g.launch_template {
                Some(r) => self.launch_template(r)?.metadata_ipv6,
                None => false,
            };
            let more = (want - live.len()) as u32;
            self.launch_nodes(env, cluster, g, more, metadata_ipv6)?;
        } else if want < live.len() {
            // The newest nodes go first.
            let surplus: Vec<String> = live[want..].to_vec();
            // Stored instance ids parse; a store that says otherwise is an EC2 error.
            surplus
                .iter()
                .map(|i| crate::ids::InstanceId::parse(i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(crate::ec2::Ec2Error::from)
                .and_then(|ids| self.terminate_instances(ids))
                .map_err(|source| EksError::Ec2 {
                    context: format!("terminating nodes of node group {}", g.name),
                    source,
                })?;
        }
        Ok(())
    }
}

/// An UpdateNodegroupConfig request on its own: it changes something, adds and removes no label
/// or taint at once, and gives at most one `updateConfig` value, 1 to 100.
fn check_config_update(req: &UpdateNodegroupConfig) -> Result<(), EksError> {
    let scaling = req.min_size.is_some() || req.max_size.is_some() || req.desired_size.is_some();
    let labels = !req.add_labels.is_empty() || !req.remove_labels.is_empty();
    let taints = !req.add_taints.is_empty() || !req.remove_taints.is_empty();
    let update_cfg = req.max_unavailable.is_some() || req.max_unavailable_percentage.is_some();
    if !(scaling || labels || taints || update_cfg) {
        return Err(EksError::InvalidParameter {
            member: "scalingConfig, labels, taints or updateConfig".into(),
            value: "(none)".into(),
            fix: "Give at least one setting to update.".into(),
        });
    }
    if let Some(k) = req
        .remove_labels
        .iter()
        .find(|k| req.add_labels.contains_key(*k))
    {
        return Err(EksError::invalid(
            "labels",
            k.clone(),
            "A label is both added and removed; list it in one of addOrUpdateLabels and removeLabels.",
        ));
    }
    if let Some(t) = req.remove_taints.iter().find(|t| {
        req.add_taints
            .iter()
            .any(|a| a.key == t.key && a.effect == t.effect)
    }) {
        return Err(EksError::invalid(
            "taints",
            format!("{}:{}", t.key, t.effect),
            "A taint is both added and removed; list it in one of addOrUpdateTaints and removeTaints.",
        ));
    }
    if req.max_unavailable.is_some() && req.max_unavailable_percentage.is_some() {
        return Err(EksError::invalid(
            "updateConfig",
            "maxUnavailable and maxUnavailablePercentage",
            "Give one of maxUnavailable (1-100) and maxUnavailablePercentage (1-100).",
        ));
    }
    if let Some(v) = req
        .max_unavailable
        .or(req.max_unavailable_percentage)
        .filter(|v| !(1..=100).contains(v))
    {
        return Err(EksError::invalid(
            "updateConfig",
            v.to_string(),
            "maxUnavailable and maxUnavailablePercentage are 1 to 100.",
        ));
    }
    Ok(())
}

/// Remove then add or overwrite `g`'s labels as `req` says, recording the update's parameters.
fn edit_labels(g: &mut Nodegroup, req: &UpdateNodegroupConfig, params: &mut Vec<(String, String)>) {
    for k in &req.remove_labels {
        g.labels.remove(k);
    }
    g.labels.extend(req.add_labels.clone());
    if !req.add_labels.is_empty() {
        params.push((
            "LabelsToAdd".into(),
            serde_json::to_string(&req.add_labels).unwrap_or_default(),
        ));
    }
    if !req.remove_labels.is_empty() {
        params.push((
            "LabelsToRemove".into(),
            serde_json::to_string(&req.remove_labels).unwrap_or_default(),
        ));
    }
}

/// Remove, then add or replace (same key and effect) `g`'s taints as `req` says, recording the
/// update's parameters.
fn edit_taints(g: &mut Nodegroup, req: &UpdateNodegroupConfig, params: &mut Vec<(String, String)>) {
    g.taints.retain(|t| {
        !req.remove_taints
            .iter()
            .any(|r| r.key == t.key && r.effect == t.effect)
    });
    for t in &req.add_taints {
        g.taints
            .retain(|x| !(x.key == t.key && x.effect == t.effect));
        g.taints.push(t.clone());
    }
    let json = |ts: &[Taint]| {
        serde_json::to_string(
            &ts.iter()
                .map(|t| serde_json::json!({"key": t.key, "value": t.value, "effect": t.effect}))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    };
    if !req.add_taints.is_empty() {
        params.push(("TaintsToAdd".into(), json(&req.add_taints)));
    }
    if !req.remove_taints.is_empty() {
        params.push(("TaintsToRemove".into(), json(&req.remove_taints)));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::eks::clusters::tests::ipv6_request;
    use crate::eks::testing::World;

    pub fn request(cluster: &str, subnet: &str) -> CreateNodegroup {
        CreateNodegroup {
            cluster: cluster.into(),
            name: "ng".into(),
            subnets: vec![subnet.into()],
            node_role: "arn:aws:iam::123456789012:role/node".into(),
            desired_size: Some(2),
            ..Default::default()
        }
    }

    /// An ipv6 cluster `c` on a dual-stack subnet with IPv6 auto-assignment.
    pub fn ipv6_world() -> (World, String) {
        let mut w = World::new();
        let (_, subnet) = w.vpc(true);
        w.auto_ipv6(&subnet);
        w.with(|s, env| s.create_cluster(env, ipv6_request("c", &subnet)))
            .unwrap();
        (w, subnet)
    }

    fn rule(w: &mut World, r: CreateNodegroup) -> Rule {
        let e = w.with(|s, env| s.create_nodegroup(env, r)).unwrap_err();
        e.rule_id().unwrap_or_else(|| panic!("not a rule: {e}"))
    }

    #[test]
    fn nodes_launch_with_a_dual_stack_primary_eni_and_go_with_the_group() {
        let (mut w, subnet) = ipv6_world();
        let g = w
            .with(|s, env| s.create_nodegroup(env, request("c", &subnet)))
            .unwrap();
        assert_eq!(g.instances.len(), 2);
        for i in &g.instances {
            let inst = w.state.instances.get(i).unwrap();
            let eni = w.state.network_interfaces.get(&inst.primary_eni).unwrap();
            assert!(eni.ipv6_addresses.len() == 1, "dual-stack primary ENI");
            assert_eq!(inst.instance_type, "t3.medium");
        }
        assert_eq!(w.state.cluster_nodes("c").len(), 2);
        w.state.delete_nodegroup("c", "ng").unwrap();
        assert!(w.state.cluster_nodes("c").is_empty());
        assert!(w.state.network_interfaces.is_empty());
    }

    #[test]
    fn windows_is_rejected_in_ipv6_only() {
        let (mut w, subnet) = ipv6_world();
        let mut r = request("c", &subnet);
        r.ami_type = Some("WINDOWS_CORE_2022_x86_64".into());
        assert_eq!(rule(&mut w, r.clone()), Rule::NoWindows);
        r.ami_type = Some("BOTTLEROCKET_x86_64".into());
        assert!(w.with(|s, env| s.create_nodegroup(env, r)).is_ok());
    }

    #[test]
    fn xen_types_are_rejected_nitro_and_metal_accepted() {
        let (mut w, subnet) = ipv6_world();
        let mut r = request("c", &subnet);
        r.instance_types = Some(vec!["m4.large".into()]);
        assert_eq!(rule(&mut w, r.clone()), Rule::NitroOnly);
        r.instance_types = Some(vec!["c5.metal".into()]);
        r.desired_size = Some(1);
        assert!(w.with(|s, env| s.create_nodegroup(env, r)).is_ok());
    }

    #[test]
    fn node_subnets_must_auto_assign_ipv6() {
        let mut w = World::new();
        let (_, subnet) = w.vpc(true);
        w.with(|s, env| s.create_cluster(env, ipv6_request("c", &subnet)))
            .unwrap();
        let e = w
            .with(|s, env| s.create_nodegroup(env, request("c", &subnet)))
            .unwrap_err();
        assert_eq!(e.rule_id(), Some(Rule::NodeSubnetAutoAssignIpv6));
        assert!(
            e.to_string().contains(&subnet) && e.to_string().contains("modify-subnet-attribute"),
            "{e}"
        );
        assert!(w.state.instances.is_empty(), "nothing launched");
        w.auto_ipv6(&subnet);
        assert!(
            w.with(|s, env| s.create_nodegroup(env, request("c", &subnet)))
                .is_ok()
        );
    }

    #[test]
    fn a_launch_template_with_the_imds_ipv6_endpoint_is_rejected() {
        let (mut w, subnet) = ipv6_world();
        let bad = w
            .with(|s, env| s.create_launch_template(env, "v6", true, None))
            .unwrap();
        let good = w
            .with(|s, env| s.create_launch_template(env, "v4", false, None))
            .unwrap();
        let mut r = request("c", &subnet);
        r.launch_template = Some(LaunchTemplateRef {
            id: Some(bad.id),
            ..Default::default()
        });
        assert_eq!(rule(&mut w, r.clone()), Rule::NoImdsIpv6);
        r.launch_template = Some(LaunchTemplateRef {
            name: Some(good.name),
            ..Default::default()
        });
        assert!(w.with(|s, env| s.create_nodegroup(env, r)).is_ok());
    }

    #[test]
    fn ipv4_clusters_take_windows_and_xen() {
        let mut w = World::new();
        let (_, subnet) = w.vpc(false);
        let mut c = ipv6_request("c", &subnet);
        c.network.ip_family = None;
        w.with(|s, env| s.create_cluster(env, c)).unwrap();
        let mut r = request("c", &subnet);
        r.ami_type = Some("WINDOWS_CORE_2022_x86_64".into());
        r.instance_types = Some(vec!["m4.large".into()]);
        assert!(w.with(|s, env| s.create_nodegroup(env, r)).is_ok());
    }

    #[test]
    fn bad_scaling_is_rejected() {
        let (mut w, subnet) = ipv6_world();
        let mut r = request("c", &subnet);
        r.min_size = Some(3);
        r.desired_size = Some(2);
        assert!(matches!(
            w.with(|s, env| s.create_nodegroup(env, r)),
            Err(EksError::InvalidParameter { member, .. }) if member == "scalingConfig"
        ));
    }

    #[test]
    fn update_nodegroup_config_scales_instances_and_edits_labels_and_taints() {
        let (mut w, subnet) = ipv6_world();
        let mut r = request("c", &subnet);
        r.labels = BTreeMap::from([("a".to_string(), "1".to_string())]);
        r.max_size = Some(5);
        w.with(|s, env| s.create_nodegroup(env, r)).unwrap();
        let up = |w: &mut World, u: UpdateNodegroupConfig| {
            w.with(|s, env| s.update_nodegroup_config(env, u))
        };
        let base = UpdateNodegroupConfig {
            cluster: "c".into(),
            name: "ng".into(),
            ..Default::default()
        };
        let u = up(
            &mut w,
            UpdateNodegroupConfig {
                desired_size: Some(4),
                add_labels: BTreeMap::from([("b".to_string(), "2".to_string())]),
                remove_labels: vec!["a".into()],
                add_taints: vec![Taint {
                    key: "k".into(),
                    value: None,
                    effect: "NO_SCHEDULE".into(),
                }],
                ..base.clone()
            },
        )
        .unwrap();
        assert_eq!(u.kind, "ConfigUpdate");
        assert_eq!(u.nodegroup.as_deref(), Some("ng"));
        assert_eq!(w.state.cluster_nodes("c").len(), 4);
        let g = w.state.describe_nodegroup("c", "ng").unwrap();
        assert_eq!(g.desired_size, 4);
        assert_eq!(
            g.labels,
            BTreeMap::from([("b".to_string(), "2".to_string())])
        );
        assert_eq!(g.taints.len(), 1);
        up(
            &mut w,
            UpdateNodegroupConfig {
                desired_size: Some(1),
                min_size: Some(0),
                ..base.clone()
            },
        )
        .unwrap();
        assert_eq!(w.state.cluster_nodes("c").len(), 1);
        // Out of bounds: refused, nothing changes.
        assert!(
            up(
                &mut w,
                UpdateNodegroupConfig {
                    desired_size: Some(6),
                    ..base.clone()
                }
            )
            .is_err()
        );
        assert!(up(&mut w, base).is_err(), "an empty update is refused");
        assert_eq!(w.state.cluster_nodes("c").len(), 1);
    }
}
