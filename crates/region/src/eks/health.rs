//! Health issues: the checks the reference lets fail later (IPv6 default routes, security groups
//! without IPv6, FSx for Lustre, the load balancer controller, the CNI role's IPv6 policy, node
//! subnets that stopped auto-assigning IPv6). Computed from the state on every read, never
//! stored, so they cannot go stale. `DescribeCluster` reports them in `health.issues` and
//! `sixfold preflight` turns them into an exit code.

use std::collections::BTreeSet;

use super::catalog::{self, MIN_IPV6_LBC};
use super::error::Rule;
use super::model::*;
use crate::ec2::model::{Destination, Target};
use crate::state::State;

/// Cluster tag declaring the storage a workload uses (`fsx-lustre` is refused with IPv6).
pub const TAG_STORAGE: &str = "sixfold.io/storage";
/// Cluster tag declaring the AWS Load Balancer Controller version deployed.
pub const TAG_LBC_VERSION: &str = "sixfold.io/aws-load-balancer-controller-version";
/// Cluster tag declaring the controller's default target type (`ip` or `instance`).
pub const TAG_LBC_TARGET_TYPE: &str = "sixfold.io/aws-load-balancer-controller-target-type";

/// One problem of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthIssue {
    /// The rule the cluster breaks.
    pub rule: Rule,
    /// botocore's `ClusterIssueCode`.
    pub code: &'static str,
    /// Names the resource at fault and the fix; starts with `[rule id]`.
    pub message: String,
    /// The resources at fault (subnets, route tables, groups, roles).
    pub resource_ids: Vec<String>,
    /// Whether it keeps the cluster from working (preflight fails).
    pub blocking: bool,
}

fn issue(
    rule: Rule,
    code: &'static str,
    resources: Vec<String>,
    what: String,
    fix: String,
) -> HealthIssue {
    HealthIssue {
        rule,
        code,
        message: format!("[{rule}] {what} Fix: {fix}"),
        resource_ids: resources,
        blocking: true,
    }
}

