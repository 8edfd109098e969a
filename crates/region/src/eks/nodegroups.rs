//! Managed node groups: their instances are launched into the region with the EC2
//! `run_instances` operation (one per node, spread over the group's subnets), so each node has
//! a dual-stack primary ENI, and terminated with `terminate_instances` when the group goes.

use std::collections::BTreeMap;

use super::catalog::{self, AMI_TYPES, DEFAULT_AMI_TYPE, DEFAULT_INSTANCE_TYPE, MIN_IPV6_CNI};
use super::error::{EksError, Rule};
use super::model::*;
use super::{NameKind, arn, check_name, child_key, role_name, uuid};
use crate::catalog::Hypervisor;
use crate::ec2::instances::{MAX_RUN_COUNT, RunInstances};
use crate::ids::{self, Kind};
use crate::region::Env;
use crate::state::State;

#[derive(Debug, Clone, Default)]
pub struct CreateNodegroup {
    pub cluster: String,
    pub name: String,
    pub min_size: Option<u32>,
    pub max_size: Option<u32>,
    pub desired_size: Option<u32>,
    pub disk_size: Option<u32>,
    pub subnets: Vec<String>,
    pub instance_types: Option<Vec<String>>,
    pub ami_type: Option<String>,
    pub node_role: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub tags: Tags,
    pub launch_template: Option<LaunchTemplateRef>,
    pub capacity_type: Option<String>,
    pub version: Option<String>,
    pub release_version: Option<String>,
}

/// A fake AMI id per AMI type (the region does not boot images).
fn ami_id(ami_type: &str) -> String {
    let h = ami_type.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("ami-{h:017x}")
}

impl State {
    fn nodegroup(&self, cluster: &str, name: &str) -> Result<&Nodegroup, EksError> {
        self.cluster(cluster)?;
        self.nodegroups
            .get(&child_key(cluster, name))
            .ok_or_else(|| EksError::NodegroupNotFound {
                cluster: cluster.to_string(),
                nodegroup: name.to_string(),
            })
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
        let ipv6 = cluster.ip_family == IpFamily::Ipv6;
        let ami_type = req
            .ami_type
            .clone()
            .unwrap_or_else(|| DEFAULT_AMI_TYPE.to_string());
        if !AMI_TYPES.contains(&ami_type.as_str()) {
            return Err(EksError::invalid(
                "amiType",
                ami_type,
                format!("Use one of {}.", AMI_TYPES.join(", ")),
            ));
        }
        if ipv6 && catalog::is_windows(&ami_type) {
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
        let lt = req
            .launch_template
            .as_ref()
            .map(|r| self.launch_template(r))
            .transpose()?;
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
        let types = match (
            &req.instance_types,
            lt.as_ref().and_then(|t| t.instance_type.clone()),
        ) {
            (Some(t), _) if !t.is_empty() => t.clone(),
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
            if ipv6 && !it.supports_prefix_delegation() {
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
        let (subnets, _) = self.eks_subnets("subnets", &req.subnets, Some(&cluster.vpc_id))?;
        if ipv6 {
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
            if let Some(a) = self.addons.get(&child_key(&cluster.name, "vpc-cni")) {
                if catalog::semver(&a.version).is_some_and(|v| v < MIN_IPV6_CNI) {
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
            }
        }
        let min = req.min_size.unwrap_or(1);
        let max = req.max_size.unwrap_or(2.max(min));
        let desired = req.desired_size.unwrap_or(min.max(2).min(max));
        if max == 0 || min > desired || desired > max || max > MAX_RUN_COUNT {
            return Err(EksError::invalid(
                "scalingConfig",
                format!("minSize={min} desiredSize={desired} maxSize={max}"),
                format!(
                    "Use 0 <= minSize <= desiredSize <= maxSize, 1 <= maxSize <= {MAX_RUN_COUNT}."
                ),
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
        let id = uuid(env.rng);
        let mut instances = Vec::new();
        for i in 0..desired {
            let subnet = &subnets[i as usize % subnets.len()];
            let mut tags = req.tags.clone();
            tags.insert("eks:cluster-name".into(), cluster.name.clone());
            tags.insert("eks:nodegroup-name".into(), req.name.clone());
            tags.insert(
                format!("kubernetes.io/cluster/{}", cluster.name),
                "owned".into(),
            );
            let r = self
                .run_instances(
                    env,
                    RunInstances {
                        image_id: Some(ami_id(&ami_type)),
                        instance_type: Some(types[0].clone()),
                        min_count: Some(1),
                        max_count: Some(1),
                        subnet_id: Some(subnet.id.clone()),
                        security_group_ids: vec![cluster.cluster_security_group_id.clone()],
                        metadata_ipv6: lt.as_ref().is_some_and(|t| t.metadata_ipv6),
                        instance_tags: tags,
                        ..Default::default()
                    },
                )
                .map_err(|source| EksError::Ec2 {
                    context: format!(
                        "launching node {} of node group {} in {}",
                        i + 1,
                        req.name,
                        subnet.id
                    ),
                    source,
                })?;
            instances.extend(r.instances.into_iter().map(|x| x.id));
        }
        let g = Nodegroup {
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
            instances,
            autoscaling_group: format!("eks-{}-{id}", req.name),
            tags: req.tags,
        };
        self.nodegroups.insert(key, g.clone());
        Ok(g)
    }

    pub fn describe_nodegroup(&self, cluster: &str, name: &str) -> Result<Nodegroup, EksError> {
        self.nodegroup(cluster, name).cloned()
    }

    pub fn list_nodegroups(
        &self,
        cluster: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), EksError> {
        self.cluster(cluster)?;
        super::list_children(
            &self.nodegroups,
            cluster,
            |x| x.name.clone(),
            max_results,
            next_token,
        )
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
            self.terminate_instances(live)
                .map_err(|source| EksError::Ec2 {
                    context: format!("terminating the nodes of node group {name}"),
                    source,
                })?;
        }
        self.nodegroups.remove(&child_key(cluster, name));
        Ok(g)
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
            Err(EksError::InvalidParameter {
                member: "scalingConfig",
                ..
            })
        ));
    }
}