impl State {
    /// Every health issue of `cluster` (none for an IPv4 cluster: the rules are IPv6's).
    pub fn cluster_health(&self, c: &Cluster, region: &str, account: &str) -> Vec<HealthIssue> {
        if c.ip_family != IpFamily::Ipv6 {
            return Vec::new();
        }
        let prefix = format!("{}/", c.name);
        let groups: Vec<&Nodegroup> = self
            .nodegroups
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, g)| g)
            .collect();
        let profiles: Vec<&FargateProfile> = self
            .fargate_profiles
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, p)| p)
            .collect();
        let mut out = self.subnet_issues(c, &groups, &profiles);
        out.extend(self.security_group_issues(c));
        out.extend(tag_issues(c));
        out.extend(self.cni_role_issues(c, &groups, region, account));
        out
    }

    /// The subnets of the cluster, its node groups and Fargate profiles: each exists and routes
    /// `::/0` to an internet or egress-only gateway; node subnets auto-assign IPv6.
    fn subnet_issues(
        &self,
        c: &Cluster,
        groups: &[&Nodegroup],
        profiles: &[&FargateProfile],
    ) -> Vec<HealthIssue> {
        let mut out = Vec::new();
        let node_subnets: BTreeSet<&String> =
            groups.iter().flat_map(|g| g.subnets.iter()).collect();
        let subnets: BTreeSet<&String> = c
            .subnet_ids
            .iter()
            .chain(node_subnets.iter().copied())
            .chain(profiles.iter().flat_map(|p| p.subnets.iter()))
            .collect();
        for id in &subnets {
            let Some(s) = self.subnets.get(id) else {
                out.push(HealthIssue {
                    rule: Rule::SubnetDualStack,
                    code: "Ec2SubnetNotFound",
                    message: format!("[{}] Subnet {id} used by cluster {} no longer exists. Fix: recreate it or update the cluster's subnets.", Rule::SubnetDualStack, c.name),
                    resource_ids: vec![(*id).clone()],
                    blocking: true,
                });
                continue;
            };
            let rt = self.route_table_of_subnet(s);
            let has_default = rt.is_some_and(|rt| {
                rt.routes.iter().any(|r| {
                    matches!(r.destination, Destination::V6(d) if d.prefix_len() == 0)
                        && matches!(
                            r.target,
                            Target::InternetGateway(_) | Target::EgressOnlyInternetGateway(_)
                        )
                })
            });
            if !has_default {
                let rt_id = rt.map(|r| r.id.clone()).unwrap_or_default();
                out.push(issue(
                    Rule::RouteIpv6Default,
                    "ConfigurationConflict",
                    vec![(*id).clone(), rt_id.clone()],
                    format!("Route table {rt_id} of subnet {id} has no ::/0 route to an internet or egress-only internet gateway; pods' IPv6 traffic cannot leave the VPC."),
                    format!("`aws ec2 create-route --route-table-id {rt_id} --destination-ipv6-cidr-block ::/0 --gateway-id <igw-...>` (or --egress-only-internet-gateway-id <eigw-...> for private subnets)."),
                ));
            }
            if node_subnets.contains(id) && !s.assign_ipv6_on_creation {
                out.push(issue(
                    Rule::NodeSubnetAutoAssignIpv6,
                    "ConfigurationConflict",
                    vec![(*id).clone()],
                    format!("Node subnet {id} no longer auto-assigns IPv6 addresses; new nodes cannot launch there."),
                    format!("`aws ec2 modify-subnet-attribute --subnet-id {id} --assign-ipv6-address-on-creation`."),
                ));
            }
        }
        out
    }

    /// The cluster's security groups (and its cluster security group) allow IPv6 both ways.
    fn security_group_issues(&self, c: &Cluster) -> Vec<HealthIssue> {
        let mut out = Vec::new();
        let sgs: BTreeSet<&String> = c
            .security_group_ids
            .iter()
            .chain(std::iter::once(&c.cluster_security_group_id))
            .collect();
        for g in sgs {
            let Some(sg) = self.security_groups.get(g) else {
                continue;
            };
            let mut missing = Vec::new();
            if !sg.allows_ipv6_ingress() {
                missing.push("inbound");
            }
            if !sg.allows_ipv6_egress() {
                missing.push("outbound");
            }
            if !missing.is_empty() {
                out.push(issue(
                    Rule::SecurityGroupIpv6,
                    "ConfigurationConflict",
                    vec![g.clone()],
                    format!("Security group {g} has no {} IPv6 rule; IPv6 traffic of nodes and pods is dropped.", missing.join(" or ")),
                    format!("allow IPv6, e.g. `aws ec2 authorize-security-group-egress --group-id {g} --ip-permissions 'IpProtocol=-1,Ipv6Ranges=[{{CidrIpv6=::/0}}]'` and an ingress rule from the VPC's IPv6 block."),
                ));
            }
        }
        out
    }

    /// The role the VPC CNI runs as (the add-on's service account role, else the node roles)
    /// holds the IPv6 policy's actions.
    fn cni_role_issues(
        &self,
        c: &Cluster,
        groups: &[&Nodegroup],
        region: &str,
        account: &str,
    ) -> Vec<HealthIssue> {
        let mut out = Vec::new();
        // The role the VPC CNI runs as: the add-on's service account role, else the node roles.
        let cni_role = self
            .addons
            .get(&super::child_key(&c.name, "vpc-cni"))
            .and_then(|a| a.service_account_role_arn.clone());
        let roles: BTreeSet<String> = match cni_role {
            Some(r) => [r].into(),
            None => groups.iter().map(|g| g.node_role.clone()).collect(),
        };
        for r in roles {
            let missing = self.missing_ipv6_actions(region, account, &r);
            if !missing.is_empty() {
                let name = r.rsplit('/').next().unwrap_or_default().to_string();
                out.push(issue(
                    Rule::CniIpv6Policy,
                    "AccessDenied",
                    vec![r.clone()],
                    format!("Role {r}, which the VPC CNI runs as, lacks {} of the IPv6 policy; pods will not get addresses.", missing.join(", ")),
                    format!("`aws iam put-role-policy --role-name {name} --policy-name AmazonEKS_CNI_IPv6_Policy --policy-document '{}'`.", super::roles::IPV6_POLICY_DOCUMENT),
                ));
            }
        }
        out
    }
}

/// What the cluster's tags declare: no FSx for Lustre storage, a load balancer controller of
/// 2.3.1 or later, IP targets.
fn tag_issues(c: &Cluster) -> Vec<HealthIssue> {
    let mut out = Vec::new();
    if let Some(v) = c
        .tags
        .get(TAG_STORAGE)
        .filter(|v| v.to_ascii_lowercase().contains("fsx-lustre"))
    {
        out.push(issue(
            Rule::NoFsxLustre,
            "ConfigurationConflict",
            vec![c.name.clone()],
            format!("Cluster {} declares storage {v} ({TAG_STORAGE}); FSx for Lustre does not work with IPv6 clusters.", c.name),
            "use EBS or EFS storage, or run the workload in an ipv4 cluster.".into(),
        ));
    }
    if let Some(v) = c.tags.get(TAG_LBC_VERSION)
        && catalog::semver(v).is_none_or(|x| x < MIN_IPV6_LBC)
    {
        out.push(issue(
                Rule::LbcVersion,
                "UnsupportedVersion",
                vec![c.name.clone()],
                format!("Cluster {} runs AWS Load Balancer Controller {v}; IPv6 clusters need 2.3.1 or later.", c.name),
                "upgrade the controller to v2.3.1 or later (and set the tag to the new version).".into(),
            ));
    }
    if let Some(v) = c
        .tags
        .get(TAG_LBC_TARGET_TYPE)
        .filter(|v| v.eq_ignore_ascii_case("instance"))
    {
        out.push(issue(
            Rule::LbcIpTarget,
            "ConfigurationConflict",
            vec![c.name.clone()],
            format!("Cluster {} uses the load balancer target type {v}; IPv6 clusters support IP targets only.", c.name),
            "annotate services with service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip (ingresses: alb.ingress.kubernetes.io/target-type: ip).".into(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eks::nodegroups::tests::{ipv6_world, request};
    use crate::eks::roles::IPV6_POLICY_DOCUMENT;

    fn rules(w: &crate::eks::testing::World) -> Vec<Rule> {
        let c = w.state.clusters.get("c").unwrap();
        w.state
            .cluster_health(c, "us-east-1", "123456789012")
            .into_iter()
            .map(|i| i.rule)
            .collect()
    }

    #[test]
    fn a_missing_ipv6_default_route_is_reported_until_added() {
        let (mut w, subnet) = ipv6_world();
        assert_eq!(rules(&w), vec![Rule::RouteIpv6Default]);
        let vpc = w.state.subnets.get(&subnet).unwrap().vpc_id.clone();
        w.with(|s, env| {
            let igw = s.create_internet_gateway(env, Default::default());
            let igw = crate::ids::InternetGatewayId::parse(&igw.id).unwrap();
            let vpc_id = crate::ids::VpcId::parse(&vpc).unwrap();
            s.attach_internet_gateway(&igw, &vpc_id).unwrap();
            let rtb = s.vpcs.get(&vpc).unwrap().main_route_table.clone();
            s.create_route(
                &crate::ids::RouteTableId::parse(&rtb).unwrap(),
                crate::ec2::model::Destination::V6("::/0".parse().unwrap()),
                crate::ec2::vpc::RouteTarget::InternetGateway(igw),
            )
            .unwrap();
        });
        assert!(rules(&w).is_empty(), "{:?}", rules(&w));
    }

    #[test]
    fn tags_declare_fsx_and_the_load_balancer_controller() {
        let (mut w, _) = ipv6_world();
        let c = w.state.clusters.get_mut("c").unwrap();
        c.tags.insert(TAG_STORAGE.into(), "fsx-lustre".into());
        c.tags.insert(TAG_LBC_VERSION.into(), "2.2.0".into());
        c.tags.insert(TAG_LBC_TARGET_TYPE.into(), "instance".into());
        let r = rules(&w);
        for want in [Rule::NoFsxLustre, Rule::LbcVersion, Rule::LbcIpTarget] {
            assert!(r.contains(&want), "{r:?}");
        }
        let c = w.state.clusters.get_mut("c").unwrap();
        c.tags.insert(TAG_LBC_VERSION.into(), "v2.3.1".into());
        c.tags.insert(TAG_LBC_TARGET_TYPE.into(), "ip".into());
        c.tags.remove(TAG_STORAGE);
        assert_eq!(rules(&w), vec![Rule::RouteIpv6Default]);
    }

    #[test]
    fn node_roles_without_the_ipv6_policy_are_reported() {
        let (mut w, subnet) = ipv6_world();
        w.with(|s, env| s.create_nodegroup(env, request("c", &subnet)))
            .unwrap();
        assert!(rules(&w).contains(&Rule::CniIpv6Policy));
        w.with(|s, env| {
            s.create_role(env, crate::iam::roles::CreateRole::named("node"))
                .unwrap()
        });
        w.state
            .put_role_policy("node", "ipv6", IPV6_POLICY_DOCUMENT)
            .unwrap();
        assert!(!rules(&w).contains(&Rule::CniIpv6Policy));
    }

    #[test]
    fn security_groups_without_ipv6_are_reported() {
        let (mut w, _) = ipv6_world();
        let sg = w
            .state
            .clusters
            .get("c")
            .unwrap()
            .cluster_security_group_id
            .clone();
        w.state
            .security_groups
            .get_mut(&sg)
            .unwrap()
            .rules
            .retain(|r| !r.egress);
        assert!(rules(&w).contains(&Rule::SecurityGroupIpv6));
    }
}
